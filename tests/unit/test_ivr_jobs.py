"""Calling hours and retries (Asia/Shanghai, 09:00-20:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr_flows.jobs import CallingHours, PlanError, RetryPolicy, after_attempt, first_due
from ivr_flows.models import JobState
from ivr_flows.outcomes import Outcome, Verdict

SH = ZoneInfo("Asia/Shanghai")
HOURS = CallingHours(
    start=time(9), end=time(20), tz=SH, excluded_weekdays=frozenset({6}),  # no Sundays
    excluded_dates=frozenset({date(2026, 10, 1)}),  # National Day
)  # fmt: skip


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def test_next_open_inside_before_after_and_on_excluded_days() -> None:
    assert HOURS.next_open(sh(2026, 11, 23, 10, 30)) == sh(2026, 11, 23, 10, 30)  # Monday
    assert HOURS.next_open(sh(2026, 11, 23, 7, 0)) == sh(2026, 11, 23, 9, 0)
    assert HOURS.next_open(sh(2026, 11, 23, 20, 0)) == sh(2026, 11, 24, 9, 0)
    assert HOURS.next_open(sh(2026, 11, 21, 21, 0)) == sh(2026, 11, 23, 9, 0)  # Sat -> Mon
    assert HOURS.next_open(sh(2026, 9, 30, 22, 0)) == sh(2026, 10, 2, 9, 0)  # holiday
    assert HOURS.next_open(sh(2026, 11, 23, 10, 30)).tzinfo is UTC
    assert not HOURS.is_open(sh(2026, 11, 22, 10, 0))  # Sunday


def test_a_survey_is_due_the_next_day_inside_hours() -> None:
    assert first_due(sh(2026, 11, 23, 15, 0), timedelta(days=1), HOURS) == sh(2026, 11, 24, 15)
    assert first_due(sh(2026, 11, 23, 19, 59), timedelta(days=1), HOURS) == sh(2026, 11, 24, 19, 59)
    assert first_due(sh(2026, 11, 21, 12, 0), timedelta(days=1), HOURS) == sh(2026, 11, 23, 9)


def test_retries_back_off_inside_hours_then_give_up_with_the_reason() -> None:
    policy = RetryPolicy(max_attempts=3, backoff=timedelta(minutes=30), factor=2)
    busy = Verdict(Outcome.busy, "cause 17")
    now = sh(2026, 11, 23, 19, 0)
    first = after_attempt(busy, attempts_made=1, max_attempts=3, now=now, policy=policy,
                          hours=HOURS)  # fmt: skip
    assert (first.state, first.due_at) == (JobState.pending, sh(2026, 11, 23, 19, 30))
    second = after_attempt(busy, attempts_made=2, max_attempts=3, now=now, policy=policy,
                           hours=HOURS)  # fmt: skip
    assert second.due_at == sh(2026, 11, 24, 9, 0)  # 20:00 is closed
    last = after_attempt(busy, attempts_made=3, max_attempts=3, now=now, policy=policy,
                         hours=HOURS)  # fmt: skip
    assert (last.state, last.reason) == (JobState.failed, "busy after 3 attempt(s): cause 17")
    gone = after_attempt(Verdict(Outcome.unreachable, "cause 1"), attempts_made=1,
                         max_attempts=3, now=now, policy=policy, hours=HOURS)  # fmt: skip
    assert gone.state == JobState.failed
    done = after_attempt(Verdict(Outcome.answered_result, "answered"), attempts_made=1,
                         max_attempts=3, now=now, policy=policy, hours=HOURS)  # fmt: skip
    assert done.state == JobState.done


def test_hours_that_leave_no_time_are_refused() -> None:
    with pytest.raises(PlanError):
        CallingHours(start=time(20), end=time(9), tz=SH)
    with pytest.raises(PlanError):
        CallingHours(start=time(9), end=time(20), tz=SH, excluded_weekdays=frozenset(range(7)))
