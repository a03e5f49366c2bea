"""The callback scheduler: calls due jobs, at most `cap` at a time, inside calling hours.

Theory of operation
-------------------
`run()` loops: recover jobs a dead scheduler left in ``calling`` (older than the lease:
the attempt counts, outcome ``interrupted``, retried after the backoff if attempts
remain: a crash mid-call may be followed by one more call, never by two at once); then
`tick()`: as many due pending jobs as there are free call slots are *claimed* in the
store (committed) and only then placed, each in its own task in the scheduler's
TaskGroup; then it waits for the next due time, a finished call, `wake()`, or
`poll_seconds`, whichever is first. Time comes from the injected clock only, so tests
move time by moving the clock and calling `wake()` (or `tick()`).

After an attempt, `ivr_flows.jobs.after_attempt` decides: done, retry at a later time
inside calling hours, or failed with the reason; that decision and the result are
committed together with the attempt's end (`repo.finish_attempt`). Only then is
`on_finished(job, report)` awaited (the feature applies the result to the order from
there), and after it returns the job is marked applied (`applied_at`). If the server
dies in between, `run()` first re-applies every finished job not marked applied
(`reapply()`, with report None): results are applied at least once, and `on_finished`
must be idempotent (the order sink looks at the order before each step).

Stopping: cancelling `run()` cancels every call in flight. Each then hangs its channel up
(`hang_up`, AMI Hangup of the channel id, when given) and settles its attempt as
`recover()` would after the lease (counted as no answer, reason "interrupted: the server
stopped", retried after the backoff or failed), committed as any attempt's end, all
within STOP_GRACE: the next start carries on at once instead of waiting out the lease.
Past STOP_GRACE the job stays ``calling`` and `recover()` settles it after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import IvrSettings
from hotline.feature import Clock
from ivr_flows import repo
from ivr_flows.flows import Flow
from ivr_flows.interpreter import CallNotPlaced, CallReport
from ivr_flows.jobs import CallingHours, RetryPolicy, after_attempt
from ivr_flows.models import CallbackJob, JobState
from ivr_flows.outcomes import Outcome, Verdict

log = structlog.get_logger(__name__)
NOT_PLACED_DELAY = timedelta(seconds=30)
STOP_GRACE = 3.0  # seconds a stopping server gives each call to hang up and settle


class CallPlacer(Protocol):
    async def place(
        self, *, flow: Flow, number: str, channel_id: str, variables: Mapping[str, str],
        job_ref: str = "",
    ) -> CallReport: ...  # fmt: skip


JobFinished = Callable[[CallbackJob, CallReport | None], Awaitable[None]]
HangUp = Callable[[str], Awaitable[object]]  # a channel (id) to hang up


@dataclass(frozen=True)
class SchedulePolicy:
    hours: CallingHours
    retry: RetryPolicy
    cap: int = 10
    poll_seconds: float = 5.0
    lease: timedelta = timedelta(minutes=10)
    survey_delay: timedelta = timedelta(days=1)

    @classmethod
    def from_settings(cls, s: IvrSettings) -> SchedulePolicy:
        return cls(
            hours=CallingHours(
                start=s.calling_hours_start, end=s.calling_hours_end, tz=ZoneInfo(s.timezone),
                excluded_weekdays=frozenset(s.excluded_weekdays),
                excluded_dates=frozenset[date](s.excluded_dates),
            ),
            retry=RetryPolicy(
                max_attempts=s.max_attempts, backoff=timedelta(minutes=s.retry_backoff_minutes),
                factor=s.retry_factor,
            ),
            cap=s.max_concurrent_calls, poll_seconds=s.poll_seconds,
            lease=timedelta(seconds=s.ring_seconds + s.max_call_seconds + 60),
            survey_delay=timedelta(hours=s.survey_delay_hours),
        )  # fmt: skip


async def _nothing(_job: CallbackJob, _report: CallReport | None) -> None:
    return None


class Scheduler:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        placer: CallPlacer,
        flows: Mapping[str, Flow],
        policy: SchedulePolicy,
        clock: Clock,
        on_finished: JobFinished = _nothing,
        owner: str | None = None,
        hang_up: HangUp | None = None,
    ) -> None:
        self._sessions = sessionmaker
        self._hang_up = hang_up
        self._placer = placer
        self._flows = flows
        self.policy = policy
        self._clock = clock
        self._on_finished = on_finished
        self.owner = owner or uuid.uuid4().hex[:16]
        self._active: set[int] = set()
        self._wake = asyncio.Event()
        self.calls_placed = 0
        self.max_active = 0

    @property
    def active(self) -> int:
        return len(self._active)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await self.reapply()
        async with asyncio.TaskGroup() as tg:
            while True:
                await self.recover()
                await self.tick(tg)
                await self._wait()

    async def _wait(self) -> None:
        timeout = self.policy.poll_seconds
        async with self._sessions() as session:
            due = await repo.next_due(session=session)
        now = self._clock()
        if due is not None and len(self._active) < self.policy.cap:
            at = self.policy.hours.next_open(max(due, now))  # closed hours: wait for them
            timeout = min(timeout, max((at - now).total_seconds(), 0.0))
        if timeout > 0 and not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
        self._wake.clear()

    async def tick(self, tg: asyncio.TaskGroup) -> int:
        """Claim and start due jobs up to the free slots; how many were started."""
        free = self.policy.cap - len(self._active)
        if free <= 0:
            return 0
        now = self._clock()
        started = 0
        async with self._sessions() as session:
            due = await repo.due_jobs(session=session, now=now, limit=free + len(self._active))
            for job in due:
                if started >= free:
                    break
                assert job.id is not None
                if job.id in self._active or not self.policy.hours.is_open(now):
                    continue
                channel_id = str(uuid.uuid4())
                if not await repo.claim(
                    session=session, job_id=job.id, now=now, owner=self.owner,
                    channel_id=channel_id,
                ):  # fmt: skip
                    continue  # another scheduler took it
                self._active.add(job.id)
                self.max_active = max(self.max_active, len(self._active))
                started += 1
                tg.create_task(self._call(job, channel_id), name=f"callback-{job.id}")
        return started

    async def _call(self, job: CallbackJob, channel_id: str) -> None:
        assert job.id is not None
        bound = log.bind(job=job.id, order_id=job.order_id, call_id=channel_id)
        settled = False
        try:
            flow = self._flows.get(job.flow)
            if flow is None:
                verdict = Verdict(Outcome.unreachable, f"unknown flow {job.flow!r}")
                await self._finish(job, channel_id, verdict, None, give_up=True)
                return
            try:
                self.calls_placed += 1
                report = await self._placer.place(
                    flow=flow, number=job.number, channel_id=channel_id,
                    variables=job.variables, job_ref=str(job.id),
                )  # fmt: skip
            except CallNotPlaced as err:
                self.calls_placed -= 1
                bound.warning("ivr.call_not_placed", error=str(err))
                async with self._sessions() as session:
                    await repo.release(
                        session=session, job_id=job.id, channel_id=channel_id,
                        due_at=self._clock() + NOT_PLACED_DELAY,
                    )  # fmt: skip
                return
            settled = True
            await self._finish(job, channel_id, report.verdict, report)
        except asyncio.CancelledError:
            if not settled:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(STOP_GRACE):
                        await self._stopped(job, channel_id, bound)
            raise
        except Exception:
            bound.exception("ivr.call_failed")
        finally:
            self._active.discard(job.id)
            self._wake.set()

    async def _stopped(
        self, job: CallbackJob, channel_id: str, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        """The server stops during this call: hang it up, settle the attempt now."""
        if self._hang_up is not None:
            try:
                await self._hang_up(channel_id)
            except Exception as err:  # gone already, or AMI down: settle all the same
                bound.warning("ivr.stop_hangup_failed", error=str(err))
        verdict = Verdict(Outcome.answered_no_result, "interrupted: the server stopped")
        bound.warning("ivr.stopped_during_call")
        await self._finish(job, channel_id, _interrupted(verdict), None)

    async def _finish(
        self, job: CallbackJob, channel_id: str, verdict: Verdict, report: CallReport | None,
        *, give_up: bool = False,
    ) -> None:  # fmt: skip
        assert job.id is not None
        now = self._clock()
        async with self._sessions() as session:
            fresh = await repo.get_job(session=session, job_id=job.id)
            attempts = fresh.attempts if fresh is not None else job.attempts + 1
            step = after_attempt(
                verdict, attempts_made=attempts,
                max_attempts=0 if give_up else job.max_attempts, now=now,
                policy=self.policy.retry, hours=self.policy.hours,
            )  # fmt: skip
            facts = report.facts if report is not None else None
            done = await repo.finish_attempt(
                session=session, job_id=job.id, channel_id=channel_id, now=now,
                outcome=verdict.outcome, dial_status=facts.dial_status if facts else "",
                hangup_cause=facts.hangup_cause if facts else None,
                answers=report.answers if report else [], state=step.state,
                due_at=step.due_at, reason=step.reason,
                result=report.result if report else {},
                comment=report.comment if report else None,
            )  # fmt: skip
        log.info("ivr.attempt_done", job=job.id, order_id=job.order_id, outcome=verdict.outcome,
                 state=step.state, attempts=attempts, due_at=step.due_at)  # fmt: skip
        if step.state in (JobState.done, JobState.failed):
            await self._apply(done, report)

    async def _apply(self, job: CallbackJob, report: CallReport | None) -> None:
        assert job.id is not None
        await self._on_finished(job, report)
        async with self._sessions() as session:
            await repo.mark_applied(session=session, job_id=job.id, now=self._clock())

    async def reapply(self) -> int:
        """Apply the results a stopped server stored but never applied; how many."""
        async with self._sessions() as session:
            pending = list(await repo.unapplied(session=session))
        for job in pending:
            if job.id in self._active:
                continue
            log.warning("ivr.result_reapplied", job=job.id, order_id=job.order_id)
            try:
                await self._apply(job, None)
            except Exception:  # one order that refuses must not stop the others
                log.exception("ivr.reapply_failed", job=job.id, order_id=job.order_id)
        return len(pending)

    async def recover(self) -> int:
        """Settle jobs left in `calling` by a scheduler that died; how many."""
        now = self._clock()
        async with self._sessions() as session:
            stale = [
                j for j in await repo.stale_calls(session=session, before=now - self.policy.lease)
                if j.id not in self._active
            ]  # fmt: skip
        for job in stale:
            assert job.channel_id is not None
            verdict = Verdict(Outcome.answered_no_result, "interrupted: the scheduler stopped")
            log.warning("ivr.interrupted_call", job=job.id, claimed_by=job.claimed_by)
            await self._finish(job, job.channel_id, _interrupted(verdict), None)
        return len(stale)


def _interrupted(verdict: Verdict) -> Verdict:
    # Retried like no-answer (after the backoff, counting the attempt).
    return Verdict(Outcome.no_answer, verdict.reason)


def survey_due(event_time: datetime, policy: SchedulePolicy) -> datetime:
    return policy.hours.next_open(event_time + policy.survey_delay)
