"""The life of a work order, as one transition table. Pure: values in, values out.

Theory of operation
-------------------
`advance(state, step)` takes an `OrderState` and one `Step` and returns the next
`OrderState`, or raises; it never mutates, so a refused step changes nothing by
construction. The service loads the state from the store, advances it, and writes back
the difference; tests drive it with steps alone. The values (`Status`, `UnitStatus`,
`OrderState`, the errors) live in `workorders.order_state`, the steps in
`workorders.steps`, the rules about dispatch plans and the units' progress in
`workorders.assignments`; all are re-exported here so callers need one import.

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
  status then follows from the units' progress (`assignments.derive_status`).
* `UNIT_TABLE[step type][unit status]` → the acting unit's next status, for the steps a
  unit takes (签收 acknowledge, 回复 reply, 退单 return, 延期 ask_extension).

Dispatch plans (直派/双派/并行) and redispatch (转派/改派): `workorders.assignments`.
Extensions: one pending request at a time; the deadline itself lives in the service (it
needs the calendar), the table only guards the request's life.

Exceptions: `LifecycleError` (`IllegalStep`: not allowed now; `InvalidStep`: the step is
malformed), drawn in `workorders.order_state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from workorders.assignments import derive_status, plan_mode, redispatch
from workorders.order_state import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    IllegalStep,
    InvalidStep,
    LifecycleError,
    Mode,
    OrderState,
    Status,
    UnitProgress,
    UnitStatus,
)
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

# The values, steps and plan rules live in their own modules; they are re-exported so
# callers need one import.
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
            return replace(state, units=redispatch(state, plan, withdraw))
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


def _reset(
    units: tuple[UnitProgress, ...], old: UnitStatus, new: UnitStatus
) -> tuple[UnitProgress, ...]:
    return tuple(
        replace(u, status=new) if u.live and u.responsible and u.status is old else u for u in units
    )


def _need_text(text: str, message: str) -> None:
    if not text.strip():
        raise InvalidStep(message)
