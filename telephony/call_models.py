"""Call tables and their API shapes (sqlmodel families: Base, table, Public).

`CallRecord` is one citizen call into the centre, keyed by the Asterisk uniqueid of the
citizen's channel (its linkedid ties every leg together and is the call id we log and
publish). `route` holds the routing decision and its reasons as data (JSON), as the
router produced them; `transfers` is a list of transfer entries appended by whoever
transfers the call. `outcome` is the call state machine's final word
(telephony.calls.Outcome) or "in_progress".

`CallbackTask` is a missed-call callback (漏接回拨): one open task per number; a
number that misses again while its task is open bumps `missed_count` and
`last_missed_at` instead of adding a task (telephony.call_repo.note_missed_call).
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import hotline.db  # noqa: F401  (constraint naming convention before the tables)


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallbackStatus(StrEnum):
    open = "open"
    done = "done"


class CallRecordBase(SQLModel):
    uniqueid: str = Field(max_length=64, unique=True, index=True)
    linkedid: str = Field(max_length=64, index=True)
    dnis: str | None = Field(default=None, max_length=32)
    line: str | None = Field(default=None, max_length=64, index=True)
    queue: str | None = Field(default=None, max_length=64)
    caller_number: str | None = Field(default=None, max_length=64, index=True)
    caller_name: str | None = Field(default=None, max_length=128)
    entered_at: datetime = Field(index=True)
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    operator_extension: str | None = Field(default=None, max_length=32, index=True)
    route: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    transfers: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    outcome: str = Field(default="in_progress", max_length=32)


class CallRecord(CallRecordBase, table=True):
    __tablename__ = "call_records"

    id: int | None = Field(default=None, primary_key=True)


class CallRecordPublic(CallRecordBase):
    id: int


class CallbackTaskBase(SQLModel):
    number: str = Field(max_length=64, index=True)
    line: str | None = Field(default=None, max_length=64)
    first_missed_at: datetime
    last_missed_at: datetime
    missed_count: int = 1
    last_linkedid: str | None = Field(default=None, max_length=64)
    status: CallbackStatus = Field(default=CallbackStatus.open, sa_type=sa.String(16), index=True)
    done_at: datetime | None = None
    done_by: str | None = Field(default=None, max_length=64)


class CallbackTask(CallbackTaskBase, table=True):
    __tablename__ = "callback_tasks"

    id: int | None = Field(default=None, primary_key=True)


class CallbackTaskPublic(CallbackTaskBase):
    id: int
