"""The callback dialer's store: claims with a lease, attempts, their end.

Functions take the session keyword-only and commit their own change; results are
`CallbackTaskPublic` / `CallbackDialPublic`, never table rows.

`claim()` is the only way a task becomes a dial: one conditional UPDATE (open, waiting,
due -> dialing, owner, lease, channel id, attempts + 1) plus the attempt row, committed
before anything is originated. Whoever gets rowcount 1 owns the dial; a second dialer
(or one restarted) gets 0 and moves on. `finish()` only touches the task while it is
still dialing *this* channel, so a late or repeated finish changes nothing. A task an
operator marked done by hand meanwhile stays done. `take()` lets an operator call a
task by hand (the dialer leaves it: manual); `redial()` gives a manual task back to the
dialer. Neither may touch a task while it is being dialled (`CallbackBusy`).

Exceptions (telephony.call_repo's hierarchy)::

    CallRepoError
     ├── CallbackNotFound    no callback task with that id
     └── CallbackBusy        being dialled, or not in a state that allows the change
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from telephony.call_models import (
    TAKEN_BY_HAND,
    CallbackDial,
    CallbackDialPublic,
    CallbackStatus,
    CallbackTask,
    CallbackTaskPublic,
    DialState,
)
from telephony.call_repo import CallbackNotFound, CallRepoError
from telephony.callback_dialer_plan import TaskStep

DIALER = "callback-dialer"  # done_by of a task the dialer connected


class CallbackBusy(CallRepoError):
    """The task is being dialled, or is not in a state that allows the change."""


async def waiting(
    *, session: AsyncSession, since: datetime, now: datetime, limit: int = 200
) -> list[CallbackTaskPublic]:
    """Open tasks waiting for the dialer, due by `now`, missed after `since`; oldest first."""
    query = (
        select(CallbackTask)
        .where(
            *_waiting(since),
            or_(col(CallbackTask.next_dial_at).is_(None), col(CallbackTask.next_dial_at) <= now),
        )
        .order_by(col(CallbackTask.first_missed_at), col(CallbackTask.id))
        .limit(limit)
    )
    rows = (await session.execute(query)).scalars()
    return [CallbackTaskPublic.model_validate(r) for r in rows]


async def next_due(*, session: AsyncSession, since: datetime, now: datetime) -> datetime | None:
    """When the next waiting task that is not due yet falls due."""
    query = select(func.min(CallbackTask.next_dial_at)).where(
        *_waiting(since), col(CallbackTask.next_dial_at) > now
    )
    value: datetime | None = (await session.execute(query)).scalar()
    return value


def _waiting(since: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        col(CallbackTask.status) == CallbackStatus.open,
        col(CallbackTask.dial_state) == DialState.waiting,
        col(CallbackTask.last_missed_at) >= since,
    )


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
    dial = await _dial(session, channel_id)
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
    dial = await _dial(session, channel_id)
    if dial is not None:
        await session.delete(dial)
    await session.commit()


async def expire(
    *, session: AsyncSession, before: datetime, reason: str, limit: int = 500
) -> list[CallbackTaskPublic]:
    """Waiting tasks whose last miss is before `before` go to manual with `reason`."""
    query = (
        select(col(CallbackTask.id))
        .where(col(CallbackTask.status) == CallbackStatus.open,
               col(CallbackTask.dial_state) == DialState.waiting,
               col(CallbackTask.last_missed_at) < before)
        .limit(limit)
    )  # fmt: skip
    moved = []
    ids: list[int] = [i for i in (await session.execute(query)).scalars().all() if i is not None]
    for task_id in ids:
        try:
            moved.append(await _move(session, task_id, (DialState.waiting,),
                                     dial_state=DialState.manual, next_dial_at=None,
                                     dial_reason=reason[:255]))  # fmt: skip
        except CallRepoError:
            continue  # claimed or closed meanwhile
    return moved


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


async def _dial(session: AsyncSession, channel_id: str) -> CallbackDial | None:
    query = select(CallbackDial).where(col(CallbackDial.channel_id) == channel_id)
    return (await session.execute(query)).scalar_one_or_none()


async def take(
    *, session: AsyncSession, task_id: int, by: str, now: datetime
) -> CallbackTaskPublic:
    """An operator calls this task back by hand: the dialer leaves it (manual)."""
    return await _move(session, task_id, (DialState.waiting, DialState.manual),
                       dial_state=DialState.manual, next_dial_at=None, dial_outcome=TAKEN_BY_HAND,
                       dial_reason=f"taken by hand by {by} at {now.isoformat()}"[:255])  # fmt: skip


async def redial(*, session: AsyncSession, task_id: int) -> CallbackTaskPublic:
    """Give a manual task back to the dialer: dialled again, attempts counted afresh."""
    return await _move(session, task_id, (DialState.manual,), dial_state=DialState.waiting,
                       next_dial_at=None, dial_attempts=0, dial_reason=None)  # fmt: skip


async def _move(
    session: AsyncSession, task_id: int, allowed: tuple[DialState, ...], **values: object
) -> CallbackTaskPublic:
    result = await session.execute(
        update(CallbackTask)
        .where(col(CallbackTask.id) == task_id, col(CallbackTask.status) == CallbackStatus.open,
               col(CallbackTask.dial_state).in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    row = await session.get(CallbackTask, task_id, populate_existing=True)
    if row is None:
        await session.rollback()
        raise CallbackNotFound(f"no callback task {task_id}")
    if getattr(result, "rowcount", 0) != 1:
        now_is = f"{row.status}/{row.dial_state}"  # read before the rollback expires it
        await session.rollback()
        raise CallbackBusy(
            f"callback task {task_id} is {now_is}: allowed only when open and "
            f"{' or '.join(allowed)}"
        )
    await session.commit()
    await session.refresh(row)
    return CallbackTaskPublic.model_validate(row)
