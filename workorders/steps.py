"""The steps an order can take: one frozen dataclass per kind of step (pure values).

`workorders.lifecycle` says which are allowed when (its tables), and re-exports these
names, so callers import everything from there. `name` is the step's name in the
history and on the bus (`order/<number>/<name>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from workorders.models import DispatchRole


@dataclass(frozen=True, slots=True)
class Assignment:
    """One unit in a dispatch plan: its role and, for a parallel unit, its part."""

    unit_id: str
    role: DispatchRole
    part: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    name: ClassVar[str]


@dataclass(frozen=True, slots=True)
class Dispatch(Step):
    name: ClassVar[str] = "dispatch"
    assignments: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True)
class ResolveOnCall(Step):
    name: ClassVar[str] = "resolve_on_call"


@dataclass(frozen=True, slots=True)
class UnitStep(Step):
    unit_id: str


@dataclass(frozen=True, slots=True)
class Acknowledge(UnitStep):
    name: ClassVar[str] = "acknowledge"


@dataclass(frozen=True, slots=True)
class Reply(UnitStep):
    name: ClassVar[str] = "reply"
    text: str = ""


@dataclass(frozen=True, slots=True)
class Return(UnitStep):
    name: ClassVar[str] = "return"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AskExtension(UnitStep):
    name: ClassVar[str] = "ask_extension"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Redispatch(Step):
    name: ClassVar[str] = "redispatch"
    assignments: tuple[Assignment, ...]
    withdraw: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GrantExtension(Step):
    name: ClassVar[str] = "grant_extension"


@dataclass(frozen=True, slots=True)
class RefuseExtension(Step):
    name: ClassVar[str] = "refuse_extension"


@dataclass(frozen=True, slots=True)
class Review(Step):
    name: ClassVar[str] = "review"


@dataclass(frozen=True, slots=True)
class SendBack(Step):
    name: ClassVar[str] = "send_back"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Survey(Step):
    name: ClassVar[str] = "survey"
    satisfied: bool = True


@dataclass(frozen=True, slots=True)
class Reopen(Step):
    name: ClassVar[str] = "reopen"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Archive(Step):
    name: ClassVar[str] = "archive"


@dataclass(frozen=True, slots=True)
class Merge(Step):
    name: ClassVar[str] = "merge"
    into: str = ""
