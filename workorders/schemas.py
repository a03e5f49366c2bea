"""Request and response bodies of the work-order REST API (pydantic; OpenAPI schemas)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from workorders import lifecycle as lc
from workorders.models import (
    DispatchRole,
    OrderEventPublic,
    ResponsibilityPublic,
    UnitPublic,
    WorkOrderCreate,
    WorkOrderPublic,
)


class AssignmentIn(BaseModel):
    unit_id: str = Field(min_length=1, max_length=64)
    role: DispatchRole = DispatchRole.lead
    part: str = Field("", max_length=2000, description="a parallel unit's part (并行)")

    def value(self) -> lc.Assignment:
        return lc.Assignment(self.unit_id, self.role, self.part)


class TakeIn(BaseModel):
    """Accept an order and, in the same request, dispatch it or resolve it on the call."""

    order: WorkOrderCreate
    dispatch: list[AssignmentIn] = Field(
        default_factory=list,
        description="direct: one lead; joint: lead + assisting; parallel: 2+ with parts; "
        "empty (and on_call false): accept only, dispatch later",
    )
    on_call: bool = Field(False, description="resolved on the call (即办): nothing dispatched")
    note: str = Field("", max_length=4000, description="即办: how the caller was answered")
    another_for_call: bool = Field(
        False,
        description="another order for a call that has one already (a second, unrelated "
        "request in the same call); otherwise such a take is a 409 order_exists_for_call",
    )


class DispatchIn(BaseModel):
    dispatch: list[AssignmentIn] = Field(min_length=1)
    withdraw: list[str] = Field(default_factory=list, description="redispatch: units to withdraw")


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class NoteIn(BaseModel):
    note: str = Field("", max_length=4000)


class ExtensionIn(BaseModel):
    until: AwareDatetime
    reason: str = Field(min_length=1, max_length=2000)


class GrantIn(BaseModel):
    until: AwareDatetime | None = Field(None, description="default: what the unit asked for")
    note: str = Field("", max_length=2000)


class SurveyIn(BaseModel):
    satisfied: bool
    note: str = Field("", max_length=4000)


class MergeIn(BaseModel):
    into: str = Field(min_length=1, max_length=32)


class OrderList(BaseModel):
    orders: list[WorkOrderPublic]


class History(BaseModel):
    number: str
    events: list[OrderEventPublic]


class UnitList(BaseModel):
    units: list[UnitPublic]


class LimitClass(BaseModel):
    key: str
    label: str
    amount: float
    unit: str


class SlaInfo(BaseModel):
    preset: str
    default_class: str
    classes: list[LimitClass]


class ResponsibilityIn(BaseModel):
    """A catalogue entry (职责清单): which unit owns a common problem."""

    category: str = Field(min_length=1, max_length=128, description="e.g. 供水/停水漏水")
    unit_id: str = Field(min_length=1, max_length=64)
    keywords: str = Field("", max_length=512, description="space-separated cue words")
    time_limit_class: str | None = Field(None, max_length=32)
    note: str = Field("", max_length=512)


class ResponsibilityPatch(BaseModel):
    """Change some fields of an entry (absent fields stay as they are)."""

    category: str | None = Field(None, min_length=1, max_length=128)
    unit_id: str | None = Field(None, min_length=1, max_length=64)
    keywords: str | None = Field(None, max_length=512)
    time_limit_class: str | None = Field(None, max_length=32)
    note: str | None = Field(None, max_length=512)


class ResponsibilityList(BaseModel):
    entries: list[ResponsibilityPublic]
