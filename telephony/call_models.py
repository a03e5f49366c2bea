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
With `calls.callback_mode = "auto"` the dialer (telephony.callback_dialer) works the
task through `dial_state` (waiting -> dialing -> waiting again after a busy or
unanswered attempt, or manual with `dial_reason` when it gives up; connected closes the
task); `claimed_by`/`claimed_until` are its lease, `CallbackDial` one row per attempt.
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


class DialState(StrEnum):
    """Where the automatic dialer is with a task (telephony.callback_dialer_plan)."""

    waiting = "waiting"  # may be dialled from next_dial_at (or at once)
    dialing = "dialing"  # claimed: a call is being placed now
    connected = "connected"  # the citizen reached an operator: the task is done
    manual = "manual"  # the dialer gave up (dial_reason): an operator calls by hand


TAKEN_BY_HAND = "taken"  # dial_outcome of a task an operator took from the dialer


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
    dial_state: DialState = Field(default=DialState.waiting, sa_type=sa.String(16), index=True)
    dial_attempts: int = 0
    next_dial_at: datetime | None = None
    dial_outcome: str | None = Field(default=None, max_length=32)
    dial_reason: str | None = Field(default=None, max_length=255)
    connected_to: str | None = Field(default=None, max_length=32)  # operator extension
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = None
    channel_id: str | None = Field(default=None, max_length=64)


class CallbackTask(CallbackTaskBase, table=True):
    __tablename__ = "callback_tasks"

    id: int | None = Field(default=None, primary_key=True)


class CallbackTaskPublic(CallbackTaskBase):
    id: int


class CallbackDialBase(SQLModel):
    """One automatic dial of a callback task (the attempt's channel and how it ended)."""

    task_id: int = Field(foreign_key="callback_tasks.id", index=True)
    attempt: int
    channel_id: str = Field(max_length=64, unique=True)
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=32)
    hangup_cause: int | None = None
    dial_status: str | None = Field(default=None, max_length=32)
    operator_extension: str | None = Field(default=None, max_length=32)


class CallbackDial(CallbackDialBase, table=True):
    __tablename__ = "callback_dials"

    id: int | None = Field(default=None, primary_key=True)


class CallbackDialPublic(CallbackDialBase):
    id: int
