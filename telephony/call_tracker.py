"""The calls feature's AMI side: events about citizen channels -> call state -> effects.

`CallTracker.on_event` is called (through `CallService.on_ami_event`) for every AMI
event, in order, and must return fast: nothing here waits on the network. It turns the
few events about a citizen channel into `telephony.calls` events and advances that
call's pure state:

    UserEvent HotlineIncoming        -> Offered   (+ a routing job when Hold: 1)
    VarSet HOTLINE_FALLBACK          -> FellBack  (the dialplan moved it on its own)
    QueueCallerJoin                  -> Queued    (skill queue, overflow, transfer)
    AgentConnect / DialEnd ANSWER    -> Answered  (queue member / preferred operator)
    Hangup                           -> HungUp

Each transition is published on the bus (CallOffered/CallRouted/CallAnswered/CallEnded)
and queued as a store write (`telephony.call_store.CallStore`). A held call becomes a
`RouteJob` on `holding`, which `telephony.call_router.CallRouter` consumes; the router
commits its decision back through `commit_route` (Routed, if the call still holds).
The queue roster (`QueueRoster`) is fed from the same events.

After an AMI reconnect the adapter resyncs: calls whose channel the snapshot does not
confirm are ended (cause "lost"): they hung up while we were away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from hotline.bus_events import BusEvent, CallAnswered, CallEnded, CallOffered, CallRouted
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
from telephony.catalogue import Catalogue
from telephony.operator_interfaces import OperatorInterfaces
from telephony.queue_roster import QueueRoster
from telephony.routing import RouteDecision

log = structlog.get_logger("telephony.calls")

INCOMING_EVENT = "HotlineIncoming"


@dataclass(frozen=True)
class RouteJob:
    call: Call
    received: float  # time.monotonic() when the AMI event arrived
    channel: str


def _caller_number(raw: str) -> str | None:
    number = raw.strip()
    return None if number in ("", "<unknown>") else number


class CallTracker:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        publish: Callable[[BusEvent], object],
        store: CallStore,
        interfaces: OperatorInterfaces,
        clock: Callable[[], datetime],
    ) -> None:
        self._catalogue = catalogue
        self._publish = publish
        self._store = store
        self.interfaces = interfaces
        self._clock = clock
        self._calls: dict[str, Call] = {}
        self._channels: dict[str, str] = {}  # uniqueid -> channel name
        self.holding: asyncio.Queue[RouteJob] = asyncio.Queue()
        self._resync_seen: set[str] | None = None
        self.roster = QueueRoster()

    @property
    def live_calls(self) -> dict[str, Call]:
        return dict(self._calls)

    # -- AMI events (fast: no awaiting on the network) ------------------------------------

    def on_event(self, event: AmiEvent) -> None:
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
                self.apply(uniqueid, FellBack(now))
        elif isinstance(event, QueueCallerJoin):
            self.apply(uniqueid, Queued(now, event.queue))
        elif isinstance(event, AgentConnect):
            where = event.interface or (event.dest.channel if event.dest else "")
            ext = self.interfaces.extension(where) or event.member_name or where
            self.apply(uniqueid, Answered(now, ext))
        elif isinstance(event, DialEnd):
            # A queue's own dial also ends with ANSWER: only a preferred operator's Dial
            # (before any queue) is an answer of its own; queues report AgentConnect.
            routed = self._calls[uniqueid].state is CallState.routed
            if routed and event.dial_status == "ANSWER" and event.dest is not None:
                ext = self.interfaces.extension(event.dest.channel) or event.dest.channel
                self.apply(uniqueid, Answered(now, ext))
        elif isinstance(event, Hangup):
            self.apply(uniqueid, HungUp(now, event.cause_txt or str(event.cause)))

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
        holding = self.apply(uniqueid, offered)
        if holding is not None and event.headers.get("Hold") == "1":
            self.holding.put_nowait(RouteJob(holding, received, event.channel))

    def apply(self, uniqueid: str, event: CallEvent) -> Call | None:
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
            self.apply(uniqueid, HungUp(self._clock(), "lost"))

    # -- effects of a transition: bus events and store writes -----------------------------

    def _after(self, before: Call, call: Call, event: CallEvent) -> None:
        bind = log.bind(call_id=call.linkedid)
        if isinstance(event, Offered):
            line = self._catalogue.line_for(call.dnis)
            bind.info("call.offered", dnis=call.dnis, caller=call.caller_number,
                      line=line.id if line else None)  # fmt: skip
            self._publish(CallOffered(
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
                self._publish(CallRouted(linkedid=call.linkedid,
                                         queue=self._catalogue.default_queue,
                                         reason="fallback"))  # fmt: skip
                self._store.update(call, route=route)
        elif isinstance(event, Queued):
            bind.info("call.queued", queue=event.queue)
            self._store.update(call)
        elif isinstance(event, Answered):
            bind.info("call.answered", extension=event.extension, wait=call.wait_seconds)
            self._publish(CallAnswered(linkedid=call.linkedid, extension=event.extension,
                                       wait_seconds=call.wait_seconds))  # fmt: skip
            self._store.update(call)
        elif isinstance(event, HungUp):
            duration = (
                (call.ended_at - call.offered_at).total_seconds()
                if call.ended_at and call.offered_at else None
            )  # fmt: skip
            bind.info("call.ended", outcome=call.outcome.value, cause=call.cause)
            self._publish(CallEnded(linkedid=call.linkedid,
                                    answered=call.outcome is Outcome.answered,
                                    cause=call.cause, duration_seconds=duration))  # fmt: skip
            self._store.update(call)
            if call.outcome is Outcome.abandoned:
                line = self._catalogue.line_for(call.dnis)
                self._store.missed(call, line.id if line else None)

    # -- the router's decision, committed while the call still holds ---------------------

    def commit_route(self, call: Call, decision: RouteDecision) -> bool:
        """Routed, if still holding: from here the call is routed (bus, store); False if not."""
        current = self._calls.get(call.uniqueid)
        if current is None or current.state is not CallState.holding:
            log.info("route.skipped", call_id=call.linkedid,
                     state=current.state.value if current else "ended")  # fmt: skip
            return False
        self.apply(call.uniqueid, Routed(self._clock(), decision.queue,
                                         decision.preferred_operator))  # fmt: skip
        self._publish(CallRouted(linkedid=call.linkedid, queue=decision.queue,
                                 extension=decision.preferred_operator,
                                 reason=decision.summary()))  # fmt: skip
        self._store.route(call, decision.line, decision.as_json())
        return True
