"""Transcript operations on the store. Each function commits its own change.

A segment is identified by (call_id, channel, segment): storing the same one twice
(a retry after a lost reply) keeps the first and is not an error.

Exceptions: `TranscriptStoreError` (the store refused a write; the message says what).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from asr.models import (
    KeywordAlertPublic,
    KeywordAlertRecord,
    TranscriptSegment,
    TranscriptSegmentPublic,
)
from asr.segments import Segment


class TranscriptStoreError(Exception):
    pass


async def add_segment(call_id: str, segment: Segment, *, session: AsyncSession) -> bool:
    """Store one final segment; False if it was stored already."""
    row = TranscriptSegment(
        call_id=call_id,
        channel=segment.channel,
        segment=segment.index,
        text=segment.text,
        start_seconds=segment.start_seconds,
        end_seconds=segment.end_seconds,
        confidence=segment.confidence,
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    except SQLAlchemyError as err:
        await session.rollback()
        raise TranscriptStoreError(f"cannot store segment of call {call_id}: {err}") from err
    return True


async def add_alert(call_id: str, channel: str, keyword: str, action: str, text: str, *,
                    session: AsyncSession) -> None:
    session.add(KeywordAlertRecord(call_id=call_id, channel=channel, keyword=keyword,
                                   action=action, text=text))
    try:
        await session.commit()
    except SQLAlchemyError as err:
        await session.rollback()
        raise TranscriptStoreError(f"cannot store alert of call {call_id}: {err}") from err


async def segments_for_call(call_id: str, *, session: AsyncSession
                            ) -> list[TranscriptSegmentPublic]:
    """The call's segments in spoken order (by start time, then speaker and number)."""
    rows = (
        await session.execute(
            select(TranscriptSegment)
            .where(col(TranscriptSegment.call_id) == call_id)
            .order_by(col(TranscriptSegment.start_seconds), col(TranscriptSegment.channel),
                      col(TranscriptSegment.segment))
        )
    ).scalars()
    return [TranscriptSegmentPublic.model_validate(r, from_attributes=True) for r in rows]


async def alerts_for_call(call_id: str, *, session: AsyncSession) -> list[KeywordAlertPublic]:
    rows = (
        await session.execute(
            select(KeywordAlertRecord)
            .where(col(KeywordAlertRecord.call_id) == call_id)
            .order_by(col(KeywordAlertRecord.id))
        )
    ).scalars()
    return [KeywordAlertPublic.model_validate(r, from_attributes=True) for r in rows]
