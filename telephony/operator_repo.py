"""Operator sessions and state history in the store. Every function takes a keyword-only
`session: AsyncSession` and commits its own change.

Errors::

    OperatorRepoError
     └── NoOpenSession   logging out a seat that has no open desktop session
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from telephony.operator_models import (
    OperatorSession,
    OperatorSessionPublic,
    OperatorStateChange,
    OperatorStateChangePublic,
)
from telephony.operators import Seat


class OperatorRepoError(Exception):
    """Base of this module's errors."""


class NoOpenSession(OperatorRepoError):
    """The extension has no open desktop session."""


def _skills(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split(",") if s)


async def open_session(
    *,
    session: AsyncSession,
    extension: str,
    user_id: int | None,
    skills: Sequence[str],
    now: datetime,
) -> OperatorSessionPublic:
    """Start a desktop session at `extension`, ending any other one still open there."""
    await _end_open(session, extension, now)
    row = OperatorSession(
        extension=extension, user_id=user_id, skills=",".join(skills), started_at=now
    )
    session.add(row)
    await session.commit()
    return OperatorSessionPublic.model_validate(row, from_attributes=True)


async def close_session(*, session: AsyncSession, extension: str, now: datetime) -> int:
    """End the open session(s) at `extension`; return how many were open."""
    ended = await _end_open(session, extension, now)
    await session.commit()
    return ended


async def _end_open(session: AsyncSession, extension: str, now: datetime) -> int:
    rows = (
        await session.scalars(
            select(OperatorSession).where(
                col(OperatorSession.extension) == extension,
                col(OperatorSession.ended_at).is_(None),
            )
        )
    ).all()
    for row in rows:
        row.ended_at = now
        session.add(row)
    return len(rows)


async def open_sessions(*, session: AsyncSession) -> list[OperatorSessionPublic]:
    rows = (
        await session.scalars(
            select(OperatorSession).where(col(OperatorSession.ended_at).is_(None))
        )
    ).all()
    return [OperatorSessionPublic.model_validate(r, from_attributes=True) for r in rows]


async def open_session_of_user(
    *, session: AsyncSession, user_id: int
) -> OperatorSessionPublic | None:
    row = (
        await session.scalars(
            select(OperatorSession)
            .where(
                col(OperatorSession.user_id) == user_id, col(OperatorSession.ended_at).is_(None)
            )
            .order_by(col(OperatorSession.started_at).desc())
        )
    ).first()
    return OperatorSessionPublic.model_validate(row, from_attributes=True) if row else None


def session_skills(row: OperatorSessionPublic) -> tuple[str, ...]:
    return _skills(row.skills)


async def record_states(
    *, session: AsyncSession, seats: Sequence[Seat], now: datetime
) -> None:
    """Append one history row per seat (a batch of changes, one commit)."""
    for seat in seats:
        session.add(
            OperatorStateChange(
                extension=seat.extension,
                state=seat.state.value,
                reason=seat.reason,
                call_id=seat.call_id,
                wrap_up_until=seat.wrap_up_until,
                at=seat.since or now,
            )
        )
    await session.commit()


async def latest_states(*, session: AsyncSession) -> list[OperatorStateChangePublic]:
    """The newest history row of every extension."""
    newest = (
        select(
            col(OperatorStateChange.extension).label("extension"),
            func.max(OperatorStateChange.id).label("id"),
        )
        .group_by(col(OperatorStateChange.extension))
        .subquery()
    )
    rows = (
        await session.scalars(
            select(OperatorStateChange).join(newest, col(OperatorStateChange.id) == newest.c.id)
        )
    ).all()
    return [OperatorStateChangePublic.model_validate(r, from_attributes=True) for r in rows]


async def state_history(
    *, session: AsyncSession, extension: str, limit: int = 50
) -> list[OperatorStateChangePublic]:
    rows = (
        await session.scalars(
            select(OperatorStateChange)
            .where(col(OperatorStateChange.extension) == extension)
            .order_by(col(OperatorStateChange.id).desc())
            .limit(limit)
        )
    ).all()
    return [OperatorStateChangePublic.model_validate(r, from_attributes=True) for r in rows]
