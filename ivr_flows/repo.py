"""Callback jobs in the store. Functions take a keyword-only `session`.

`claim()` is the one way a job becomes a call: a conditional UPDATE (pending and due ->
calling) plus the attempt row, committed before anything is originated. Whoever gets
rowcount 1 owns the call; everyone else moves on. That is what keeps a job from being
called twice by two schedulers, or by one that restarted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ivr_flows.models import CallbackAttempt, CallbackJob, JobState


async def add_job(*, session: AsyncSession, job: CallbackJob) -> tuple[CallbackJob, bool]:
    """Store `job` unless one with its dedupe_key exists; (the job, whether it is new)."""
    existing = await job_by_key(session=session, key=job.dedupe_key)
    if existing is not None:
        return existing, False
    session.add(job)
    try:
        await session.commit()
    except IntegrityError:  # stored meanwhile by someone else (the bus redelivered)
        await session.rollback()
        existing = await job_by_key(session=session, key=job.dedupe_key)
        assert existing is not None
        return existing, False
    return job, True


async def job_by_key(*, session: AsyncSession, key: str) -> CallbackJob | None:
    query = select(CallbackJob).where(col(CallbackJob.dedupe_key) == key)
    return (await session.execute(query)).scalars().first()


async def get_job(*, session: AsyncSession, job_id: int) -> CallbackJob | None:
    return await session.get(CallbackJob, job_id, populate_existing=True)


async def jobs_for_order(*, session: AsyncSession, order_id: str) -> Sequence[CallbackJob]:
    query = select(CallbackJob).where(col(CallbackJob.order_id) == order_id)
    return (await session.execute(query.order_by(col(CallbackJob.id)))).scalars().all()


async def due_jobs(*, session: AsyncSession, now: datetime, limit: int) -> Sequence[CallbackJob]:
    query = (
        select(CallbackJob)
        .where(col(CallbackJob.state) == JobState.pending, col(CallbackJob.due_at) <= now)
        .order_by(col(CallbackJob.due_at), col(CallbackJob.id))
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def next_due(*, session: AsyncSession) -> datetime | None:
    query = select(func.min(CallbackJob.due_at)).where(col(CallbackJob.state) == JobState.pending)
    value: datetime | None = (await session.execute(query)).scalar()
    return value


async def claim(
    *, session: AsyncSession, job_id: int, now: datetime, owner: str, channel_id: str
) -> bool:
    """Make the due pending job `job_id` ours (state calling) and open its attempt."""
    result = await session.execute(
        update(CallbackJob)
        .where(
            col(CallbackJob.id) == job_id,
            col(CallbackJob.state) == JobState.pending,
            col(CallbackJob.due_at) <= now,
        )
        .values(
            state=JobState.calling,
            claimed_by=owner,
            claimed_at=now,
            channel_id=channel_id,
            attempts=col(CallbackJob.attempts) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        await session.rollback()
        return False
    attempts = (
        await session.execute(
            select(col(CallbackJob.attempts)).where(col(CallbackJob.id) == job_id)
        )
    ).scalar_one()
    session.add(
        CallbackAttempt(job_id=job_id, number=attempts, channel_id=channel_id, started_at=now)
    )
    await session.commit()
    return True


async def finish_attempt(
    *,
    session: AsyncSession,
    job_id: int,
    channel_id: str,
    now: datetime,
    outcome: str,
    dial_status: str,
    hangup_cause: int | None,
    answers: list[dict[str, str]],
    state: JobState,
    due_at: datetime | None,
    reason: str,
    result: dict[str, Any],
    comment: str | None = None,
) -> CallbackJob:
    """End the attempt and store the job's outcome in one transaction (not yet applied)."""
    attempt = (
        await session.execute(
            select(CallbackAttempt).where(col(CallbackAttempt.channel_id) == channel_id)
        )
    ).scalar_one()
    attempt.ended_at = now
    attempt.outcome = outcome
    attempt.dial_status = dial_status
    attempt.hangup_cause = hangup_cause
    attempt.answers = answers
    job = await session.get(CallbackJob, job_id, populate_existing=True)
    assert job is not None
    job.state = state
    job.outcome = outcome
    job.reason = reason[:255]
    if result:
        job.result = {**job.result, **result}
    if comment:
        job.comment = comment
    if due_at is not None:
        job.due_at = due_at
    if state in (JobState.done, JobState.failed):
        job.finished_at = now
    job.claimed_by = None
    session.add_all([attempt, job])
    await session.commit()
    return job


async def release(*, session: AsyncSession, job_id: int, channel_id: str, due_at: datetime) -> None:
    """The call was never placed (AMI down): back to pending, the attempt not counted."""
    await session.execute(
        update(CallbackJob)
        .where(col(CallbackJob.id) == job_id, col(CallbackJob.channel_id) == channel_id)
        .values(
            state=JobState.pending,
            due_at=due_at,
            claimed_by=None,
            attempts=col(CallbackJob.attempts) - 1,
        )
        .execution_options(synchronize_session=False)
    )
    attempt = (
        await session.execute(
            select(CallbackAttempt).where(col(CallbackAttempt.channel_id) == channel_id)
        )
    ).scalar_one_or_none()
    if attempt is not None:
        await session.delete(attempt)
    await session.commit()


async def stale_calls(*, session: AsyncSession, before: datetime) -> Sequence[CallbackJob]:
    """Jobs claimed before `before` and never finished (their scheduler died)."""
    query = select(CallbackJob).where(
        col(CallbackJob.state) == JobState.calling, col(CallbackJob.claimed_at) < before
    )
    return (await session.execute(query)).scalars().all()


async def attempts_of(*, session: AsyncSession, job_id: int) -> Sequence[CallbackAttempt]:
    query = select(CallbackAttempt).where(col(CallbackAttempt.job_id) == job_id)
    return (await session.execute(query.order_by(col(CallbackAttempt.number)))).scalars().all()


async def unapplied(*, session: AsyncSession) -> Sequence[CallbackJob]:
    """Jobs whose result is stored but was never applied to the order (a crash between)."""
    query = select(CallbackJob).where(
        col(CallbackJob.state).in_((JobState.done, JobState.failed)),
        col(CallbackJob.applied_at).is_(None),
    )
    return (await session.execute(query.order_by(col(CallbackJob.id)))).scalars().all()


async def mark_applied(*, session: AsyncSession, job_id: int, now: datetime) -> bool:
    """Record that the job's result reached the order; False if it was already marked."""
    result = await session.execute(
        update(CallbackJob)
        .where(col(CallbackJob.id) == job_id, col(CallbackJob.applied_at).is_(None))
        .values(applied_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return getattr(result, "rowcount", 0) == 1
