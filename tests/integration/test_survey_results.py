"""Survey callback results applied to work orders, and the survey rates, on SQLite and
PostgreSQL: satisfied archives, dissatisfied reopens to the unit (in its history),
unanswered leaves the order for the centre; rates over a period from stored jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from accounts.roles import Role
from hotline.bus_events import BusEvent, SurveyResult
from hotline.db import session_factory
from ivr_flows.models import CallbackJob, JobKind, JobState
from workorders import repo
from workorders.catalogue import load_catalogue
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate, WorkOrderPublic
from workorders.rates import compute_rates
from workorders.service import Actor, OrderService
from workorders.sla import load_presets
from workorders.survey_sink import UNANSWERED_STEP, OrderSurveySink

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
OPERATOR = Actor("op1", Role.operator)
SUPERVISOR = Actor("boss", Role.supervisor)
HANDLERS = {u: Actor(f"{u}1", Role.unit_handler, u) for u in ("water", "power", "housing")}


@dataclass
class Recorder:
    events: list[BusEvent] = field(default_factory=list)

    def publish(self, event: BusEvent) -> object:
        self.events.append(event)
        return event


@dataclass
class Env:
    svc: OrderService
    sink: OrderSurveySink
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def env(engine: AsyncEngine) -> AsyncIterator[Env]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    svc = OrderService(
        sessionmaker=sessions, publisher=Recorder(), policy=load_presets()["zhangye"],
        clock=lambda: T0,
    )  # fmt: skip
    yield Env(svc, OrderSurveySink(svc, clock=lambda: T0), sessions)


async def reviewed(env: Env, unit: str = "water", line: str = "12345") -> WorkOrderPublic:
    """An order taken, dispatched to `unit`, acknowledged, replied and reviewed."""
    order = await env.svc.take(
        WorkOrderCreate(
            kind=OrderKind.help, title="水管爆裂", caller_number="13800001111", line=line,
            call_ended_at=T0 - timedelta(seconds=20),
        ),
        [Assignment(unit, DispatchRole.lead)], actor=OPERATOR,
    )  # fmt: skip
    await env.svc.acknowledge(order.number, actor=HANDLERS[unit])
    await env.svc.reply(order.number, "已修复", actor=HANDLERS[unit])
    return await env.svc.review(order.number, actor=SUPERVISOR)


def result(number: str, satisfaction: Any, solved: bool | None, outcome: str) -> SurveyResult:
    return SurveyResult(
        order_id=number, outcome=outcome, satisfaction=satisfaction, solved=solved, attempts=1,
        reason="answered" if satisfaction else "no_answer after 3 attempt(s): cause 19",
    )  # fmt: skip


async def steps(env: Env, number: str) -> list[tuple[str, str | None, str]]:
    return [(e.step, e.unit_id, e.note) for e in await env.svc.history(number, actor=SUPERVISOR)]


async def test_satisfied_and_fairly_satisfied_archive(env: Env) -> None:
    a, b = await reviewed(env), await reviewed(env)
    await env.sink.survey_satisfied(result(a.number, "满意", True, "answered_result"))
    await env.sink.survey_satisfied(result(b.number, "基本满意", False, "answered_result"))
    for number, note in ((a.number, "满意；已解决"), (b.number, "基本满意；未解决")):
        order = await env.svc.get(number, actor=SUPERVISOR)
        assert (order.status, order.survey_satisfied) == ("archived", True)
        history = await steps(env, number)
        assert [s for s, _, _ in history][-2:] == ["survey", "archive"]
        assert history[-2][2] == note
    # delivered again: nothing more happens, nothing raises
    await env.sink.survey_satisfied(result(a.number, "满意", True, "answered_result"))
    assert len(await steps(env, a.number)) == len(await steps(env, b.number))


async def test_dissatisfied_reopens_to_the_unit(env: Env) -> None:
    order = await reviewed(env, "housing")
    await env.sink.survey_dissatisfied(result(order.number, "不满意", False, "answered_result"))
    after = await env.svc.get(order.number, actor=HANDLERS["housing"])  # the unit sees it
    assert after.status == "dispatched" and after.reopen_count == 1
    assert [(d.unit_id, d.status) for d in after.dispatches] == [("housing", "dispatched")]
    history = await steps(env, order.number)
    assert [s for s, _, _ in history][-2:] == ["survey", "reopen"]
    assert history[-2][2] == "不满意；未解决" and "重办" in history[-1][2]
    # the unit works it again
    await env.svc.acknowledge(order.number, actor=HANDLERS["housing"])


async def test_unanswered_leaves_the_order_for_the_centre(env: Env) -> None:
    order = await reviewed(env)
    await env.sink.survey_unanswered(result(order.number, None, None, "no_answer"))
    after = await env.svc.get(order.number, actor=SUPERVISOR)
    assert (after.status, after.survey_satisfied) == ("reviewed", None)
    step, _, note = (await steps(env, order.number))[-1]
    assert step == UNANSWERED_STEP and "no_answer" in note and "cause 19" in note
    # the centre can still survey by hand
    await env.svc.survey(order.number, True, actor=SUPERVISOR)
    await env.sink.survey_unanswered(result("12345-19990101-0001", None, None, "busy"))


async def test_survey_rates_over_a_period(env: Env) -> None:
    water, power = await reviewed(env, "water", "12345"), await reviewed(env, "power", "12319")
    jobs = [  # (order, state, outcome, satisfaction, solved, finished)
        (water, JobState.done, "answered_result", "满意", "yes", T0),
        (water, JobState.done, "answered_result", "基本满意", "no", T0),
        (water, JobState.done, "answered_result", "不满意", "no", T0),
        (water, JobState.failed, "no_answer", None, None, T0),
        (power, JobState.done, "answered_result", "不满意", "yes", T0),
        (power, JobState.failed, "busy", None, None, T0),
        (power, JobState.done, "answered_result", "满意", "yes", T0 + timedelta(days=3)),
        (power, JobState.pending, None, None, None, None),
    ]
    async with env.sessions() as s:
        for i, (order, state, outcome, level, solved, finished) in enumerate(jobs):
            answers = {k: v for k, v in (("satisfaction", level), ("solved", solved)) if v}
            s.add(CallbackJob(
                kind=JobKind.survey, flow="survey", order_id=order.number, number="138",
                dedupe_key=f"k{i}", state=state, due_at=T0, outcome=outcome, result=answers,
                finished_at=finished,
            ))  # fmt: skip
        s.add(CallbackJob(
            kind=JobKind.supervision, flow="supervision", order_id=power.number, number="139",
            dedupe_key="sup", state=JobState.done, due_at=T0, outcome="answered_result",
            finished_at=T0,
        ))  # fmt: skip
        await s.commit()
    r = (await compute_rates(env.sessions, T0 - timedelta(hours=1), T0 + timedelta(hours=1))).survey
    assert (r.attempted, r.answered, r.satisfied, r.solved) == (6, 4, 2, 2)
    assert r.response_rate == pytest.approx(4 / 6)
    assert r.satisfaction_rate == pytest.approx(2 / 4)
    assert r.resolution_rate == pytest.approx(2 / 4)
    units = {u.unit_id: u for u in r.units}
    assert units["water"].attempted == 4
    assert units["water"].satisfaction_rate == pytest.approx(2 / 3)
    assert units["power"].response_rate == pytest.approx(1 / 2)
    assert units["power"].satisfaction_rate == 0.0 and units["power"].resolution_rate == 1.0
    lines = {x.line: x for x in r.lines}
    assert lines.keys() == {"12345", "12319"} and lines["12319"].attempted == 2
    later = await compute_rates(env.sessions, T0 + timedelta(days=2), T0 + timedelta(days=4))
    assert (later.survey.attempted, later.survey.satisfaction_rate) == (1, 1.0)
    empty = await compute_rates(env.sessions, T0 + timedelta(days=9), T0 + timedelta(days=10))
    assert empty.survey.attempted == 0 and empty.survey.response_rate is None
