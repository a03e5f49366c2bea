"""Live figures per line and per queue, from call records. Pure.

For each line (and each queue) over a window: offered (calls that entered), answered,
abandoned (gave up while queued or while an operator rang), answer rate (answered /
offered, of calls that have ended or been answered), the share answered within the
service-level target (15 s by the national standard: answered within target / offered
that ended or were answered), average and longest wait (entering -> answer, or -> end
for the unanswered; calls still waiting count up to `now`), and how many wait now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from telephony.call_models import CallRecordPublic
from telephony.calls import Outcome


class Figures(BaseModel):
    key: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    waiting: int = 0
    answer_rate: float | None = None
    answered_within_target: float | None = None
    average_wait_seconds: float | None = None
    longest_wait_seconds: float | None = None


class LiveFigures(BaseModel):
    since: datetime
    now: datetime
    target_seconds: int
    total: Figures
    lines: list[Figures]
    queues: list[Figures]


class _Acc:
    def __init__(self, key: str) -> None:
        self.key = key
        self.offered = self.answered = self.abandoned = self.waiting = self.settled = 0
        self.within = 0
        self.waits: list[float] = []

    def add(self, r: CallRecordPublic, now: datetime, target: int) -> None:
        self.offered += 1
        end = r.answered_at or r.ended_at or now
        wait = max(0.0, (end - r.entered_at).total_seconds())
        self.waits.append(wait)
        if r.answered_at is not None:
            self.answered += 1
            self.within += wait <= target
        elif r.outcome == Outcome.abandoned:
            self.abandoned += 1
        if r.answered_at is not None or r.ended_at is not None:
            self.settled += 1
        elif r.outcome == Outcome.in_progress:
            self.waiting += 1

    def figures(self) -> Figures:
        def share(n: int) -> float | None:
            return round(n / self.settled, 4) if self.settled else None

        return Figures(
            key=self.key,
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            waiting=self.waiting,
            answer_rate=share(self.answered),
            answered_within_target=share(self.within),
            average_wait_seconds=round(sum(self.waits) / len(self.waits), 2)
            if self.waits
            else None,
            longest_wait_seconds=round(max(self.waits), 2) if self.waits else None,
        )


def live_figures(
    records: Iterable[CallRecordPublic], *, since: datetime, now: datetime, target_seconds: int
) -> LiveFigures:
    total = _Acc("total")
    lines: dict[str, _Acc] = {}
    queues: dict[str, _Acc] = {}
    for r in records:
        if r.entered_at < since or r.outcome == Outcome.hung_up_in_hold:
            continue  # a few seconds in the hold context: never offered to a queue
        total.add(r, now, target_seconds)
        line = r.line or "unknown"
        lines.setdefault(line, _Acc(line)).add(r, now, target_seconds)
        queue = str(r.route.get("queue") or r.queue or "unrouted")
        queues.setdefault(queue, _Acc(queue)).add(r, now, target_seconds)
    return LiveFigures(
        since=since,
        now=now,
        target_seconds=target_seconds,
        total=total.figures(),
        lines=[a.figures() for _, a in sorted(lines.items())],
        queues=[a.figures() for _, a in sorted(queues.items())],
    )
