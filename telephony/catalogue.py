"""The merged-hotline catalogue: dialled numbers -> service lines -> skill queues. Pure.

Theory of operation
-------------------
A city describes its centre in one TOML file (config/hotlines.toml): `[[skill]]` tables
(a skill is answered by one Asterisk queue, which overflows to a wider one after a
wait), `[[line]]` tables (the numbers dialled, DNIS, for one service line: name, skill,
priority, enterprise flag) and `[[partner]]` tables (emergency partners 110/119/120/122:
transfer targets, never lines). `parse_catalogue(text, source)` checks everything at
once and returns a frozen `Catalogue`; `load_catalogue(path)` reads the file. The server
and the lab PBX both load it at start: the PBX renders one queue per skill.

A bad catalogue is refused whole with `CatalogueError`, whose message names the file,
the entry (``[[line]] #3 "12343 市长热线"``) and, where it can, the file line of that
entry, so whoever edited it sees what to fix. Unknown keys are errors (a typo must not
silently drop a setting).

Exceptions::

    CatalogueError     the file cannot be read, is not TOML, or breaks a rule
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "hotlines.toml"

_DNIS = re.compile(r"^[0-9]{3,20}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_QUEUE = re.compile(r"^[a-z][a-z0-9-]{0,47}$")
MAX_PRIORITY = 10


class CatalogueError(ValueError):
    """The catalogue is unusable; the message says where and why."""


@dataclass(frozen=True)
class Skill:
    name: str
    queue: str
    title: str
    overflow_seconds: int
    overflow_to: str


@dataclass(frozen=True)
class Line:
    dnis: tuple[str, ...]
    name: str
    skill: str
    priority: int
    enterprise: bool = False

    @property
    def id(self) -> str:
        """The line's own number (its first DNIS): what call records store."""
        return self.dnis[0]


@dataclass(frozen=True)
class Partner:
    number: str
    name: str


@dataclass(frozen=True)
class Catalogue:
    default_queue: str
    skills: Mapping[str, Skill]
    lines: tuple[Line, ...]
    partners: tuple[Partner, ...]

    def line_for(self, dnis: str) -> Line | None:
        for line in self.lines:
            if dnis in line.dnis:
                return line
        return None

    def line_by_id(self, line_id: str) -> Line | None:
        return next((line for line in self.lines if line.id == line_id), None)

    def skill_of(self, line: Line) -> Skill:
        return self.skills[line.skill]

    def queues(self) -> tuple[str, ...]:
        """Every queue the PBX needs: the default (wider) group first, then each skill's."""
        names = [self.default_queue]
        for skill in self.skills.values():
            for q in (skill.queue, skill.overflow_to):
                if q not in names:
                    names.append(q)
        return tuple(names)


def load_catalogue(path: Path = SHIPPED) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CatalogueError(f"{path}: cannot read the hotline catalogue: {err}") from err
    return parse_catalogue(text, str(path))


def parse_catalogue(text: str, source: str = "hotlines.toml") -> Catalogue:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"{source}: not valid TOML: {err}") from err
    return _Checker(text, source).catalogue(data)


class _Checker:
    def __init__(self, text: str, source: str) -> None:
        self._source = source
        self._headers: dict[str, list[int]] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            m = re.match(r"^\s*\[\[\s*([a-z]+)\s*\]\]", raw)
            if m:
                self._headers.setdefault(m.group(1), []).append(number)

    def fail(self, where: str, message: str, kind: str | None = None, index: int = 0) -> NoReturn:
        lines = self._headers.get(kind or "", [])
        at = f" (file line {lines[index]})" if kind and index < len(lines) else ""
        raise CatalogueError(f"{self._source}: {where}{at}: {message}")

    def catalogue(self, data: dict[str, Any]) -> Catalogue:
        self._only(data, {"defaults", "skill", "line", "partner"}, "top level")
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            self.fail("[defaults]", "must be a table")
        self._only(defaults, {"default_queue", "overflow_seconds"}, "[defaults]")
        default_queue = self._queue(
            defaults.get("default_queue", "hotline-default"), "[defaults] default_queue"
        )
        overflow = self._seconds(defaults.get("overflow_seconds", 60), "[defaults]")
        skills = self._skills(self._tables(data, "skill"), default_queue, overflow)
        lines = self._lines(self._tables(data, "line"), skills)
        partners = self._partners(self._tables(data, "partner"), lines)
        return Catalogue(default_queue, skills, lines, partners)

    def _tables(self, data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        value = data.get(kind, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.fail(f"{kind}", f"write each {kind} as a [[{kind}]] table")
        return list(value)

    def _only(
        self,
        table: dict[str, Any],
        allowed: set[str],
        where: str,
        kind: str | None = None,
        index: int = 0,
    ) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            self.fail(where, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}", kind, index)

    def _queue(self, value: object, where: str, kind: str | None = None, index: int = 0) -> str:
        if not isinstance(value, str) or not _QUEUE.match(value):
            self.fail(
                where,
                f"queue name {value!r} must be lower-case letters, digits and "
                "dashes, starting with a letter",
                kind,
                index,
            )
        assert isinstance(value, str)
        return value

    def _seconds(self, value: object, where: str, kind: str | None = None, index: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3600:
            self.fail(
                where, f"overflow_seconds {value!r} must be a whole number 1-3600", kind, index
            )
        assert isinstance(value, int)
        return value

    def _skills(
        self, tables: list[dict[str, Any]], default_queue: str, overflow: int
    ) -> dict[str, Skill]:
        skills: dict[str, Skill] = {}
        for i, t in enumerate(tables):
            where = f"[[skill]] #{i + 1} {t.get('name', '?')!r}"
            self._only(
                t, {"name", "queue", "title", "overflow_seconds", "overflow_to"}, where, "skill", i
            )
            name = t.get("name")
            if not isinstance(name, str) or not _NAME.match(name):
                self.fail(where, "name must be lower-case letters, digits, _", "skill", i)
            assert isinstance(name, str)
            if name in skills:
                self.fail(where, f"skill {name!r} is defined twice", "skill", i)
            queue = self._queue(t.get("queue"), where, "skill", i)
            if queue == default_queue or any(s.queue == queue for s in skills.values()):
                self.fail(where, f"queue {queue!r} is used twice", "skill", i)
            skills[name] = Skill(
                name=name,
                queue=queue,
                title=str(t.get("title", name)),
                overflow_seconds=self._seconds(
                    t.get("overflow_seconds", overflow), where, "skill", i
                ),
                overflow_to=self._queue(t.get("overflow_to", default_queue), where, "skill", i),
            )
        for i, s in enumerate(skills.values()):
            targets = {default_queue} | {o.queue for o in skills.values() if o is not s}
            if s.overflow_to not in targets:
                self.fail(
                    f"[[skill]] #{i + 1} {s.name!r}",
                    f"overflow_to {s.overflow_to!r} is not another skill's queue or "
                    f"the default queue",
                    "skill",
                    i,
                )
        return skills

    def _lines(self, tables: list[dict[str, Any]], skills: dict[str, Skill]) -> tuple[Line, ...]:
        if not tables:
            self.fail("[[line]]", "the catalogue has no lines")
        seen: dict[str, str] = {}
        lines: list[Line] = []
        for i, t in enumerate(tables):
            where = f"[[line]] #{i + 1} {t.get('name', t.get('dnis', '?'))!r}"
            self._only(t, {"dnis", "name", "skill", "priority", "enterprise"}, where, "line", i)
            dnis = t.get("dnis")
            if isinstance(dnis, str):
                dnis = [dnis]
            if not isinstance(dnis, list) or not dnis:
                self.fail(where, "dnis must be a list of dialled numbers", "line", i)
            assert isinstance(dnis, list)
            for number in dnis:
                if not isinstance(number, str) or not _DNIS.match(number):
                    self.fail(where, f"dnis {number!r} must be 3-20 digits, quoted", "line", i)
                if number in seen:
                    self.fail(where, f"dnis {number} is already line {seen[number]!r}", "line", i)
                seen[number] = str(t.get("name"))
            name = t.get("name")
            if not isinstance(name, str) or not name.strip():
                self.fail(where, "name is missing", "line", i)
            skill = t.get("skill")
            if skill not in skills:
                self.fail(where, f"unknown skill {skill!r}; known: {sorted(skills)}", "line", i)
            priority = t.get("priority", 1)
            if (
                isinstance(priority, bool)
                or not isinstance(priority, int)
                or not (0 <= priority <= MAX_PRIORITY)
            ):
                self.fail(where, f"priority {priority!r} must be 0-{MAX_PRIORITY}", "line", i)
            enterprise = t.get("enterprise", False)
            if not isinstance(enterprise, bool):
                self.fail(where, "enterprise must be true or false", "line", i)
            lines.append(Line(tuple(dnis), str(name), str(skill), int(priority), enterprise))
        return tuple(lines)

    def _partners(
        self, tables: list[dict[str, Any]], lines: tuple[Line, ...]
    ) -> tuple[Partner, ...]:
        numbers = {d for line in lines for d in line.dnis}
        partners: list[Partner] = []
        for i, t in enumerate(tables):
            where = f"[[partner]] #{i + 1} {t.get('number', '?')!r}"
            self._only(t, {"number", "name"}, where, "partner", i)
            number = t.get("number")
            if not isinstance(number, str) or not _DNIS.match(number):
                self.fail(where, f"number {number!r} must be 3-20 digits, quoted", "partner", i)
            assert isinstance(number, str)
            if number in numbers:
                self.fail(
                    where,
                    f"{number} is a line too: a partner is a transfer target, not a line",
                    "partner",
                    i,
                )
            partners.append(Partner(number, str(t.get("name", number))))
        return tuple(partners)
