"""The operators feature: seats kept in step with Asterisk, desktop commands, screen pop.

Theory of operation
-------------------
`OperatorDesk` owns one `Seat` (telephony.operators) per extension. Two inputs move
seats, both through the pure state machine:

- **AMI events** (`on_ami_event`, called in wire order by the server's pump): turned into
  facts by telephony.operator_facts and applied at once, so `Core.presence` and the
  `OperatorState` events on the bus follow Asterisk without delay. The handler never
  waits on the network: history rows and AMI actions go to the desk's own worker task
  through a queue (`_jobs`), the screen pop to a second worker (`_pops`) so a slow store
  write never delays a pop.
- **Desktop commands** (`self.commands`: telephony.operator_commands): checked against
  the table, sent to Asterisk and awaited, then applied through `command()`, which also
  waits until the history row is stored.

After-call work is automatic for seats with an open desktop session: when a call ends,
the seat enters wrap-up until `now + wrap_up_seconds` (from `Core.clock`), the deadline
is stored with the state row, and `_timer` ends it on time; after a restart the stored
deadline is read back before the first AMI event is handled, so the wrap-up still ends
on time (or at once, if it is already past).

After every AMI login the adapter resyncs: member snapshots re-confirm seats, and a seat
ringing or talking on a call that no snapshot channel carries any more goes back to work.

The screen pop: on AgentCalled the receipt time is noted, the worker looks up the caller's
history (telephony.call_repo.caller_history) and the line of the number dialled, and
publishes `ScreenPop`; agent_desktop.ws forwards it to the operator's browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from hotline.bus_events import OperatorState, ScreenPop
from hotline.feature import Core, Feature
from telephony import ami_actions
from telephony.ami_errors import AmiError
from telephony.ami_events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AmiEvent,
    ChannelSnapshot,
    Hangup,
    QueueMemberAdded,
    QueueMemberRemoved,
    QueueMemberSnapshot,
    QueueParamsSnapshot,
    ResyncCompleted,
    ResyncStarted,
    VarSet,
)
from telephony.operator_commands import OperatorCommands
from telephony.operator_facts import Interfaces, facts
from telephony.operators import (
    WRAP_UP_REASON,
    Completed,
    MemberGone,
    MemberSeen,
    OperatorEvent,
    Seat,
    State,
    WrapUpOver,
    changed,
    step,
)
from telephony.presence import OperatorPresence
from telephony.screen_pop import PopSource, build_pop, catalogue_lines

log = structlog.get_logger("telephony.operators")


@dataclass(frozen=True)
class CallLegs:
    """The channels of the call a seat talks on (what a transfer needs)."""

    call_id: str
    caller_channel: str
    operator_channel: str
    queue: str


@dataclass(frozen=True)
class _Pop:
    extension: str
    event: AgentCalled
    received_at: float


class OperatorDesk:
    def __init__(self, core: Core, pops: PopSource) -> None:
        self.core = core
        self.settings = core.settings.operators
        self.interfaces = Interfaces(self.settings.interface_template)
        self._pop_source = pops
        self.seats: dict[str, Seat] = {}
        self.skills: dict[str, tuple[str, ...]] = {}  # extensions with an open desk session
        self.members: dict[str, set[str]] = {}  # extension -> queues it is a member of
        self.queues: set[str] = {self.settings.default_queue}
        self.calls: dict[str, CallLegs] = {}
        self.last_pop: dict[str, ScreenPop] = {}
        self._dnis: dict[str, str] = {}  # linkedid -> number dialled
        self._jobs: asyncio.Queue[Callable[[], object]] = asyncio.Queue()
        self._pops: asyncio.Queue[_Pop] = asyncio.Queue()
        self._timer_changed = asyncio.Event()
        self._restored = asyncio.Event()
        self._resync_calls: set[str] | None = None
        self._resync_members: set[str] | None = None
        self.commands = OperatorCommands(self)

    # -- reading ---------------------------------------------------------------------------

    def seat(self, extension: str) -> Seat:
        return self.seats.get(extension) or Seat(extension)

    def default_skills(self, extension: str) -> tuple[str, ...]:
        configured = self.settings.skills.get(extension)
        if configured:
            return tuple(configured)
        others = sorted(self.queues - {self.settings.default_queue})
        return (self.settings.default_queue, *others)

    # -- AMI events (fast, in wire order) --------------------------------------------------

    async def on_ami_event(self, event: AmiEvent) -> None:
        if not self._restored.is_set():
            await self._restored.wait()
        now = self.core.clock()
        self._track(event)
        for extension, fact in facts(event, self.interfaces):
            self.apply(extension, self._with_context(extension, fact, now), now, strict=False)
        if isinstance(event, AgentCalled):
            ext = self.interfaces.extension(event.interface)
            if ext is not None:
                self._pops.put_nowait(_Pop(ext, event, time.time()))

    def _with_context(self, extension: str, fact: OperatorEvent, now: datetime) -> OperatorEvent:
        """Add what only the desk knows: after-call work for seats with a desk session."""
        if isinstance(fact, Completed):
            self.calls.pop(extension, None)
            if extension in self.skills and self.settings.wrap_up_seconds > 0:
                until = now + timedelta(seconds=self.settings.wrap_up_seconds)
                return Completed(fact.call_id, wrap_up_until=until)
        paused_for_wrap_up = (
            isinstance(fact, MemberSeen) and fact.paused and fact.reason == WRAP_UP_REASON
        )
        busy = (State.WRAP_UP, State.TALKING, State.RINGING)  # (paused ahead of a transfer)
        if paused_for_wrap_up and self.seat(extension).state not in busy:
            # Our wrap-up pause without its timer (e.g. lost in a restart): lift it.
            self._action(ami_actions.queue_pause(self.interfaces.interface(extension), False))
        return fact

    def _track(self, event: AmiEvent) -> None:
        match event:
            case VarSet() if event.variable.lstrip("_") == "HOTLINE_DNIS":
                self._dnis[event.call_id] = event.value
            case Hangup() if event.uniqueid == event.linkedid:
                self._dnis.pop(event.linkedid, None)
            case AgentConnect() if event.dest is not None:
                ext = self.interfaces.extension(event.interface)
                if ext is not None:
                    self.calls[ext] = CallLegs(event.call_id, event.channel,
                                               event.dest.channel, event.queue)
            case AgentComplete():
                pass
            case QueueParamsSnapshot():
                self.queues.add(event.queue)
            case QueueMemberAdded() | QueueMemberSnapshot():
                self.queues.add(event.queue)
                ext = self.interfaces.extension(event.interface)
                if ext is not None:
                    self.members.setdefault(ext, set()).add(event.queue)
                    if self._resync_members is not None:
                        self._resync_members.add(ext)
                    self._refresh_skills(ext)
            case QueueMemberRemoved():
                ext = self.interfaces.extension(event.interface)
                if ext is not None:
                    queues = self.members.setdefault(ext, set())
                    queues.discard(event.queue)
                    if not queues:
                        self.apply(ext, MemberGone(), self.core.clock(), strict=False)
                    else:
                        self._refresh_skills(ext)
            case ResyncStarted():
                self._resync_calls, self._resync_members = set(), set()
            case ChannelSnapshot() if self._resync_calls is not None:
                self._resync_calls.add(event.call_id)
            case ResyncCompleted() if self._resync_calls is not None:
                self._end_resync(event.complete)

    def _end_resync(self, complete: bool) -> None:
        calls, members = self._resync_calls or set(), self._resync_members or set()
        self._resync_calls = self._resync_members = None
        if not complete:
            return
        now = self.core.clock()
        for ext, seat in list(self.seats.items()):
            if seat.call_id is not None and seat.call_id not in calls:
                self.calls.pop(ext, None)
                self.apply(ext, Completed(seat.call_id), now, strict=False)
            if ext not in members:
                self.members.pop(ext, None)
                self.apply(ext, MemberGone(), now, strict=False)

    # -- the machine -----------------------------------------------------------------------

    def apply(self, extension: str, event: OperatorEvent, now: datetime, *, strict: bool) -> Seat:
        """Step the seat; publish, store and update presence when it changed."""
        before = self.seat(extension)
        try:
            after = step(before, event, now)
        except Exception:
            if strict:
                raise
            log.warning("operator.fact_ignored", extension=extension, state=before.state.value,
                        fact=type(event).__name__)
            return before
        self.seats[extension] = after
        if changed(before, after):
            self._changed(before, after, now)
        else:
            self._refresh_skills(extension)  # e.g. a login of a seat already ready
        return after

    def _skills_of(self, extension: str) -> frozenset[str]:
        desk = self.skills.get(extension)
        return frozenset(desk) if desk else frozenset(self.members.get(extension, set()))

    def _refresh_skills(self, extension: str) -> None:
        """Routing must see a seat's queues as they are now, not as they were at its last
        state change (a ready seat added to a queue, or logged in on the desk)."""
        known = self.core.presence.get(extension)
        skills = self._skills_of(extension)
        if known is not None and known.skills != skills:
            self.core.presence.update(OperatorPresence(extension, known.state, skills))
            log.info("operator.skills", extension=extension, skills=sorted(skills))

    def _changed(self, before: Seat, after: Seat, now: datetime, *, store: bool = True) -> None:
        log.info("operator.state", extension=after.extension, state=after.state.value,
                 was=before.state.value, reason=after.reason, call_id=after.call_id)
        self.core.presence.update(
            OperatorPresence(after.extension, after.state.value, self._skills_of(after.extension))
        )
        self.core.bus.publish(
            OperatorState(extension=after.extension, state=after.state.value,
                          reason=after.reason, call_id=after.call_id,
                          wrap_up_until=after.wrap_up_until)
        )
        if after.wrap_up_until != before.wrap_up_until:
            self._timer_changed.set()
        if store:
            self._jobs.put_nowait(lambda: self._store(after, now))

    async def _store(self, seat: Seat, now: datetime) -> None:
        from telephony import operator_repo  # noqa: PLC0415  (keeps import light)

        async with self.core.sessionmaker() as session:
            await operator_repo.record_states(session=session, seats=[seat], now=now)

    def _action(self, action: ami_actions.AmiAction) -> None:
        async def send() -> None:
            try:
                await self.core.ami.send(action)
            except AmiError as err:
                log.warning("operator.action_failed", action=action.name, error=str(err))

        self._jobs.put_nowait(send)

    # -- desktop commands ------------------------------------------------------------------

    def check(self, extension: str, event: OperatorEvent) -> None:
        """Raise IllegalTransition if `event` is not allowed for the seat now."""
        step(self.seat(extension), event, self.core.clock())

    async def command(self, extension: str, event: OperatorEvent, now: datetime) -> Seat:
        """Apply a desktop command and wait until its history row is stored (a wrap-up
        deadline must survive a restart that comes right after)."""
        seat = self.apply(extension, event, now, strict=True)
        await self._jobs.join()
        return seat

    # -- tasks -----------------------------------------------------------------------------

    async def restore(self) -> None:
        """Open sessions and wrap-up deadlines from the store, before any AMI event."""
        from telephony import operator_repo  # noqa: PLC0415

        try:
            async with self.core.sessionmaker() as session:
                for row in await operator_repo.open_sessions(session=session):
                    self.skills[row.extension] = operator_repo.session_skills(row)
                for change in await operator_repo.latest_states(session=session):
                    if change.state == State.WRAP_UP.value and change.wrap_up_until is not None:
                        self.seats[change.extension] = Seat(
                            change.extension, State.WRAP_UP, since=change.at,
                            wrap_up_until=change.wrap_up_until)
        finally:
            self._restored.set()
        now = self.core.clock()
        for seat in list(self.seats.values()):  # tell routing and the wallboard at once
            self._changed(Seat(seat.extension), seat, now, store=False)
        self._timer_changed.set()

    async def run_jobs(self) -> None:
        await self.restore()
        try:
            while True:
                await self._run_one(await self._jobs.get())
        except asyncio.CancelledError:  # stopping: store what is queued, briefly
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    while not self._jobs.empty():
                        await self._run_one(self._jobs.get_nowait())
            raise

    async def _run_one(self, job: Callable[[], object]) -> None:
        try:
            result = job()
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # one failed write or action must not stop the desk
            log.exception("operator.job_failed")
        finally:
            self._jobs.task_done()

    async def run_timer(self) -> None:
        """End each wrap-up at its deadline (clock: Core.clock; deadlines survive restarts)."""
        await self._restored.wait()
        while True:
            self._timer_changed.clear()
            now = self.core.clock()
            due = [s for s in self.seats.values()
                   if s.state is State.WRAP_UP and s.wrap_up_until is not None]
            for seat in due:
                if seat.wrap_up_until is not None and seat.wrap_up_until <= now:
                    self.apply(seat.extension, WrapUpOver(), now, strict=False)
                    self._action(ami_actions.queue_pause(
                        self.interfaces.interface(seat.extension), False))
            pending = [s.wrap_up_until for s in self.seats.values()
                       if s.state is State.WRAP_UP and s.wrap_up_until is not None]
            wait = (min(pending) - now).total_seconds() if pending else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_changed.wait(),
                                       None if wait is None else max(wait, 0.0))

    async def run_pops(self) -> None:
        await self._restored.wait()
        while True:
            item = await self._pops.get()
            try:
                pop = await build_pop(self._pop_source, item.extension, item.event,
                                      dnis=self._dnis.get(item.event.call_id),
                                      received_at=item.received_at)
            except Exception:
                log.exception("operator.pop_failed", extension=item.extension)
                continue
            self.last_pop[item.extension] = pop
            self.core.bus.publish(pop)
            log.info("operator.screen_pop", extension=item.extension, call_id=pop.call_id,
                     ms=round((time.time() - item.received_at) * 1000, 1))


def snapshot(desk: OperatorDesk, extension: str) -> list[dict[str, object]]:
    """What a page opened now should show: the seat's state, and the pop of its call."""
    seat = desk.seat(extension)
    state = OperatorState(extension=extension, state=seat.state.value, reason=seat.reason,
                          call_id=seat.call_id, wrap_up_until=seat.wrap_up_until)
    events: list[dict[str, object]] = [{"type": state.type, "data": state.model_dump(mode="json")}]
    pop = desk.last_pop.get(extension)
    if pop is not None and seat.call_id == pop.call_id:
        events.append({"type": pop.type, "data": pop.model_dump(mode="json")})
    return events


def build(core: Core) -> Feature:
    """The operators feature: seats, desktop API, WebSocket hub, screen pop."""
    from agent_desktop.views.operator import operator_routes  # noqa: PLC0415  (no cycle)
    from agent_desktop.ws import Hub  # noqa: PLC0415
    from telephony import operator_repo  # noqa: PLC0415

    source = PopSource(core.sessionmaker, history_days=core.settings.operators.history_days,
                       line_for=catalogue_lines())
    desk = OperatorDesk(core, source)

    async def seat_of_user(user_id: int) -> str | None:
        async with core.sessionmaker() as session:
            row = await operator_repo.open_session_of_user(session=session, user_id=user_id)
        return row.extension if row is not None else None

    hub = Hub(core.bus, snapshot=lambda ext: snapshot(desk, ext), seat_lookup=seat_of_user)
    return Feature(
        name="operators",
        routes=operator_routes(desk, hub),
        ami_handlers=(desk,),
        tasks=(desk.run_jobs, desk.run_timer, desk.run_pops, hub.run),
    )
