"""The state of one citizen call, as a transition table. Pure: events in, state out.

Theory of operation
-------------------
A citizen's call is answered by the dialplan into a holding context and announced; from
then on everything we learn about it arrives as AMI events, which the call service turns
into the small events below (it alone knows AMI). `advance(call, event)` looks up
(state, event type) in `TRANSITIONS` and returns the next `Call`; a pair missing from
the table raises `IllegalCallTransition` naming both, so an event stream we do not
understand is loud instead of silently wrong. Like h11's connection state, nothing here
performs I/O or reads a clock: every event carries its own time.

    state      Offered  Routed  FellBack  Queued   Answered   HungUp
    (new)      holding  -       -         -        -          -
    holding    -        routed  routed    queued   -          ended (hung_up_in_hold)
    routed     -        -       routed    queued   connected  ended (abandoned)
    queued     -        -       routed    queued   connected  ended (abandoned)
    connected  -        -       -         queued   connected  ended (answered)
    ended      -        -       -         -        -          -

- Routed: the server's decision was sent (Setvar + Redirect); FellBack: the dialplan
  moved the call on its own after hold_seconds (server absent or slow). FellBack after
  Routed is the race where both happen; it changes nothing but is recorded.
- Queued again while queued = overflow to a wider queue; while connected = an operator
  transferred the caller to another skill queue. `queues` keeps every queue in order.
- Answered again while connected = a transfer reached another operator.
- HungUp ends the call; the outcome is "answered" if an operator ever answered,
  "abandoned" if the caller gave up while queued or while a preferred operator rang
  (a missed call: the service opens a callback task), "hung_up_in_hold" if they hung up
  before the call was routed (a few seconds: not a missed call).
Exceptions::

    CallStateError
     └── IllegalCallTransition   (state, event) is not in the table
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class CallState(StrEnum):
    new = "new"
    holding = "holding"
    routed = "routed"
    queued = "queued"
    connected = "connected"
    ended = "ended"


class Outcome(StrEnum):
    in_progress = "in_progress"
    answered = "answered"
    abandoned = "abandoned"
    hung_up_in_hold = "hung_up_in_hold"


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offered:
    at: datetime
    dnis: str
    caller_number: str | None
    caller_name: str | None = None


@dataclass(frozen=True)
class Routed:
    at: datetime
    queue: str
    preferred_operator: str | None = None


@dataclass(frozen=True)
class FellBack:
    at: datetime


@dataclass(frozen=True)
class Queued:
    at: datetime
    queue: str


@dataclass(frozen=True)
class Answered:
    at: datetime
    extension: str


@dataclass(frozen=True)
class HungUp:
    at: datetime
    cause: str = ""


CallEvent = Offered | Routed | FellBack | Queued | Answered | HungUp


# -- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    uniqueid: str
    linkedid: str
    state: CallState = CallState.new
    dnis: str = ""
    caller_number: str | None = None
    caller_name: str | None = None
    offered_at: datetime | None = None
    routed_at: datetime | None = None
    fell_back: bool = False
    queues: tuple[str, ...] = ()
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    operator: str | None = None
    operators: tuple[str, ...] = ()
    ended_at: datetime | None = None
    cause: str = ""
    outcome: Outcome = Outcome.in_progress

    @property
    def queue(self) -> str | None:
        return self.queues[-1] if self.queues else None

    @property
    def wait_seconds(self) -> float | None:
        """From entering the centre to the first answer (or to the end if unanswered)."""
        end = self.answered_at or self.ended_at
        if self.offered_at is None or end is None:
            return None
        return max(0.0, (end - self.offered_at).total_seconds())


class CallStateError(Exception):
    """Base of call state errors."""


class IllegalCallTransition(CallStateError):
    def __init__(self, call: Call, event: CallEvent) -> None:
        self.state = call.state
        self.event = event
        super().__init__(
            f"call {call.linkedid}: {type(event).__name__} is not allowed in state "
            f"{call.state.value}"
        )


# -- transitions ----------------------------------------------------------------------------


def _offered(c: Call, e: Offered) -> Call:
    return replace(
        c,
        state=CallState.holding,
        dnis=e.dnis,
        caller_number=e.caller_number,
        caller_name=e.caller_name,
        offered_at=e.at,
    )


def _routed(c: Call, e: Routed) -> Call:
    return replace(c, state=CallState.routed, routed_at=e.at)


def _fell_back(c: Call, e: FellBack) -> Call:
    if c.state is CallState.holding:
        return replace(c, state=CallState.routed, routed_at=e.at, fell_back=True)
    return replace(c, fell_back=True)


def _queued(c: Call, e: Queued) -> Call:
    first = c.queued_at or e.at
    return replace(c, state=CallState.queued, queues=(*c.queues, e.queue), queued_at=first)


def _answered(c: Call, e: Answered) -> Call:
    return replace(
        c,
        state=CallState.connected,
        answered_at=c.answered_at or e.at,
        operator=e.extension,
        operators=(*c.operators, e.extension),
    )


def _hung_up(c: Call, e: HungUp) -> Call:
    if c.answered_at is not None:
        outcome = Outcome.answered
    elif c.state is CallState.holding:
        outcome = Outcome.hung_up_in_hold
    else:
        outcome = Outcome.abandoned
    return replace(c, state=CallState.ended, ended_at=e.at, cause=e.cause, outcome=outcome)


_Step = Callable[[Call, Any], Call]  # each step takes its own event type
S = CallState
TRANSITIONS: dict[tuple[CallState, type], _Step] = {
    (S.new, Offered): _offered,
    (S.holding, Routed): _routed,
    (S.holding, FellBack): _fell_back,
    (S.holding, Queued): _queued,
    (S.holding, HungUp): _hung_up,
    (S.routed, FellBack): _fell_back,
    (S.routed, Queued): _queued,
    (S.routed, Answered): _answered,
    (S.routed, HungUp): _hung_up,
    (S.queued, FellBack): _fell_back,
    (S.queued, Queued): _queued,
    (S.queued, Answered): _answered,
    (S.queued, HungUp): _hung_up,
    (S.connected, Queued): _queued,
    (S.connected, Answered): _answered,
    (S.connected, HungUp): _hung_up,
}


def advance(call: Call, event: CallEvent) -> Call:
    """The call after `event`, or IllegalCallTransition."""
    step = TRANSITIONS.get((call.state, type(event)))
    if step is None:
        raise IllegalCallTransition(call, event)
    return step(call, event)


def new_call(uniqueid: str, linkedid: str | None = None) -> Call:
    return Call(uniqueid=uniqueid, linkedid=linkedid or uniqueid)
