"""The callback dialer's store: claims with a lease, attempts, their end.

Functions take the session keyword-only and commit their own change; results are
`CallbackTaskPublic` / `CallbackDialPublic`, never table rows.

`claim()` is the only way a task becomes a dial: one conditional UPDATE (open, waiting,
due -> dialing, owner, lease, channel id, attempts + 1) plus the attempt row, committed
before anything is originated. Whoever gets rowcount 1 owns the dial; a second dialer
(or one restarted) gets 0 and moves on. `finish()` only touches the task while it is
still dialing *this* channel, so a late or repeated finish changes nothing. A task an
operator marked done by hand meanwhile stays done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from telephony.call_models import (
    CallbackDial,
    CallbackDialPublic,
    CallbackStatus,
    CallbackTask,
    CallbackTaskPublic,
    DialState,
)
from telephony.callback_dialer_plan import TaskStep

DIALER = "callback-dialer"  # done_by of a task the dialer connected


async def waiting(
    *, session: AsyncSession, since: datetime, limit: int = 200
) -> list[CallbackTaskPublic]:
    """Open tasks waiting for the dialer whose last miss is after `since`, oldest first."""
    query = (
        select(CallbackTask)
        .where(
            col(CallbackTask.status) == CallbackStatus.open,
            col(CallbackTask.dial_state) == DialState.waiting,
            col(CallbackTask.last_missed_at) >= since,
        )
        .order_by(col(CallbackTask.first_missed_at), col(CallbackTask.id))
        .limit(limit)
    )
    rows = (await session.execute(query)).scalars()
    return [CallbackTaskPublic.model_validate(r) for r in rows]


async def claim(
    *,
    session: AsyncSession,
    task_id: int,
    now: datetime,
    owner: str,
    channel_id: str,
    lease_until: datetime,
) -> CallbackTaskPublic | None:
    """Make the due waiting task ours (dialing) and open its attempt; None if taken."""
    result = await session.execute(
        update(CallbackTask)
        .where(
            col(CallbackTask.id) == task_id,
            col(CallbackTask.status) == CallbackStatus.open,
            col(CallbackTask.dial_state) == DialState.waiting,
            or_(col(CallbackTask.next_dial_at).is_(None), col(CallbackTask.next_dial_at) <= now),
        )
        .values(
            dial_state=DialState.dialing,
            claimed_by=owner,
            claimed_until=lease_until,
            channel_id=channel_id,
            dial_attempts=col(CallbackTask.dial_attempts) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        await session.rollback()
        return None
    row = await session.get(CallbackTask, task_id, populate_existing=True)
    assert row is not None
    session.add(CallbackDial(task_id=task_id, attempt=row.dial_attempts, channel_id=channel_id,
                             started_at=now))  # fmt: skip
    await session.commit()
    await session.refresh(row)
    return CallbackTaskPublic.model_validate(row)


async def finish(
    *,
    session: AsyncSession,
    task_id: int,
    channel_id: str,
    now: datetime,
    step: TaskStep,
    hangup_cause: int | None = None,
    dial_status: str = "",
    operator: str | None = None,
) -> CallbackTaskPublic | None:
    """End the attempt on `channel_id` and move the task on; None if it was not ours."""
    dial = (
        await session.execute(
            select(CallbackDial).where(col(CallbackDial.channel_id) == channel_id)
        )
    ).scalar_one_or_none()
    row = await session.get(CallbackTask, task_id, populate_existing=True)
    if row is None or row.channel_id != channel_id or row.dial_state != DialState.dialing:
        await session.rollback()
        return None
    if dial is not None:
        dial.ended_at = now
        dial.outcome = step.outcome.value
        dial.hangup_cause = hangup_cause
        dial.dial_status = dial_status or None
        dial.operator_extension = operator
        session.add(dial)
    row.dial_state = step.state
    row.next_dial_at = step.next_dial_at
    row.dial_outcome = step.outcome.value
    row.dial_reason = step.reason[:255]
    row.claimed_by = None
    row.claimed_until = None
    if step.state is DialState.connected:
        row.connected_to = operator
        if row.status != CallbackStatus.done:
            row.status = CallbackStatus.done
            row.done_at = now
            row.done_by = DIALER
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return CallbackTaskPublic.model_validate(row)


async def release(
    *, session: AsyncSession, task_id: int, channel_id: str, retry_at: datetime
) -> None:
    """Nothing was dialled (AMI down): back to waiting, the attempt not counted."""
    await session.execute(
        update(CallbackTask)
        .where(col(CallbackTask.id) == task_id, col(CallbackTask.channel_id) == channel_id,
               col(CallbackTask.dial_state) == DialState.dialing)
        .values(dial_state=DialState.waiting, next_dial_at=retry_at, claimed_by=None,
                claimed_until=None, dial_attempts=col(CallbackTask.dial_attempts) - 1)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    dial = (
        await session.execute(
            select(CallbackDial).where(col(CallbackDial.channel_id) == channel_id)
        )
    ).scalar_one_or_none()
    if dial is not None:
        await session.delete(dial)
    await session.commit()


async def stale(*, session: AsyncSession, now: datetime) -> list[CallbackTaskPublic]:
    """Tasks still dialing after their lease: the server that claimed them stopped."""
    query = select(CallbackTask).where(
        col(CallbackTask.dial_state) == DialState.dialing, col(CallbackTask.claimed_until) < now
    )
    return [CallbackTaskPublic.model_validate(r) for r in (await session.execute(query)).scalars()]


async def dials_of(*, session: AsyncSession, task_id: int) -> Sequence[CallbackDialPublic]:
    query = (
        select(CallbackDial)
        .where(col(CallbackDial.task_id) == task_id)
        .order_by(col(CallbackDial.attempt))
    )
    return [CallbackDialPublic.model_validate(r) for r in (await session.execute(query)).scalars()]
