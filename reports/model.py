"""What a report is built from (rows read from the store) and what it is (values out).

Inputs are small frozen dataclasses holding only the columns a report reads, so the
pure core (`reports.build`) can be fed by hand in tests and by `reports.repo` in the
server. The rates a city is judged by come in already computed, as `workorders.rates.Rates`
(签收率, 按期办结率, returns per unit, and the survey's 响应率/满意率/解决率 from
`workorders.survey_rates`): a report never computes them a second time.

Outputs are frozen dataclasses too; `reports.export` turns one into JSON or CSV. A rate
with nothing to count is None (shown as "—"), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from reports.periods import Period
from telephony.call_models import CallRecordPublic
from workorders.rates import Rates

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One work order accepted in a period (the columns a report reads)."""

    number: str
    created_at: datetime
    kind: str
    category: str = ""
    title: str = ""
    content: str = ""
    line: str = ""
    caller_number: str = ""
    lead_unit_id: str | None = None
    mode: str = ""
    replied_at: datetime | None = None
    deadline: datetime | None = None
    call_linkedid: str | None = None


@dataclass(frozen=True, slots=True)
class ExtensionRow:
    """One extension request (延期申请) asked in the period."""

    unit_id: str
    status: str  # pending / granted / refused
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    """The caller's words on one call (final segments joined), for hot words."""

    call_id: str
    text: str


@dataclass(frozen=True, slots=True)
class MonthInputs:
    """One month's figures for the unit ranking the red-zone rule reads."""

    period: Period
    rates: Rates
    orders: Sequence[OrderRow]


@dataclass(frozen=True, slots=True)
class ReportInputs:
    period: Period
    generated_at: datetime
    orders: Sequence[OrderRow]
    calls: Sequence[CallRecordPublic]
    rates: Rates
    extensions: Sequence[ExtensionRow] = ()
    transcripts: Sequence[TranscriptRow] = ()
    previous_orders: Sequence[OrderRow] = ()
    previous_transcripts: Sequence[TranscriptRow] = ()
    previous_calls_offered: int = 0  # calls offered in the previous period (环比)
    months: Sequence[MonthInputs] = ()  # oldest first: the red-zone months
    unit_names: Mapping[str, str] = field(default_factory=dict)
    line_names: Mapping[str, str] = field(default_factory=dict)
    vocabulary: frozenset[str] = frozenset()  # the catalogue's cue words (hot words)
    answered_within_seconds: int = 15
    key_caller_threshold: int = 5


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class Headline:
    calls_offered: int
    calls_answered: int
    calls_abandoned: int
    answer_rate: float | None  # 接通率
    answered_within_target_rate: float | None  # e.g. 15 秒接通率
    orders: int
    dispatched: int
    resolved_on_call: int  # 即办
    acknowledgement_rate: float | None  # 签收率
    on_time_rate: float | None  # 按期办结率
    response_rate: float | None  # 响应率 (surveys)
    satisfaction_rate: float | None  # 满意率 (surveys)
    resolution_rate: float | None  # 解决率 (surveys)
    returns: int  # 退单
    extensions: int  # 延期申请
    surveys: int  # survey callbacks finished
    previous_calls_offered: int  # the same, in the period compared with (环比)
    previous_orders: int
    calls_change: float | None  # (this − previous) ÷ previous; None when previous is 0
    orders_change: float | None


@dataclass(frozen=True, slots=True)
class LineVolume:
    line: str
    label: str
    offered: int
    answered: int
    abandoned: int
    answer_rate: float | None
    answered_within_target_rate: float | None
    orders: int


@dataclass(frozen=True, slots=True)
class KindVolume:
    kind: str
    label: str
    orders: int
    share: float | None


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    offered: int
    answered: int
    answer_rate: float | None
    orders: int


@dataclass(frozen=True, slots=True)
class UnitFigures:
    unit_id: str
    name: str
    dispatched: int
    acknowledged: int
    replied: int
    returns: int
    extensions_asked: int
    extensions_granted: int
    acknowledgement_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    resolution_rate: float | None
    score: float | None  # None: nothing to judge the unit on in this period
    rank: int | None  # 1 = best; None when not ranked
    red_zone: bool = False


@dataclass(frozen=True, slots=True)
class RedZoneUnit:
    unit_id: str
    name: str
    ranks: tuple[int, ...]  # its rank in each red-zone month, oldest first
    ranked: tuple[int, ...]  # how many units were ranked in each of those months


@dataclass(frozen=True, slots=True)
class Topic:
    key: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def rising(self) -> bool:
        return self.count > self.previous

    @property
    def new(self) -> bool:
        return self.previous == 0 and self.count > 0


@dataclass(frozen=True, slots=True)
class KeyCaller:
    number: str
    calls: int
    orders: int
    top_category: str
    key: bool  # at or above the key-caller threshold (重点人群)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    previous: Period
    generated_at: datetime
    headline: Headline
    lines: tuple[LineVolume, ...]
    kinds: tuple[KindVolume, ...]
    days: tuple[DayFigures, ...]
    units: tuple[UnitFigures, ...]  # ranked first (best first), then the unranked
    red_board: tuple[UnitFigures, ...]  # 红榜: the top three
    black_board: tuple[UnitFigures, ...]  # 黑榜: the bottom three
    red_zone_months: tuple[Period, ...]
    red_zone: tuple[RedZoneUnit, ...]
    categories: tuple[Topic, ...]
    words: tuple[Topic, ...]
    key_callers: tuple[KeyCaller, ...]
    answered_within_seconds: int
    rates: Rates
