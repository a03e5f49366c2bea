"""Callback tables: jobs (one automated call to make, with its retries) and attempts.

Tables::

    callback_jobs       one call to make: when (`due_at`), to whom, which flow; its state
                        pending -> calling -> pending (retry) | done | failed
    callback_attempts   one originated call of a job: channel id, how it ended, answers

A job's result (state done/failed, `result`, `outcome`, `comment`) is stored in the same
transaction that ends its last attempt; `applied_at` is set once the result was applied
to the order. A job finished but not applied (the server died in between) is applied at
the next start (migration 0008).

A job is *claimed* (state ``calling``, `claimed_by`, `claimed_at`, `attempts` + 1) in one
conditional UPDATE, committed before the call is originated: two schedulers (or one
restarted) can never call the same job twice. `dedupe_key` makes storing a job
idempotent (a bus event delivered twice stores one job). All datetimes are
timezone-aware UTC.
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


class JobKind(StrEnum):
    survey = "survey"  # 回访
    supervision = "supervision"  # 督办


class JobState(StrEnum):
    pending = "pending"  # waiting for `due_at`
    calling = "calling"  # claimed; a call is (or was) in progress
    done = "done"  # answered with a result
    failed = "failed"  # given up: `reason` says why


class CallbackJob(SQLModel, table=True):
    __tablename__ = "callback_jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    flow: str = Field(max_length=32)
    order_id: str = Field(max_length=64, index=True)
    unit_id: str | None = Field(default=None, max_length=64)
    number: str = Field(max_length=128)
    variables: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    dedupe_key: str = Field(max_length=128, unique=True)
    state: str = Field(default=JobState.pending, max_length=16, index=True)
    due_at: datetime = Field(index=True)
    attempts: int = 0
    max_attempts: int = 3
    outcome: str | None = Field(default=None, max_length=24, description="last attempt's")
    reason: str = Field(default="", max_length=255)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    channel_id: str | None = Field(default=None, max_length=64)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    applied_at: datetime | None = Field(default=None, description="result applied to the order")
    comment: str | None = Field(default=None, sa_type=sa.Text, description="transcribed")


class CallbackAttempt(SQLModel, table=True):
    __tablename__ = "callback_attempts"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="callback_jobs.id", ondelete="CASCADE", index=True)
    number: int
    channel_id: str = Field(max_length=64, unique=True)
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=24)
    dial_status: str = Field(default="", max_length=24)
    hangup_cause: int | None = None
    answers: list[dict[str, str]] = Field(default_factory=list, sa_type=sa.JSON)
