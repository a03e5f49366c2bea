"""Where callbacks meet work orders: bus steps in, jobs stored; results out.

Work orders reach us only through the bus and two small protocols the composition root
may hand in (it wires them to the workorders service):

* `OrderContacts`: the number to call for an order (the citizen's for a survey, the
  unit's contact for a supervision call). The bus's `OrderStep` carries neither, so the
  default `StoreOrderContacts` reads them, read-only, from the work-order tables
  (work_orders.caller_number, units.contact_phone).
* `SurveyResultSink`: what a survey result does to the order: satisfied or fairly
  satisfied -> survey + archive; dissatisfied -> survey + reopen (重办) to the unit;
  no result after all attempts -> `survey_unanswered`. The default only logs.

`OrderListener` turns `OrderStep`s into jobs: a step in `ivr.survey_after_steps`
("review" by default) stores a survey job due the next day inside calling hours; a step
in `ivr.supervision_steps` ("supervision_requested") stores a supervision call due now.
The envelope id is the job's dedupe key, so a redelivered event stores nothing new.
`ResultPublisher` is the scheduler's `on_finished`: it publishes `SurveyResult` /
`SupervisionCallResult` and calls the sink.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import IvrSettings
from hotline.bus import Bus
from hotline.bus_events import OrderStep, SupervisionCallResult, SurveyResult
from hotline.bus_topics import Domain
from hotline.feature import Clock
from ivr_flows import repo
from ivr_flows.interpreter import CallReport
from ivr_flows.models import CallbackJob, JobKind
from ivr_flows.scheduler import SchedulePolicy, survey_due

log = structlog.get_logger(__name__)
SATISFIED = ("满意", "基本满意")


class OrderContacts(Protocol):
    async def citizen_number(self, order_id: str) -> str | None: ...
    async def unit_number(self, order_id: str, unit_id: str | None) -> str | None: ...


class SurveyResultSink(Protocol):
    async def survey_satisfied(self, result: SurveyResult) -> None: ...
    async def survey_dissatisfied(self, result: SurveyResult) -> None: ...
    async def survey_unanswered(self, result: SurveyResult) -> None: ...


class LoggingSink:
    """The sink until the root wires the workorders service: says what it would do."""

    async def survey_satisfied(self, result: SurveyResult) -> None:
        log.info("ivr.survey_archive_wanted", order_id=result.order_id)

    async def survey_dissatisfied(self, result: SurveyResult) -> None:
        log.info("ivr.survey_reopen_wanted", order_id=result.order_id)

    async def survey_unanswered(self, result: SurveyResult) -> None:
        log.info("ivr.survey_unanswered", order_id=result.order_id, reason=result.reason)


class StoreOrderContacts:
    """Numbers from the work-order tables (read-only SQL; no workorders import)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessionmaker

    async def _one(self, sql: str, **params: str) -> str | None:
        try:
            async with self._sessions() as session:
                value = (await session.execute(text(sql), params)).scalar()
        except SQLAlchemyError as err:
            log.warning("ivr.contact_lookup_failed", error=str(err))
            return None
        return str(value) if value else None

    async def citizen_number(self, order_id: str) -> str | None:
        sql = "SELECT caller_number FROM work_orders WHERE number = :n"
        return await self._one(sql, n=order_id)

    async def unit_number(self, order_id: str, unit_id: str | None) -> str | None:
        if unit_id is None:
            unit = await self._one("SELECT lead_unit_id FROM work_orders WHERE number = :n",
                                   n=order_id)  # fmt: skip
            if unit is None:
                return None
            unit_id = unit
        return await self._one("SELECT contact_phone FROM units WHERE id = :u", u=unit_id)


def survey_result(job: CallbackJob) -> SurveyResult:
    satisfaction = job.result.get("satisfaction")
    solved = job.result.get("solved")
    return SurveyResult(
        order_id=job.order_id, outcome=job.outcome or "", attempts=job.attempts,
        satisfaction=satisfaction if satisfaction in ("满意", "基本满意", "不满意") else None,
        solved=None if solved is None else solved == "yes", reason=job.reason, job_id=job.id,
        comment=job.comment,
    )  # fmt: skip


class OrderListener:
    """Stores a callback job for each order step that asks for one."""

    def __init__(
        self, *, bus: Bus, sessionmaker: async_sessionmaker[AsyncSession],
        contacts: OrderContacts, settings: IvrSettings, policy: SchedulePolicy, clock: Clock,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self._bus = bus
        self._sessions = sessionmaker
        self._contacts = contacts
        self._settings = settings
        self._policy = policy
        self._clock = clock
        self._on_stored = on_stored
        self.ready = asyncio.Event()  # set once subscribed

    async def run(self) -> None:
        async with self._bus.subscribe(self._bus.filter(Domain.ORDER)) as sub:
            self.ready.set()
            async for message in sub:
                event = message.event
                if isinstance(event, OrderStep):
                    try:
                        await self.on_step(event, str(message.envelope.id), self._clock())
                    except Exception:  # one bad order must not stop the listener
                        log.exception("ivr.order_step_failed", order_id=event.order_id)

    async def on_step(self, step: OrderStep, event_id: str, at: datetime) -> CallbackJob | None:
        s = self._settings
        if step.step in s.survey_after_steps:
            number = await self._contacts.citizen_number(step.order_id)
            kind, flow, due = JobKind.survey, "survey", survey_due(at, self._policy)
            variables: dict[str, str] = {}
        elif step.step in s.supervision_steps:
            number = await self._contacts.unit_number(step.order_id, step.unit)
            kind, flow = JobKind.supervision, "supervision"
            due = self._policy.hours.next_open(self._clock())
            variables = {"order_ref": step.order_id.rsplit("-", 1)[-1]}
        else:
            return None
        if not number:
            log.warning("ivr.no_number", order_id=step.order_id, kind=kind, unit=step.unit)
            return None
        return await self.store(
            kind=kind, flow=flow, order_id=step.order_id, number=number, due_at=due,
            dedupe_key=f"{kind}:{event_id}", unit_id=step.unit, variables=variables,
        )  # fmt: skip

    async def store(
        self, *, kind: JobKind, flow: str, order_id: str, number: str, due_at: datetime,
        dedupe_key: str, unit_id: str | None = None, variables: dict[str, str] | None = None,
    ) -> CallbackJob:  # fmt: skip
        job = CallbackJob(
            kind=kind, flow=flow, order_id=order_id, unit_id=unit_id, number=number,
            variables=variables or {}, dedupe_key=dedupe_key, due_at=due_at,
            max_attempts=self._policy.retry.max_attempts,
        )  # fmt: skip
        async with self._sessions() as session:
            stored, new = await repo.add_job(session=session, job=job)
        if new:
            log.info("ivr.job_stored", job=stored.id, order_id=order_id, kind=kind, due_at=due_at)
            self._on_stored()
        return stored


class ResultPublisher:
    """The scheduler's `on_finished`: bus events, and the survey sink."""

    def __init__(self, bus: Bus, sink: SurveyResultSink) -> None:
        self._bus = bus
        self._sink = sink

    async def __call__(self, job: CallbackJob, report: CallReport | None) -> None:
        if job.kind == JobKind.supervision:
            self._bus.publish(SupervisionCallResult(
                order_id=job.order_id, unit=job.unit_id, outcome=job.outcome or "",
                acknowledged=job.result.get("acknowledged") == "yes", attempts=job.attempts,
                reason=job.reason, job_id=job.id,
            ))  # fmt: skip
            return
        result = survey_result(job)
        self._bus.publish(result)
        if result.satisfaction in SATISFIED:
            await self._sink.survey_satisfied(result)
        elif result.satisfaction == "不满意":
            await self._sink.survey_dissatisfied(result)
        else:
            await self._sink.survey_unanswered(result)
