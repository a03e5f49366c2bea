"""Build a report from store rows: `build_report(ReportInputs) -> Report`. Pure.

Theory of operation
-------------------
Everything here is arithmetic over the rows `reports.repo` read (or a test made by
hand); nothing waits on anything. The parts:

* calls by line, per day, and in total come from `telephony.call_figures.live_figures`,
  the same function the wallboard uses (接通率 = answered ÷ calls that ended or were
  answered; the 15-second share; a call in the hold context was never offered), run
  over the period's call records with "now" at the period's end;
* orders by line and by kind (诉求类型) are counted here, and the change in calls and
  orders from the previous period (环比: same length before; the month before a month);
* 签收率, 按期办结率, returns, and the survey's 响应率/满意率/解决率 are read from
  `workorders.rates.Rates` (computed once, by `workorders.rates.compute_rates`);
* units, 红黑榜 and the red zone come from `reports.ranking`; hot topics from
  `reports.topics`;
* key callers (重点来电人): numbers that called at least twice in the period, most calls
  first; `key` marks those at the calls feature's key-caller threshold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from reports import ranking, topics
from reports.model import (
    DayFigures,
    Headline,
    KeyCaller,
    KindVolume,
    LineVolume,
    OrderRow,
    Report,
    ReportInputs,
)
from reports.periods import Period, local_day
from telephony.call_figures import Figures, live_figures
from telephony.call_models import CallRecordPublic
from workorders.models import OrderKind
from workorders.rates import ratio

KEY_CALLERS_SHOWN = 20
REPEAT_CALLS = 2
UNKNOWN_LINE = "unknown"


def change(now: int, before: int) -> float | None:
    """环比: the relative change from the previous period; None when it had nothing."""
    return None if before == 0 else (now - before) / before


def _figures(
    records: Sequence[CallRecordPublic], period: Period, inputs: ReportInputs
) -> tuple[Figures, list[Figures]]:
    now = min(inputs.generated_at, period.end_utc)
    figures = live_figures(
        records, since=period.start_utc, now=now, target_seconds=inputs.answered_within_seconds
    )
    return figures.total, figures.lines


def _line_label(line: str, inputs: ReportInputs) -> str:
    if line in ("", UNKNOWN_LINE):
        return "未知线路"
    return inputs.line_names.get(line, line)


def _lines(inputs: ReportInputs, by_line: list[Figures]) -> tuple[LineVolume, ...]:
    orders = Counter(o.line or UNKNOWN_LINE for o in inputs.orders)
    calls = {f.key: f for f in by_line}
    out = []
    for line in sorted(set(calls) | set(orders)):
        f = calls.get(line) or Figures(key=line)
        out.append(
            LineVolume(
                line=line,
                label=_line_label(line, inputs),
                offered=f.offered,
                answered=f.answered,
                abandoned=f.abandoned,
                answer_rate=f.answer_rate,
                answered_within_target_rate=f.answered_within_target,
                orders=orders.get(line, 0),
            )
        )
    return tuple(sorted(out, key=lambda v: (-v.offered, -v.orders, v.line)))


def _kinds(orders: Sequence[OrderRow]) -> tuple[KindVolume, ...]:
    counts = Counter(o.kind for o in orders)
    total = len(orders)
    known = [k.value for k in OrderKind]
    extra = sorted(k for k in counts if k not in known)
    return tuple(
        KindVolume(
            kind=k,
            label=OrderKind(k).label if k in known else k,
            orders=counts.get(k, 0),
            share=ratio(counts.get(k, 0), total),
        )
        for k in [*known, *extra]
    )


def _days(inputs: ReportInputs) -> tuple[DayFigures, ...]:
    calls: dict[date, list[CallRecordPublic]] = defaultdict(list)
    for r in inputs.calls:
        calls[local_day(r.entered_at)].append(r)
    orders = Counter(local_day(o.created_at) for o in inputs.orders)
    out = []
    for day in inputs.period.dates():
        one = Period(day, day)
        total, _ = _figures(calls.get(day, []), one, inputs)
        out.append(
            DayFigures(
                day=day,
                offered=total.offered,
                answered=total.answered,
                answer_rate=total.answer_rate,
                orders=orders.get(day, 0),
            )
        )
    return tuple(out)


def _key_callers(inputs: ReportInputs) -> tuple[KeyCaller, ...]:
    calls = Counter(r.caller_number for r in inputs.calls if r.caller_number)
    orders: dict[str, Counter[str]] = defaultdict(Counter)
    for o in inputs.orders:
        if o.caller_number:
            orders[o.caller_number][o.category or "未分类"] += 1
    repeat = [n for n, c in calls.items() if c >= REPEAT_CALLS]
    repeat += [n for n, c in orders.items() if n not in calls and c.total() >= REPEAT_CALLS]
    found = [
        KeyCaller(
            number=n,
            calls=calls.get(n, 0),
            orders=orders[n].total() if n in orders else 0,
            top_category=orders[n].most_common(1)[0][0] if n in orders else "",
            key=calls.get(n, 0) >= inputs.key_caller_threshold,
        )
        for n in repeat
    ]
    found.sort(key=lambda k: (-k.calls, -k.orders, k.number))
    return tuple(found[:KEY_CALLERS_SHOWN])


def build_report(inputs: ReportInputs) -> Report:
    period = inputs.period
    rates = inputs.rates
    calls = [r for r in inputs.calls if period.contains(r.entered_at)]
    inputs = replace(inputs, calls=calls)
    total, by_line = _figures(calls, period, inputs)

    units = ranking.unit_figures(rates, inputs.orders, inputs.extensions, inputs.unit_names)
    monthly = [
        [
            u.unit_id
            for u in ranking.unit_figures(m.rates, m.orders, names=inputs.unit_names)
            if u.rank is not None
        ]
        for m in inputs.months
    ]
    zone = ranking.red_zone(monthly, inputs.unit_names)
    in_zone = {z.unit_id for z in zone}
    units = [replace(u, red_zone=u.unit_id in in_zone) for u in units]
    red_board, black_board = ranking.boards(units)

    survey = rates.survey
    headline = Headline(
        calls_offered=total.offered,
        calls_answered=total.answered,
        calls_abandoned=total.abandoned,
        answer_rate=total.answer_rate,
        answered_within_target_rate=total.answered_within_target,
        orders=len(inputs.orders),
        dispatched=rates.dispatched,
        resolved_on_call=rates.resolved_on_call,
        acknowledgement_rate=rates.acknowledgement_rate,
        on_time_rate=rates.on_time_rate,
        response_rate=survey.response_rate,
        satisfaction_rate=survey.satisfaction_rate,
        resolution_rate=survey.resolution_rate,
        returns=sum(u.returns for u in rates.units),
        extensions=len(inputs.extensions),
        surveys=survey.attempted,
        previous_calls_offered=inputs.previous_calls_offered,
        previous_orders=len(inputs.previous_orders),
        calls_change=change(total.offered, inputs.previous_calls_offered),
        orders_change=change(len(inputs.orders), len(inputs.previous_orders)),
    )
    categories = topics.hot(
        topics.category_counts(inputs.orders), topics.category_counts(inputs.previous_orders)
    )
    words = topics.hot_words(
        topics.texts(inputs.orders, inputs.transcripts),
        topics.texts(inputs.previous_orders, inputs.previous_transcripts),
        inputs.vocabulary,
    )
    return Report(
        period=period,
        previous=period.previous(),
        generated_at=inputs.generated_at,
        headline=headline,
        lines=_lines(inputs, by_line),
        kinds=_kinds(inputs.orders),
        days=_days(inputs),
        units=tuple(units),
        red_board=red_board,
        black_board=black_board,
        red_zone_months=tuple(m.period for m in inputs.months),
        red_zone=tuple(zone),
        categories=tuple(categories),
        words=tuple(words),
        key_callers=_key_callers(inputs),
        answered_within_seconds=inputs.answered_within_seconds,
        rates=rates,
    )
