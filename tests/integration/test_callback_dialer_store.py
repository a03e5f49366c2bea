"""The dialer's claims on SQLite and PostgreSQL: one owner per dial, leases, late finishes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline import db
from telephony import call_repo
from telephony import callback_dialer_repo as repo
from telephony.call_models import CallbackStatus, DialState
from telephony.callback_dialer_plan import DialOutcome, TaskStep, interrupted_step, too_old_reason

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=3)


async def test_ten_dialers_racing_for_one_task_dial_it_once(engine: AsyncEngine) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session:
        task = await call_repo.note_missed_call(session=session, number="13800000009", at=NOW)

    async def claim(n: int) -> bool:
        async with sessions() as session:
            got = await repo.claim(session=session, task_id=task.id, now=NOW, owner=f"d{n}",
                                   channel_id=f"chan-{n}", lease_until=LEASE)  # fmt: skip
            return got is not None

    won = await asyncio.gather(*(claim(n) for n in range(10)))
    assert sum(won) == 1
    async with sessions() as session:
        (dial,) = await repo.dials_of(session=session, task_id=task.id)
        claimed = (await call_repo.list_callbacks(session=session))[0]
    assert (claimed.dial_state, claimed.dial_attempts, claimed.channel_id) == (
        DialState.dialing, 1, dial.channel_id,
    )  # fmt: skip


async def test_a_retry_waits_its_time_a_late_finish_is_ignored_and_a_lease_expires(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session:
        task = await call_repo.note_missed_call(session=session, number="13800000010", at=NOW)
        assert await repo.claim(session=session, task_id=task.id, now=NOW, owner="a",
                                channel_id="c1", lease_until=LEASE)  # fmt: skip
        retry = TaskStep(DialState.waiting, NOW + timedelta(minutes=10), DialOutcome.busy, "busy")
        moved = await repo.finish(session=session, task_id=task.id, channel_id="c1", now=NOW,
                                  step=retry, hangup_cause=17, dial_status="BUSY")  # fmt: skip
        assert moved is not None and moved.next_dial_at == NOW + timedelta(minutes=10)
        since = NOW - timedelta(hours=1)
        assert await repo.waiting(session=session, since=since, now=NOW) == []
        assert await repo.next_due(session=session, since=since, now=NOW) == NOW + timedelta(
            minutes=10
        )
        # Finishing the same dial again (a repeat, or a stale server) changes nothing.
        assert await repo.finish(session=session, task_id=task.id, channel_id="c1", now=NOW,
                                 step=interrupted_step(1)) is None  # fmt: skip
        # Not due yet: nobody can claim it; due: the next dial is attempt 2.
        assert await repo.claim(session=session, task_id=task.id, now=NOW, owner="b",
                                channel_id="c2", lease_until=LEASE) is None  # fmt: skip
        later = NOW + timedelta(minutes=10)
        second = await repo.claim(
            session=session, task_id=task.id, now=later, owner="b", channel_id="c2",
            lease_until=later + timedelta(minutes=3),
        )  # fmt: skip
        assert second is not None and second.dial_attempts == 2
        assert await repo.stale(session=session, now=later) == []
        (left,) = await repo.stale(session=session, now=later + timedelta(minutes=4))
        assert left.channel_id == "c2"
        gone = await repo.finish(session=session, task_id=task.id, channel_id="c2",
                                 now=later, step=interrupted_step(2))  # fmt: skip
        assert gone is not None
        assert (gone.status, gone.dial_state, gone.dial_outcome) == (
            CallbackStatus.open, DialState.manual, "interrupted",
        )  # fmt: skip
        dials = await repo.dials_of(session=session, task_id=task.id)
    assert [(d.attempt, d.outcome, d.dial_status) for d in dials] == [
        (1, "busy", "BUSY"), (2, "interrupted", None),
    ]  # fmt: skip


async def test_a_task_closed_by_hand_while_dialling_stays_done_and_unplaced_is_not_counted(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session:
        a = await call_repo.note_missed_call(session=session, number="13800000011", at=NOW)
        b = await call_repo.note_missed_call(session=session, number="13800000012", at=NOW)
        for t, chan in ((a, "ca"), (b, "cb")):
            assert await repo.claim(session=session, task_id=t.id, now=NOW, owner="x",
                                    channel_id=chan, lease_until=LEASE)  # fmt: skip
        await call_repo.mark_callback_done(session=session, task_id=a.id, by="zhang", at=NOW)
        step = TaskStep(DialState.connected, None, DialOutcome.connected, "connected to 1001")
        done = await repo.finish(session=session, task_id=a.id, channel_id="ca", now=NOW,
                                 step=step, operator="1001")  # fmt: skip
        assert done is not None
        assert (done.status, done.done_by, done.connected_to) == (
            CallbackStatus.done,
            "zhang",
            "1001",
        )
        await repo.release(session=session, task_id=b.id, channel_id="cb", retry_at=NOW)
        (waiting,) = await repo.waiting(session=session, since=NOW - timedelta(hours=1), now=NOW)
        assert (waiting.id, waiting.dial_state, waiting.dial_attempts) == (
            b.id,
            DialState.waiting,
            0,
        )
        assert await repo.dials_of(session=session, task_id=b.id) == []


async def test_take_by_hand_and_redial_move_only_tasks_that_are_not_being_dialled(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session:
        t = await call_repo.note_missed_call(session=session, number="13800000013", at=NOW)
        taken = await repo.take(session=session, task_id=t.id, by="li", now=NOW)
        assert taken.dial_state == DialState.manual and "taken by hand by li" in (
            taken.dial_reason or ""
        )
        assert await repo.claim(session=session, task_id=t.id, now=NOW, owner="a",
                                channel_id="c0", lease_until=LEASE) is None  # fmt: skip
        with pytest.raises(call_repo.CallbackNotFound):
            await repo.redial(session=session, task_id=t.id + 100)
        back = await repo.redial(session=session, task_id=t.id)
        assert (back.dial_state, back.dial_attempts, back.dial_reason) == (
            DialState.waiting, 0, None,
        )  # fmt: skip
        assert await repo.claim(session=session, task_id=t.id, now=NOW, owner="a",
                                channel_id="c", lease_until=LEASE)  # fmt: skip
        with pytest.raises(repo.CallbackBusy, match="open/dialing"):
            await repo.take(session=session, task_id=t.id, by="li", now=NOW)
        with pytest.raises(repo.CallbackBusy, match="open/dialing"):
            await repo.redial(session=session, task_id=t.id)


async def test_misses_too_old_to_call_back_automatically_go_to_the_operators(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session:
        old = await call_repo.note_missed_call(
            session=session, number="13800000014", at=NOW - timedelta(hours=30)
        )
        fresh = await call_repo.note_missed_call(session=session, number="13800000015", at=NOW)
        moved = await repo.expire(session=session, before=NOW - timedelta(hours=24),
                                  reason=too_old_reason(timedelta(hours=24)))  # fmt: skip
        assert [t.id for t in moved] == [old.id]
        assert moved[0].dial_state == DialState.manual
        assert moved[0].dial_reason == (
            "missed more than 24 h ago: too old to call back automatically"
        )
        (waiting,) = await repo.waiting(session=session, since=NOW - timedelta(days=9), now=NOW)
        assert waiting.id == fresh.id


async def test_a_new_miss_gives_a_given_up_task_back_to_the_dialer_but_not_a_taken_one(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    later = NOW + timedelta(minutes=5)
    async with sessions() as session:
        t = await call_repo.note_missed_call(session=session, number="13800000016", at=NOW)
        assert await repo.claim(session=session, task_id=t.id, now=NOW, owner="a",
                                channel_id="c1", lease_until=LEASE)  # fmt: skip
        gave_up = TaskStep(DialState.manual, None, DialOutcome.unreachable, "unreachable")
        assert await repo.finish(session=session, task_id=t.id, channel_id="c1", now=NOW,
                                 step=gave_up)  # fmt: skip
        again = await call_repo.note_missed_call(session=session, number=t.number, at=later)
        assert (again.id, again.missed_count, again.dial_state, again.dial_attempts) == (
            t.id, 2, DialState.waiting, 0,
        )  # fmt: skip
        taken = await repo.take(session=session, task_id=t.id, by="wang", now=later)
        assert taken.dial_outcome == DialOutcome.taken
        still = await call_repo.note_missed_call(session=session, number=t.number, at=later)
        assert (still.missed_count, still.dial_state) == (3, DialState.manual)
