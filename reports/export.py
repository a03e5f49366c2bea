"""A report as JSON (the API) and as CSV (for Excel). Pure: a `Report` in, text out.

JSON keeps every value of the report with rates as fractions (0.953), None as null,
dates as ISO 8601, periods as {"from", "to", "kind", "title", "days"}; the full
`workorders.rates.Rates` the report was built from is under "rates".

CSV is one file of titled sections (总体指标, 分线路, 诉求类型, 每日, 承办单位排名, 红区,
热点分类, 热点词, 重点来电人), a blank row between them, rates as "95.3%" (Excel reads
them as percentages), nothing for a rate with nothing to count. It starts with a UTF-8
byte-order mark: without it Excel on Windows reads UTF-8 as the local code page and the
Chinese turns to mojibake. A cell that starts with = + - or @ is prefixed with ' so a
caller's number or words can never run as a spreadsheet formula (our own figures, such
as a change of -3.5%, are left as they are).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from reports.model import Report, Topic
from reports.periods import Period

BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@")
_NUMBER = re.compile(r"-?\d+(\.\d+)?%?")  # our own figures, e.g. -33.3%: not formulas
Row = list[object]


def _period(p: Period) -> dict[str, Any]:
    return {
        "from": p.first.isoformat(),
        "to": p.last.isoformat(),
        "kind": p.kind.value,
        "title": p.title,
        "days": p.days,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Period):
        return _period(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Topic):
        return {
            "key": value.key,
            "count": value.count,
            "previous": value.previous,
            "change": value.change,
            "rising": value.rising,
            "new": value.new,
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (`json.dumps` takes it as is)."""
    data: dict[str, Any] = _jsonable(report)
    return data


def pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{digits}f}%"


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in _FORMULA and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _sections(r: Report) -> Iterable[Row]:
    h = r.headline
    yield ["报表", r.period.title]
    yield ["时段", r.period.first.isoformat(), r.period.last.isoformat()]
    yield ["生成时间", r.generated_at.isoformat(timespec="seconds")]
    yield []
    yield ["总体指标"]
    yield ["指标", "数值"]
    figures: list[Row] = [
        ["来电量", h.calls_offered],
        ["接通量", h.calls_answered],
        ["放弃量", h.calls_abandoned],
        ["接通率", pct(h.answer_rate)],
        [f"{r.answered_within_seconds}秒接通率", pct(h.answered_within_target_rate)],
        ["工单量", h.orders],
        ["派单量", h.dispatched],
        ["即办量", h.resolved_on_call],
        ["签收率", pct(h.acknowledgement_rate)],
        ["按期办结率", pct(h.on_time_rate)],
        ["回访量", h.surveys],
        ["响应率", pct(h.response_rate)],
        ["满意率", pct(h.satisfaction_rate)],
        ["解决率", pct(h.resolution_rate)],
        ["退单量", h.returns],
        ["延期申请量", h.extensions],
        ["上期来电量", h.previous_calls_offered],
        ["来电量环比", pct(h.calls_change)],
        ["上期工单量", h.previous_orders],
        ["工单量环比", pct(h.orders_change)],
    ]
    yield from figures
    yield []
    yield ["分线路"]
    yield ["线路", "名称", "来电", "接通", "放弃", "接通率", f"{r.answered_within_seconds}秒接通率",
           "工单"]  # fmt: skip
    for v in r.lines:
        yield [v.line, v.label, v.offered, v.answered, v.abandoned, pct(v.answer_rate),
               pct(v.answered_within_target_rate), v.orders]  # fmt: skip
    yield []
    yield ["诉求类型"]
    yield ["类型", "工单", "占比"]
    for k in r.kinds:
        yield [k.label, k.orders, pct(k.share)]
    yield []
    yield ["每日"]
    yield ["日期", "来电", "接通", "接通率", "工单"]
    for d in r.days:
        yield [d.day.isoformat(), d.offered, d.answered, pct(d.answer_rate), d.orders]
    yield []
    yield ["承办单位排名"]
    yield ["排名", "单位", "派单", "签收", "回复", "退单", "延期申请", "延期批准", "签收率",
           "按期办结率", "满意率", "解决率", "得分", "红区"]  # fmt: skip
    for u in r.units:
        yield [u.rank, u.name, u.dispatched, u.acknowledged, u.replied, u.returns,
               u.extensions_asked, u.extensions_granted, pct(u.acknowledgement_rate),
               pct(u.on_time_rate), pct(u.satisfaction_rate), pct(u.resolution_rate),
               u.score, "是" if u.red_zone else ""]  # fmt: skip
    yield []
    months = "、".join(f"{m.first.year}年{m.first.month}月" for m in r.red_zone_months)
    yield ["红区单位（连续三个月排名后三位）", months]
    yield ["单位", "各月排名"]
    for z in r.red_zone:
        yield [z.name, "、".join(f"{a}/{b}" for a, b in zip(z.ranks, z.ranked, strict=True))]
    for title, found in (("热点分类", r.categories), ("热点词", r.words)):
        yield []
        yield [title]
        yield ["名称", "本期", "上期", "变化"]
        for t in found:
            yield [t.key, t.count, t.previous, t.change]
    yield []
    yield ["重点来电人"]
    yield ["号码", "来电", "工单", "主要诉求", "重点人群"]
    for c in r.key_callers:
        yield [c.number, c.calls, c.orders, c.top_category, "是" if c.key else ""]


def to_csv(report: Report) -> str:
    """The report as CSV text, BOM first (write it encoded as UTF-8)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    for row in _sections(report):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def filename(report: Report, suffix: str) -> str:
    p = report.period
    return f"hotline-report-{p.first.isoformat()}-{p.last.isoformat()}.{suffix}"
