"""The report as HTML pieces (headline tiles, tables, charts). Pure: a `Report` in, markup out.

`report_body(report)` is the whole report below the period picker, shared by the page
(/reports) and the printable page (/reports/print), so what is printed is what was
read. Every value is escaped (`agent_desktop.render.escape`); charts come from
`reports.charts` as inline SVG. Rates are shown as percentages with one decimal, a rate
with nothing to count as "—". Red-zone units carry the word 红区, not only a colour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from agent_desktop.render import Markup, escape
from reports import charts
from reports.model import Report, Topic, UnitFigures
from reports.periods import PRESETS, SHANGHAI, Period

DASH = "—"
OPEN_DAYS = 14  # longer periods fold the day-by-day table


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def signed(value: float | None) -> str:
    """A change as +12.5% / −3.0%; "—" when the previous period had nothing."""
    if value is None:
        return DASH
    return f"{'+' if value >= 0 else '−'}{abs(value) * 100:.1f}%"


def local_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _cells(values: Iterable[object], tag: str = "td") -> str:
    return "".join(f"<{tag}>{escape(v)}</{tag}>" for v in values)


def table(caption: str, head: Sequence[str], rows: Iterable[Sequence[object]], css: str) -> str:
    body = "".join(f"<tr>{_cells(r)}</tr>" for r in rows)
    if not body:
        body = f'<tr><td colspan="{len(head)}" class="empty">本时段无数据</td></tr>'
    return (
        f'<table class="{css}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{_cells(head, 'th')}</tr></thead><tbody>{body}</tbody></table>"
    )


def _tile(label: str, value: str, key: str, note: str = "") -> str:
    extra = f'<span class="note">{escape(note)}</span>' if note else ""
    return (
        f'<div class="tile" data-figure="{escape(key)}"><dt>{escape(label)}</dt>'
        f'<dd><span class="value">{escape(value)}</span>{extra}</dd></div>'
    )


def headline(r: Report) -> str:
    h = r.headline
    tiles = [
        _tile("来电量", f"{h.calls_offered}", "calls",
              f"接通 {h.calls_answered} · 环比 {signed(h.calls_change)}"),
        _tile("接通率", pct(h.answer_rate), "answer_rate"),
        _tile(f"{r.answered_within_seconds}秒接通率", pct(h.answered_within_target_rate),
              "within_target"),
        _tile("工单量", f"{h.orders}", "orders",
              f"即办 {h.resolved_on_call} · 环比 {signed(h.orders_change)}"),
        _tile("签收率", pct(h.acknowledgement_rate), "acknowledgement_rate"),
        _tile("按期办结率", pct(h.on_time_rate), "on_time_rate"),
        _tile("响应率", pct(h.response_rate), "response_rate", f"回访 {h.surveys}"),
        _tile("满意率", pct(h.satisfaction_rate), "satisfaction_rate"),
        _tile("解决率", pct(h.resolution_rate), "resolution_rate"),
        _tile("退单", f"{h.returns}", "returns"),
        _tile("延期申请", f"{h.extensions}", "extensions"),
    ]  # fmt: skip
    return f'<dl class="tiles">{"".join(tiles)}</dl>'


def _unit_tone(u: UnitFigures, r: Report) -> str:
    if u.red_zone or u in r.black_board:
        return "bad"
    return "good" if u in r.red_board else "normal"


def _unit_name(u: UnitFigures) -> str:
    return f"{u.name}（红区）" if u.red_zone else u.name


def lines_section(r: Report) -> str:
    bars = [charts.Bar(label=v.label, value=v.offered, inner=v.answered) for v in r.lines]
    chart = charts.bar_chart(bars, title="分线路来电量与接通量", legend=("来电", "接通"))
    rows = [
        (v.label, v.offered, v.answered, v.abandoned, pct(v.answer_rate),
         pct(v.answered_within_target_rate), v.orders)
        for v in r.lines
    ]  # fmt: skip
    head = [
        "线路",
        "来电",
        "接通",
        "放弃",
        "接通率",
        f"{r.answered_within_seconds}秒接通率",
        "工单",
    ]
    return chart + table("分线路", head, rows, "lines")


def days_section(r: Report) -> str:
    """The daily rate chart; the day-by-day table open for a week, folded for longer.

    A month's thirty rows would fill two A4 pages of a bulletin: folded, they stay on
    screen for whoever wants them and are left out of print (the chart carries them).
    """
    points = [(f"{d.day.month}/{d.day.day}", d.answer_rate) for d in r.days]
    chart = charts.line_chart(points, title="每日接通率")
    rows = [(d.day.isoformat(), d.offered, d.answered, pct(d.answer_rate), d.orders)
            for d in r.days]  # fmt: skip
    days = table("每日", ["日期", "来电", "接通", "接通率", "工单"], rows, "days")
    if len(r.days) <= OPEN_DAYS:
        return chart + days
    summary = f"<summary>每日明细（{len(r.days)} 天）</summary>"
    return f'{chart}<details class="no-print">{summary}{days}</details>'


def kinds_section(r: Report) -> str:
    rows = [(k.label, k.orders, pct(k.share)) for k in r.kinds]
    return table("诉求类型", ["类型", "工单", "占比"], rows, "kinds")


def units_section(r: Report) -> str:
    ranked = [u for u in r.units if u.rank is not None and u.score is not None]
    chart = charts.ranking_bars(
        [(f"{u.rank}. {_unit_name(u)}", u.score or 0.0, _unit_tone(u, r)) for u in ranked],
        title="承办单位综合得分（满分100）",
    )
    rows = [
        (u.rank or DASH, _unit_name(u), u.dispatched, pct(u.acknowledgement_rate),
         pct(u.on_time_rate), pct(u.satisfaction_rate), pct(u.resolution_rate), u.returns,
         f"{u.extensions_asked}/{u.extensions_granted}",
         DASH if u.score is None else f"{u.score:.1f}")
        for u in r.units
    ]  # fmt: skip
    head = ["排名", "单位", "派单", "签收率", "按期办结率", "满意率", "解决率", "退单",
            "延期申请/批准", "得分"]  # fmt: skip
    return chart + table("承办单位排名", head, rows, "units")


def _board(title: str, units: Sequence[UnitFigures], css: str) -> str:
    items = "".join(
        f'<li>{escape(_unit_name(u))} <span class="score">{u.score or 0:.1f} 分</span></li>'
        for u in units
    )
    items = items or '<li class="none">无</li>'
    return f'<div class="board {css}"><h3>{escape(title)}</h3><ol>{items}</ol></div>'


def boards_section(r: Report) -> str:
    months = "、".join(f"{m.first.year}年{m.first.month}月" for m in r.red_zone_months)
    if r.red_zone:
        zone = "".join(
            f"<li>{escape(z.name)}：各月排名 "
            f"{escape('、'.join(f'{a}/{b}' for a, b in zip(z.ranks, z.ranked, strict=True)))}"
            "</li>"
            for z in r.red_zone
        )
    else:
        zone = '<li class="none">无</li>'
    return (
        f'<div class="boards">{_board("红榜（前三）", r.red_board, "red-board")}'
        f"{_board('黑榜（后三）', r.black_board, 'black-board')}"
        f'<div class="board zone"><h3>红区（连续三个月排名后三位）</h3>'
        f'<p class="note">{escape(months or DASH)}</p><ul>{zone}</ul></div></div>'
    )


def _topics(caption: str, found: Sequence[Topic]) -> str:
    def change(t: Topic) -> str:
        if t.new:
            return "新增"
        return f"↑{t.change}" if t.change > 0 else (f"↓{-t.change}" if t.change < 0 else "持平")

    rows = [(t.key, t.count, t.previous, change(t)) for t in found]
    return table(caption, ["名称", "本期", "上期", "变化"], rows, "topics")


def topics_section(r: Report) -> str:
    return (
        f'<div class="pair">{_topics("热点分类", r.categories)}{_topics("热点词", r.words)}</div>'
    )


def callers_section(r: Report) -> str:
    rows = [(k.number, k.calls, k.orders, k.top_category or DASH, "是" if k.key else "")
            for k in r.key_callers]  # fmt: skip
    head = ["号码", "来电", "工单", "主要诉求", "重点人群"]
    return table("重点来电人（本期来电两次及以上）", head, rows, "callers")


def _section(key: str, title: str, content: str) -> str:
    return f'<section class="part" id="{key}"><h2>{escape(title)}</h2>{content}</section>'


def report_body(r: Report) -> Markup:
    previous = r.previous
    meta = (
        f'<p class="meta">统计时段 {escape(r.period.first.isoformat())} 至 '
        f"{escape(r.period.last.isoformat())}（{r.period.days} 天，北京时间）· "
        f"对比上期 {escape(previous.first.isoformat())} 至 {escape(previous.last.isoformat())}"
        f" · 生成于 {escape(local_time(r.generated_at))}</p>"
    )
    parts = [
        meta,
        _section("headline", "总体指标", headline(r)),
        _section("lines", "来电量", lines_section(r)),
        _section("days", "每日接通率", days_section(r)),
        _section("kinds", "诉求类型", kinds_section(r)),
        _section("units", "承办单位排名", units_section(r)),
        _section("boards", "红黑榜与红区", boards_section(r)),
        _section("topics", "热点问题", topics_section(r)),
        _section("callers", "重点来电人", callers_section(r)),
    ]
    return Markup("".join(parts))


def preset_links(current: Period, today_presets: dict[str, Period]) -> Markup:
    """The period presets as links; the one shown now is marked aria-current."""
    links = []
    for key, (label, _) in PRESETS.items():
        p = today_presets[key]
        mark = ' aria-current="page"' if p == current else ""
        links.append(
            f'<a href="/reports?preset={key}" data-preset="{key}"{mark}>{escape(label)}</a>'
        )
    return Markup("".join(links))
