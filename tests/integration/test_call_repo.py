"""Call records, callback tasks and caller history on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from telephony import call_repo
from telephony.call_models import CallbackStatus

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def _call(
    session: AsyncSession, n: int, number: str, *, operator: str | None, outcome: str, at: datetime
) -> None:
    await call_repo.open_call(
        session=session,
        uniqueid=f"u{n}",
        linkedid=f"u{n}",
        entered_at=at,
        dnis="12345",
        caller_number=number,
    )
    await call_repo.update_call(
        session=session,
        uniqueid=f"u{n}",
        line="12345",
        outcome=outcome,
        operator_extension=operator,
        answered_at=at + timedelta(seconds=5) if operator else None,
        route={"queue": "skill-general", "flags": ["key_caller"] if n == 3 else []},
    )


async def test_caller_history_counts_last_operator_and_flags(session: AsyncSession) -> None:
    await _call(session, 1, "13800000001", operator="1001", outcome="answered", at=T0)
    await _call(
        session, 2, "13800000001", operator=None, outcome="abandoned", at=T0 + timedelta(hours=1)
    )
    await _call(
        session, 3, "13800000001", operator="1002", outcome="answered", at=T0 + timedelta(hours=2)
    )
    await _call(
        session, 4, "13800000001", operator="1003", outcome="answered", at=T0 - timedelta(days=40)
    )
    await _call(session, 5, "13900000000", operator="1004", outcome="answered", at=T0)
    await call_repo.note_missed_call(session=session, number="13800000001", at=T0)

    h = await call_repo.caller_history(
        session=session, number="13800000001", within_days=30, now=T0 + timedelta(days=1)
    )
    assert (h.total_calls, h.answered_calls, h.abandoned_calls) == (3, 2, 1)
    assert h.last_operator == "1002"
    assert [c.linkedid for c in h.last_calls] == ["u3", "u2", "u1"]
    assert h.flags == ["key_caller", "open_callback"]
    assert h.last_calls[0].entered_at.tzinfo is not None

    withheld = await call_repo.caller_history(session=session, number="anonymous")
    assert withheld.withheld and withheld.total_calls == 0


async def test_one_open_callback_task_per_number(session: AsyncSession) -> None:
    first = await call_repo.note_missed_call(
        session=session, number="13800000002", at=T0, line="12345", linkedid="a"
    )
    again = await call_repo.note_missed_call(
        session=session, number="13800000002", at=T0 + timedelta(minutes=3), linkedid="b"
    )
    assert again.id == first.id and again.missed_count == 2
    assert again.last_missed_at == T0 + timedelta(minutes=3)
    done = await call_repo.mark_callback_done(session=session, task_id=first.id, by="op1")
    assert done.status == CallbackStatus.done
    fresh = await call_repo.note_missed_call(
        session=session, number="13800000002", at=T0 + timedelta(hours=1)
    )
    assert fresh.id != first.id and fresh.missed_count == 1
    open_tasks = await call_repo.list_callbacks(session=session)
    assert [t.id for t in open_tasks] == [fresh.id]
    with pytest.raises(call_repo.CallbackNotFound):
        await call_repo.mark_callback_done(session=session, task_id=9999, by="x")


async def test_transfers_append_to_the_call(session: AsyncSession) -> None:
    await call_repo.open_call(session=session, uniqueid="t1", linkedid="t1", entered_at=T0)
    await call_repo.add_transfer(
        session=session, linkedid="t1", entry={"kind": "blind", "target": "119"}
    )
    rec = await call_repo.add_transfer(
        session=session, linkedid="t1", entry={"kind": "three_way", "target": "110"}
    )
    assert [t["target"] for t in rec.transfers] == ["119", "110"]
    with pytest.raises(call_repo.CallNotFound):
        await call_repo.add_transfer(session=session, linkedid="nope", entry={})
