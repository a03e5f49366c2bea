"""The life of a work order, as one transition table. Pure: values in, values out.

Theory of operation
-------------------
An order has one `Status`, and each unit it was dispatched to has its own `UnitStatus`
(a `UnitProgress` per dispatch). `advance(state, step)` takes an `OrderState` and one
`Step` and returns the next `OrderState`, or raises; it never mutates, so a refused step
changes nothing by construction. The service loads the state from the store, advances
it, and writes back the difference; tests drive it with steps alone.

The happy path, and the side roads::

    accepted ──dispatch──▶ dispatched ──acknowledge──▶ acknowledged ──reply──▶ replied
       │                      ▲  │                                              │
       │ resolve_on_call      │  └─return──▶ returned ──redispatch──┐        review
       ▼  (即办)               └──────────────────────────────────────┘          ▼
    archived ◀──archive── surveyed ◀──survey── reviewed ◀──────────────────── (send_back:
                             │ (dissatisfied)                                replied → acknowledged)
                             └──reopen (重办)──▶ dispatched
    accepted/dispatched/acknowledged/returned ──merge (并单)──▶ merged

Two tables say what is allowed:

* `ORDER_TABLE[step type][order status]` → the next order status, or `DERIVED`: the
  status then follows from the units' progress (`derive_status`): any lead/parallel
  unit returned → `returned`; all of them replied → `replied`; all acknowledged (or
  replied) → `acknowledged`; else `dispatched`. Assisting units (协办) never hold the
  order back: they acknowledge and reply for the record.
* `UNIT_TABLE[step type][unit status]` → the acting unit's next status, for the steps a
  unit takes (签收 acknowledge, 回复 reply, 退单 return, 延期 ask_extension).

Dispatch plans (`Assignment`s): direct 直派 = one lead; joint 双派 = one lead and at least
one assisting unit; parallel 并行 = two or more parallel units, each with its part.
A redispatch (转派/改派) withdraws the returned dispatches (and any it names) and adds
new ones. Extensions: one pending request at a time; the deadline itself lives in the
service (it needs the calendar), the table only guards the request's life.

Exceptions::

    LifecycleError          a step the order cannot take (the message says why)
     ├── IllegalStep         not allowed in the current status (order or unit)
     └── InvalidStep         the step itself is malformed (empty reason, bad plan)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from workorders.models import DispatchRole
from workorders.steps import (
    Acknowledge,
    Archive,
    AskExtension,
    Assignment,
    Dispatch,
    GrantExtension,
    Merge,
    Redispatch,
    RefuseExtension,
    Reopen,
    Reply,
    ResolveOnCall,
    Return,
    Review,
    SendBack,
    Step,
    Survey,
    UnitStep,
)

# The steps live in workorders.steps; they are re-exported so callers need one import.
__all__ = [
    "CLOSED_STATUSES",
    "DERIVED",
    "OPEN_STATUSES",
    "ORDER_TABLE",
    "UNIT_TABLE",
    "Acknowledge",
    "Archive",
    "AskExtension",
    "Assignment",
    "Dispatch",
    "GrantExtension",
    "IllegalStep",
    "InvalidStep",
    "LifecycleError",
    "Merge",
    "Mode",
    "OrderState",
    "Redispatch",
    "RefuseExtension",
    "Reopen",
    "Reply",
    "ResolveOnCall",
    "Return",
    "Review",
    "SendBack",
    "Status",
    "Step",
    "Survey",
    "UnitProgress",
    "UnitStatus",
    "UnitStep",
    "advance",
    "allowed_steps",
    "derive_status",
    "plan_mode",
]


class Status(StrEnum):
    accepted = "accepted"  # 已受理
    dispatched = "dispatched"  # 已派单
    acknowledged = "acknowledged"  # 已签收
    replied = "replied"  # 已回复/办结
    returned = "returned"  # 已退单 (back at the centre)
    reviewed = "reviewed"  # 已审核
    surveyed = "surveyed"  # 已回访
    archived = "archived"  # 已归档
    merged = "merged"  # 已并单

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.accepted: "已受理",
    Status.dispatched: "已派单",
    Status.acknowledged: "已签收",
    Status.replied: "已回复",
    Status.returned: "已退单",
    Status.reviewed: "已审核",
    Status.surveyed: "已回访",
    Status.archived: "已归档",
    Status.merged: "已并单",
}
OPEN_STATUSES: Final = frozenset(
    {Status.dispatched, Status.acknowledged, Status.returned}
)  # the SLA clock runs while the order is in one of these
CLOSED_STATUSES: Final = frozenset({Status.archived, Status.merged})


class UnitStatus(StrEnum):
    dispatched = "dispatched"
    acknowledged = "acknowledged"
    replied = "replied"
    returned = "returned"
    withdrawn = "withdrawn"  # replaced by a redispatch; kept for the record


class Mode(StrEnum):
    direct = "direct"  # 直派
    joint = "joint"  # 双派
    parallel = "parallel"  # 并行
    on_call = "on_call"  # 即办


class LifecycleError(Exception):
    """A step the order cannot take; the message says why, for people."""


class IllegalStep(LifecycleError):
    pass


class InvalidStep(LifecycleError):
    pass


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class UnitProgress:
    unit_id: str
    role: DispatchRole
    status: UnitStatus = UnitStatus.dispatched

    @property
    def responsible(self) -> bool:
        return self.role is not DispatchRole.assisting

    @property
    def live(self) -> bool:
        return self.status is not UnitStatus.withdrawn


@dataclass(frozen=True, slots=True)
class OrderState:
    number: str
    status: Status = Status.accepted
    units: tuple[UnitProgress, ...] = ()
    extension_pending: bool = False
    satisfied: bool | None = None  # the last survey's verdict

    def unit(self, unit_id: str) -> UnitProgress | None:
        """The unit's live dispatch (a withdrawn one does not count)."""
        for u in self.units:
            if u.unit_id == unit_id and u.live:
                return u
        return None


# --------------------------------------------------------------------------- tables


class _Derived:
    def __repr__(self) -> str:
        return "DERIVED"


DERIVED: Final = _Derived()
S = Status
_WORKING = (S.dispatched, S.acknowledged, S.returned)
_UNIT_BUSY = (S.dispatched, S.acknowledged, S.returned, S.replied)


def _to(target: Status | _Derived, *sources: Status) -> dict[Status, Status | _Derived]:
    return dict.fromkeys(sources, target)


ORDER_TABLE: Final[Mapping[type[Step], Mapping[Status, Status | _Derived]]] = {
    Dispatch: _to(DERIVED, S.accepted),
    ResolveOnCall: _to(S.archived, S.accepted),
    Acknowledge: _to(DERIVED, *_UNIT_BUSY),
    Reply: _to(DERIVED, *_UNIT_BUSY),
    Return: _to(DERIVED, *_UNIT_BUSY),
    AskExtension: {s: s for s in (S.dispatched, S.acknowledged, S.returned)},
    Redispatch: _to(DERIVED, *_WORKING),
    GrantExtension: {s: s for s in _UNIT_BUSY},
    RefuseExtension: {s: s for s in _UNIT_BUSY},
    Review: _to(S.reviewed, S.replied),
    SendBack: _to(S.acknowledged, S.replied),
    Survey: _to(S.surveyed, S.reviewed),
    Reopen: _to(DERIVED, S.surveyed, S.archived),
    Archive: _to(S.archived, S.reviewed, S.surveyed),
    Merge: _to(S.merged, S.accepted, *_WORKING),
}
U = UnitStatus
UNIT_TABLE: Final[Mapping[type[Step], Mapping[UnitStatus, UnitStatus]]] = {
    Acknowledge: {U.dispatched: U.acknowledged},
    Reply: {U.acknowledged: U.replied},
    Return: {U.dispatched: U.returned, U.acknowledged: U.returned},
    AskExtension: {U.dispatched: U.dispatched, U.acknowledged: U.acknowledged},
}


def allowed_steps(state: OrderState) -> list[str]:
    """Names of the steps the order's status allows (ignoring per-unit guards)."""
    return [step.name for step, sources in ORDER_TABLE.items() if state.status in sources]


# --------------------------------------------------------------------------- rules


def plan_mode(assignments: Iterable[Assignment]) -> Mode:
    """Which dispatch mode a plan is; `InvalidStep` when it is none of them."""
    plan = tuple(assignments)
    if not plan:
        raise InvalidStep("a dispatch needs at least one unit")
    units = [a.unit_id for a in plan]
    if any(not u.strip() for u in units):
        raise InvalidStep("a dispatch names a unit with an empty id")
    if len(set(units)) != len(units):
        raise InvalidStep(f"a dispatch names a unit twice: {units}")
    roles = [a.role for a in plan]
    leads = roles.count(DispatchRole.lead)
    parallel = roles.count(DispatchRole.parallel)
    if parallel:
        if parallel != len(plan) or parallel < 2:
            raise InvalidStep("a parallel dispatch (并行) needs two or more units, all parallel")
        if any(not a.part.strip() for a in plan):
            raise InvalidStep("in a parallel dispatch (并行) every unit needs its part")
        return Mode.parallel
    if leads != 1:
        raise InvalidStep(f"a dispatch needs exactly one lead unit (主办), got {leads}")
    return Mode.direct if len(plan) == 1 else Mode.joint


def derive_status(units: Iterable[UnitProgress]) -> Status:
    duty = [u for u in units if u.live and u.responsible]
    if not duty or any(u.status is UnitStatus.returned for u in duty):
        return Status.returned
    if all(u.status is UnitStatus.replied for u in duty):
        return Status.replied
    if all(u.status in (UnitStatus.acknowledged, UnitStatus.replied) for u in duty):
        return Status.acknowledged
    return Status.dispatched


def advance(state: OrderState, step: Step) -> OrderState:
    """The state after `step`; raises `LifecycleError` (and changes nothing) if illegal."""
    sources = ORDER_TABLE.get(type(step))
    if sources is None:
        raise InvalidStep(f"unknown step {type(step).__name__}")
    target = sources.get(state.status)
    if target is None:
        raise IllegalStep(
            f"order {state.number}: cannot {step.name} while it is {state.status} "
            f"({state.status.label}); allowed now: {', '.join(allowed_steps(state)) or 'none'}"
        )
    after = _apply(state, step)
    status = derive_status(after.units) if isinstance(target, _Derived) else target
    return replace(after, status=status)


def _apply(state: OrderState, step: Step) -> OrderState:
    """The state after `step`, status aside; the guards beyond the table."""
    match step:
        case Dispatch(assignments=plan):
            plan_mode(plan)
            return replace(state, units=tuple(UnitProgress(a.unit_id, a.role) for a in plan))
        case Redispatch(assignments=plan, withdraw=withdraw):
            return replace(state, units=_redispatch(state, plan, withdraw))
        case UnitStep(unit_id=unit_id):
            return _unit_step(state, step, unit_id)
        case GrantExtension() | RefuseExtension():
            if not state.extension_pending:
                raise IllegalStep(f"order {state.number}: no extension request is pending")
            return replace(state, extension_pending=False)
        case SendBack(reason=reason):
            _need_text(reason, "sending a reply back needs a reason")
            return replace(
                state, units=_reset(state.units, UnitStatus.replied, UnitStatus.acknowledged)
            )
        case Survey(satisfied=satisfied):
            return replace(state, satisfied=satisfied)
        case Reopen(reason=reason):
            if state.satisfied is not False:
                raise IllegalStep(
                    f"order {state.number}: only an order surveyed as dissatisfied can be "
                    "reopened (重办)"
                )
            _need_text(reason, "reopening needs a reason")
            again = tuple(
                replace(u, status=UnitStatus.dispatched) if u.live else u for u in state.units
            )
            return replace(state, units=again, satisfied=None, extension_pending=False)
        case Merge(into=into):
            if not into.strip() or into == state.number:
                raise InvalidStep(f"order {state.number} cannot be merged into {into!r}")
            return state
        case _:
            return state


def _unit_step(state: OrderState, step: Step, unit_id: str) -> OrderState:
    progress = state.unit(unit_id)
    if progress is None:
        raise IllegalStep(f"order {state.number} is not dispatched to unit {unit_id}")
    moves = UNIT_TABLE[type(step)]
    nxt = moves.get(progress.status)
    if nxt is None:
        raise IllegalStep(
            f"order {state.number}: unit {unit_id} cannot {step.name} while its part is "
            f"{progress.status}"
        )
    pending = state.extension_pending
    if isinstance(step, Reply):
        _need_text(step.text, "a reply needs its text")
    if isinstance(step, Return):
        _need_text(step.reason, "a return (退单) needs a reason")
    if isinstance(step, AskExtension):
        _need_text(step.reason, "an extension request (延期) needs a reason")
        if state.extension_pending:
            raise IllegalStep(f"order {state.number}: an extension request is already pending")
        pending = True
    units = tuple(replace(u, status=nxt) if u is progress else u for u in state.units)
    return replace(state, units=units, extension_pending=pending)


def _redispatch(
    state: OrderState, plan: tuple[Assignment, ...], withdraw: tuple[str, ...]
) -> tuple[UnitProgress, ...]:
    for unit_id in withdraw:
        if state.unit(unit_id) is None:
            raise InvalidStep(f"order {state.number}: unit {unit_id} has no dispatch to withdraw")
    gone = set(withdraw)
    kept = tuple(
        replace(u, status=UnitStatus.withdrawn)
        if u.live and (u.status is UnitStatus.returned or u.unit_id in gone)
        else u
        for u in state.units
    )
    live = [u for u in kept if u.live]
    clash = {a.unit_id for a in plan} & {u.unit_id for u in live}
    if clash:
        raise InvalidStep(f"order {state.number}: already dispatched to {sorted(clash)}")
    if plan:
        _check_plan_fits(live, plan)
    units = kept + tuple(UnitProgress(a.unit_id, a.role) for a in plan)
    if not any(u.live and u.responsible for u in units):
        raise InvalidStep(f"order {state.number}: a redispatch must leave a unit in charge")
    return units


def _check_plan_fits(live: list[UnitProgress], plan: tuple[Assignment, ...]) -> None:
    together = [Assignment(u.unit_id, u.role, "-") for u in live] + list(plan)
    if any(a.role is DispatchRole.parallel for a in together) and not all(
        a.role is DispatchRole.parallel for a in together
    ):
        raise InvalidStep("a dispatch cannot mix parallel units with lead/assisting units")
    if any(a.role is DispatchRole.parallel for a in plan):
        if any(not a.part.strip() for a in plan):
            raise InvalidStep("in a parallel dispatch (并行) every unit needs its part")
        return
    leads = sum(a.role is DispatchRole.lead for a in together)
    if leads != 1:
        raise InvalidStep(f"a dispatch needs exactly one lead unit (主办), it would have {leads}")


def _reset(
    units: tuple[UnitProgress, ...], old: UnitStatus, new: UnitStatus
) -> tuple[UnitProgress, ...]:
    return tuple(
        replace(u, status=new) if u.live and u.responsible and u.status is old else u for u in units
    )


def _need_text(text: str, message: str) -> None:
    if not text.strip():
        raise InvalidStep(message)
