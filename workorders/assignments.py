"""Dispatch plans and the units' progress: the lifecycle's rules about units. Pure.

Dispatch plans (`Assignment`s): direct 直派 = one lead; joint 双派 = one lead and at least
one assisting unit; parallel 并行 = two or more parallel units, each with its part
(`plan_mode` says which, or raises `InvalidStep`). A redispatch (转派/改派, `redispatch`)
withdraws the returned dispatches (and any it names) and adds new ones; what is left
must still be one of those modes and keep a unit in charge.

The order's status follows from the units' progress (`derive_status`, used where
`workorders.lifecycle.ORDER_TABLE` says `DERIVED`): any lead/parallel unit returned →
`returned`; all of them replied → `replied`; all acknowledged (or replied) →
`acknowledged`; else `dispatched`. Assisting units (协办) never hold the order back: they
acknowledge and reply for the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from workorders.models import DispatchRole
from workorders.order_state import InvalidStep, Mode, OrderState, Status, UnitProgress, UnitStatus
from workorders.steps import Assignment


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


def redispatch(
    state: OrderState, plan: tuple[Assignment, ...], withdraw: tuple[str, ...]
) -> tuple[UnitProgress, ...]:
    """The units after a redispatch: returned (and named) dispatches withdrawn, plan added."""
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
