"""A survey result survives a crash between the end of the call and the order update.

The scheduler stores the outcome with the attempt's end (one transaction), applies it to
the order, then marks the job applied. Here the server 'dies' inside the apply (a
BaseException out of `on_finished`, as a kill would leave it), once for an answered
survey and once for one given up (busy): the orders are untouched and the jobs finished
but not applied. A restarted scheduler applies both at start: one order is surveyed and
archived exactly once, the other gets exactly one survey_unanswered row; a further
restart or a second delivery changes nothing.
Real workorders service and survey sink, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from accounts.roles import Role
from config.settings import IvrSettings
from hotline.bus import Bus
from hotline.bus_events import BusEvent, SurveyResult
from hotline.db import session_factory
from ivr_flows import repo
from ivr_flows.feature import DEFAULT_FLOWS
from ivr_flows.flows import load_flows
from ivr_flows.interpreter import CallReport
from ivr_flows.models import CallbackJob, JobState
from ivr_flows.orders import ResultPublisher
from ivr_flows.outcomes import AttemptFacts, classify
from ivr_flows.scheduler import SchedulePolicy, Scheduler
from workorders import repo as order_repo
from workorders.catalogue import load_catalogue
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate
from workorders.service import Actor, OrderService
from workorders.sla import load_presets
from workorders.survey_sink import OrderSurveySink

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: calling hours
SUPERVISOR = Actor("boss", Role.supervisor)
WATER = Actor("water1", Role.unit_handler, "water")


class Crash(BaseException):
    """The process dies here (nothing below it runs, no `except Exception` catches it)."""


@dataclass
class Recorder:
    events: list[BusEvent] = field(default_factory=list)

    def publish(self, event: BusEvent) -> object:
        self.events.append(event)
        return event


class AnsweringPlacer:
    """The citizen answers 1 (满意) and 1 (已解决), or the line is busy ("busy" numbers);
    no Asterisk needed for the store path."""

    async def place(self, *, flow: Any, number: str, channel_id: str, variables: Any,
                    job_ref: str = "") -> CallReport:  # fmt: skip
        if number == "busy":
            busy = AttemptFacts(answered=False, hangup_cause=17, dial_status="BUSY", rang=True)
            return CallReport(channel_id, classify(busy), busy)
        facts = AttemptFacts(answered=True, hangup_cause=16, result_complete=True)
        answers = {"satisfaction": "满意", "solved": "yes"}
        return CallReport(channel_id, classify(facts), facts, answers)


@dataclass
class Env:
    svc: OrderService
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def env(engine: AsyncEngine) -> AsyncIterator[Env]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await order_repo.sync_catalogue(session=s, catalogue=load_catalogue())
    svc = OrderService(
        sessionmaker=sessions, publisher=Recorder(), policy=load_presets()["zhangye"],
        clock=lambda: T0,
    )  # fmt: skip
    yield Env(svc, sessions)


def scheduler(env: Env, on_finished: Any) -> Scheduler:
    return Scheduler(
        sessionmaker=env.sessions, placer=AnsweringPlacer(), flows=load_flows(DEFAULT_FLOWS),
        policy=SchedulePolicy.from_settings(IvrSettings(max_concurrent_calls=1)), clock=lambda: T0,
        on_finished=on_finished,
    )  # fmt: skip


async def reviewed_order(env: Env) -> str:
    order = await env.svc.take(
        WorkOrderCreate(kind=OrderKind.help, title="水管爆裂", caller_number="13800001111",
                        line="12345", call_ended_at=T0 - timedelta(seconds=20)),
        [Assignment("water", DispatchRole.lead)], actor=Actor("op1", Role.operator),
    )  # fmt: skip
    await env.svc.acknowledge(order.number, actor=WATER)
    await env.svc.reply(order.number, "已修复", actor=WATER)
    await env.svc.review(order.number, actor=SUPERVISOR)
    return order.number


async def test_a_result_stored_before_a_crash_is_applied_once_after_the_restart(
    env: Env,
) -> None:
    order, unanswered = await reviewed_order(env), await reviewed_order(env)
    async with env.sessions() as s:
        job, _ = await repo.add_job(session=s, job=CallbackJob(
            kind="survey", flow="survey", order_id=order, number="13800001111",
            dedupe_key="survey:1", due_at=T0,
        ))  # fmt: skip
        busy, _ = await repo.add_job(session=s, job=CallbackJob(
            kind="survey", flow="survey", order_id=unanswered, number="busy",
            dedupe_key="survey:2", due_at=T0, max_attempts=1,
        ))  # fmt: skip
    assert job.id is not None and busy.id is not None

    async def crash(_job: CallbackJob, _report: CallReport | None) -> None:
        raise Crash

    for _ in range(2):  # one call per tick (cap 1): each ends, is stored, then "crashes"
        with pytest.raises(BaseExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                await scheduler(env, crash).tick(tg)
        assert info.group_contains(Crash)
    async with env.sessions() as s:
        assert {j.id for j in await repo.unapplied(session=s)} == {job.id, busy.id}
        stored = await repo.get_job(session=s, job_id=job.id)
    assert stored is not None
    assert (stored.state, stored.result, stored.applied_at) == (
        JobState.done, {"satisfaction": "满意", "solved": "yes"}, None,
    )  # fmt: skip
    assert (await env.svc.get(order, actor=SUPERVISOR)).status == "reviewed"

    bus = Recorder()
    publisher = ResultPublisher(cast(Bus, bus), OrderSurveySink(env.svc, clock=lambda: T0))
    restarted = scheduler(env, publisher)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(restarted.run())
        async with asyncio.timeout(30):  # applied, then marked applied
            while True:
                async with env.sessions() as s:
                    if not await repo.unapplied(session=s):
                        break
                await asyncio.sleep(0.05)
        task.cancel()
    assert (await env.svc.get(order, actor=SUPERVISOR)).status == "archived"
    history = [e.step for e in await env.svc.history(order, actor=SUPERVISOR)]
    assert history.count("survey") == 1 and history[-2:] == ["survey", "archive"]
    assert sorted(e.job_id or 0 for e in bus.events if isinstance(e, SurveyResult)) == [
        job.id, busy.id,
    ]  # fmt: skip
    gave_up = [e.step for e in await env.svc.history(unanswered, actor=SUPERVISOR)]
    assert gave_up.count("survey_unanswered") == 1
    async with env.sessions() as s:
        applied = await repo.get_job(session=s, job_id=job.id)
        assert applied is not None and applied.applied_at is not None
        assert list(await repo.unapplied(session=s)) == []

    # Another restart applies nothing; a stray second delivery changes nothing either.
    assert await scheduler(env, publisher).reapply() == 0
    await publisher(applied, None)
    async with env.sessions() as s:
        failed = await repo.get_job(session=s, job_id=busy.id)
    assert failed is not None and failed.state == JobState.failed
    await publisher(failed, None)
    assert [e.step for e in await env.svc.history(order, actor=SUPERVISOR)] == history
    assert [e.step for e in await env.svc.history(unanswered, actor=SUPERVISOR)] == gave_up
