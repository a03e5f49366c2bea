"""Call records, callback tasks and caller history on the store.

Every function is async, takes the session keyword-only and commits its own change
(reads commit nothing). Results are the `*Public` models or `CallerHistory`, never table
rows, so callers cannot write through them.

`caller_history` is what the screen pop and the router read about a number: how often
it called within a window, the last calls (line, operator, time, outcome) and flags
(key caller, open missed-call callback). A withheld or empty number has no history.

`note_missed_call` keeps one open callback task per number: a repeat miss bumps the
count and the last time, and gives a task the dialer had given up on back to it (SELECT
then UPDATE inside one transaction; the call service writes from a single task, so two
misses of one number never race).

Exceptions::

    CallRepoError            a request about calls that cannot be carried out
     ├── CallNotFound        no call record with that id / uniqueid
     └── CallbackNotFound    no callback task with that id
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from telephony.call_models import (
    TAKEN_BY_HAND,
    CallbackStatus,
    CallbackTask,
    CallbackTaskPublic,
    CallRecord,
    CallRecordPublic,
    DialState,
    utcnow,
)
from telephony.routing import is_withheld


class CallRepoError(Exception):
    """Base of call store errors; the message is fit to show to a user."""


class CallNotFound(CallRepoError):
    pass


class CallbackNotFound(CallRepoError):
    pass


# -- call records --------------------------------------------------------------------------


async def open_call(
    *,
    session: AsyncSession,
    uniqueid: str,
    linkedid: str,
    entered_at: datetime,
    dnis: str | None = None,
    caller_number: str | None = None,
    caller_name: str | None = None,
) -> CallRecordPublic:
    """The record of a new call; the existing one if this uniqueid is known already."""
    existing = await _by_uniqueid(session, uniqueid)
    if existing is not None:
        return CallRecordPublic.model_validate(existing)
    row = CallRecord(
        uniqueid=uniqueid,
        linkedid=linkedid,
        entered_at=entered_at,
        dnis=dnis,
        caller_number=caller_number,
        caller_name=caller_name,
    )
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return CallRecordPublic.model_validate(row)


async def update_call(*, session: AsyncSession, uniqueid: str, **values: Any) -> CallRecordPublic:
    """Set fields of a call record (names of `CallRecordBase` fields)."""
    row = await _by_uniqueid(session, uniqueid)
    if row is None:
        raise CallNotFound(f"no call record {uniqueid!r}")
    for name, value in values.items():
        if name not in CallRecord.model_fields or name in ("id", "uniqueid"):
            raise ValueError(f"not a call record field: {name!r}")
        setattr(row, name, value)
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return CallRecordPublic.model_validate(row)


async def add_transfer(
    *, session: AsyncSession, linkedid: str, entry: dict[str, Any]
) -> CallRecordPublic:
    """Append a transfer (kind, target, by, at, ...) to the call with this linkedid."""
    row = (
        (
            await session.execute(
                select(CallRecord)
                .where(col(CallRecord.linkedid) == linkedid)
                .order_by(col(CallRecord.id))
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        raise CallNotFound(f"no call record with linkedid {linkedid!r}")
    row.transfers = [*row.transfers, entry]  # a new list: JSON columns track assignment
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return CallRecordPublic.model_validate(row)


async def get_call(*, session: AsyncSession, call_id: int) -> CallRecordPublic:
    row = await session.get(CallRecord, call_id)
    if row is None:
        raise CallNotFound(f"no call record {call_id}")
    return CallRecordPublic.model_validate(row)


async def find_call(*, session: AsyncSession, uniqueid: str) -> CallRecordPublic | None:
    row = await _by_uniqueid(session, uniqueid)
    return None if row is None else CallRecordPublic.model_validate(row)


async def list_calls(
    *,
    session: AsyncSession,
    limit: int = 50,
    offset: int = 0,
    line: str | None = None,
    number: str | None = None,
    since: datetime | None = None,
    operator_extension: str | None = None,
) -> list[CallRecordPublic]:
    """Newest first."""
    query = select(CallRecord)
    if operator_extension is not None:
        query = query.where(col(CallRecord.operator_extension) == operator_extension)
    if line is not None:
        query = query.where(col(CallRecord.line) == line)
    if number is not None:
        query = query.where(col(CallRecord.caller_number) == number)
    if since is not None:
        query = query.where(col(CallRecord.entered_at) >= since)
    query = query.order_by(col(CallRecord.entered_at).desc(), col(CallRecord.id).desc())
    rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    return [CallRecordPublic.model_validate(r) for r in rows]


async def _by_uniqueid(session: AsyncSession, uniqueid: str) -> CallRecord | None:
    query = select(CallRecord).where(col(CallRecord.uniqueid) == uniqueid)
    return (await session.execute(query)).scalars().first()


# -- callback tasks ------------------------------------------------------------------------


async def note_missed_call(
    *,
    session: AsyncSession,
    number: str,
    at: datetime,
    line: str | None = None,
    linkedid: str | None = None,
) -> CallbackTaskPublic:
    """One open task per number: create it, or count one more miss on the open one."""
    query = select(CallbackTask).where(
        col(CallbackTask.number) == number, col(CallbackTask.status) == CallbackStatus.open
    )
    row = (await session.execute(query)).scalars().first()
    if row is None:
        row = CallbackTask(
            number=number,
            line=line,
            first_missed_at=at,
            last_missed_at=at,
            last_linkedid=linkedid,
        )
    else:
        row.missed_count += 1
        row.last_missed_at = max(row.last_missed_at, at)
        row.last_linkedid = linkedid or row.last_linkedid
        row.line = line or row.line
        if row.dial_state == DialState.manual and row.dial_outcome != TAKEN_BY_HAND:
            # The dialer gave up on it, and the citizen has called again: dial afresh
            # (unless an operator took it to call by hand).
            row.dial_state = DialState.waiting
            row.dial_attempts = 0
            row.next_dial_at = None
            row.dial_reason = None
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return CallbackTaskPublic.model_validate(row)


async def list_callbacks(
    *, session: AsyncSession, status: CallbackStatus | None = CallbackStatus.open, limit: int = 100
) -> list[CallbackTaskPublic]:
    """Oldest miss first (who has waited longest for a call back)."""
    query = select(CallbackTask)
    if status is not None:
        query = query.where(col(CallbackTask.status) == status)
    query = query.order_by(col(CallbackTask.first_missed_at), col(CallbackTask.id)).limit(limit)
    return [CallbackTaskPublic.model_validate(r) for r in (await session.execute(query)).scalars()]


async def mark_callback_done(
    *, session: AsyncSession, task_id: int, by: str, at: datetime | None = None
) -> CallbackTaskPublic:
    row = await session.get(CallbackTask, task_id)
    if row is None:
        raise CallbackNotFound(f"no callback task {task_id}")
    if row.status != CallbackStatus.done:
        row.status = CallbackStatus.done
        row.done_at = at or utcnow()
        row.done_by = by
        session.add(row)
        await session.commit()
        await session.refresh(row)
    return CallbackTaskPublic.model_validate(row)


# -- caller history ------------------------------------------------------------------------


class PastCall(BaseModel):
    linkedid: str
    dnis: str | None
    line: str | None
    operator_extension: str | None
    entered_at: datetime
    answered_at: datetime | None
    outcome: str


class CallerHistory(BaseModel):
    """What the centre knows about a caller number (screen pop, routing)."""

    number: str
    withheld: bool = False
    within_days: int
    total_calls: int = 0
    answered_calls: int = 0
    abandoned_calls: int = 0
    last_calls: list[PastCall] = []
    last_operator: str | None = None  # who answered this caller last, within the window
    open_callback: bool = False
    flags: list[str] = []  # e.g. "open_callback", "frequent_caller", "enterprise"


async def caller_history(
    *,
    session: AsyncSession,
    number: str,
    within_days: int = 365,
    limit: int = 10,
    now: datetime | None = None,
    exclude_linkedid: str | None = None,
) -> CallerHistory:
    """Counts, the last `limit` calls and flags for `number` within `within_days`."""
    if is_withheld(number):
        return CallerHistory(
            number=number, withheld=True, within_days=within_days, flags=["withheld"]
        )
    since = (now or utcnow()) - timedelta(days=within_days)
    where = [col(CallRecord.caller_number) == number, col(CallRecord.entered_at) >= since]
    if exclude_linkedid is not None:
        where.append(col(CallRecord.linkedid) != exclude_linkedid)
    counts = (
        await session.execute(
            select(col(CallRecord.outcome), func.count())
            .where(*where)
            .group_by(col(CallRecord.outcome))
        )
    ).all()
    by_outcome = {str(outcome): int(n) for outcome, n in counts}
    rows: Sequence[CallRecord] = (
        (
            await session.execute(
                select(CallRecord)
                .where(*where)
                .order_by(col(CallRecord.entered_at).desc(), col(CallRecord.id).desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    last_operator = (
        await session.execute(
            select(col(CallRecord.operator_extension))
            .where(
                *where,
                col(CallRecord.answered_at).is_not(None),
                col(CallRecord.operator_extension).is_not(None),
            )
            .order_by(col(CallRecord.answered_at).desc())
            .limit(1)
        )
    ).scalar()
    open_callback = (
        await session.execute(
            select(func.count())
            .select_from(CallbackTask)
            .where(
                col(CallbackTask.number) == number,
                col(CallbackTask.status) == CallbackStatus.open,
            )
        )
    ).scalar_one() > 0
    flags = sorted({f for r in rows for f in r.route.get("flags", []) if f != "withheld"})
    if open_callback:
        flags.append("open_callback")
    return CallerHistory(
        number=number,
        within_days=within_days,
        total_calls=sum(by_outcome.values()),
        answered_calls=by_outcome.get("answered", 0),
        abandoned_calls=by_outcome.get("abandoned", 0),
        last_calls=[
            PastCall(
                linkedid=r.linkedid,
                dnis=r.dnis,
                line=r.line,
                operator_extension=r.operator_extension,
                entered_at=r.entered_at,
                answered_at=r.answered_at,
                outcome=r.outcome,
            )
            for r in rows
        ],
        last_operator=last_operator,
        open_callback=open_callback,
        flags=flags,
    )


async def routing_facts(
    *,
    session: AsyncSession,
    number: str,
    key_caller_days: int,
    preferred_days: int,
    now: datetime,
    exclude_linkedid: str | None = None,
    scan_limit: int = 1000,
) -> tuple[int, str | None]:
    """(calls within key_caller_days, who answered them last within preferred_days).

    One indexed query (routing waits on it): the number's recent calls, newest first.
    """
    since = now - timedelta(days=max(key_caller_days, preferred_days))
    query = (
        select(
            col(CallRecord.entered_at),
            col(CallRecord.answered_at),
            col(CallRecord.operator_extension),
        )
        .where(col(CallRecord.caller_number) == number, col(CallRecord.entered_at) >= since)
        .order_by(col(CallRecord.entered_at).desc())
        .limit(scan_limit)
    )
    if exclude_linkedid is not None:
        query = query.where(col(CallRecord.linkedid) != exclude_linkedid)
    rows = (await session.execute(query)).all()
    key_since = now - timedelta(days=key_caller_days)
    preferred_since = now - timedelta(days=preferred_days)
    count = sum(1 for entered, _, _ in rows if entered >= key_since)
    last_operator = next(
        (ext for _, answered, ext in rows
         if ext is not None and answered is not None and answered >= preferred_since),
        None,
    )  # fmt: skip
    return count, last_operator
