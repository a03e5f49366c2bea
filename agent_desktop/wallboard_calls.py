"""Today's calls for the wallboard, counted as they happen. Pure: values in, rows out.

A busy centre takes tens of thousands of calls a day and the figures are drawn up to
four times a second, so nothing here walks the day's calls: each call adds to running
counts (per line, per skill, per hour of entry, in total) when it is offered, answered
or given up, and only the calls not yet ended are kept (`live`: the waiting ones give
the longest wait).
`seen` remembers today's call ids so a call delivered twice (or seeded from the store
and then heard on the bus) counts once.

A call that ends unanswered before it was ever routed hung up in the hold context: it
was never offered to a queue and its offer is taken back (as telephony.call_figures
does). Answer rate = answered / settled; within target = answered within
`target_seconds` / settled (settled: answered or ended).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from workorders.sla import CHINA

TOTAL = ("total", "total")
UNKNOWN = "unknown"  # a line or skill the catalogue does not know


class QueueRow(BaseModel):
    key: str
    title: str
    waiting: int = 0
    longest_wait_since: datetime | None = None  # the oldest waiting call entered then
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answer_rate: float | None = None
    within_target: float | None = None


class HourBar(BaseModel):
    hour: int  # 0-23, Beijing time
    offered: int = 0
    answered: int = 0
    abandoned: int = 0


@dataclass(slots=True)
class LiveCall:
    line: str
    skill: str
    entered_at: datetime
    routed: bool = False
    answered_at: datetime | None = None


@dataclass(slots=True)
class Tally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    within: int = 0

    @property
    def settled(self) -> int:
        return self.answered + self.abandoned


@dataclass
class CallTally:
    target_seconds: int
    live: dict[str, LiveCall] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)

    def _keys(self, call: LiveCall) -> tuple[tuple[str, str], ...]:
        hour = f"{call.entered_at.astimezone(CHINA).hour:02d}"
        return (TOTAL, ("line", call.line), ("skill", call.skill), ("hour", hour))

    def _count(self, call: LiveCall, **steps: int) -> None:
        for key in self._keys(call):
            tally = self.tallies.setdefault(key, Tally())
            for name, n in steps.items():
                setattr(tally, name, getattr(tally, name) + n)

    # -- what happens to a call ----------------------------------------------------------
    def offered(self, linkedid: str, call: LiveCall) -> bool:
        if linkedid in self.seen:
            return False
        self.seen.add(linkedid)
        self.live[linkedid] = call
        self._count(call, offered=1)
        return True

    def routed(self, linkedid: str) -> bool:
        call = self.live.get(linkedid)
        if call is None or call.routed:
            return False
        call.routed = True
        return True

    def answered(self, linkedid: str, at: datetime) -> bool:
        call = self.live.get(linkedid)
        if call is None or call.answered_at is not None:
            return False
        call.answered_at = at
        call.routed = True
        wait = (at - call.entered_at).total_seconds()
        self._count(call, answered=1, within=int(wait <= self.target_seconds))
        return True

    def ended(self, linkedid: str) -> bool:
        call = self.live.pop(linkedid, None)
        if call is None:
            return False
        if call.answered_at is None:
            if call.routed:
                self._count(call, abandoned=1)
            else:
                self._count(call, offered=-1)  # hung up in the hold context
        return True

    def new_day(self) -> None:
        """Midnight: today's counts restart with the calls still waiting."""
        waiting = {k: c for k, c in self.live.items() if c.answered_at is None}
        self.live, self.seen, self.tallies = waiting, set(waiting), {}
        for call in waiting.values():
            self._count(call, offered=1)

    # -- figures ---------------------------------------------------------------------------
    def row(self, kind: str, key: str, title: str) -> QueueRow:
        t = self.tallies.get((kind, key), Tally())
        waits = [c.entered_at for c in self.live.values()
                 if c.answered_at is None and (kind == "total" or getattr(c, kind) == key)]

        def share(n: int) -> float | None:
            return round(n / t.settled, 4) if t.settled else None

        return QueueRow(key=key, title=title, waiting=len(waits),
                        longest_wait_since=min(waits) if waits else None, offered=t.offered,
                        answered=t.answered, abandoned=t.abandoned,
                        answer_rate=share(t.answered), within_target=share(t.within))  # fmt: skip

    def hours(self, until: int) -> list[HourBar]:
        """Calls offered, answered and abandoned in each hour of today, 0 to `until`."""
        bars = []
        for hour in range(until + 1):
            t = self.tallies.get(("hour", f"{hour:02d}"), Tally())
            bars.append(HourBar(hour=hour, offered=t.offered, answered=t.answered,
                                abandoned=t.abandoned))  # fmt: skip
        return bars

    def rows(self, kind: str, titles: Mapping[str, str]) -> list[QueueRow]:
        """Rows with calls today, those with callers waiting first; quiet ones left out."""
        keys: Iterable[str] = (k for (c, k) in self.tallies if c == kind)
        rows = [self.row(kind, k, titles.get(k) or ("未识别" if k == UNKNOWN else k))
                for k in keys]  # fmt: skip
        rows = [r for r in rows if r.offered or r.waiting]
        return sorted(rows, key=lambda r: (-r.waiting, -r.offered, r.key))
