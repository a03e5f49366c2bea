"""Time limits (办理时限): classes, a working-day calendar, deadlines and lights. Pure.

Theory of operation
-------------------
A city chooses a preset (config/sla_presets.toml) that lists its time-limit classes,
each an amount of `hours`, calendar `days` or `working_days`; the presets come from the
seeds: Zhangye 张掖 (即办, 3 h, 24 h, 3 days, 7 days), Xining 西宁 (1, 3, 7, 11 days) and
Bozhou 亳州 "137" (1, 3, 7 working days). `SlaPolicy.deadline(class, start)` computes a
deadline; the service stores it with `yellow_at` so the clock only compares stored
instants (it never needs the calendar again, and 100,000 open orders cost one indexed
query per tick).

Working days are counted in the city's local time (China has no DST: a fixed UTC+8
offset is exact). A day is a working day if it is Monday-Friday and not a holiday, or if
it is a make-up working day (调休, e.g. a Saturday before the Spring Festival). N working
days after a moment is the same local time of day on the Nth working day after it; a
start on a non-working day counts from 00:00 of the next working day. Holidays are data
(`[calendar]` in the presets file): update them each year from the State Council notice.

`yellow_at` is the earlier of `fraction` of the limit and `hours_before` the deadline
(either may be left out); `light(now)` is green before it, yellow until the deadline,
red at and after it.

Exceptions::

    SlaError                   bad time-limit data or a class the city does not have
     ├── UnknownClass           no such time-limit class in the city's preset
     └── BadPreset              the presets file is malformed (says which entry)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any

from workorders.models import Light

DEFAULT_PRESETS = Path(__file__).resolve().parent.parent / "config" / "sla_presets.toml"
CHINA = timezone(timedelta(hours=8), "CST")


class SlaError(Exception):
    pass


class UnknownClass(SlaError):
    pass


class BadPreset(SlaError):
    pass


class LimitUnit(StrEnum):
    hours = "hours"
    days = "days"
    working_days = "working_days"


@dataclass(frozen=True, slots=True)
class TimeLimitClass:
    key: str
    label: str
    amount: float
    unit: LimitUnit


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # 调休: weekend days that are working days

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int, tz: tzinfo = CHINA) -> datetime:
        if start.tzinfo is None:
            raise SlaError("start must be timezone-aware")
        if days < 0:
            raise SlaError("a number of working days cannot be negative")
        local = start.astimezone(tz)
        day = local.date()
        at = local.timetz()
        if not self.is_working_day(day):
            at = time(0, tzinfo=tz)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, at).astimezone(start.tzinfo)

    def missing_years(self, today: date, horizon_days: int = 60) -> list[int]:
        """Years between today and the horizon with no holiday data at all.

        Deadlines counted into such a year skip weekends only, so the notice for that
        year (usually published in November) must be added to the presets file.
        """
        known = {d.year for d in self.holidays | self.workdays}
        last = today + timedelta(days=horizon_days)
        return [year for year in range(today.year, last.year + 1) if year not in known]


@dataclass(frozen=True, slots=True)
class YellowRule:
    fraction: float | None = 0.8
    hours_before: float | None = None

    def yellow_at(self, start: datetime, deadline: datetime) -> datetime:
        span = deadline - start
        candidates = [deadline]
        if self.fraction is not None:
            candidates.append(start + span * self.fraction)
        if self.hours_before is not None:
            candidates.append(max(start, deadline - timedelta(hours=self.hours_before)))
        return min(candidates)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    name: str
    classes: Mapping[str, TimeLimitClass]
    default_class: str
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    yellow: YellowRule = field(default_factory=YellowRule)
    tz: tzinfo = CHINA

    def limit(self, key: str) -> TimeLimitClass:
        try:
            return self.classes[key]
        except KeyError as err:
            raise UnknownClass(
                f"time-limit class {key!r} is not in preset {self.name!r} "
                f"(it has: {', '.join(self.classes)})"
            ) from err

    def deadline(self, key: str, start: datetime) -> datetime:
        limit = self.limit(key)
        if limit.unit is LimitUnit.hours:
            return start + timedelta(hours=limit.amount)
        if limit.unit is LimitUnit.days:
            return start + timedelta(days=limit.amount)
        return self.calendar.add_working_days(start, int(limit.amount), self.tz)

    def yellow_at(self, start: datetime, deadline: datetime) -> datetime:
        return self.yellow.yellow_at(start, deadline)


def light(now: datetime, yellow_at: datetime | None, deadline: datetime | None) -> Light:
    if deadline is None:
        return Light.green
    if now >= deadline:
        return Light.red
    if yellow_at is not None and now >= yellow_at:
        return Light.yellow
    return Light.green


# --------------------------------------------------------------------------- presets


def load_presets(path: Path = DEFAULT_PRESETS) -> dict[str, SlaPolicy]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BadPreset(f"SLA presets {path}: {err}") from err
    return parse_presets(data, where=str(path))


def parse_presets(data: Mapping[str, Any], *, where: str = "presets") -> dict[str, SlaPolicy]:
    try:
        calendar = _calendar(data.get("calendar", {}))
        policies = {}
        for name, body in data.get("preset", {}).items():
            policies[name] = _policy(name, body, calendar)
    except (KeyError, TypeError, ValueError) as err:
        raise BadPreset(f"{where}: {err!r}") from err
    if not policies:
        raise BadPreset(f"{where}: no [preset.NAME] tables")
    return policies


def _calendar(body: Mapping[str, Any]) -> WorkCalendar:
    return WorkCalendar(
        holidays=frozenset(date.fromisoformat(str(d)) for d in body.get("holidays", [])),
        workdays=frozenset(date.fromisoformat(str(d)) for d in body.get("workdays", [])),
    )


def _policy(name: str, body: Mapping[str, Any], calendar: WorkCalendar) -> SlaPolicy:
    classes = {}
    for entry in body["classes"]:
        cls = TimeLimitClass(
            key=str(entry["key"]),
            label=str(entry.get("label", entry["key"])),
            amount=float(entry["amount"]),
            unit=LimitUnit(entry["unit"]),
        )
        if cls.amount < 0:
            raise ValueError(f"preset {name}: class {cls.key} has a negative amount")
        classes[cls.key] = cls
    default = str(body.get("default", next(iter(classes))))
    if default not in classes:
        raise ValueError(f"preset {name}: default class {default!r} is not one of its classes")
    yellow = body.get("yellow", {})
    rule = YellowRule(
        fraction=yellow.get("fraction", 0.8),
        hours_before=yellow.get("hours_before"),
    )
    return SlaPolicy(
        name=name, classes=classes, default_class=default, calendar=calendar, yellow=rule
    )
