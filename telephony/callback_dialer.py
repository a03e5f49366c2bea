"""Missed-call callbacks (漏接回拨) dialled automatically: the I/O shell of the dialer.

Theory of operation
-------------------
`calls.callback_mode` chooses: "manual" (the default) keeps the desk's behaviour (tasks
are listed, an operator calls and marks one done) and this feature runs nothing;
"auto" runs `CallbackDialer`:

- `run()` loops: settle dials a dead server left `dialing` (their lease is over: the
  task goes to manual, never dialled twice); `tick()`: read the waiting tasks, ask the
  pure planner (telephony.callback_dialer_plan.plan_dials) which to dial given who is
  ready (Core.presence) and what is in flight, *claim* each in the store (committed)
  and only then dial it in its own task of the dialer's TaskGroup; then wait for the
  next due time, an operator state change or a finished dial, or
  `callback_poll_seconds`.
- A dial: AMI Originate (Async, tracked by ChannelId) of `ivr.trunk` with the number
  into [hotline-callback] (config/asterisk/extensions_callbacks.conf.tmpl): when the
  citizen answers, a short prompt, then the line's skill queue at the top priority.
  Why the queue and not a Dial of the operator we counted on: between our decision
  and the citizen answering (up to the ring time) that operator may take an inbound
  call; the queue gives the citizen whoever is free, keeps ring-in-use, wrap-up and
  queue statistics right, and the operator's desk pops the citizen's history as for
  any queue call. The planner still dials only while a ready operator of that queue
  is free per dial in flight, so the citizen rarely waits.
- The channel's AMI events (CallTracker, reused from ivr_flows, plus AgentConnect) are
  folded by the pure `observe`; the dial is over at AgentConnect (connected to that
  operator: the task is done) or at the Hangup; `verdict` and `next_step` decide:
  retry after the backoff, or back to manual with the reason. Every change of a task
  is published (`CallbackTaskChanged`).

Stopping: the server cancels `run()`; its TaskGroup cancels every dial. A dial cancelled
while the citizen's phone still rings hangs it up (AMI Hangup of the tracked channel id)
and hands the task back at once (`stopped_step`: waiting, due now, or manual after the last
attempt), all within STOP_GRACE, so the next start carries on instead of waiting out the
lease. A citizen who already answered is left in the queue (Asterisk still connects them)
and the task goes to manual as interrupted; a dial whose end was already seen is finished
as usual.

Errors: none escape a dial (logged with the task id); a dial whose AMI action could not
be sent at all is released (not counted) and retried after NOT_PLACED_DELAY.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CallsSettings, IvrSettings
from hotline.bus import Bus
from hotline.bus_topics import Domain
from hotline.feature import Clock, Core, Feature
from ivr_flows.interpreter import ChannelGone
from ivr_flows.jobs import PlanError, RetryPolicy
from ivr_flows.scheduler import SchedulePolicy
from telephony import ami_actions
from telephony import callback_dialer_repo as repo
from telephony.ami import AmiClient
from telephony.ami_errors import AmiError, AmiNotConnectedError
from telephony.ami_events import AmiEvent
from telephony.call_models import CallbackTaskPublic
from telephony.callback_dialer_api import DialerStatus, routes
from telephony.callback_dialer_plan import (
    Candidate,
    DialerPolicy,
    DialProgress,
    interrupted_step,
    next_step,
    observe,
    plan_dials,
    queue_for,
    stopped_step,
    too_old_reason,
    verdict,
)
from telephony.callback_dialer_track import DialTracker, LiveDial
from telephony.callback_events import task_changed
from telephony.catalogue import Catalogue, CatalogueError, load_catalogue
from telephony.operator_interfaces import OperatorInterfaces
from telephony.presence import Presence
from telephony.routing import MAX_QUEUE_PRIORITY

log = structlog.get_logger(__name__)
NOT_PLACED_DELAY = timedelta(seconds=30)
HANGUP_GRACE = 5.0  # seconds to wait for the Hangup after a failed Originate
STOP_GRACE = 3.0  # seconds a stopping server gives each dial to hang up and hand back
CALLER_NAME = "漏接回拨"


def policy_from(calls: CallsSettings, ivr: IvrSettings) -> DialerPolicy:
    """The dialer's policy: calling hours from the IVR settings, the rest from calls."""
    return DialerPolicy(
        hours=SchedulePolicy.from_settings(ivr).hours,
        retry=RetryPolicy(max_attempts=calls.callback_max_attempts,
                          backoff=timedelta(seconds=calls.callback_retry_seconds),
                          factor=calls.callback_retry_factor),
        cap=calls.callback_max_dials,
        max_age=timedelta(hours=calls.callback_max_age_hours),
        ring_seconds=calls.callback_ring_seconds,
        queue_seconds=calls.callback_queue_seconds,
    )  # fmt: skip


class CallbackDialer:
    def __init__(
        self,
        *,
        calls: CallsSettings,
        ivr: IvrSettings,
        catalogue: Catalogue,
        sessionmaker: async_sessionmaker[AsyncSession],
        ami: AmiClient,
        bus: Bus,
        presence: Presence,
        clock: Clock,
        tracker: DialTracker,
        owner: str | None = None,
    ) -> None:
        self._calls = calls
        self._ivr = ivr
        self._catalogue = catalogue
        self._sessions = sessionmaker
        self._ami = ami
        self._bus = bus
        self._presence = presence
        self._clock = clock
        self._tracker = tracker
        self.policy = policy_from(calls, ivr)
        self.owner = owner or f"dialer-{uuid.uuid4().hex[:12]}"
        self._interfaces = OperatorInterfaces(calls.operator_interface)
        self._active: dict[int, str] = {}  # task id -> queue
        self._wake = asyncio.Event()

    @property
    def dialing(self) -> int:
        return len(self._active)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        log.info("callback_dialer.started", owner=self.owner, cap=self.policy.cap)
        async with asyncio.TaskGroup() as tg:
            while True:
                await self.recover()
                wake_at = await self.tick(tg)
                await self._wait(wake_at)

    async def watch(self) -> None:
        """Wake the loop when an operator's state changes (someone may have become ready)."""
        async with self._bus.subscribe(self._bus.filter(Domain.OPERATOR, None, "state")) as sub:
            async for _message in sub:
                self._wake.set()

    async def _wait(self, wake_at: datetime | None) -> None:
        timeout = self._calls.callback_poll_seconds
        if wake_at is not None:
            timeout = min(timeout, max((wake_at - self._clock()).total_seconds(), 0.0))
        if not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
        self._wake.clear()

    async def tick(self, tg: asyncio.TaskGroup) -> datetime | None:
        """Claim and start the dials the planner picks; when a waiting task falls due."""
        now = self._clock()
        if len(self._active) >= self.policy.cap or not self._presence.ready():
            return None  # nothing can start: spare the store (an operator change wakes us)
        since = now - self.policy.max_age
        async with self._sessions() as session:
            tasks = await repo.waiting(session=session, since=since, now=now)
            upcoming = await repo.next_due(session=session, since=since, now=now)
        by_id = {t.id: t for t in tasks if t.id not in self._active}
        candidates = [
            Candidate(t.id, queue_for(t.line, self._catalogue), t.first_missed_at,
                      t.last_missed_at, t.next_dial_at)
            for t in by_id.values()
        ]  # fmt: skip
        ready = {
            ext: p.skills for ext in self._presence.ready()
            if (p := self._presence.get(ext)) is not None
        }  # fmt: skip
        picks = plan_dials(candidates, now=now, policy=self.policy, ready=ready,
                           in_flight=list(self._active.values()))  # fmt: skip
        for pick in picks:
            channel_id = str(uuid.uuid4())
            async with self._sessions() as session:
                task = await repo.claim(
                    session=session, task_id=pick.task_id, now=now, owner=self.owner,
                    channel_id=channel_id, lease_until=now + self.policy.lease,
                )  # fmt: skip
            if task is None:
                continue  # another dialer took it, or an operator closed it
            self._active[pick.task_id] = pick.queue
            self._publish(task)
            log.info("callback_dialer.dialing", task=task.id, attempt=task.dial_attempts,
                     queue=pick.queue, counting_on=pick.operator, call_id=channel_id)  # fmt: skip
            tg.create_task(self._dial(task, pick.queue, channel_id), name=f"callback-{task.id}")
        return None if upcoming is None else self.policy.hours.next_open(upcoming)

    # -- one dial ---------------------------------------------------------------------------

    async def _dial(self, task: CallbackTaskPublic, queue_name: str, channel_id: str) -> None:
        bound = log.bind(task=task.id, call_id=channel_id)
        events = self._tracker.open(channel_id)
        live = LiveDial(DialProgress())
        try:
            try:
                progress = await self._place(task, queue_name, channel_id, events, bound, live=live)
            except AmiNotConnectedError as err:
                bound.warning("callback_dialer.not_placed", error=str(err))
                async with self._sessions() as session:
                    await repo.release(session=session, task_id=task.id, channel_id=channel_id,
                                       retry_at=self._clock() + NOT_PLACED_DELAY)  # fmt: skip
                return
            await self._finish(task, channel_id, progress, bound)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_GRACE):
                    await self._stopped(task, channel_id, events, live, bound)
            raise
        except Exception:
            bound.exception("callback_dialer.dial_failed")
        finally:
            self._tracker.close(channel_id)
            self._active.pop(task.id, None)
            self._wake.set()

    async def _place(
        self, task: CallbackTaskPublic, queue_name: str, channel_id: str,
        events: asyncio.Queue[AmiEvent], bound: structlog.typing.FilteringBoundLogger,
        *, live: LiveDial,
    ) -> DialProgress:  # fmt: skip
        calls, ivr = self._calls, self._ivr
        prompt = ""
        if calls.callback_prompt:
            prompt = f"{ivr.prompt_dir.rstrip('/')}/{calls.callback_prompt}"
        progress = DialProgress()
        try:
            result = await self._ami.originate(
                channel=ivr.trunk.format(number=task.number), context=calls.callback_context,
                exten="s", channel_id=channel_id, caller_id=ivr.caller_id,
                timeout_ms=int(calls.callback_ring_seconds * 1000),
                variables={
                    "CB_TASK": str(task.id), "CB_NUMBER": task.number, "CB_QUEUE": queue_name,
                    "CB_PRIO": str(MAX_QUEUE_PRIORITY),
                    "CB_WAIT": str(calls.callback_queue_seconds),
                    "CB_PROMPT": prompt, "CB_LINE": task.line or "", "CB_NAME": CALLER_NAME,
                },
            )  # fmt: skip
        except AmiNotConnectedError:
            raise  # nothing was dialled: _dial releases the claim
        except AmiError as err:  # e.g. no OriginateResponse in time: it may have rung
            bound.warning("callback_dialer.originate_failed", error=str(err))
            return progress
        limit = HANGUP_GRACE
        live.channel = result.channel or None
        if result.success:
            progress = live.progress = DialProgress(answered=True, rang=True,
                                                    dial_status="ANSWER")  # fmt: skip
            limit = self.policy.call_limit
            bound.info("callback_dialer.answered", channel=result.channel)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while not progress.settled:
                    event = await events.get()
                    if isinstance(event, ChannelGone):  # the resync did not find it
                        return progress
                    progress = observe(progress, event, self._interfaces.extension)
                    live.progress = progress
                return progress
        if result.success:  # too long in all: end it rather than leave it queued forever
            bound.warning("callback_dialer.too_long", seconds=limit)
            with contextlib.suppress(AmiError):
                await self._ami.send(ami_actions.hangup(result.channel, 16))
        return progress

    async def _finish(
        self, task: CallbackTaskPublic, channel_id: str, progress: DialProgress,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:  # fmt: skip
        v = verdict(progress, queue_seconds=self._calls.callback_queue_seconds)
        now = self._clock()
        try:
            step = next_step(v, attempts_made=task.dial_attempts,
                             max_attempts=self.policy.retry.max_attempts, now=now,
                             policy=self.policy)  # fmt: skip
        except PlanError as err:  # calling hours leave no time: a person decides
            bound.error("callback_dialer.no_calling_hours", error=str(err))
            step = interrupted_step(task.dial_attempts)
        async with self._sessions() as session:
            done = await repo.finish(
                session=session, task_id=task.id, channel_id=channel_id, now=now, step=step,
                hangup_cause=progress.hangup_cause, dial_status=progress.dial_status,
                operator=progress.operator,
            )  # fmt: skip
        bound.info("callback_dialer.attempt_done", outcome=step.outcome.value,
                   state=step.state.value, operator=progress.operator, reason=step.reason,
                   next_dial_at=step.next_dial_at)  # fmt: skip
        if done is not None:
            self._publish(done)

    async def _stopped(
        self, task: CallbackTaskPublic, channel_id: str, events: asyncio.Queue[AmiEvent],
        live: LiveDial, bound: structlog.typing.FilteringBoundLogger,
    ) -> None:  # fmt: skip
        """The server stops during this dial: hang up a ringing phone, hand the task back."""
        progress = live.progress
        while not events.empty():  # what AMI said while the Originate was pending
            event = events.get_nowait()
            if not isinstance(event, ChannelGone):
                progress = observe(progress, event, self._interfaces.extension)
        if progress.settled:
            await self._finish(task, channel_id, progress, bound)
            return
        if not progress.answered:
            try:  # Hangup takes a channel name or, as here while ringing, its unique id
                await self._ami.send(ami_actions.hangup(live.channel or channel_id, 16))
            except AmiError as err:
                bound.warning("callback_dialer.stop_hangup_failed", error=str(err))
        step = stopped_step(progress, attempts_made=task.dial_attempts,
                            max_attempts=self.policy.retry.max_attempts, now=self._clock(),
                            policy=self.policy)  # fmt: skip
        async with self._sessions() as session:
            done = await repo.finish(
                session=session, task_id=task.id, channel_id=channel_id, now=self._clock(),
                step=step, hangup_cause=progress.hangup_cause, dial_status=progress.dial_status,
            )  # fmt: skip
        bound.warning("callback_dialer.stopped_during_dial", answered=progress.answered,
                      state=step.state.value, reason=step.reason)  # fmt: skip
        if done is not None:
            self._publish(done)

    # -- restart safety ---------------------------------------------------------------------

    async def recover(self) -> int:
        """Hand dials a dead server left `dialing` back to the operators (how many), and
        waiting tasks too old to call back automatically."""
        now = self._clock()
        async with self._sessions() as session:
            left = [t for t in await repo.stale(session=session, now=now)
                    if t.id not in self._active]  # fmt: skip
            for task in left:
                assert task.channel_id is not None
                log.warning("callback_dialer.interrupted", task=task.id,
                            claimed_by=task.claimed_by, call_id=task.channel_id)  # fmt: skip
                done = await repo.finish(session=session, task_id=task.id,
                                         channel_id=task.channel_id, now=now,
                                         step=interrupted_step(task.dial_attempts))  # fmt: skip
                if done is not None:
                    self._publish(done)
            old = await repo.expire(session=session, before=now - self.policy.max_age,
                                    reason=too_old_reason(self.policy.max_age))  # fmt: skip
        for task in old:
            log.info("callback_dialer.too_old", task=task.id, last_missed_at=task.last_missed_at)
            self._publish(task)
        return len(left)

    def _publish(self, task: CallbackTaskPublic) -> None:
        self._bus.publish(task_changed(task))


def build(core: Core) -> Feature:
    """The dialer feature: in manual mode only its routes; a bad setting stops the start."""
    from hotline.app import StartupError  # noqa: PLC0415  (hotline.app imports the builders)

    calls, ivr = core.settings.calls, core.settings.ivr
    hours = f"{ivr.calling_hours_start:%H:%M}-{ivr.calling_hours_end:%H:%M} {ivr.timezone}"

    def status(dialing: int = 0) -> DialerStatus:
        return DialerStatus(mode=calls.callback_mode, max_dials=calls.callback_max_dials,
                            max_attempts=calls.callback_max_attempts, calling_hours=hours,
                            dialing=dialing)  # fmt: skip

    if calls.callback_mode != "auto":
        return Feature(name="callback_dialer",
                       routes=routes(bus=core.bus, clock=core.clock, status=status))  # fmt: skip
    if any(c in calls.callback_prompt + ivr.prompt_dir for c in ",|()"):
        raise StartupError("calls.callback_prompt and ivr.prompt_dir may not hold , | ( )")
    try:
        catalogue = load_catalogue(calls.catalogue)
        ZoneInfo(ivr.timezone)
        policy_from(calls, ivr)
    except (CatalogueError, PlanError, ValueError) as err:
        raise StartupError(f"callback dialer: {err}") from err
    tracker = DialTracker()
    dialer = CallbackDialer(
        calls=calls, ivr=ivr, catalogue=catalogue, sessionmaker=core.sessionmaker,
        ami=core.ami, bus=core.bus, presence=core.presence, clock=core.clock, tracker=tracker,
    )  # fmt: skip
    api = routes(bus=core.bus, clock=core.clock, status=lambda: status(dialer.dialing))
    return Feature(name="callback_dialer", routes=api, ami_handlers=(tracker,),
                   tasks=(dialer.run, dialer.watch))  # fmt: skip
