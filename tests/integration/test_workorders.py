"""The work-order service on SQLite and PostgreSQL: take-and-dispatch, every step and
every refusal, history, returns, extensions, visibility, the SLA clock, rates."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.roles import Role
from hotline.bus_events import BusEvent, OrderStep
from hotline.db import session_factory
from workorders import repo
from workorders.catalogue import load_catalogue
from workorders.clock import SlaClock
from workorders.errors import InvalidRequest, NotAllowed, OrderNotFound, StepRefused
from workorders.lifecycle import Assignment
from workorders.models import (
    Channel,
    DispatchRole,
    Light,
    OrderEvent,
    OrderKind,
    UnitPublic,
    WorkOrder,
    WorkOrderCreate,
    WorkOrderPublic,
)
from workorders.rates import compute_rates
from workorders.service import Actor, OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
OPERATOR = Actor("op1", Role.operator)
SUPERVISOR = Actor("boss", Role.supervisor)
WATER = Actor("water1", Role.unit_handler, "water")
HOUSING = Actor("housing1", Role.unit_handler, "housing")
URBAN = Actor("urban1", Role.unit_handler, "urban")


@dataclass
class Recorder:
    """Collects what the service publishes (the bus itself is tested on a real broker)."""

    events: list[BusEvent] = field(default_factory=list)

    def publish(self, event: BusEvent) -> object:
        self.events.append(event)
        return event

    def steps(self, number: str) -> list[str]:
        return [e.step for e in self.events if isinstance(e, OrderStep) and e.order_id == number]


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    svc: OrderService
    bus: Recorder
    clock: Clock
    engine: AsyncEngine


@pytest.fixture
async def env(engine: AsyncEngine) -> AsyncIterator[Env]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    bus, clock = Recorder(), Clock()
    svc = OrderService(
        sessionmaker=sessions, publisher=bus, policy=load_presets()["zhangye"], clock=clock
    )
    yield Env(svc, bus, clock, engine)


_calls = itertools.count(42)


def draft(**kw: object) -> WorkOrderCreate:
    data: dict[str, object] = {
        "kind": OrderKind.help,
        "category": "供水/停水漏水",
        "title": "和盛园小区水管爆裂",
        "content": "市民反映小区二期东院115号楼自来水管爆裂",
        "address": "城东区和盛园小区",
        "caller_number": "13800001111",
        "caller_name": "郑先生",
        "call_linkedid": f"1763780000.{next(_calls)}",  # one order per call
        "line": "12345",
        "time_limit_class": "h24",
        "call_ended_at": T0 - timedelta(seconds=20),
    }
    data.update(kw)
    return WorkOrderCreate.model_validate(data)


def lead(unit: str) -> Assignment:
    return Assignment(unit, DispatchRole.lead)


async def take_direct(env: Env, unit: str = "water", **kw: object) -> WorkOrderPublic:
    return await env.svc.take(draft(**kw), [lead(unit)], actor=OPERATOR)


async def count(engine: AsyncEngine, model: type[object]) -> int:
    async with session_factory(engine)() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


# --------------------------------------------------------------------------- take


async def test_take_and_dispatch_in_one_call_direct(env: Env) -> None:
    order = await take_direct(env)
    assert order.number == "12345-20261123-0001"
    assert (order.status, order.mode, order.lead_unit_id) == ("dispatched", "direct", "water")
    assert order.dispatch_seconds == pytest.approx(20.0)
    assert order.deadline == T0 + timedelta(hours=24)
    assert order.yellow_at == T0 + timedelta(hours=24) * 0.8
    assert [(d.unit_id, d.role, d.status) for d in order.dispatches] == [
        ("water", "lead", "dispatched")
    ]
    assert env.bus.steps(order.number) == ["accept", "dispatch"]
    again = await take_direct(env)
    assert again.number == "12345-20261123-0002"


async def test_joint_and_parallel_dispatch(env: Env) -> None:
    joint = await env.svc.take(
        draft(), [lead("housing"), Assignment("urban", DispatchRole.assisting)], actor=OPERATOR
    )
    assert joint.mode == "joint" and joint.lead_unit_id == "housing"
    par = await env.svc.take(
        draft(title="房产证办不下来"),
        [
            Assignment("housing", DispatchRole.parallel, "核查开发商手续"),
            Assignment("natural_resources", DispatchRole.parallel, "办理不动产登记"),
        ],
        actor=OPERATOR,
    )
    assert par.mode == "parallel"
    assert [d.part for d in par.dispatches] == ["核查开发商手续", "办理不动产登记"]
    # the assisting unit does not hold the joint order back
    await env.svc.acknowledge(joint.number, actor=HOUSING)
    got = await env.svc.reply(joint.number, "已维修", actor=HOUSING)
    assert got.status == "replied"
    # each parallel unit answers for its part
    nat = Actor("nat1", Role.unit_handler, "natural_resources")
    await env.svc.acknowledge(par.number, actor=HOUSING)
    await env.svc.reply(par.number, "手续已核查", actor=HOUSING)
    assert (await env.svc.get(par.number, actor=SUPERVISOR)).status == "dispatched"
    await env.svc.acknowledge(par.number, actor=nat)
    assert (await env.svc.reply(par.number, "已登记", actor=nat)).status == "replied"


async def test_resolved_on_the_call(env: Env) -> None:
    order = await env.svc.take(
        draft(kind=OrderKind.inquiry), None, actor=OPERATOR, note="按知识库《停水通知》答复"
    )
    assert (order.status, order.mode, order.dispatches) == ("archived", "on_call", [])
    assert order.deadline is None and order.closed_at == T0
    assert env.bus.steps(order.number) == ["accept", "resolve_on_call"]
    with pytest.raises(InvalidRequest, match="即办"):
        await env.svc.take(draft(), None, actor=OPERATOR)


async def test_bad_drafts_and_plans_leave_nothing(env: Env) -> None:
    cases = [
        (draft(title=" "), [lead("water")], "title"),
        (draft(caller_number=""), [lead("water")], "caller"),
        (draft(time_limit_class="d99"), [lead("water")], "d99"),
        (draft(), [lead("nowhere")], "nowhere"),
        (draft(), [lead("water"), lead("power")], "exactly one lead"),
        (draft(), [Assignment("water", DispatchRole.parallel, "x")], "two or more"),
        (draft(), [], "at least one"),
    ]
    for body, plan, message in cases:
        with pytest.raises(InvalidRequest, match=message):
            await env.svc.take(body, plan, actor=OPERATOR)
    with pytest.raises(NotAllowed):
        await env.svc.take(draft(), [lead("water")], actor=WATER)
    assert await count(env.engine, WorkOrder) == 0
    web = await env.svc.take(
        draft(channel=Channel.web, caller_number=""), [lead("water")], actor=OPERATOR
    )
    assert web.channel == "web"


# --------------------------------------------------------------------------- lifecycle


async def test_whole_life_and_history(env: Env) -> None:
    order = await take_direct(env)
    n = order.number
    await env.svc.acknowledge(n, actor=WATER)
    await env.svc.reply(n, "已抢修完毕，恢复供水", actor=WATER)
    await env.svc.review(n, actor=SUPERVISOR, note="回复完整")
    await env.svc.survey(n, True, actor=SUPERVISOR)
    done = await env.svc.archive(n, actor=SUPERVISOR)
    assert done.status == "archived" and done.closed_at == T0
    history = await env.svc.history(n, actor=SUPERVISOR)
    assert [(h.step, h.actor) for h in history] == [
        ("accept", "op1"),
        ("dispatch", "op1"),
        ("acknowledge", "water1"),
        ("reply", "water1"),
        ("review", "boss"),
        ("survey", "boss"),
        ("archive", "boss"),
    ]
    assert history[3].note == "已抢修完毕，恢复供水" and history[3].unit_id == "water"
    assert env.bus.steps(n) == [h.step for h in history]


async def test_illegal_steps_are_refused_and_change_nothing(env: Env) -> None:
    order = await take_direct(env)
    n = order.number
    before = await env.svc.get(n, actor=SUPERVISOR)
    events = await count(env.engine, OrderEvent)
    refusals = [
        (
            env.svc.reply(n, "done", actor=WATER),
            StepRefused,
            "cannot reply while its part is dispatched",
        ),
        (env.svc.review(n, actor=SUPERVISOR), StepRefused, "cannot review while it is dispatched"),
        (env.svc.archive(n, actor=SUPERVISOR), StepRefused, "cannot archive"),
        (env.svc.reopen(n, "x", actor=SUPERVISOR), StepRefused, "cannot reopen"),
        (env.svc.grant_extension(n, actor=SUPERVISOR), StepRefused, "no extension request"),
        (env.svc.return_order(n, " ", actor=WATER), InvalidRequest, "needs a reason"),
        (env.svc.acknowledge(n, actor=SUPERVISOR), NotAllowed, "only a unit handler"),
        (env.svc.review(n, actor=WATER), NotAllowed, "may not review"),
        (env.svc.merge(n, n, actor=OPERATOR), InvalidRequest, "merge"),
        (env.svc.dispatch(n, [lead("power")], actor=OPERATOR), StepRefused, "cannot dispatch"),
    ]
    for call, error, message in refusals:
        with pytest.raises(error, match=message):
            await call
    assert await env.svc.get(n, actor=SUPERVISOR) == before
    assert await count(env.engine, OrderEvent) == events


async def test_return_is_counted_against_the_unit_and_redispatched(env: Env) -> None:
    order = await take_direct(env, "housing")
    n = order.number
    returned = await env.svc.return_order(n, "不属于本单位职责，应由供水公司处理", actor=HOUSING)
    assert returned.status == "returned"
    assert returned.dispatches[0].return_reason.startswith("不属于")
    with pytest.raises(StepRefused, match="cannot acknowledge"):
        await env.svc.acknowledge(n, actor=HOUSING)
    again = await env.svc.redispatch(n, [lead("water")], actor=OPERATOR)
    assert again.status == "dispatched" and again.lead_unit_id == "water"
    assert [(d.unit_id, d.status) for d in again.dispatches] == [
        ("housing", "withdrawn"),
        ("water", "dispatched"),
    ]
    # the unit that returned still sees the order it returned; a stranger does not
    assert (await env.svc.get(n, actor=HOUSING)).number == n
    with pytest.raises(OrderNotFound):
        await env.svc.get(n, actor=URBAN)
    rates = await compute_rates(
        session_factory(env.engine), T0 - timedelta(days=1), T0 + timedelta(days=1)
    )
    assert {u.unit_id: u.returns for u in rates.units}["housing"] == 1


async def test_extension_granted_moves_the_deadline_refused_does_not(env: Env) -> None:
    order = await take_direct(env)
    n = order.number
    assert order.deadline is not None
    later = order.deadline + timedelta(days=2)
    with pytest.raises(InvalidRequest, match="after the current deadline"):
        await env.svc.ask_extension(n, T0, "需要更换主管道", actor=WATER)
    asked = await env.svc.ask_extension(n, later, "需要更换主管道", actor=WATER)
    assert asked.pending_extension is not None and asked.pending_extension.until == later
    with pytest.raises(StepRefused, match="already pending"):
        await env.svc.ask_extension(n, later, "again", actor=WATER)
    refused = await env.svc.refuse_extension(n, actor=SUPERVISOR, note="请按期办结")
    assert refused.deadline == order.deadline and refused.pending_extension is None
    await env.svc.ask_extension(n, later, "需要更换主管道", actor=WATER)
    granted = await env.svc.grant_extension(n, actor=SUPERVISOR)
    assert granted.deadline == later
    assert granted.yellow_at == T0 + (later - T0) * 0.8


async def test_send_back_reopen_and_merge(env: Env) -> None:
    order = await take_direct(env)
    n = order.number
    await env.svc.acknowledge(n, actor=WATER)
    await env.svc.reply(n, "已处理", actor=WATER)
    back = await env.svc.send_back(n, "回复过于简单", actor=SUPERVISOR)
    assert back.status == "acknowledged"
    await env.svc.reply(n, "已更换水管并恢复供水", actor=WATER)
    await env.svc.review(n, actor=SUPERVISOR)
    await env.svc.survey(n, False, actor=SUPERVISOR, note="仍有漏水")
    env.clock.now = T0 + timedelta(days=2)
    reopened = await env.svc.reopen(n, "市民不满意：仍有漏水", actor=SUPERVISOR)
    assert (reopened.status, reopened.reopen_count) == ("dispatched", 1)
    assert reopened.deadline == env.clock.now + timedelta(hours=24)
    repeat = await take_direct(env)
    merged = await env.svc.merge(repeat.number, n, actor=OPERATOR)
    assert (merged.status, merged.merged_into) == ("merged", n)
    steps = [h.step for h in await env.svc.history(n, actor=SUPERVISOR)]
    assert steps[-1] == "merged_in"


async def test_a_unit_sees_and_acts_on_its_own_orders_only(env: Env) -> None:
    mine = await take_direct(env, "water")
    theirs = await take_direct(env, "power")
    assert [o.number for o in await env.svc.list_orders(actor=WATER)] == [mine.number]
    for call in (
        env.svc.get(theirs.number, actor=WATER),
        env.svc.history(theirs.number, actor=WATER),
        env.svc.acknowledge(theirs.number, actor=WATER),
        env.svc.return_order(theirs.number, "x", actor=WATER),
    ):
        with pytest.raises(OrderNotFound):
            await call
    assert len(await env.svc.list_orders(actor=SUPERVISOR)) == 2


# --------------------------------------------------------------------------- clock


@dataclass
class Supervision:
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def request(self, order: WorkOrderPublic, unit: UnitPublic | None) -> None:
        self.asked.append((order.number, unit.contact_phone if unit else ""))


async def test_clock_lights_restart_and_one_supervision(env: Env) -> None:
    order = await take_direct(env)  # 24 h: yellow at 19.2 h, red at 24 h
    sessions = session_factory(env.engine)
    calls = Supervision()

    def clock_at(now: datetime) -> SlaClock:
        env.clock.now = now
        return SlaClock(
            sessionmaker=sessions, publisher=env.bus, supervision=calls, clock=env.clock
        )

    assert await clock_at(T0 + timedelta(hours=19)).tick() == 0
    assert await clock_at(T0 + timedelta(hours=20)).tick() == 1
    assert (await env.svc.get(order.number, actor=SUPERVISOR)).light == Light.yellow
    again = clock_at(T0 + timedelta(hours=21))
    assert await again.tick() == 0  # a new clock over the same store: nothing twice
    assert await clock_at(T0 + timedelta(hours=25)).tick() == 1
    assert await clock_at(T0 + timedelta(hours=26)).tick() == 0
    assert calls.asked == [(order.number, "90011")]
    assert env.bus.steps(order.number)[-2:] == ["light_yellow", "light_red"]
    got = await env.svc.get(order.number, actor=SUPERVISOR)
    assert got.light == Light.red
    history = [h.step for h in await env.svc.history(order.number, actor=SUPERVISOR)]
    assert history[-3:] == ["light_yellow", "light_red", "supervision_requested"]


async def test_clock_retries_a_supervision_request_that_failed(env: Env) -> None:
    order = await take_direct(env)
    sessions = session_factory(env.engine)

    class Failing:
        async def request(self, order: WorkOrderPublic, unit: UnitPublic | None) -> None:
            raise ConnectionError("IVR unavailable")

    env.clock.now = T0 + timedelta(hours=25)
    first = SlaClock(
        sessionmaker=sessions, publisher=env.bus, supervision=Failing(), clock=env.clock
    )
    await first.tick()
    calls = Supervision()
    second = SlaClock(sessionmaker=sessions, publisher=env.bus, supervision=calls, clock=env.clock)
    await second.tick()
    await second.tick()
    assert calls.asked == [(order.number, "90011")]


# --------------------------------------------------------------------------- rates


async def test_rates_over_a_period(env: Env) -> None:
    a = await take_direct(env, "water", call_ended_at=T0 - timedelta(seconds=10))
    b = await take_direct(env, "water", call_ended_at=T0 - timedelta(seconds=30))
    c = await take_direct(env, "power", call_ended_at=T0 - timedelta(seconds=50))
    await env.svc.acknowledge(a.number, actor=WATER)
    await env.svc.reply(a.number, "done", actor=WATER)  # on time
    await env.svc.acknowledge(b.number, actor=WATER)
    env.clock.now = T0 + timedelta(days=2)
    await env.svc.reply(b.number, "late", actor=WATER)  # after the 24 h deadline
    sessions = session_factory(env.engine)
    r = await compute_rates(sessions, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert (r.orders, r.dispatched) == (3, 3)
    assert r.acknowledgement_rate == pytest.approx(2 / 3)
    assert r.on_time_rate == pytest.approx(1 / 2)
    assert r.dispatch_seconds_median == pytest.approx(30.0)
    assert r.dispatch_seconds_p90 == pytest.approx(50.0)
    by_unit = {u.unit_id: u for u in r.units}
    assert by_unit["water"].acknowledged == 2 and by_unit["power"].acknowledged == 0
    empty = await compute_rates(sessions, T0 + timedelta(days=5), T0 + timedelta(days=6))
    assert empty.orders == 0 and empty.acknowledgement_rate is None
    assert c.number


async def test_concurrent_takes_get_distinct_numbers(env: Env) -> None:
    orders = await asyncio.gather(*(take_direct(env) for _ in range(20)))
    numbers = sorted(o.number for o in orders)
    assert numbers == [f"12345-20261123-{n:04d}" for n in range(1, 21)]
