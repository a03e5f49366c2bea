"""Charts as inline SVG, drawn on the server. Pure: values in, SVG text out.

Three charts, each a function returning one `<svg>` element as a string (every text
escaped; the caller marks it safe): `bar_chart` (horizontal bars with an optional inner
bar, e.g. calls offered and answered per line), `line_chart` (a rate per day, with gaps
where a day had nothing to count) and `ranking_bars` (unit scores out of 100, the best
first, the 黑榜/red-zone units in red).

Why horizontal bars: Chinese labels (12328 交通运输服务监督热线, 市住房和城乡建设局) are
long; a bar per row keeps them readable without rotating text. Colours are presentation
attributes, not `style` (the pages' Content-Security-Policy forbids inline styles), and
each chart has a `<title>` and `role="img"` with an `aria-label` for screen readers.
Sizes are in user units with a `viewBox`, so the chart scales to its box on screen and
on an A4 page alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9e2ec"
BLUE = "#2f6fb0"
LIGHT_BLUE = "#9cc3ea"
RED = "#c8102e"
GREEN = "#2e7d32"
FONT = 'font-family="Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"'


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    inner: float | None = None  # drawn inside the bar, e.g. answered of offered
    tone: str = "normal"  # normal / good / bad


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _open(width: float, height: float, title: str, css: str) -> str:
    t = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
        f'aria-label="{t}" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" {FONT} font-size="13">'
        f"<title>{t}</title>"
    )


def _empty(title: str, css: str, width: float = 640) -> str:
    return (
        _open(width, 40, title, css)
        + f'<text x="8" y="25" fill="{MUTED}">本时段无数据</text></svg>'
    )


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    legend: tuple[str, str] | None = None,
    width: float = 640,
    label_width: float = 220,
    row: float = 26,
    maximum: float | None = None,
) -> str:
    """Horizontal bars, one row each, value written at the bar's end.

    Bars are scaled to `maximum` (e.g. 100 for scores), or to the biggest value.
    """
    if not bars:
        return _empty(title, "bars", width)
    top = 22 if legend else 4
    height = top + row * len(bars) + 4
    span = width - label_width - 60
    biggest = maximum or max(max(b.value, b.inner or 0) for b in bars) or 1
    parts = [_open(width, height, title, "bars")]
    if legend:
        parts.append(
            f'<rect x="{_num(label_width)}" y="4" width="12" height="12" fill="{LIGHT_BLUE}"/>'
            f'<text x="{_num(label_width + 16)}" y="15" fill="{INK}">{escape(legend[0])}</text>'
            f'<rect x="{_num(label_width + 120)}" y="4" width="12" height="12" fill="{BLUE}"/>'
            f'<text x="{_num(label_width + 136)}" y="15" fill="{INK}">{escape(legend[1])}</text>'
        )
    for i, b in enumerate(bars):
        y = top + i * row
        w = span * b.value / biggest
        fill = {"good": GREEN, "bad": RED}.get(b.tone, LIGHT_BLUE if legend else BLUE)
        value_text = _num(b.value) if b.inner is None else f"{_num(b.inner)} / {_num(b.value)}"
        parts.append(
            f'<g class="bar"><text x="{_num(label_width - 8)}" y="{_num(y + row * 0.65)}" '
            f'text-anchor="end" fill="{INK}">{escape(b.label)}</text>'
            f'<rect x="{_num(label_width)}" y="{_num(y + 4)}" width="{w:.1f}" '
            f'height="{_num(row - 8)}" fill="{fill}"/>'
        )
        if b.inner is not None:
            iw = span * b.inner / biggest
            parts.append(
                f'<rect x="{_num(label_width)}" y="{_num(y + 8)}" width="{iw:.1f}" '
                f'height="{_num(row - 16)}" fill="{BLUE}"/>'
            )
        parts.append(
            f'<text x="{label_width + w + 6:.1f}" y="{_num(y + row * 0.65)}" '
            f'fill="{INK}">{escape(value_text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    width: float = 640,
    height: float = 220,
) -> str:
    """A rate (0..1) per point, drawn as percent; None leaves a gap in the line."""
    if not points or all(v is None for _, v in points):
        return _empty(title, "line", width)
    left, right, top, bottom = 44.0, 28.0, 12.0, 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (i * step if len(points) > 1 else plot_w / 2)
        return x, top + plot_h * (1 - max(0.0, min(1.0, v)))

    parts = [_open(width, height, title, "line")]
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{_num(left)}" y1="{y:.1f}" x2="{_num(width - right)}" y2="{y:.1f}" '
            f'stroke="{GRID}"/><text x="{_num(left - 6)}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{MUTED}">{pct}%</text>'
        )
    segments: list[list[tuple[float, float]]] = [[]]
    for i, (_, v) in enumerate(points):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(xy(i, v))
    for seg in segments:
        if len(seg) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{BLUE}" stroke-width="2"/>'
            )
    every = max(1, len(points) // 10 + (1 if len(points) % 10 else 0))
    for i, (label, v) in enumerate(points):
        if v is not None:
            x, y = xy(i, v)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BLUE}">'
                f"<title>{escape(label)} {v * 100:.1f}%</title></circle>"
            )
        if i % every == 0 or i == len(points) - 1:
            x = left + (i * step if len(points) > 1 else plot_w / 2)
            parts.append(
                f'<text x="{x:.1f}" y="{_num(height - 12)}" text-anchor="middle" '
                f'fill="{MUTED}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def ranking_bars(units: Sequence[tuple[str, float, str]], *, title: str, width: float = 640) -> str:
    """(label, score out of 100, tone) per unit, best first; tone good/bad/normal."""
    bars = [Bar(label=label, value=round(value, 1), tone=tone) for label, value, tone in units]
    return bar_chart(bars, title=title, width=width, maximum=100)
