"""The calls feature: AMI events -> call state -> routing actions, records, bus events.

Theory of operation
-------------------
The dialplan answers a citizen's call into `hotline-hold` and announces it with
`UserEvent(HotlineIncoming, DNIS, Hold)`. `CallService.on_ami_event` (called for every
AMI event, in order; it must return fast) turns the few events about a citizen channel
into `telephony.calls` events and advances that call's pure state:

    UserEvent HotlineIncoming        -> Offered   (+ a routing job when Hold: 1)
    VarSet HOTLINE_FALLBACK          -> FellBack  (the dialplan moved it on its own)
    QueueCallerJoin                  -> Queued    (skill queue, overflow, transfer)
    AgentConnect / DialEnd ANSWER    -> Answered  (queue member / preferred operator)
    Hangup                           -> HungUp

Each transition is published on the bus (CallOffered/CallRouted/CallAnswered/CallEnded)
and queued as a store write. Nothing in the handler waits on the network: three tasks
do, each fed by a queue or a timer:

- `route_loop`: per job, reads the caller's facts from the store, asks the pure router
  (`telephony.routing.decide`, presence for "is the last operator ready"), then sends
  `Setvar HOTLINE_ROUTE` and `Redirect` to `hotline-route`. The time from the AMI event
  to the Redirect's answer is the decision latency (`latencies`). A failed action is
  logged; the dialplan's own timer then sends the call to the default queue.
- `store_loop`: `telephony.call_store.CallStore` writes call records and missed-call
  callback tasks in order, one at a time; a failed write is logged and skipped.
- `lease_loop`: renews the global HOTLINE_ROUTER_UNTIL (now + lease_seconds) every
  lease/3 s; the dialplan holds calls only while the lease is valid, and clears it when
  the server stops. So with no server, calls go straight to the default queue; with a
  dead one, they wait at most hold_seconds.

After an AMI reconnect the adapter resyncs: calls whose channel the snapshot does not
confirm are ended (cause "lost"): they hung up while we were away.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CallsSettings
from hotline.bus import Bus
from hotline.bus_events import CallAnswered, CallEnded, CallOffered, CallRouted
from hotline.feature import Core, Feature
from telephony import ami_actions, call_api, call_repo
from telephony.ami import AmiClient
from telephony.ami_errors import AmiError
from telephony.ami_events import (
    AgentConnect,
    AmiEvent,
    ChannelSnapshot,
    DialEnd,
    Hangup,
    QueueCallerJoin,
    ResyncCompleted,
    ResyncStarted,
    UserEvent,
    VarSet,
)
from telephony.call_store import CallStore
from telephony.call_transfers import record_transfers
from telephony.calls import (
    Answered,
    Call,
    CallEvent,
    CallState,
    FellBack,
    HungUp,
    IllegalCallTransition,
    Offered,
    Outcome,
    Queued,
    Routed,
    advance,
    new_call,
)
from telephony.catalogue import Catalogue, CatalogueError, load_catalogue
from telephony.presence import Presence
from telephony.queue_roster import QueueRoster
from telephony.routing import (
    CallerFacts,
    IncomingCall,
    RouteDecision,
    RoutingPolicy,
    decide,
    is_withheld,
)

log = structlog.get_logger("telephony.calls")

ROUTE_CONTEXT = "hotline-route"
INCOMING_EVENT = "HotlineIncoming"
ROUTE_CONCURRENCY = 32
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?$")


@dataclass(frozen=True)
class _RouteJob:
    call: Call
    received: float  # time.monotonic() when the AMI event arrived
    channel: str


class OperatorInterfaces:
    """Extension <-> the interface a queue member or a Dial uses ("PJSIP/op{extension}")."""

    def __init__(self, template: str) -> None:
        self.template = template
        prefix, _, suffix = template.partition("{extension}")
        self._pattern = re.compile(f"^{re.escape(prefix)}(?P<ext>[^/;@-]+){re.escape(suffix)}$")

    def interface(self, extension: str) -> str:
        return self.template.format(extension=extension)

    def extension(self, interface_or_channel: str) -> str | None:
        m = self._pattern.match(_CHANNEL_SUFFIX.sub("", interface_or_channel))
        return m.group("ext") if m else None


def _caller_number(raw: str) -> str | None:
    number = raw.strip()
    return None if number in ("", "<unknown>") else number


class CallService:
    def __init__(
        self,
        *,
        settings: CallsSettings,
        catalogue: Catalogue,
        ami: AmiClient,
        bus: Bus,
        sessionmaker: async_sessionmaker[AsyncSession],
        presence: Presence,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._ami = ami
        self._bus = bus
        self._sessionmaker = sessionmaker
        self._presence = presence
        self._clock = clock
        self._policy = RoutingPolicy(
            preferred_days=settings.preferred_days,
            key_caller_threshold=settings.key_caller_threshold,
            key_caller_days=settings.key_caller_days,
            key_caller_boost=settings.key_caller_boost,
            preferred_ring_seconds=settings.preferred_ring_seconds,
        )
        self.interfaces = OperatorInterfaces(settings.operator_interface)
        self._calls: dict[str, Call] = {}
        self._channels: dict[str, str] = {}  # uniqueid -> channel name
        self._routes: asyncio.Queue[_RouteJob] = asyncio.Queue()
        self._store = CallStore(sessionmaker, clock, bus.publish)
        self._resync_seen: set[str] | None = None
        self.roster = QueueRoster()
        self.latencies: deque[float] = deque(maxlen=100_000)  # seconds, event -> Redirect
        self.routed = 0
        self.route_failures = 0

    @property
    def live_calls(self) -> dict[str, Call]:
        return dict(self._calls)

    # -- AMI events (fast: no awaiting on the network) ------------------------------------

    async def on_ami_event(self, event: AmiEvent) -> None:
        self.roster.on_event(event)
        if isinstance(event, UserEvent):
            if event.user_event == INCOMING_EVENT:
                self._incoming(event)
            return
        if isinstance(event, ResyncStarted):
            self._resync_seen = set()
            return
        if isinstance(event, ChannelSnapshot):
            if self._resync_seen is not None:
                self._resync_seen.add(event.uniqueid)
            return
        if isinstance(event, ResyncCompleted):
            self._drop_unconfirmed(event.complete)
            return
        uniqueid = getattr(event, "uniqueid", None)
        if uniqueid is None or uniqueid not in self._calls:
            return
        now = self._clock()
        if isinstance(event, VarSet):
            if event.variable == "HOTLINE_FALLBACK":
                self._apply(uniqueid, FellBack(now))
        elif isinstance(event, QueueCallerJoin):
            self._apply(uniqueid, Queued(now, event.queue))
        elif isinstance(event, AgentConnect):
            where = event.interface or (event.dest.channel if event.dest else "")
            ext = self.interfaces.extension(where) or event.member_name or where
            self._apply(uniqueid, Answered(now, ext))
        elif isinstance(event, DialEnd):
            # A queue's own dial also ends with ANSWER: only a preferred operator's Dial
            # (before any queue) is an answer of its own; queues report AgentConnect.
            routed = self._calls[uniqueid].state is CallState.routed
            if routed and event.dial_status == "ANSWER" and event.dest is not None:
                ext = self.interfaces.extension(event.dest.channel) or event.dest.channel
                self._apply(uniqueid, Answered(now, ext))
        elif isinstance(event, Hangup):
            self._apply(uniqueid, HungUp(now, event.cause_txt or str(event.cause)))

    def _incoming(self, event: UserEvent) -> None:
        uniqueid = event.uniqueid
        if not uniqueid or uniqueid in self._calls:
            return
        received = time.monotonic()
        dnis = event.headers.get("DNIS", "").strip()
        call = new_call(uniqueid, event.linkedid or uniqueid)
        self._calls[uniqueid] = call
        self._channels[uniqueid] = event.channel
        offered = Offered(
            self._clock(), dnis, _caller_number(event.caller_id_num),
            _caller_number(event.caller_id_name),
        )  # fmt: skip
        holding = self._apply(uniqueid, offered)
        if holding is not None and event.headers.get("Hold") == "1":
            self._routes.put_nowait(_RouteJob(holding, received, event.channel))

    def _apply(self, uniqueid: str, event: CallEvent) -> Call | None:
        before = self._calls.get(uniqueid)
        if before is None:
            return None
        try:
            call = advance(before, event)
        except IllegalCallTransition as err:
            log.warning("call.illegal_event", call_id=before.linkedid, error=str(err))
            return None
        self._calls[uniqueid] = call
        self._after(before, call, event)
        if call.state is CallState.ended:
            del self._calls[uniqueid]
            self._channels.pop(uniqueid, None)
        return call

    def _drop_unconfirmed(self, complete: bool) -> None:
        seen, self._resync_seen = self._resync_seen, None
        if seen is None or not complete:
            return
        for uniqueid in [u for u in self._calls if u not in seen]:
            self._apply(uniqueid, HungUp(self._clock(), "lost"))

    # -- effects of a transition: bus events and store writes -----------------------------

    def _after(self, before: Call, call: Call, event: CallEvent) -> None:
        bind = log.bind(call_id=call.linkedid)
        if isinstance(event, Offered):
            line = self._catalogue.line_for(call.dnis)
            bind.info("call.offered", dnis=call.dnis, caller=call.caller_number,
                      line=line.id if line else None)  # fmt: skip
            self._bus.publish(CallOffered(
                linkedid=call.linkedid, caller_number=call.caller_number or "",
                caller_name=call.caller_name, dnis=call.dnis or None,
            ))  # fmt: skip
            self._store.open(call, line.id if line else None)
        elif isinstance(event, FellBack):
            bind.warning("call.fell_back", queue=self._catalogue.default_queue,
                         after_routing=before.state is not CallState.holding)  # fmt: skip
            if before.state is CallState.holding:
                route = {"queue": self._catalogue.default_queue, "fallback": True,
                         "flags": [], "reasons": [{"code": "fallback", "detail":
                         "the dialplan moved the call: no decision in time"}]}  # fmt: skip
                self._bus.publish(CallRouted(linkedid=call.linkedid,
                                             queue=self._catalogue.default_queue,
                                             reason="fallback"))  # fmt: skip
                self._store.update(call, route=route)
        elif isinstance(event, Queued):
            bind.info("call.queued", queue=event.queue)
            self._store.update(call)
        elif isinstance(event, Answered):
            bind.info("call.answered", extension=event.extension, wait=call.wait_seconds)
            self._bus.publish(CallAnswered(linkedid=call.linkedid, extension=event.extension,
                                           wait_seconds=call.wait_seconds))  # fmt: skip
            self._store.update(call)
        elif isinstance(event, HungUp):
            duration = (
                (call.ended_at - call.offered_at).total_seconds()
                if call.ended_at and call.offered_at else None
            )  # fmt: skip
            bind.info("call.ended", outcome=call.outcome.value, cause=call.cause)
            self._bus.publish(CallEnded(linkedid=call.linkedid,
                                        answered=call.outcome is Outcome.answered,
                                        cause=call.cause, duration_seconds=duration))  # fmt: skip
            self._store.update(call)
            if call.outcome is Outcome.abandoned:
                line = self._catalogue.line_for(call.dnis)
                self._store.missed(call, line.id if line else None)

    # -- tasks ----------------------------------------------------------------------------

    async def store_loop(self) -> None:
        await self._store.run()

    async def route_loop(self) -> None:
        limit = asyncio.Semaphore(ROUTE_CONCURRENCY)
        async with asyncio.TaskGroup() as tg:
            while True:
                job = await self._routes.get()
                await limit.acquire()
                task = tg.create_task(self._route(job))
                task.add_done_callback(lambda _t: limit.release())

    async def _route(self, job: _RouteJob) -> None:
        call = job.call
        bind = log.bind(call_id=call.linkedid)
        try:
            facts = await self._facts(call)
            decided = time.monotonic()
            decision = decide(
                IncomingCall(call.dnis, call.caller_number, call.caller_name),
                facts, self._catalogue, self._policy, self._presence.is_ready,
                staffed=self.roster.staffed,
            )  # fmt: skip
            await self._ami.send(ami_actions.setvar(job.channel, "HOTLINE_ROUTE",
                                                    self._route_value(decision)))  # fmt: skip
            # Committed from here: the call is routed before the Redirect goes out, so the
            # events it causes (QueueCallerJoin, ...) find it routed, in order.
            if not self._commit_route(call, decision):
                return
            await self._ami.send(ami_actions.redirect(job.channel, ROUTE_CONTEXT, "s"))
        except (AmiError, TimeoutError) as err:
            self.route_failures += 1
            bind.warning("route.failed", error=str(err))  # the dialplan's timer takes over
            return
        except Exception:
            self.route_failures += 1
            bind.exception("route.failed")
            return
        done = time.monotonic()
        latency = done - job.received
        self.latencies.append(latency)
        self.routed += 1
        bind.info("call.routed", queue=decision.queue, priority=decision.priority,
                  preferred=decision.preferred_operator, flags=list(decision.flags),
                  reasons=decision.summary(), latency_ms=round(latency * 1000, 2),
                  decide_ms=round((decided - job.received) * 1000, 2),
                  actions_ms=round((done - decided) * 1000, 2))  # fmt: skip

    def _commit_route(self, call: Call, decision: RouteDecision) -> bool:
        current = self._calls.get(call.uniqueid)
        if current is None or current.state is not CallState.holding:
            log.info("route.skipped", call_id=call.linkedid,
                     state=current.state.value if current else "ended")  # fmt: skip
            return False
        self._apply(call.uniqueid, Routed(self._clock(), decision.queue,
                                          decision.preferred_operator))  # fmt: skip
        self._bus.publish(CallRouted(linkedid=call.linkedid, queue=decision.queue,
                                     extension=decision.preferred_operator,
                                     reason=decision.summary()))  # fmt: skip
        self._store.route(call, decision.line, decision.as_json())
        return True

    async def _facts(self, call: Call) -> CallerFacts:
        if is_withheld(call.caller_number):
            return CallerFacts()
        assert call.caller_number is not None
        async with self._sessionmaker() as session:
            count, last = await call_repo.routing_facts(
                session=session, number=call.caller_number,
                key_caller_days=self._settings.key_caller_days,
                preferred_days=self._settings.preferred_days,
                now=self._clock(), exclude_linkedid=call.linkedid,
            )  # fmt: skip
        return CallerFacts(recent_calls=count, last_operator=last)

    def _route_value(self, d: RouteDecision) -> str:
        overflow = self._settings.overflow_seconds or d.overflow_seconds
        if d.queue == d.overflow_queue:
            overflow = 0  # no wider group to go to: wait in the queue itself
        preferred = self.interfaces.interface(d.preferred_operator) if d.preferred_operator else ""
        ring = d.preferred_ring_seconds if preferred else 0
        return f"{d.queue}|{d.priority}|{overflow}|{d.overflow_queue}|{preferred}|{ring}"

    async def lease_loop(self) -> None:
        lease = self._settings.lease_seconds
        try:
            while True:
                until = int(time.time()) + lease
                try:
                    await self._ami.send(ami_actions.setvar(None, "HOTLINE_ROUTER_UNTIL",
                                                            str(until)))  # fmt: skip
                except (AmiError, TimeoutError) as err:
                    log.warning("route.lease_not_renewed", error=str(err))
                await asyncio.sleep(lease / 3)  # a timer: renew well before the lease ends
        finally:
            try:
                async with asyncio.timeout(1.0):
                    await self._ami.send(ami_actions.setvar(None, "HOTLINE_ROUTER_UNTIL", "0"))
            except (AmiError, TimeoutError, asyncio.CancelledError):
                log.warning("route.lease_not_released")


def build(core: Core) -> Feature:
    """The calls feature; a bad hotline catalogue stops the server at start."""
    from hotline.app import StartupError  # noqa: PLC0415  (hotline.app imports the builders)

    settings = core.settings.calls
    try:
        catalogue = load_catalogue(settings.catalogue)
    except CatalogueError as err:
        raise StartupError(str(err)) from err
    service = CallService(
        settings=settings, catalogue=catalogue, ami=core.ami, bus=core.bus,
        sessionmaker=core.sessionmaker, presence=core.presence, clock=core.clock,
    )  # fmt: skip
    return Feature(
        name="calls",
        routes=call_api.routes(
            clock=core.clock,
            target_seconds=settings.answered_within_seconds,
            publish=core.bus.publish,
        ),
        ami_handlers=(service,),
        tasks=(
            service.route_loop,
            service.store_loop,
            service.lease_loop,
            partial(record_transfers, core.bus, core.sessionmaker),
        ),
    )
