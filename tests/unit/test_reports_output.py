"""Report outputs: inline SVG charts, HTML pieces, CSV (BOM, sections, no formulas), JSON."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

from reports import charts, export, html
from reports.build import build_report
from reports.model import Report
from tests.unit.test_reports_build import week_inputs

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("viewBox")
    return root


def report() -> Report:
    return build_report(week_inputs())


def test_bar_chart_draws_one_row_per_bar_scaled_to_the_biggest() -> None:
    bars = [charts.Bar("12345 热线", 100, inner=80), charts.Bar("12328 <交通>", 50, inner=50)]
    root = parse(charts.bar_chart(bars, title="来电", legend=("来电", "接通")))
    assert root.find(f"{SVG}title").text == "来电"  # type: ignore[union-attr]
    rows = root.findall(f"{SVG}g")
    assert len(rows) == 2
    widths = [float(r.findall(f"{SVG}rect")[0].get("width", "0")) for r in rows]
    assert widths[0] == 2 * widths[1]
    texts = [t.text for t in rows[1].iter(f"{SVG}text")]
    assert texts == ["12328 <交通>", "50 / 50"]  # escaped in the markup, intact in the tree


def test_bar_chart_with_a_fixed_maximum_and_tones() -> None:
    svg = charts.ranking_bars([("1. 供水公司", 90.0, "good"), ("2. 市住建局", 45.0, "bad")],
                              title="得分")  # fmt: skip
    rows = parse(svg).findall(f"{SVG}g")
    first, second = (r.findall(f"{SVG}rect")[0] for r in rows)
    assert float(first.get("width", "0")) == 2 * float(second.get("width", "0"))
    assert (first.get("fill"), second.get("fill")) == (charts.GREEN, charts.RED)
    assert "style=" not in svg  # the CSP forbids inline styles


def test_line_chart_leaves_gaps_where_there_is_nothing_to_count() -> None:
    points = [("11/16", 1.0), ("11/17", 0.5), ("11/18", None), ("11/19", 0.8), ("11/20", 0.9)]
    root = parse(charts.line_chart(points, title="每日接通率"))
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2  # broken at 11/18
    assert len(root.findall(f"{SVG}circle")) == 4
    first = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    assert first[0][1] < first[1][1]  # 100 % is drawn above 50 %
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "100%" in labels and "11/16" in labels and "11/20" in labels


def test_empty_charts_say_so() -> None:
    assert "本时段无数据" in charts.bar_chart([], title="x")
    assert "本时段无数据" in charts.line_chart([("1/1", None)], title="x")
    parse(charts.line_chart([("1/1", None)], title="x"))


def test_report_body_shows_the_figures_with_words_not_only_colours() -> None:
    body = html.report_body(report())
    assert 'data-figure="answer_rate"' in body and "66.7%" in body
    assert "环比 +50.0%" in body and "环比 +66.7%" in body
    assert "红榜（前三）" in body and "黑榜（后三）" in body
    assert body.count("<svg") == 3
    assert "<script" not in body
    assert "市住建局" in body and "13800000001" in body
    assert html.pct(None) == "—"


def test_csv_starts_with_a_bom_and_has_titled_sections() -> None:
    text = export.to_csv(report())
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["报表", "2026年11月16日至22日周分析"]
    assert ["接通率", "66.7%"] in rows and ["工单量", "5"] in rows
    assert ["来电量环比", "50.0%"] in rows and ["上期工单量", "3"] in rows
    titles = [r[0] for r in rows if len(r) == 1]
    assert titles == ["总体指标", "分线路", "诉求类型", "每日", "承办单位排名", "热点分类",
                      "热点词", "重点来电人"]  # fmt: skip
    ranking = rows.index(["承办单位排名"])
    assert rows[ranking + 2][:2] == ["1", "市水务集团"]
    assert ["供水/停水", "3", "1", "2"] in rows
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_csv_cells_never_start_a_formula() -> None:
    assert export._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert export._cell("+8613800000000") == "'+8613800000000"
    assert export._cell(-3) == -3 and export._cell(None) == ""
    assert export._cell("-33.3%") == "-33.3%"  # a figure of ours, not a formula


def test_json_has_every_value_and_topic_changes() -> None:
    data = json.loads(json.dumps(export.to_json(report())))
    assert data["period"] == {"from": "2026-11-16", "to": "2026-11-22", "kind": "week",
                              "title": "2026年11月16日至22日周分析", "days": 7}  # fmt: skip
    assert data["headline"]["calls_offered"] == 6
    assert data["categories"][0] == {"key": "供水/停水", "count": 3, "previous": 1, "change": 2,
                                     "rising": True, "new": False}  # fmt: skip
    assert data["units"][0]["unit_id"] == "A" and data["units"][0]["rank"] == 1
    assert data["days"][0]["day"] == "2026-11-16"
    assert data["rates"]["acknowledgement_rate"] == 0.8
    assert export.filename(report(), "csv") == "hotline-report-2026-11-16-2026-11-22.csv"
