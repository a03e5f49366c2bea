"""Report periods in the city's local time (Asia/Shanghai). Pure: dates in, dates out.

Theory of operation
-------------------
A report covers whole local days: `Period(first, last)` is inclusive of both dates, and
its instants are [00:00 of `first`, 00:00 of the day after `last`) in Asia/Shanghai,
turned into UTC for the store (`start_utc`, `end_utc`). China keeps no daylight saving
time since 1991, so a day is always 24 hours, but the zone is named rather than a fixed
offset so the arithmetic stays right for any date the zone database knows.

The kind follows from the dates, never from how they were picked:

* one day                     → 日报 (daily report)
* Monday to Sunday of a week  → 周分析 (weekly analysis; weeks start on Monday, ISO)
* the 1st to the last of a month → 月通报 (monthly bulletin)
* anything else               → 时段报告 (a custom period)

`previous()` is the period a report compares with (hot topics rising, 环比): the month
before for a month, otherwise the same number of days just before. `months_back(n)` are
the `n` calendar months that ended by the period's end (the month of `last` counts only
if `last` is its last day): the months the red-zone rule (红区) reads.

Presets (`preset(name, today)`): today, yesterday, this_week, last_week, this_month,
last_month. `parse_period(from, to)` reads ISO dates from a query; errors are
`PeriodError` (a `ValueError`) with a message for people.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 366


class PeriodError(ValueError):
    """A period that cannot be reported on (the message says why, in Chinese)."""


class PeriodKind(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    custom = "custom"

    @property
    def label(self) -> str:
        return {"day": "日报", "week": "周分析", "month": "月通报", "custom": "时段报告"}[
            self.value
        ]


def month_first(day: date) -> date:
    return day.replace(day=1)


def month_last(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` away from `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_day(moment: datetime) -> date:
    """The Asia/Shanghai date of an aware instant."""
    if moment.tzinfo is None:
        raise PeriodError("时间缺少时区")
    return moment.astimezone(SHANGHAI).date()


def day_start(day: date) -> datetime:
    """00:00 of `day` in Asia/Shanghai, as UTC."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError("结束日期不能早于开始日期")
        if self.days > MAX_DAYS:
            raise PeriodError(f"报表时段最长 {MAX_DAYS} 天")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start_utc(self) -> datetime:
        return day_start(self.first)

    @property
    def end_utc(self) -> datetime:
        return day_start(self.last + timedelta(days=1))

    @property
    def kind(self) -> PeriodKind:
        if self.days == 1:
            return PeriodKind.day
        if self.days == 7 and self.first.weekday() == 0:
            return PeriodKind.week
        if self.first == month_first(self.first) and self.last == month_last(self.first):
            return PeriodKind.month
        return PeriodKind.custom

    @property
    def title(self) -> str:
        """How people name it: 2026年11月通报, 2026年11月16日至22日周分析, ..."""
        f = self.first
        kind = self.kind
        if kind is PeriodKind.month:
            return f"{f.year}年{f.month}月通报"
        if kind is PeriodKind.day:
            return f"{f.year}年{f.month}月{f.day}日日报"
        return f"{_span(f, self.last)}{kind.label}"

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def contains(self, moment: datetime) -> bool:
        return self.start_utc <= moment < self.end_utc

    def previous(self) -> Period:
        if self.kind is PeriodKind.month:
            before = add_months(self.first, -1)
            return Period(before, month_last(before))
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def months_back(self, count: int) -> list[Period]:
        """The `count` months that ended by `last`, oldest first."""
        newest = month_first(self.last)
        if self.last != month_last(self.last):
            newest = add_months(newest, -1)
        months = [add_months(newest, -i) for i in range(count - 1, -1, -1)]
        return [Period(m, month_last(m)) for m in months]

    def query(self) -> str:
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def _span(first: date, last: date) -> str:
    start = f"{first.year}年{first.month}月{first.day}日"
    if first.year != last.year:
        return f"{start}至{last.year}年{last.month}月{last.day}日"
    if first.month != last.month:
        return f"{start}至{last.month}月{last.day}日"
    return f"{start}至{last.day}日"


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6))


def month_of(day: date) -> Period:
    return Period(month_first(day), month_last(day))


PRESETS: dict[str, tuple[str, Callable[[date], Period]]] = {
    "today": ("今天", lambda d: Period(d, d)),
    "yesterday": ("昨天", lambda d: Period(d - timedelta(days=1), d - timedelta(days=1))),
    "this_week": ("本周", week_of),
    "last_week": ("上周", lambda d: week_of(d - timedelta(days=7))),
    "this_month": ("本月", month_of),
    "last_month": ("上月", lambda d: month_of(add_months(d, -1))),
}


def preset(name: str, today: date) -> Period:
    try:
        _, make = PRESETS[name]
    except KeyError as err:
        raise PeriodError(f"未知的报表时段 {name!r}") from err
    return make(today)


def parse_period(first: str, last: str) -> Period:
    try:
        return Period(date.fromisoformat(first), date.fromisoformat(last))
    except PeriodError:
        raise
    except ValueError as err:
        raise PeriodError("日期格式应为 YYYY-MM-DD") from err
