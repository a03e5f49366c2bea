"""Time limits: presets from the seeds, working days over weekends, holidays and 调休."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from workorders.models import Light
from workorders.sla import (
    CHINA,
    BadPreset,
    LimitUnit,
    SlaPolicy,
    TimeLimitClass,
    UnknownClass,
    WorkCalendar,
    YellowRule,
    light,
    load_presets,
    parse_presets,
)


@pytest.fixture(scope="module")
def presets() -> dict[str, SlaPolicy]:
    return load_presets()


def bj(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


def test_presets_from_the_seeds(presets: dict[str, SlaPolicy]) -> None:
    def shape(name: str) -> list[tuple[float, str]]:
        return [(c.amount, c.unit) for c in presets[name].classes.values()]

    assert shape("zhangye") == [(1, "hours"), (3, "hours"), (24, "hours"), (3, "days"), (7, "days")]
    assert shape("xining") == [(1, "days"), (3, "days"), (7, "days"), (11, "days")]
    assert shape("bozhou") == [(1, "working_days"), (3, "working_days"), (7, "working_days")]


def test_hours_and_calendar_days_ignore_weekends(presets: dict[str, SlaPolicy]) -> None:
    friday = bj(2026, 11, 20, 15, 0)
    assert presets["zhangye"].deadline("h3", friday) == bj(2026, 11, 20, 18, 0)
    assert presets["xining"].deadline("d3", friday) == bj(2026, 11, 23, 15, 0)


@pytest.mark.parametrize(
    ("key", "start", "deadline"),
    [
        # over a weekend: Friday 15:00 + 1 working day = Monday 15:00
        ("wd1", bj(2026, 11, 20, 15, 0), bj(2026, 11, 23, 15, 0)),
        # started on a Saturday: counting starts Monday 00:00
        ("wd1", bj(2026, 11, 21, 10, 0), bj(2026, 11, 24, 0, 0)),
        # National Day: Oct 1-7 off, Saturday Oct 10 is a make-up working day (调休)
        ("wd3", bj(2026, 9, 30, 10, 0), bj(2026, 10, 10, 10, 0)),
        # Spring Festival: Feb 15-23 off, Saturday Feb 14 worked
        ("wd1", bj(2026, 2, 13, 9, 0), bj(2026, 2, 14, 9, 0)),
        ("wd3", bj(2026, 2, 13, 9, 0), bj(2026, 2, 25, 9, 0)),
        ("wd7", bj(2026, 11, 23, 9, 0), bj(2026, 12, 2, 9, 0)),
    ],
)
def test_bozhou_137_working_days(
    presets: dict[str, SlaPolicy], key: str, start: datetime, deadline: datetime
) -> None:
    assert presets["bozhou"].deadline(key, start) == deadline


def test_each_preset_across_a_holiday(presets: dict[str, SlaPolicy]) -> None:
    eve = bj(2026, 9, 30, 10, 0)
    # calendar-day and hour classes run through the holiday
    assert presets["zhangye"].deadline("d7", eve) == bj(2026, 10, 7, 10, 0)
    assert presets["xining"].deadline("d1", eve) == bj(2026, 10, 1, 10, 0)
    assert presets["bozhou"].deadline("wd1", eve) == bj(2026, 10, 8, 10, 0)


def test_working_days_are_counted_in_china_time_for_a_utc_start() -> None:
    cal = WorkCalendar()
    # Friday 20:00 UTC is Saturday 04:00 in Beijing: counting starts Monday 00:00
    start = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    got = cal.add_working_days(start, 1)
    assert got == bj(2026, 11, 24, 0, 0) and got.tzinfo is UTC


def test_calendar_rules() -> None:
    cal = WorkCalendar(
        holidays=frozenset({date(2026, 10, 1)}), workdays=frozenset({date(2026, 10, 10)})
    )
    assert not cal.is_working_day(date(2026, 10, 1))  # a Thursday holiday
    assert cal.is_working_day(date(2026, 10, 10))  # a Saturday make-up day
    assert not cal.is_working_day(date(2026, 10, 11))  # Sunday
    with pytest.raises(Exception, match="timezone-aware"):
        cal.add_working_days(datetime(2026, 10, 1), 1)


def test_yellow_threshold_and_lights() -> None:
    start, deadline = bj(2026, 11, 23, 0, 0), bj(2026, 11, 24, 0, 0)
    assert YellowRule(0.8).yellow_at(start, deadline) == bj(2026, 11, 23, 19, 12)
    assert YellowRule(None, 2).yellow_at(start, deadline) == bj(2026, 11, 23, 22, 0)
    assert YellowRule(0.8, 6).yellow_at(start, deadline) == bj(2026, 11, 23, 18, 0)
    yellow_at = bj(2026, 11, 23, 19, 12)
    assert light(bj(2026, 11, 23, 19, 11), yellow_at, deadline) is Light.green
    assert light(yellow_at, yellow_at, deadline) is Light.yellow
    assert light(deadline, yellow_at, deadline) is Light.red
    assert light(deadline + timedelta(days=9), None, None) is Light.green


def test_unknown_class_and_bad_presets() -> None:
    policy = SlaPolicy(
        name="t", default_class="a", classes={"a": TimeLimitClass("a", "A", 1, LimitUnit.hours)}
    )
    with pytest.raises(UnknownClass, match="'zz' is not in preset 't'"):
        policy.deadline("zz", bj(2026, 1, 5, 9, 0))
    with pytest.raises(BadPreset, match="no \\[preset"):
        parse_presets({})
    with pytest.raises(BadPreset, match="default class"):
        parse_presets(
            {
                "preset": {
                    "x": {
                        "default": "nope",
                        "classes": [{"key": "a", "amount": 1, "unit": "hours"}],
                    }
                }
            }
        )
    with pytest.raises(BadPreset, match="fortnights"):
        parse_presets(
            {"preset": {"x": {"classes": [{"key": "a", "amount": 1, "unit": "fortnights"}]}}}
        )


def test_the_calendar_names_years_it_has_no_holidays_for() -> None:
    calendar = WorkCalendar(holidays=frozenset({date(2026, 10, 1)}))
    assert calendar.missing_years(date(2026, 6, 1)) == []
    assert calendar.missing_years(date(2026, 11, 22)) == [2027]
    assert WorkCalendar().missing_years(date(2026, 12, 31), horizon_days=0) == [2026]


def test_the_shipped_calendar_matches_the_2026_notice() -> None:
    calendar = load_presets()["bozhou"].calendar
    assert calendar.missing_years(date(2026, 3, 1)) == []
    # 春节 2月15日至23日放假调休, 2月14日、28日上班; 国庆 10月1日至7日, 9月20日、10月10日上班.
    assert not calendar.is_working_day(date(2026, 2, 23))
    assert calendar.is_working_day(date(2026, 2, 28))
    assert calendar.is_working_day(date(2026, 10, 10))
    assert not calendar.is_working_day(date(2026, 10, 7))
