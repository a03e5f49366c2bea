"""Operator tables and their API shapes (sqlmodel families: Base, table, Public).

`OperatorSession` is one desktop login of an operator at a SIP extension, with the skill
queues it joined; `ended_at` is empty while the operator is logged in. An open session
is what makes after-call work automatic for that seat.

`OperatorStateChange` is the seat's state history, one row per change, as the state
machine (telephony.operators) produced it. The latest row of a seat in wrap-up holds the
deadline (`wrap_up_until`), so a restarted server ends that wrap-up on time.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

import hotline.db  # noqa: F401  (constraint naming convention before the tables)


class OperatorSessionBase(SQLModel):
    extension: str = Field(max_length=32, index=True)
    user_id: int | None = Field(default=None, index=True)
    skills: str = Field(default="", max_length=512)  # queue names, comma-separated
    started_at: datetime
    ended_at: datetime | None = None


class OperatorSession(OperatorSessionBase, table=True):
    __tablename__ = "operator_sessions"

    id: int | None = Field(default=None, primary_key=True)


class OperatorSessionPublic(OperatorSessionBase):
    id: int


class OperatorStateChangeBase(SQLModel):
    extension: str = Field(max_length=32, index=True)
    state: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    call_id: str | None = Field(default=None, max_length=64)
    wrap_up_until: datetime | None = None
    at: datetime = Field(index=True)


class OperatorStateChange(OperatorStateChangeBase, table=True):
    __tablename__ = "operator_state_changes"

    id: int | None = Field(default=None, primary_key=True)


class OperatorStateChangePublic(OperatorStateChangeBase):
    id: int
