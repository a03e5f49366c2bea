"""Work-order tables and their API shapes (sqlmodel families).

Tables::

    units                  承办单位: who handles orders, and the number a supervision call dials
    responsibility_entries 职责清单: category → unit (loaded from config/units.toml, editable)
    catalogue_seeds        the (category, unit) pairs the file has ever contributed, so an
                           entry changed or deleted in the app is not added again
    work_orders            one citizen request (工单), its deadline and its SLA light
    dispatches             order × unit: role (lead 主办 / assisting 协办 / parallel 并行 part)
                           and that unit's own progress (签收, 回复, 退单)
    order_events           the history: who did which step when, with a note
    extension_requests     延期申请: asked by a unit, granted or refused by the centre

Identifiers: an order is addressed by its `number` (``12345-20261122-0001``) everywhere
outside the store (API paths, bus topics, logs); the integer `id` only joins tables.
Status values and steps are the ones `workorders.lifecycle` defines. All datetimes are
timezone-aware UTC (sqlmodel stores them via `UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import hotline.db  # noqa: F401  (constraint naming convention before the tables)


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrderKind(StrEnum):
    """诉求类型. Values are stable identifiers; `label` is what people read."""

    inquiry = "inquiry"
    help = "help"
    complaint = "complaint"
    report = "report"
    suggestion = "suggestion"
    praise = "praise"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    OrderKind.inquiry: "咨询",
    OrderKind.help: "求助",
    OrderKind.complaint: "投诉",
    OrderKind.report: "举报",
    OrderKind.suggestion: "建议",
    OrderKind.praise: "表扬",
}


class Channel(StrEnum):
    """Where the request came in (多口归一: every channel becomes the same order)."""

    phone = "phone"
    web = "web"
    wechat = "wechat"
    department = "department"  # another department's system, through the API

    @property
    def label(self) -> str:
        return {"phone": "电话", "web": "网站", "wechat": "微信", "department": "部门系统"}[
            self.value
        ]


class Light(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


class DispatchRole(StrEnum):
    lead = "lead"  # 主办: answers for the whole order
    assisting = "assisting"  # 协办: helps the lead; does not block the order's progress
    parallel = "parallel"  # 并行: answers for its own part

    @property
    def label(self) -> str:
        return {"lead": "主办", "assisting": "协办", "parallel": "并行"}[self.value]


class ExtensionStatus(StrEnum):
    pending = "pending"
    granted = "granted"
    refused = "refused"


# --------------------------------------------------------------------------- units


class UnitBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64, description="stable id, e.g. city.housing")
    name: str = Field(max_length=128, description="e.g. 市住房和城乡建设局")
    short_name: str = Field(default="", max_length=64, description="e.g. 市住建局")
    kind: str = Field(
        default="department", max_length=32, description="department/district/company"
    )
    contact_phone: str = Field(
        default="", max_length=64, description="number a supervision call dials"
    )
    active: bool = True


class Unit(UnitBase, table=True):
    __tablename__ = "units"


class UnitPublic(UnitBase):
    pass


class ResponsibilityBase(SQLModel):
    category: str = Field(max_length=128, index=True, description="e.g. 供水/停水")
    unit_id: str = Field(foreign_key="units.id", max_length=64, index=True)
    keywords: str = Field(default="", max_length=512, description="space-separated cue words")
    time_limit_class: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=512)


class ResponsibilityEntry(ResponsibilityBase, table=True):
    __tablename__ = "responsibility_entries"

    id: int | None = Field(default=None, primary_key=True)


class CatalogueSeed(SQLModel, table=True):
    """A (category, unit) pair config/units.toml has contributed once; never re-added."""

    __tablename__ = "catalogue_seeds"

    category: str = Field(primary_key=True, max_length=128)
    unit_id: str = Field(primary_key=True, max_length=64)
    seeded_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class ResponsibilityPublic(ResponsibilityBase):
    id: int


# --------------------------------------------------------------------------- orders


class WorkOrderBase(SQLModel):
    kind: OrderKind = Field(sa_type=sa.String(16))
    category: str = Field(default="", max_length=128, index=True)
    title: str = Field(max_length=200)
    content: str = Field(default="", max_length=20_000)
    address: str = Field(default="", max_length=500)
    caller_number: str = Field(default="", max_length=64, index=True)
    caller_name: str = Field(default="", max_length=128)
    channel: Channel = Field(default=Channel.phone, sa_type=sa.String(16))
    call_linkedid: str | None = Field(default=None, max_length=64, index=True)
    line: str = Field(default="", max_length=64, description="the hotline number dialled")
    time_limit_class: str = Field(default="", max_length=32, description="empty: the default")
    petition: bool = Field(default=False, description="信访件")
    enterprise: bool = Field(default=False, description="涉企诉求")


class WorkOrder(WorkOrderBase, table=True):
    __tablename__ = "work_orders"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, index=True)
    status: str = Field(max_length=16, index=True)
    mode: str = Field(default="", max_length=16, description="direct/joint/parallel/on_call")
    operator: str = Field(default="", max_length=64, index=True, description="who took the order")
    lead_unit_id: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    accepted_at: datetime = Field(default_factory=utcnow)
    dispatched_at: datetime | None = None
    call_ended_at: datetime | None = None
    dispatch_seconds: float | None = Field(default=None, description="call end → dispatch")
    replied_at: datetime | None = None
    closed_at: datetime | None = Field(default=None, index=True, description="archived/merged")
    # The SLA clock: stored so a restart loses nothing (see workorders.clock).
    deadline: datetime | None = Field(default=None, index=True)
    yellow_at: datetime | None = Field(default=None, index=True)
    light: Light = Field(default=Light.green, sa_type=sa.String(8), index=True)
    light_changed_at: datetime | None = None
    supervision_due: bool = Field(default=False, index=True)
    supervision_requested_at: datetime | None = None
    survey_satisfied: bool | None = None
    merged_into: str | None = Field(default=None, max_length=32)
    reopen_count: int = 0


class WorkOrderCreate(WorkOrderBase):
    """What a channel or an operator submits (the order's facts, not its progress)."""

    call_ended_at: datetime | None = None


class DispatchPublic(SQLModel):
    unit_id: str
    role: DispatchRole
    part: str
    status: str
    dispatched_at: datetime
    acknowledged_at: datetime | None
    replied_at: datetime | None
    reply: str
    returned_at: datetime | None
    return_reason: str


class WorkOrderPublic(WorkOrderBase):
    number: str
    status: str
    mode: str
    operator: str
    lead_unit_id: str | None
    created_at: datetime
    accepted_at: datetime
    dispatched_at: datetime | None
    call_ended_at: datetime | None
    dispatch_seconds: float | None
    replied_at: datetime | None
    closed_at: datetime | None
    deadline: datetime | None
    yellow_at: datetime | None
    light: Light
    survey_satisfied: bool | None
    merged_into: str | None
    reopen_count: int
    dispatches: list[DispatchPublic] = []
    pending_extension: ExtensionPublic | None = None


class Dispatch(SQLModel, table=True):
    __tablename__ = "dispatches"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_orders.id", ondelete="CASCADE", index=True)
    unit_id: str = Field(foreign_key="units.id", max_length=64, index=True)
    role: DispatchRole = Field(sa_type=sa.String(16))
    part: str = Field(default="", max_length=2000)
    status: str = Field(max_length=16, index=True)
    dispatched_at: datetime = Field(default_factory=utcnow, index=True)
    acknowledged_at: datetime | None = None
    replied_at: datetime | None = None
    reply: str = Field(default="", max_length=20_000)
    returned_at: datetime | None = Field(default=None, index=True)
    return_reason: str = Field(default="", max_length=2000)


class OrderEvent(SQLModel, table=True):
    __tablename__ = "order_events"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_orders.id", ondelete="CASCADE", index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=64)
    step: str = Field(max_length=32, index=True)
    unit_id: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=4000)


class OrderEventPublic(SQLModel):
    at: datetime
    actor: str
    step: str
    unit_id: str | None
    note: str


class ExtensionRequest(SQLModel, table=True):
    __tablename__ = "extension_requests"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_orders.id", ondelete="CASCADE", index=True)
    unit_id: str = Field(foreign_key="units.id", max_length=64, index=True)
    asked_by: str = Field(max_length=64)
    asked_at: datetime = Field(default_factory=utcnow)
    reason: str = Field(max_length=2000)
    until: datetime
    status: ExtensionStatus = Field(default=ExtensionStatus.pending, sa_type=sa.String(16))
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    note: str = Field(default="", max_length=2000)


class ExtensionPublic(SQLModel):
    id: int
    unit_id: str
    asked_by: str
    asked_at: datetime
    reason: str
    until: datetime
    status: ExtensionStatus
    decided_by: str | None
    decided_at: datetime | None
    note: str


WorkOrderPublic.model_rebuild()
