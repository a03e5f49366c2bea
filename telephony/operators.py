"""An operator seat's state: a transition table in one file. Pure: values in, values out.

Theory of operation
-------------------
One `Seat` per SIP extension. Its `state` is one of `State`; `reason` says why it is
paused, `call_id` which call it rings for or talks on, `wrap_up_until` when after-call
work ends by itself. `step(seat, event, now)` returns the next `Seat` or raises
`IllegalTransition` naming the state and the event; it never does I/O.

Two kinds of event drive a seat:

- **Commands** from the operator's desktop (`Login`, `Logout`, `Pause`, `Resume`,
  `StartWrapUp`) and the wrap-up timer (`WrapUpOver`). A command that makes no sense in
  the current state (pausing while talking, logging out while ringing) is illegal: the
  desktop shows the error and nothing changes.
- **Facts** from Asterisk (`MemberSeen`, `MemberGone`, `Called`, `RingEnded`,
  `Connected`, `Completed`, `Unreachable`, `Reachable`). Asterisk is the truth about the
  phone: a fact is legal in nearly every state, and where it would contradict the seat
  (a `Called` on a seat that is logged out in our books but still a queue member) the
  fact wins.

Pause reasons ``logout`` and ``wrap_up`` are ours: Asterisk cannot remove a static queue
member, so logging out pauses it with reason ``logout``; after-call work pauses it with
reason ``wrap_up`` so no call is offered until the timer ends it. A `MemberSeen` with
those reasons keeps the seat logged out / in wrap-up rather than "paused".

`ringing` and `unreachable` remember the state to go back to (`resume`).

Transition table (rows: state; columns: events; "-" illegal; "=" unchanged)::

              Lin  Lout Pause Res  Wrap Over Seen Gone Call REnd Conn Comp Unr  Rch
    logged_out ready =   -     -    -    =    (a)  =    ring =    talk =    unr  =
    ready      =   out  pause =    wrap =    (a)  out  ring =    talk =    unr  =
    paused     =   out  pause ready wrap =    (a)  out  ring =    talk =    unr  =
    ringing    =   -    -     -    -    =    =    =    ring back talk back unr  =
    talking    =   -    -     -    -    =    =    =    =    =    =    (b)  unr  =
    wrap_up    =   out  pause ready wrap ready (c) out  ring =    talk =    unr  =
    unreachable =  out  -     -    -    =    =    out  ring =    talk =    =    back

    (a) paused with a reason of the operator's -> paused(reason); reason logout -> logged_out;
        not paused -> ready
    (b) wrap_up until the event's deadline when it has one, else ready
    (c) paused with a reason of the operator's -> paused(reason); otherwise unchanged
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

LOGOUT_REASON = "logout"
WRAP_UP_REASON = "wrap_up"
_OUR_REASONS = frozenset({LOGOUT_REASON, WRAP_UP_REASON})


class State(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    UNREACHABLE = "unreachable"


class OperatorStateError(Exception):
    """Base of this module's errors."""


class IllegalTransition(OperatorStateError):
    """The event is not allowed in the seat's current state."""

    def __init__(self, state: State, event: OperatorEvent) -> None:
        self.state = state
        self.event = event
        super().__init__(f"{type(event).__name__} is not allowed while {state.value}")


@dataclass(frozen=True)
class Seat:
    extension: str
    state: State = State.LOGGED_OUT
    since: datetime | None = None
    reason: str | None = None  # pause reason
    call_id: str | None = None
    wrap_up_until: datetime | None = None
    resume: State = State.LOGGED_OUT  # where ringing / unreachable go back to


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorEvent:
    """Base of every event a seat reacts to."""


@dataclass(frozen=True)
class Login(OperatorEvent):
    pass


@dataclass(frozen=True)
class Logout(OperatorEvent):
    pass


@dataclass(frozen=True)
class Pause(OperatorEvent):
    reason: str


@dataclass(frozen=True)
class Resume(OperatorEvent):
    pass


@dataclass(frozen=True)
class StartWrapUp(OperatorEvent):
    until: datetime


@dataclass(frozen=True)
class WrapUpOver(OperatorEvent):
    pass


@dataclass(frozen=True)
class MemberSeen(OperatorEvent):
    """Asterisk reports the seat as a queue member (added, status, pause, snapshot)."""

    paused: bool
    reason: str = ""


@dataclass(frozen=True)
class MemberGone(OperatorEvent):
    """The seat is a member of no queue any more."""


@dataclass(frozen=True)
class Called(OperatorEvent):
    call_id: str


@dataclass(frozen=True)
class RingEnded(OperatorEvent):
    """The phone stopped ringing without answering (no answer, caller hung up)."""


@dataclass(frozen=True)
class Connected(OperatorEvent):
    call_id: str


@dataclass(frozen=True)
class Completed(OperatorEvent):
    call_id: str
    wrap_up_until: datetime | None = None


@dataclass(frozen=True)
class Unreachable(OperatorEvent):
    pass


@dataclass(frozen=True)
class Reachable(OperatorEvent):
    pass


# -- the table ---------------------------------------------------------------------------

Rule = Callable[[Seat, OperatorEvent], Seat]
S = State


def _to(state: State) -> Rule:
    def rule(seat: Seat, _event: OperatorEvent) -> Seat:
        return replace(seat, state=state, reason=None, call_id=None, wrap_up_until=None)

    return rule


def _same(seat: Seat, _event: OperatorEvent) -> Seat:
    return seat


def _paused(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, Pause)
    return replace(seat, state=S.PAUSED, reason=event.reason, call_id=None, wrap_up_until=None)


def _wrap_up(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, StartWrapUp)
    return replace(seat, state=S.WRAP_UP, reason=None, call_id=None, wrap_up_until=event.until)


def _member(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, MemberSeen)
    if not event.paused:
        return _to(S.READY)(seat, event)
    if event.reason == LOGOUT_REASON:
        return _to(S.LOGGED_OUT)(seat, event)
    if event.reason == WRAP_UP_REASON:  # ours; without a deadline the timer is gone
        return seat if seat.state is S.PAUSED else _to(S.READY)(seat, event)
    return _paused(seat, Pause(event.reason))


def _member_in_wrap_up(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, MemberSeen)
    if event.paused and event.reason not in _OUR_REASONS:
        return _paused(seat, Pause(event.reason))
    return seat


def _ring(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, Called)
    resume = seat.resume if seat.state is S.RINGING else seat.state
    if resume in (S.WRAP_UP, S.LOGGED_OUT, S.UNREACHABLE):
        resume = S.READY  # Asterisk offered it a call: it is taking calls
    return replace(seat, state=S.RINGING, call_id=event.call_id, resume=resume)


def _back(seat: Seat, event: OperatorEvent) -> Seat:
    state = seat.resume if seat.resume not in (S.RINGING, S.TALKING) else S.READY
    if state in (S.PAUSED, S.WRAP_UP):  # keep the pause reason / the wrap-up deadline
        return replace(seat, state=state, call_id=None)
    return _to(state)(seat, event)


def _talk(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, Connected)
    return replace(seat, state=S.TALKING, call_id=event.call_id, reason=None, wrap_up_until=None)


def _complete(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, Completed)
    if event.call_id != seat.call_id:
        return seat  # another call's end (e.g. an old leg): not this conversation
    if event.wrap_up_until is not None:
        return _wrap_up(seat, StartWrapUp(event.wrap_up_until))
    return _to(S.READY)(seat, event)


def _complete_ringing(seat: Seat, event: OperatorEvent) -> Seat:
    assert isinstance(event, Completed)
    return _back(seat, event) if event.call_id == seat.call_id else seat


def _unreachable(seat: Seat, _event: OperatorEvent) -> Seat:
    resume = seat.state if seat.state not in (S.RINGING, S.TALKING) else S.READY
    return replace(seat, state=S.UNREACHABLE, call_id=None, resume=resume)


_ALL = tuple(State)
_NOT_ON_CALL = (S.LOGGED_OUT, S.READY, S.PAUSED, S.WRAP_UP, S.UNREACHABLE)

TABLE: dict[tuple[State, type[OperatorEvent]], Rule] = {
    # commands
    (S.LOGGED_OUT, Login): _to(S.READY),
    **{(s, Login): _same for s in _ALL if s is not S.LOGGED_OUT},
    (S.LOGGED_OUT, Logout): _same,
    **{(s, Logout): _to(S.LOGGED_OUT) for s in (S.READY, S.PAUSED, S.WRAP_UP, S.UNREACHABLE)},
    **{(s, Pause): _paused for s in (S.READY, S.PAUSED, S.WRAP_UP)},
    (S.READY, Resume): _same,
    (S.PAUSED, Resume): _to(S.READY),
    (S.WRAP_UP, Resume): _to(S.READY),
    **{(s, StartWrapUp): _wrap_up for s in (S.READY, S.PAUSED, S.WRAP_UP)},
    **{(s, WrapUpOver): _same for s in _ALL if s is not S.WRAP_UP},
    (S.WRAP_UP, WrapUpOver): _to(S.READY),
    # facts
    **{(s, MemberSeen): _member for s in (S.LOGGED_OUT, S.READY, S.PAUSED)},
    (S.WRAP_UP, MemberSeen): _member_in_wrap_up,
    **{(s, MemberSeen): _same for s in (S.RINGING, S.TALKING, S.UNREACHABLE)},
    **{(s, MemberGone): _to(S.LOGGED_OUT) for s in (S.READY, S.PAUSED, S.WRAP_UP, S.UNREACHABLE)},
    **{(s, MemberGone): _same for s in (S.LOGGED_OUT, S.RINGING, S.TALKING)},
    **{(s, Called): _ring for s in (*_NOT_ON_CALL, S.RINGING)},
    (S.TALKING, Called): _same,
    (S.RINGING, RingEnded): _back,
    **{(s, RingEnded): _same for s in _ALL if s is not S.RINGING},
    **{(s, Connected): _talk for s in _ALL},
    (S.TALKING, Completed): _complete,
    (S.RINGING, Completed): _complete_ringing,
    **{(s, Completed): _same for s in _NOT_ON_CALL},
    **{(s, Unreachable): _unreachable for s in _ALL if s is not S.UNREACHABLE},
    (S.UNREACHABLE, Unreachable): _same,
    (S.UNREACHABLE, Reachable): _back,
    **{(s, Reachable): _same for s in _ALL if s is not S.UNREACHABLE},
}


def step(seat: Seat, event: OperatorEvent, now: datetime) -> Seat:
    """The seat after `event` at `now`; raise IllegalTransition if not allowed."""
    rule = TABLE.get((seat.state, type(event)))
    if rule is None:
        raise IllegalTransition(seat.state, event)
    after = rule(seat, event)
    if after.state is not seat.state or after.reason != seat.reason:
        after = replace(after, since=now)
    return after


def changed(before: Seat, after: Seat) -> bool:
    """Whether the change is worth telling anyone (state, reason, call or deadline)."""
    return (before.state, before.reason, before.call_id, before.wrap_up_until) != (
        after.state,
        after.reason,
        after.call_id,
        after.wrap_up_until,
    )
