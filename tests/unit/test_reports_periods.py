"""Report periods: days, Monday-Sunday weeks, months, Asia/Shanghai instants, presets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reports.periods import (
    Period,
    PeriodError,
    PeriodKind,
    local_day,
    parse_period,
    preset,
    week_of,
)

SUNDAY = date(2026, 11, 22)


def test_a_day_starts_at_shanghai_midnight_which_is_16_utc_the_day_before() -> None:
    p = Period(SUNDAY, SUNDAY)
    assert p.kind is PeriodKind.day
    assert p.start_utc == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert p.end_utc == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert p.title == "2026年11月22日日报"
    assert p.contains(datetime(2026, 11, 21, 16, 0, tzinfo=UTC))
    assert not p.contains(datetime(2026, 11, 22, 16, 0, tzinfo=UTC))


def test_local_day_of_an_instant_late_in_the_utc_evening_is_the_next_day() -> None:
    assert local_day(datetime(2026, 11, 21, 16, 30, tzinfo=UTC)) == SUNDAY
    assert local_day(datetime(2026, 11, 21, 15, 59, tzinfo=UTC)) == date(2026, 11, 21)
    with pytest.raises(PeriodError):
        local_day(datetime(2026, 11, 21, 15, 59))


def test_weeks_run_monday_to_sunday() -> None:
    week = week_of(SUNDAY)
    assert (week.first, week.last) == (date(2026, 11, 16), SUNDAY)
    assert week.kind is PeriodKind.week
    assert week.title == "2026年11月16日至22日周分析"
    assert week_of(date(2026, 11, 16)) == week  # Monday is in its own week
    assert week.previous() == Period(date(2026, 11, 9), date(2026, 11, 15))
    # Seven days not starting on a Monday are a custom period.
    assert Period(date(2026, 11, 17), date(2026, 11, 23)).kind is PeriodKind.custom


def test_presets() -> None:
    assert preset("today", SUNDAY) == Period(SUNDAY, SUNDAY)
    assert preset("yesterday", SUNDAY) == Period(date(2026, 11, 21), date(2026, 11, 21))
    assert preset("this_week", SUNDAY) == Period(date(2026, 11, 16), SUNDAY)
    assert preset("last_week", SUNDAY) == Period(date(2026, 11, 9), date(2026, 11, 15))
    assert preset("this_month", SUNDAY) == Period(date(2026, 11, 1), date(2026, 11, 30))
    assert preset("last_month", SUNDAY) == Period(date(2026, 10, 1), date(2026, 10, 31))
    # Across a year boundary, and February of a leap year.
    assert preset("last_month", date(2027, 1, 5)) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert preset("this_month", date(2028, 2, 10)).last == date(2028, 2, 29)
    with pytest.raises(PeriodError, match="未知"):
        preset("fortnight", SUNDAY)


def test_months_compare_with_the_month_before_whatever_its_length() -> None:
    march = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert march.kind is PeriodKind.month
    assert march.title == "2026年3月通报"
    assert march.previous() == Period(date(2026, 2, 1), date(2026, 2, 28))
    jan = Period(date(2026, 1, 1), date(2026, 1, 31))
    assert jan.previous() == Period(date(2025, 12, 1), date(2025, 12, 31))


def test_custom_periods_compare_with_as_many_days_before() -> None:
    p = Period(date(2026, 11, 10), date(2026, 11, 19))
    assert p.kind is PeriodKind.custom
    assert p.days == 10
    assert p.previous() == Period(date(2026, 10, 31), date(2026, 11, 9))
    new_year = Period(date(2025, 12, 30), date(2026, 1, 2))
    assert new_year.title == "2025年12月30日至2026年1月2日时段报告"


def test_red_zone_months_are_the_months_ended_by_the_period() -> None:
    october = Period(date(2026, 10, 1), date(2026, 10, 31))
    assert [m.first for m in october.months_back(3)] == [
        date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1),
    ]  # fmt: skip
    # A week in the middle of November: November has not ended, so Aug-Oct.
    assert [m.first.month for m in week_of(SUNDAY).months_back(3)] == [8, 9, 10]
    # Across the new year.
    feb = Period(date(2027, 2, 1), date(2027, 2, 28))
    assert [(m.first.year, m.first.month) for m in feb.months_back(3)] == [
        (2026, 12), (2027, 1), (2027, 2),
    ]  # fmt: skip
    assert feb.months_back(3)[0].last == date(2026, 12, 31)


def test_bad_periods_are_refused_with_a_reason() -> None:
    with pytest.raises(PeriodError, match="早于"):
        Period(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(PeriodError, match="366"):
        Period(date(2025, 1, 1), date(2026, 11, 1))
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        parse_period("2026-13-01", "2026-11-30")
    assert parse_period("2026-11-01", "2026-11-30") == preset("this_month", SUNDAY)
    assert Period(date(2026, 11, 1), date(2026, 11, 30)).query() == "from=2026-11-01&to=2026-11-30"
