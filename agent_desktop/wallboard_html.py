"""The wallboard's markup from its figures (pure: `Figures` in, `Markup` out).

The page is drawn here for its first paint; static/wallboard.js redraws the same
elements (same ids and classes) from each pushed `system.wallboard` frame, and counts
the waits and times in state up every second from their `data-since` instants. Every
value goes through `escape`. The capacity bar is inline SVG (no inline styles: the
pages' Content-Security-Policy forbids them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from agent_desktop.render import Markup, escape
from agent_desktop.wallboard_calls import HourBar, QueueRow
from agent_desktop.wallboard_model import STATE_LABEL, Figures, LightChange, SeatRow
from workorders.sla import CHINA

LIGHT_LABEL = {"red": "超时", "yellow": "临近"}


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def elapsed(seconds: float) -> str:
    """0:07, 12:30, 1:02:03: a wait or a time in state, as a wallboard shows it."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _since(moment: datetime | None, now: datetime) -> Markup:
    if moment is None:
        return Markup('<span class="since" data-since="">—</span>')
    return Markup(
        f'<span class="since" data-since="{escape(moment.isoformat())}">'
        f"{escape(elapsed((now - moment).total_seconds()))}</span>"
    )


def _tile(ident: str, label: str, value: Markup | str, extra: str = "") -> str:
    return (
        f'<div class="tile{extra}"><span class="label">{escape(label)}</span>'
        f'<strong id="{ident}">{escape(value)}</strong></div>'
    )


def headline(f: Figures) -> Markup:
    t = f.total
    return Markup(
        '<div class="tiles" id="wb-tiles">'
        + _tile("wb-waiting", "排队等待", str(t.waiting), " alert" if t.waiting else "")
        + _tile("wb-longest", "最长等待", _since(t.longest_wait_since, f.now))
        + _tile("wb-answer-rate", "今日接通率", percent(t.answer_rate))
        + _tile("wb-within", f"{f.target_seconds}秒接通率", percent(t.within_target))
        + _tile("wb-offered", "今日呼入", str(t.offered))
        + _tile("wb-answered", "已接通", str(t.answered))
        + _tile("wb-abandoned", "放弃", str(t.abandoned))
        + "</div>"
    )


def queue_rows(rows: Sequence[QueueRow], now: datetime) -> Markup:
    if not rows:
        return Markup('<tr><td colspan="8" class="empty">今日暂无来电</td></tr>')
    return Markup(
        "".join(
            f'<tr data-key="{escape(r.key)}"{" class=waiting" if r.waiting else ""}>'
            f"<th scope=row>{escape(r.title)}</th><td class=num>{r.waiting}</td>"
            f"<td class=num>{_since(r.longest_wait_since, now)}</td>"
            f"<td class=num>{r.offered}</td><td class=num>{r.answered}</td>"
            f"<td class=num>{r.abandoned}</td><td class=num>{escape(percent(r.answer_rate))}</td>"
            f"<td class=num>{escape(percent(r.within_target))}</td></tr>"
            for r in rows
        )
    )


def seat_counts(counts: dict[str, int]) -> Markup:
    return Markup(
        "".join(
            f'<li class="state-{escape(state)}" data-state="{escape(state)}">'
            f"{escape(STATE_LABEL.get(state, state))} <strong>{n}</strong></li>"
            for state, n in counts.items()
        )
    )


def seat_tiles(seats: Sequence[SeatRow], now: datetime) -> Markup:
    if not seats:
        return Markup('<li class="empty">暂无坐席</li>')
    return Markup(
        "".join(
            f'<li class="seat state-{escape(s.state)}" data-ext="{escape(s.extension)}" '
            f'data-state="{escape(s.state)}"><span class="ext">{escape(s.extension)}</span>'
            f'<span class="st">{escape(s.label)}</span>{_since(s.since, now)}</li>'
            for s in seats
        )
    )


def capacity_bar(in_use: int, capacity: int, width: int = 240, height: int = 14) -> Markup:
    """An inline SVG bar: streams in use out of the pool's capacity."""
    filled = 0 if capacity <= 0 else round(width * min(in_use, capacity) / capacity)
    full = " full" if capacity and in_use >= capacity else ""
    return Markup(
        f'<svg class="bar{full}" id="wb-asr-bar" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="转写容量 {in_use}/{capacity}">'
        f'<rect class="track" width="{width}" height="{height}" rx="3"/>'
        f'<rect class="fill" width="{filled}" height="{height}" rx="3"/></svg>'
    )


CHART_W, CHART_H, CHART_PLOT = 720, 150, 120  # SVG size; the bars' height (labels below)


def _rect(cls: str, x: float, base: float, width: float, height: float) -> str:
    """A bar standing on `base` (SVG y grows downwards)."""
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{base - height:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}"/>'
    )


def hour_chart(hours: Sequence[HourBar]) -> Markup:
    """Today's calls per hour as an inline SVG: offered (grey), answered (blue) and
    abandoned (red) stacked inside it; one slot per hour 0-23, a label every 3 hours."""
    slot = CHART_W / 24
    top = max([h.offered for h in hours] + [1])
    parts = [
        f'<svg class="hours" id="wb-hours" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="今日每小时来电">'
    ]
    for h in hours:
        x = h.hour * slot + 3
        scale = CHART_PLOT / top
        answered_top = CHART_PLOT - h.answered * scale
        parts.append(
            f"<g><title>{h.hour}时：呼入 {h.offered}，接通 {h.answered}，放弃 {h.abandoned}</title>"
            + _rect("off", x, CHART_PLOT, slot - 6, h.offered * scale)
            + _rect("ans", x, CHART_PLOT, slot - 6, h.answered * scale)
            + _rect("abd", x, answered_top, slot - 6, h.abandoned * scale)
            + "</g>"
        )
    for hour in range(0, 24, 3):
        parts.append(f'<text x="{hour * slot + 2:.1f}" y="{CHART_H - 8}">{hour}时</text>')
    parts.append(f'<text class="top" x="{CHART_W - 4}" y="12">峰值 {top}</text></svg>')
    return Markup("".join(parts))


def light_items(lights: Sequence[LightChange]) -> Markup:
    if not lights:
        return Markup('<li class="empty">暂无亮灯工单</li>')
    return Markup(
        "".join(
            f'<li class="light-{escape(c.light)}"><span class="lamp {escape(c.light)}"></span>'
            f"{escape(c.number)} {escape(LIGHT_LABEL.get(c.light, c.light))}"
            f'<span class="muted"> {escape(c.unit or "")} '
            f"{escape(c.at.astimezone(CHINA).strftime('%H:%M'))}</span></li>"
            for c in lights
        )
    )


def board(f: Figures) -> Markup:
    """Every section of the wallboard for `f` (the template places it)."""
    o, s, a = f.orders, f.surveys, f.asr
    header = (
        "<thead><tr><th>名称</th><th>排队</th><th>最长等待</th><th>呼入</th><th>接通</th>"
        f"<th>放弃</th><th>接通率</th><th>{f.target_seconds}秒接通率</th></tr></thead>"
    )
    return Markup(
        str(headline(f))
        + '<div class="grid">'
        + '<section class="panel wide"><h2>各线路排队</h2><table class="queues" id="wb-lines">'
        + header + f"<tbody>{queue_rows(f.lines, f.now)}</tbody></table></section>"
        + '<section class="panel wide"><h2>各技能组排队</h2><table class="queues" id="wb-skills">'
        + header + f"<tbody>{queue_rows(f.skills, f.now)}</tbody></table></section>"
        + '<section class="panel wide"><h2>今日来电（每小时）<span class="muted"> '
        + '灰：呼入 · 蓝：接通 · 红：放弃</span></h2>'
        + f'<div id="wb-hours-box">{hour_chart(f.hours)}</div></section>'
        + '<section class="panel wide"><h2>坐席状态 <span class="muted" id="wb-seat-total">'
        + f"共 {len(f.seats)} 席</span></h2>"
        + f'<ul class="counts" id="wb-seat-counts">{seat_counts(f.seat_counts)}</ul>'
        + f'<ul class="seats" id="wb-seats">{seat_tiles(f.seats, f.now)}</ul></section>'
        + '<section class="panel"><h2>语音转写容量</h2>'
        + f'<p class="big"><strong id="wb-asr-used">{a.in_use}</strong> / '
        + f'<span id="wb-asr-capacity">{a.capacity}</span> 路</p>'
        + str(capacity_bar(a.in_use, a.capacity))
        + '<p class="muted">今日因满载未转写 '
        + f'<span id="wb-asr-refused">{a.refused_today}</span> 路</p>'
        + "</section>"
        + '<section class="panel"><h2>工单红黄灯</h2><p class="big">'
        + f'<span class="lamp red"></span>超时 <strong id="wb-red">{o.red}</strong> 件 '
        + f'<span class="lamp yellow"></span>临近 <strong id="wb-yellow">{o.yellow}</strong> 件</p>'
        + f'<p class="muted">在办 <span id="wb-open">{o.open}</span> 件</p>'
        + f'<ul class="lights" id="wb-lights">{light_items(f.lights)}</ul></section>'
        + '<section class="panel"><h2>回访</h2><dl class="surveys">'
        + f'<dt>待回访</dt><dd id="wb-survey-due">{s.due}</dd>'
        + f'<dt>回访中</dt><dd id="wb-survey-calling">{s.calling}</dd>'
        + f'<dt>今日已回访</dt><dd id="wb-survey-done">{s.done_today}</dd>'
        + f'<dt>今日未成功</dt><dd id="wb-survey-failed">{s.failed_today}</dd>'
        + f'<dt>已排期</dt><dd id="wb-survey-scheduled">{s.scheduled}</dd></dl></section>'
        + "</div>"
    )  # fmt: skip
