"""When to call: calling hours, the first call, retries. Pure: values in, values out.

Calling hours are local time in the centre's time zone (e.g. 09:00-20:00 Asia/Shanghai),
never on excluded weekdays (0 = Monday) or dates (holidays). `CallingHours.next_open(t)`
is the earliest instant at or after `t` when a call may start. A survey is first due
`survey_delay` after the order was reviewed (the next day by default), moved into
calling hours; a busy or unanswered attempt is retried after `backoff * factor**(n-1)`,
also moved into calling hours, until `max_attempts` attempts were made; then the job is
given up with the last outcome as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ivr_flows.models import JobState
from ivr_flows.outcomes import Outcome, Verdict

_MAX_DAYS = 400  # a year of excluded days would be a settings mistake, not a plan


class PlanError(ValueError):
    """The calling hours leave no time to call at all."""


@dataclass(frozen=True)
class CallingHours:
    start: time
    end: time
    tz: ZoneInfo
    excluded_weekdays: frozenset[int] = frozenset()
    excluded_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise PlanError(f"calling hours end {self.end} is not after start {self.start}")
        if len(self.excluded_weekdays) >= 7:
            raise PlanError("every weekday is excluded from calling")

    def _day_open(self, day: date) -> bool:
        return day.weekday() not in self.excluded_weekdays and day not in self.excluded_dates

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        return self._day_open(local.date()) and self.start <= local.time() < self.end

    def next_open(self, at: datetime) -> datetime:
        """The earliest instant >= `at` inside calling hours (UTC)."""
        local = at.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS):
            if self._day_open(day):
                opens = datetime.combine(day, self.start, self.tz)
                closes = datetime.combine(day, self.end, self.tz)
                if local < closes:
                    return max(local, opens).astimezone(UTC)
            day += timedelta(days=1)
            local = datetime.combine(day, time(0), self.tz)
        raise PlanError(f"no calling hours within {_MAX_DAYS} days of {at.isoformat()}")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff: timedelta = timedelta(minutes=30)
    factor: float = 2.0

    def delay(self, attempts_made: int) -> timedelta:
        return self.backoff * (self.factor ** max(attempts_made - 1, 0))


@dataclass(frozen=True)
class NextStep:
    """What becomes of a job after an attempt."""

    state: JobState
    due_at: datetime | None  # when pending again
    reason: str


def first_due(event_time: datetime, delay: timedelta, hours: CallingHours) -> datetime:
    return hours.next_open(event_time + delay)


def after_attempt(
    verdict: Verdict,
    *,
    attempts_made: int,
    max_attempts: int,
    now: datetime,
    policy: RetryPolicy,
    hours: CallingHours,
) -> NextStep:
    if verdict.outcome is Outcome.answered_result:
        return NextStep(JobState.done, None, verdict.reason)
    if verdict.retryable and attempts_made < max_attempts:
        due = hours.next_open(now + policy.delay(attempts_made))
        return NextStep(JobState.pending, due, f"{verdict.outcome}: {verdict.reason}; retry")
    why = f"{verdict.outcome} after {attempts_made} attempt(s): {verdict.reason}"
    return NextStep(JobState.failed, None, why)
