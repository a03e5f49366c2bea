"""The report core: hand-made store rows in, report values out (no store, no server)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from reports import ranking, topics
from reports.build import build_report
from reports.model import ExtensionRow, MonthInputs, OrderRow, ReportInputs, TranscriptRow
from reports.periods import Period, week_of
from telephony.call_models import CallRecordPublic
from workorders.rates import Rates, UnitRates
from workorders.survey_rates import SurveyRow, summarise

WEEK = week_of(date(2026, 11, 22))  # Monday 16 to Sunday 22 November 2026
T0 = WEEK.start_utc  # Monday 00:00 in Shanghai
NOW = WEEK.end_utc + timedelta(hours=1)


def at(days: float, hours: float = 10) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def call(
    n: int, line: str, *, day: float, wait: float, answered: bool, caller: str = "",
    outcome: str | None = None,
) -> CallRecordPublic:  # fmt: skip
    entered = at(day)
    return CallRecordPublic(
        id=n, uniqueid=f"u{n}", linkedid=f"call-{n}", line=line, caller_number=caller or None,
        entered_at=entered,
        answered_at=entered + timedelta(seconds=wait) if answered else None,
        ended_at=entered + timedelta(seconds=wait + 60),
        outcome=outcome or ("answered" if answered else "abandoned"),
    )  # fmt: skip


def rates(
    units: dict[str, tuple[int, int, int, int]], surveys: list[SurveyRow], **overall: object
) -> Rates:
    unit_rates = [
        UnitRates(unit_id=u, dispatched=d, acknowledged=a, replied=r, returns=ret,
                  acknowledgement_rate=a / d if d else None)
        for u, (d, a, r, ret) in sorted(units.items())
    ]  # fmt: skip
    values: dict[str, object] = {
        "orders": 0, "dispatched": sum(d for d, *_ in units.values()), "resolved_on_call": 0,
        "acknowledgement_rate": None, "on_time_rate": None, "satisfaction_rate": None,
        "dispatch_seconds_median": None, "dispatch_seconds_p90": None,
    }  # fmt: skip
    values.update(overall)
    return Rates.model_validate(
        {"start": T0, "end": WEEK.end_utc, "units": unit_rates, "survey": summarise(surveys),
         **values}
    )  # fmt: skip


def survey(unit: str, *, satisfied: bool, solved: bool, answered: bool = True) -> SurveyRow:
    return SurveyRow(unit_id=unit, line="12345", answered=answered, satisfied=satisfied,
                     solved=solved)  # fmt: skip


def order(n: int, *, day: float, kind: str = "complaint", category: str = "", unit: str = "",
          late: bool | None = None, caller: str = "", title: str = "", content: str = "",
          line: str = "12345") -> OrderRow:  # fmt: skip
    created = at(day)
    deadline = created + timedelta(days=3)
    replied = None if late is None else deadline + timedelta(hours=1 if late else -1)
    return OrderRow(number=f"12345-{n:04d}", created_at=created, kind=kind, category=category,
                    title=title, content=content, line=line, caller_number=caller,
                    lead_unit_id=unit or None, mode="direct", replied_at=replied,
                    deadline=deadline)  # fmt: skip


UNITS = {"A": (4, 4, 4, 0), "B": (3, 2, 1, 1), "C": (2, 1, 0, 2), "D": (1, 1, 1, 0)}
SURVEYS = [
    survey("A", satisfied=True, solved=True), survey("A", satisfied=True, solved=True),
    survey("B", satisfied=False, solved=False), survey("D", satisfied=True, solved=False),
    survey("D", satisfied=False, solved=False, answered=False),
]  # fmt: skip
NAMES = {"A": "市水务集团", "B": "市住建局", "C": "某区城管局", "D": "市交通局"}
CALLER = "13800000001"


def week_inputs(months: list[MonthInputs] | None = None) -> ReportInputs:
    calls = [
        call(1, "12345", day=0, wait=5, answered=True, caller=CALLER),
        call(2, "12345", day=0, wait=20, answered=True, caller=CALLER),
        call(3, "12345", day=1, wait=8, answered=True, caller=CALLER),
        call(4, "12345", day=1, wait=40, answered=False),
        call(5, "12328", day=2, wait=3, answered=True, caller="13900000002"),
        call(6, "12328", day=2, wait=30, answered=False),
        call(7, "12345", day=3, wait=2, answered=False, outcome="hung_up_in_hold"),
        call(8, "12345", day=-1, wait=2, answered=True, caller=CALLER),  # the week before
    ]
    orders = [
        order(1, day=0, category="供水/停水", unit="A", late=False, caller=CALLER,
              title="小区停水", content="市民来电反映幸福小区停水三天"),
        order(2, day=0, category="供水/停水", unit="A", caller=CALLER,
              title="停水", content="幸福小区又停水"),
        order(3, day=1, kind="inquiry", category="住房/物业", unit="B", late=True,
              title="物业收费", content="咨询物业收费标准"),
        order(4, day=2, kind="help", category="交通/公交", unit="D", line="12328",
              title="公交改线", content="公交改线后不方便"),
        order(5, day=5, kind="suggestion", category="供水/停水", unit="C",
              title="停水通知", content="建议停水提前通知"),
    ]  # fmt: skip
    previous = [
        order(9, day=-3, category="住房/物业", title="物业", content="物业不作为"),
        order(10, day=-2, category="住房/物业", title="物业", content="物业收费"),
        order(11, day=-2, category="供水/停水", title="停水", content="停水"),
    ]  # fmt: skip
    return ReportInputs(
        period=WEEK,
        generated_at=NOW,
        orders=orders,
        calls=calls,
        rates=rates(
            UNITS, SURVEYS, orders=5, resolved_on_call=1, acknowledgement_rate=0.8,
            on_time_rate=0.5,
        ),
        extensions=[
            ExtensionRow(unit_id="B", status="granted", asked_at=at(2)),
            ExtensionRow(unit_id="B", status="refused", asked_at=at(3)),
            ExtensionRow(unit_id="C", status="pending", asked_at=at(4)),
        ],
        transcripts=[TranscriptRow(call_id="call-1", text="我 家 小区 停水 了")],
        previous_orders=previous,
        previous_calls_offered=4,
        months=months or [],
        unit_names=NAMES,
        line_names={"12345": "12345 政务服务便民热线", "12328": "12328 交通运输服务监督热线"},
        vocabulary=frozenset({"停水", "小区", "物业"}),
        answered_within_seconds=15,
        key_caller_threshold=3,
    )


def test_headline_reads_the_rates_and_counts_calls_like_the_wallboard() -> None:
    r = build_report(week_inputs())
    h = r.headline
    # 6 offered (the hold-context call was never offered, last week's is not this week's).
    assert (h.calls_offered, h.calls_answered, h.calls_abandoned) == (6, 4, 2)
    assert h.answer_rate == pytest.approx(4 / 6, abs=1e-4)
    assert h.answered_within_target_rate == pytest.approx(3 / 6, abs=1e-4)  # 5, 8, 3 s
    assert h.orders == 5
    assert (h.acknowledgement_rate, h.on_time_rate, h.resolved_on_call) == (0.8, 0.5, 1)
    assert h.response_rate == pytest.approx(4 / 5)
    assert h.satisfaction_rate == pytest.approx(3 / 4)
    assert h.resolution_rate == pytest.approx(2 / 4)
    assert (h.returns, h.extensions, h.surveys, h.dispatched) == (3, 3, 5, 10)
    assert (h.previous_calls_offered, h.previous_orders) == (4, 3)
    assert h.calls_change == 0.5 and h.orders_change == pytest.approx(2 / 3)
    assert r.period == WEEK
    assert r.previous == Period(date(2026, 11, 9), date(2026, 11, 15))


def test_volumes_by_line_kind_and_day() -> None:
    r = build_report(week_inputs())
    lines = {v.line: v for v in r.lines}
    assert [v.line for v in r.lines] == ["12345", "12328"]  # most calls first
    assert (lines["12345"].offered, lines["12345"].answered, lines["12345"].orders) == (4, 3, 4)
    assert lines["12328"].label == "12328 交通运输服务监督热线"
    assert (lines["12328"].offered, lines["12328"].answer_rate, lines["12328"].orders) == (
        2, 0.5, 1,
    )  # fmt: skip
    kinds = {k.kind: k for k in r.kinds}
    assert [k.label for k in r.kinds] == ["咨询", "求助", "投诉", "举报", "建议", "表扬"]
    assert (kinds["complaint"].orders, kinds["complaint"].share) == (2, 0.4)
    assert kinds["report"].orders == 0
    assert [d.day for d in r.days] == WEEK.dates()
    assert [(d.offered, d.answered, d.orders) for d in r.days][:3] == [
        (2, 2, 2), (2, 1, 1), (2, 1, 1),
    ]  # fmt: skip
    assert r.days[0].answer_rate == 1.0
    assert r.days[6].answer_rate is None  # nothing to count: not a bad day


def test_units_are_scored_ranked_and_put_on_the_red_and_black_boards() -> None:
    r = build_report(week_inputs())
    by_id = {u.unit_id: u for u in r.units}
    assert by_id["A"].score == 100.0
    assert by_id["B"].score == pytest.approx(100 * 0.2 * (2 / 3) - 2, abs=0.01)
    assert by_id["C"].score == 46.0  # only 签收率 50 % known, minus 2 returns
    assert by_id["D"].score == pytest.approx(100 * (0.2 + 0.3) / 0.7, abs=0.01)
    assert [u.unit_id for u in r.units] == ["A", "D", "C", "B"]
    assert [u.rank for u in r.units] == [1, 2, 3, 4]
    assert (by_id["B"].on_time_rate, by_id["A"].on_time_rate) == (0.0, 1.0)
    assert (by_id["B"].extensions_asked, by_id["B"].extensions_granted) == (2, 1)
    assert by_id["B"].name == "市住建局"
    # Four ranked units: each board takes at most half.
    assert [u.unit_id for u in r.red_board] == ["A", "D"]
    assert [u.unit_id for u in r.black_board] == ["B", "C"]


def test_a_unit_with_only_surveys_in_the_period_is_listed_but_not_ranked() -> None:
    units = ranking.unit_figures(
        rates({"A": (1, 1, 1, 0)}, [survey("E", satisfied=True, solved=True)]), []
    )
    assert [(u.unit_id, u.rank) for u in units] == [("A", 1), ("E", None)]
    assert units[1].score is None


def test_red_zone_is_the_bottom_three_in_each_of_three_months() -> None:
    best_first = ["u1", "u2", "u3", "u4", "u5", "X", "Y", "Z"]
    month2 = ["u1", "u2", "u3", "Y", "u4", "u5", "X", "Z"]  # Y climbs out in month 2
    month3 = ["u1", "u2", "u3", "u4", "X", "Z", "Y"]  # u5 not ranked in month 3
    zone = ranking.red_zone([best_first, month2, month3], {"X": "某局"})
    assert [(z.unit_id, z.ranks, z.ranked) for z in zone] == [
        ("Z", (8, 8, 6), (8, 8, 7)), ("X", (6, 7, 5), (8, 8, 7)),
    ]  # fmt: skip
    assert zone[1].name == "某局"
    # Two months of history decide nothing; four months: only the last three count.
    assert ranking.red_zone([best_first, month2]) == []
    older = ["Z", "u1", "u2", "u3", "u4", "u5", "X", "Y"]
    assert {z.unit_id for z in ranking.red_zone([older, best_first, month2, month3])} == {
        "X", "Z",
    }  # fmt: skip
    # A small city: with four units ranked only two are "bottom".
    assert ranking.bottom(["a", "b", "c", "d"]) == ["c", "d"]
    assert ranking.bottom(["a"]) == []


def test_red_zone_months_mark_units_in_the_report() -> None:
    months = [
        MonthInputs(period=m, rates=rates(UNITS, SURVEYS), orders=[])
        for m in WEEK.months_back(3)
    ]
    r = build_report(week_inputs(months))
    # Each month: A 100, D 71.4, C 46, B 11.3 → bottom two of four: B and C.
    assert {z.unit_id for z in r.red_zone} == {"B", "C"}
    assert [m.first.month for m in r.red_zone_months] == [8, 9, 10]
    assert {u.unit_id for u in r.units if u.red_zone} == {"B", "C"}


def test_hot_topics_put_rising_ones_first() -> None:
    r = build_report(week_inputs())
    assert [(t.key, t.count, t.previous) for t in r.categories] == [
        ("供水/停水", 3, 1), ("交通/公交", 1, 0), ("住房/物业", 1, 2),
    ]  # fmt: skip
    assert r.categories[1].new and r.categories[0].rising and not r.categories[2].rising
    # Vocabulary words in any text; 幸福 as a bigram (two texts, at the start of a run);
    # 福小, 区停 (always inside 幸福小区停水) and one-text bigrams (公交) are not words.
    assert [(t.key, t.count, t.previous) for t in r.words] == [
        ("停水", 4, 1), ("小区", 3, 0), ("幸福", 2, 0), ("物业", 1, 2),
    ]  # fmt: skip


def test_hot_keeps_the_most_frequent_then_orders_rising_first() -> None:
    current = Counter({"a": 10, "b": 9, "c": 3, "d": 1})
    previous = Counter({"a": 12, "b": 2, "c": 1})
    hot = topics.hot(current, previous, limit=3)
    assert [t.key for t in hot] == ["b", "c", "a"]  # d is not among the three most frequent
    assert (hot[0].change, hot[2].change) == (7, -2)


def test_words_skip_boilerplate_straddles_single_characters_and_digits() -> None:
    orders = [
        order(1, day=0, title="和平街12号停水", content="市民来电反映：和平街3号楼停水！"),
        order(2, day=0, title="解放路停水", content="来电人反映解放路停水"),
        order(3, day=0, title="燃气", content="燃气泄漏"),
    ]  # fmt: skip
    counts = topics.word_counts(topics.texts(orders, []), vocabulary=["燃气"])
    assert counts == {"停水": 2, "燃气": 1}
    # Without the formula removed, 民来/电反 would be counted; without the variety
    # rule, 和平/平街 (one text) and 路停 (always 路停水) would.
    assert topics.clean("市民来电反映停水") == "，停水"


def test_key_callers_are_repeat_callers_most_calls_first() -> None:
    r = build_report(week_inputs())
    assert [(k.number, k.calls, k.orders, k.top_category, k.key) for k in r.key_callers] == [
        (CALLER, 3, 2, "供水/停水", True),
    ]


def test_an_empty_period_has_no_rates_rather_than_zero_rates() -> None:
    empty = ReportInputs(period=Period(date(2026, 1, 1), date(2026, 1, 1)), generated_at=NOW,
                         orders=[], calls=[], rates=rates({}, []))  # fmt: skip
    r = build_report(empty)
    assert r.headline.answer_rate is None and r.headline.satisfaction_rate is None
    assert r.units == () and r.red_board == () and r.key_callers == ()
    assert [d.answer_rate for d in r.days] == [None]
