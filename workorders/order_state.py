"""What the work-order lifecycle works on: statuses, the order's state, its errors. Pure.

An order has one `Status`, and each unit it was dispatched to has its own `UnitStatus`
(a `UnitProgress` per dispatch; a redispatch marks a dispatch `withdrawn` and keeps it
for the record). `OrderState` is the frozen value `workorders.lifecycle.advance` takes
and returns; the service builds it from the store. `workorders.lifecycle` re-exports
every name here, so callers keep one import for the whole lifecycle.

Exceptions::

    LifecycleError          a step the order cannot take (the message says why)
     ├── IllegalStep         not allowed in the current status (order or unit)
     └── InvalidStep         the step itself is malformed (empty reason, bad plan)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from workorders.models import DispatchRole


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
