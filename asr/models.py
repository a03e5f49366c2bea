"""Transcript tables and their API shapes (sqlmodel).

`TranscriptSegment` is one final segment of one speaker (channel "caller" or
"operator") of a call, keyed by the call id (the Asterisk linkedid, as on the bus) and
its number within that speaker's stream; times are seconds from the start of the call.
`KeywordAlertRecord` is one watched word heard on a call. Datetimes are UTC-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import hotline.db  # noqa: F401  (constraint naming convention before the tables)


def utcnow() -> datetime:
    return datetime.now(UTC)


class TranscriptSegmentBase(SQLModel):
    call_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    segment: int
    text: str = Field(sa_type=sa.Text)
    start_seconds: float | None = None
    end_seconds: float | None = None
    confidence: float | None = None


class TranscriptSegment(TranscriptSegmentBase, table=True):
    __tablename__ = "transcript_segments"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "channel", "segment",
                            name="uq_transcript_segments_call_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class TranscriptSegmentPublic(TranscriptSegmentBase):
    id: int
    created_at: datetime


class KeywordAlertBase(SQLModel):
    call_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    keyword: str = Field(max_length=64)
    action: str = Field(max_length=32)
    text: str = Field(sa_type=sa.Text)


class KeywordAlertRecord(KeywordAlertBase, table=True):
    __tablename__ = "keyword_alerts"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class KeywordAlertPublic(KeywordAlertBase):
    id: int
    created_at: datetime
