"""The supervisor wallboard's view model: bus events in, figures out. No I/O.

Theory of operation
-------------------
A `Board` is the floor as the wallboard knows it. The wallboard feature
(agent_desktop.wallboard) seeds it from the store at start (today's call records,
`seed_call`; order lights and survey jobs, `set_orders` / `set_surveys`) and then feeds
it every bus event with the envelope's time (`apply`). `figures(now)` turns it into a
`Figures` value: what the page shows and what is pushed to the browsers.

- Calls (today, in the city's time zone): `call.offered` opens a call (its line and skill
  from the hotline catalogue by the number dialled), `call.routed` marks it queued,
  `call.answered` / `call.ended` settle it; running counts per line and skill in
  agent_desktop.wallboard_calls (answer rate, the 15-second share, the longest wait).
- Operators: `operator.state` (retained on the bus, so a new board sees every seat at
  once); the time in state counts from the envelope time of the first event of a state.
  At start the seats are seeded from the operators' state history in the store
  (`seed_seat`: each seat's last state before this server started and since when), so a
  restart does not set every seat back to 0:00: an event repeating the seeded state keeps
  its time; whichever of the two began later wins otherwise.
- Transcription capacity: `transcript.status` live/ended per (call, speaker) counts the
  streams in use; the `capacity` of `system.health` from "asr" is the pool's; a
  stream refused ("unavailable") is counted for today.
- Orders: `order.light_yellow` / `order.light_red` go into the list of recent lights at
  once; the counts of open yellow and red orders and the authoritative list (open orders
  only: a replied order leaves it) come from the store (`set_orders`), which the feature
  re-reads after order events.
- Surveys: due / calling / done / failed today from the store (`set_surveys`).

At local midnight (`roll`) calls that ended before today are dropped and the day's
counters restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel

from agent_desktop.wallboard_calls import UNKNOWN, CallTally, HourBar, LiveCall, QueueRow
from hotline.bus_events import (
    BusEvent,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallRouted,
    OperatorState,
    OrderStep,
    SystemHealth,
    TranscriptStatus,
)
from telephony.call_models import CallRecordPublic
from telephony.catalogue import Catalogue
from workorders.sla import CHINA

TARGET_SECONDS = 15
RECENT_LIGHTS = 8
STATE_LABEL = {
    "ready": "就绪",
    "ringing": "振铃",
    "talking": "通话中",
    "wrap_up": "话后整理",
    "paused": "示忙",
    "unreachable": "离线",
    "logged_out": "未签入",
}
STATE_ORDER = tuple(STATE_LABEL)
PAUSE_LABEL = {"break": "小休", "meal": "用餐", "meeting": "会议", "training": "培训"}


# ------------------------------------------------------------------------------ figures
class SeatRow(BaseModel):
    extension: str
    state: str
    label: str
    since: datetime


class LightChange(BaseModel):
    number: str
    light: str  # "yellow" | "red"
    at: datetime
    unit: str | None = None


class OrderFigures(BaseModel):
    red: int = 0
    yellow: int = 0
    open: int = 0


class SurveyFigures(BaseModel):
    due: int = 0  # pending and due by now
    calling: int = 0
    done_today: int = 0
    failed_today: int = 0
    scheduled: int = 0  # pending, due later


class AsrFigures(BaseModel):
    in_use: int = 0
    capacity: int = 0
    refused_today: int = 0
    status: str = "unknown"


class Figures(BaseModel):
    now: datetime
    day: date
    target_seconds: int
    total: QueueRow
    lines: list[QueueRow]
    skills: list[QueueRow]
    hours: list[HourBar]
    seat_counts: dict[str, int]
    seats: list[SeatRow]
    asr: AsrFigures
    orders: OrderFigures
    lights: list[LightChange]
    surveys: SurveyFigures


# ------------------------------------------------------------------------------- state
@dataclass(slots=True)
class Seat:
    state: str
    since: datetime
    reason: str | None = None


@dataclass
class Board:
    catalogue: Catalogue
    day: date
    target_seconds: int = TARGET_SECONDS
    asr_capacity: int = 0
    calls: CallTally = field(default_factory=lambda: CallTally(TARGET_SECONDS))
    seats: dict[str, Seat] = field(default_factory=dict)
    streams: set[tuple[str, str]] = field(default_factory=set)
    asr_refused: int = 0
    asr_status: str = "unknown"
    orders: OrderFigures = field(default_factory=OrderFigures)
    lights: list[LightChange] = field(default_factory=list)
    surveys: SurveyFigures = field(default_factory=SurveyFigures)

    @classmethod
    def start(
        cls, catalogue: Catalogue, now: datetime, *, target_seconds: int = TARGET_SECONDS,
        asr_capacity: int = 0,
    ) -> Board:
        return cls(catalogue=catalogue, day=local_day(now), target_seconds=target_seconds,
                   asr_capacity=asr_capacity, calls=CallTally(target_seconds))

    # -- inputs ----------------------------------------------------------------------------
    def _place(self, dnis: str | None, line_id: str | None) -> tuple[str, str]:
        line = self.catalogue.line_by_id(line_id) if line_id else None
        if line is None and dnis:
            line = self.catalogue.line_for(dnis)
        if line is None:
            return (line_id or UNKNOWN, UNKNOWN)
        return line.id, line.skill

    def seed_call(self, record: CallRecordPublic) -> None:
        """A call record from the store (today's), as the board would have seen it."""
        if record.outcome == "hung_up_in_hold" or local_day(record.entered_at) != self.day:
            return
        line, skill = self._place(record.dnis, record.line)
        call = LiveCall(line=line, skill=skill, entered_at=record.entered_at)
        calls = self.calls
        if not calls.offered(record.linkedid, call):
            return
        if record.outcome != "in_progress" or record.queue or record.route:
            calls.routed(record.linkedid)
        if record.answered_at is not None:
            calls.answered(record.linkedid, record.answered_at)
        if record.ended_at is not None:
            calls.routed(record.linkedid)  # it was offered to a queue: not hung up in hold
            calls.ended(record.linkedid)

    def seed_seat(
        self, extension: str, state: str, since: datetime, reason: str | None = None
    ) -> bool:
        """A seat's last stored state (from before this start); True if it changed."""
        seat = self.seats.get(extension)
        if seat is None or (seat.state != state and seat.since < since):
            self.seats[extension] = Seat(state, since, reason)
            return True
        if seat.state == state and since < seat.since:
            seat.since = since  # the bus repeated a state that began before
            return True
        return False

    def apply(self, event: BusEvent, at: datetime) -> bool:
        """Take one bus event published at `at`; True if the figures may have changed."""
        match event:
            case CallOffered():
                line, skill = self._place(event.dnis, None)
                call = LiveCall(line=line, skill=skill, entered_at=at)
                return self.calls.offered(event.linkedid, call)
            case CallRouted():
                return self.calls.routed(event.linkedid)
            case CallAnswered():
                return self.calls.answered(event.linkedid, at)
            case CallEnded():
                return self.calls.ended(event.linkedid)
            case OperatorState():
                seat = self.seats.get(event.extension)
                if seat is None or seat.state != event.state:
                    self.seats[event.extension] = Seat(event.state, at, event.reason)
                else:
                    seat.reason = event.reason  # e.g. another pause reason: same state
            case TranscriptStatus():
                key = (event.call_id, event.channel)
                if event.status == "live":
                    self.streams.add(key)
                else:
                    self.streams.discard(key)
                    self.asr_refused += event.status == "unavailable"
            case SystemHealth() if event.component == "asr":
                self.asr_status = event.status
                if event.capacity is not None:
                    self.asr_capacity = event.capacity
            case OrderStep() if event.step in ("light_yellow", "light_red"):
                change = LightChange(number=event.order_id, light=event.step[6:], at=at,
                                     unit=event.unit)  # fmt: skip
                rest = [c for c in self.lights if c.number != event.order_id]
                self.lights = [change, *rest][:RECENT_LIGHTS]
            case _:
                return False
        return True

    def set_orders(self, figures: OrderFigures, lights: list[LightChange] | None = None) -> None:
        """Counts from the store, and its list of lit open orders (newest change first)."""
        self.orders = figures
        if lights is not None:
            self.lights = lights[:RECENT_LIGHTS]

    def set_surveys(self, figures: SurveyFigures) -> None:
        self.surveys = figures

    def roll(self, now: datetime) -> None:
        """At the city's midnight: forget yesterday's settled calls and counters."""
        today = local_day(now)
        if today == self.day:
            return
        self.day = today
        self.calls.new_day()
        self.asr_refused = 0

    # -- output ----------------------------------------------------------------------------
    def figures(self, now: datetime) -> Figures:
        self.roll(now)
        lines = {line.id: line.name for line in self.catalogue.lines}
        skills = {name: skill.title for name, skill in self.catalogue.skills.items()}
        counts = dict.fromkeys(STATE_ORDER, 0)
        for seat in self.seats.values():
            counts[seat.state] = counts.get(seat.state, 0) + 1
        seats = sorted(self.seats.items(), key=lambda kv: (_state_rank(kv[1].state), kv[0]))
        return Figures(
            now=now,
            day=self.day,
            target_seconds=self.target_seconds,
            total=self.calls.row("total", "total", "全部"),
            lines=self.calls.rows("line", lines),
            skills=self.calls.rows("skill", skills),
            hours=self.calls.hours(now.astimezone(CHINA).hour),
            seat_counts=counts,
            seats=[SeatRow(extension=ext, state=s.state, label=seat_label(s.state, s.reason),
                           since=s.since) for ext, s in seats],
            asr=AsrFigures(in_use=len(self.streams), capacity=self.asr_capacity,
                           refused_today=self.asr_refused, status=self.asr_status),
            orders=self.orders,
            lights=list(self.lights),
            surveys=self.surveys,
        )  # fmt: skip


# ------------------------------------------------------------------------------- helpers
def local_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def local_midnight(moment: datetime) -> datetime:
    day = local_day(moment)
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def seat_label(state: str, reason: str | None) -> str:
    label = STATE_LABEL.get(state, state)
    if state == "paused" and reason:
        return f"{label}（{PAUSE_LABEL.get(reason, reason)}）"
    return label


def _state_rank(state: str) -> int:
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)
