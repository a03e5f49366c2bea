"""The wallboard's view model and markup: bus events in, figures and HTML out (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent_desktop.wallboard_html import board, capacity_bar, elapsed, hour_chart, percent
from agent_desktop.wallboard_model import Board, LightChange, OrderFigures, SurveyFigures
from hotline.bus_events import (
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
from telephony.catalogue import load_catalogue

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fresh() -> Board:
    return Board.start(load_catalogue(), T0, target_seconds=15, asr_capacity=4)


def offer(b: Board, linkedid: str, dnis: str, t: float) -> None:
    b.apply(CallOffered(linkedid=linkedid, caller_number="13800138000", dnis=dnis), at(t))
    b.apply(CallRouted(linkedid=linkedid, queue="hotline-general"), at(t + 1))


def test_calls_waiting_answered_and_abandoned_per_line_and_skill() -> None:
    b = fresh()
    offer(b, "a", "12345", 0)
    offer(b, "b", "12345", 5)
    offer(b, "c", "12328", 10)
    f = b.figures(at(20))
    assert (f.total.offered, f.total.waiting) == (3, 3)
    assert f.total.longest_wait_since == at(0)
    assert f.total.answer_rate is None  # nothing settled yet
    lines = {r.key: r for r in f.lines}
    assert lines["12345"].waiting == 2 and lines["12328"].waiting == 1
    assert "12328" in lines["12328"].title
    skills = {r.key: r for r in f.skills}
    assert skills["transport"].waiting == 1 and skills["transport"].title == "交通运输"
    assert f.lines[0].key == "12345"  # the line with the most callers waiting first

    b.apply(CallAnswered(linkedid="a", extension="1001"), at(10))  # 10 s: within 15
    b.apply(CallAnswered(linkedid="b", extension="1002"), at(30))  # 25 s: late
    b.apply(CallEnded(linkedid="c", answered=False, cause="caller"), at(40))  # abandoned
    b.apply(CallEnded(linkedid="a", answered=True), at(100))
    f = b.figures(at(120))
    t = f.total
    assert (t.offered, t.answered, t.abandoned, t.waiting) == (3, 2, 1, 0)
    assert t.answer_rate == round(2 / 3, 4) and t.within_target == round(1 / 3, 4)
    assert t.longest_wait_since is None


def test_a_caller_who_hangs_up_in_the_hold_context_was_never_offered() -> None:
    b = fresh()
    b.apply(CallOffered(linkedid="x", caller_number="1", dnis="12345"), at(0))
    assert b.figures(at(1)).total.waiting == 1
    b.apply(CallEnded(linkedid="x", answered=False), at(2))  # never routed
    assert b.figures(at(3)).total.offered == 0


def test_repeated_and_unknown_events_change_nothing() -> None:
    b = fresh()
    offer(b, "a", "12345", 0)
    assert not b.apply(CallOffered(linkedid="a", caller_number="1", dnis="12345"), at(5))
    assert not b.apply(CallAnswered(linkedid="nobody", extension="1"), at(5))
    assert not b.apply(OrderStep(order_id="N1", step="acknowledge"), at(5))
    f = b.figures(at(6))
    assert f.total.offered == 1 and f.total.longest_wait_since == at(0)
    offer(b, "z", "99999", 0)  # a number outside the catalogue
    assert "未识别" in {r.title for r in b.figures(at(7)).skills}


def test_calls_seeded_from_the_store_then_events_for_them() -> None:
    b = fresh()
    waiting = CallRecordPublic(id=1, uniqueid="u1", linkedid="s1", dnis="12345", line="12345",
                               queue="hotline-general", entered_at=at(-60))
    done = CallRecordPublic(id=2, uniqueid="u2", linkedid="s2", dnis="12345", line="12345",
                            entered_at=at(-600), answered_at=at(-590), ended_at=at(-400),
                            outcome="answered")
    yesterday = CallRecordPublic(id=3, uniqueid="u3", linkedid="s3", line="12345",
                                 entered_at=T0 - timedelta(days=1), outcome="abandoned",
                                 ended_at=T0 - timedelta(days=1))
    for r in (waiting, done, yesterday):
        b.seed_call(r)
    b.apply(CallOffered(linkedid="s1", caller_number="1", dnis="12345"), at(0))  # late copy
    f = b.figures(at(0))
    assert (f.total.offered, f.total.waiting, f.total.answered) == (2, 1, 1)
    assert f.total.longest_wait_since == at(-60)
    b.apply(CallEnded(linkedid="s1", answered=False), at(5))
    assert b.figures(at(6)).total.abandoned == 1  # it was queued: abandoned, not in hold


def test_midnight_forgets_yesterdays_settled_calls() -> None:
    b = fresh()
    offer(b, "a", "12345", 0)
    offer(b, "b", "12345", 0)
    b.apply(CallAnswered(linkedid="a", extension="1"), at(3))
    midnight = datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)  # 00:00:01 on the 24th, Beijing
    f = b.figures(midnight)
    assert f.day.isoformat() == "2026-11-24"
    assert (f.total.offered, f.total.waiting) == (1, 1)  # the one still waiting stays


def test_operators_by_state_with_time_in_state() -> None:
    b = fresh()
    b.apply(OperatorState(extension="1002", state="ready"), at(0))
    b.apply(OperatorState(extension="1001", state="talking", call_id="a"), at(5))
    b.apply(OperatorState(extension="1003", state="paused", reason="meal"), at(7))
    b.apply(OperatorState(extension="1002", state="ready"), at(9))  # same state: keeps since
    b.apply(OperatorState(extension="1003", state="paused", reason="meeting"), at(9))
    f = b.figures(at(10))
    assert f.seat_counts["ready"] == 1 and f.seat_counts["talking"] == 1
    assert f.seat_counts["paused"] == 1 and f.seat_counts["logged_out"] == 0
    assert [s.extension for s in f.seats] == ["1002", "1001", "1003"]  # ready, talking, paused
    assert f.seats[0].since == at(0)
    assert f.seats[2].label == "示忙（会议）" and f.seats[2].since == at(7)


def test_seats_seeded_from_the_store_keep_their_time_in_state_after_a_restart() -> None:
    b = fresh()
    # The bus (retained or this start's resync) may speak first, or after the seeding.
    b.apply(OperatorState(extension="1001", state="ready"), at(100))
    b.apply(OperatorState(extension="1004", state="unreachable"), at(100))
    assert b.seed_seat("1001", "ready", at(-600))  # same state: it began before the restart
    assert b.seed_seat("1002", "paused", at(-300), "meal")  # nothing on the bus yet
    assert not b.seed_seat("1004", "ready", at(-900))  # the bus is newer: the phone is gone
    b.apply(OperatorState(extension="1002", state="paused", reason="meal"), at(101))
    b.apply(OperatorState(extension="1003", state="ready"), at(102))
    assert not b.seed_seat("1003", "talking", at(-60))  # older than the bus: stays ready
    f = b.figures(at(120))
    since = {s.extension: (s.state, s.since) for s in f.seats}
    assert since == {
        "1001": ("ready", at(-600)), "1002": ("paused", at(-300)),
        "1003": ("ready", at(102)), "1004": ("unreachable", at(100)),
    }  # fmt: skip
    assert [s.label for s in f.seats if s.extension == "1002"] == ["示忙（用餐）"]


def test_transcription_capacity_in_use() -> None:
    b = fresh()
    b.apply(SystemHealth(component="asr", status="up", detail="2 workers, 6 streams",
                             capacity=6), at(0))
    b.apply(TranscriptStatus(call_id="a", channel="caller", status="live"), at(1))
    b.apply(TranscriptStatus(call_id="a", channel="operator", status="live"), at(1))
    b.apply(TranscriptStatus(call_id="b", channel="caller", status="unavailable"), at(2))
    a = b.figures(at(3)).asr
    assert (a.in_use, a.capacity, a.refused_today, a.status) == (2, 6, 1, "up")
    b.apply(TranscriptStatus(call_id="a", channel="caller", status="ended"), at(4))
    assert b.figures(at(5)).asr.in_use == 1


def test_orders_turning_yellow_and_red_newest_first() -> None:
    b = fresh()
    b.set_orders(OrderFigures(red=2, yellow=5, open=40))
    b.apply(OrderStep(order_id="N1", step="light_yellow", unit="water"), at(0))
    b.apply(OrderStep(order_id="N2", step="light_yellow"), at(1))
    b.apply(OrderStep(order_id="N1", step="light_red", unit="water"), at(2))
    b.set_surveys(SurveyFigures(due=3, calling=1, done_today=7, failed_today=1))
    f = b.figures(at(3))
    assert [(c.number, c.light) for c in f.lights] == [("N1", "red"), ("N2", "yellow")]
    assert (f.orders.red, f.orders.yellow) == (2, 5)
    assert (f.surveys.due, f.surveys.done_today) == (3, 7)


def test_markup_of_the_board() -> None:
    b = fresh()
    offer(b, "a", "12345", 0)
    b.apply(OperatorState(extension="1001", state="ready"), at(0))
    b.lights = [LightChange(number="<N1>", light="red", at=at(0), unit="water")]
    html = str(board(b.figures(at(75))))
    assert 'id="wb-waiting">1<' in html and "1:15" in html  # waiting 75 s
    assert 'data-since="2026-11-23T02:00:00+00:00"' in html
    assert 'data-ext="1001"' in html and "就绪" in html
    assert "&lt;N1&gt;" in html and "<N1>" not in html  # escaped
    assert elapsed(3723) == "1:02:03" and elapsed(-5) == "0:00"
    assert percent(None) == "—" and percent(0.9512) == "95.1%"
    assert 'width="60"' in str(capacity_bar(1, 4, width=240))
    assert " full" in str(capacity_bar(4, 4))


def test_calls_per_hour_as_an_svg_chart() -> None:
    b = fresh()  # T0 is 10:00 in Beijing
    offer(b, "a", "12345", 0)
    offer(b, "b", "12345", 3600)  # 11:00
    offer(b, "c", "12345", 3700)
    b.apply(CallAnswered(linkedid="b", extension="1"), at(3610))
    b.apply(CallEnded(linkedid="c", answered=False), at(3800))
    f = b.figures(at(3900))
    assert [h.hour for h in f.hours] == list(range(12))  # midnight to the hour now
    assert (f.hours[10].offered, f.hours[11].offered) == (1, 2)
    assert (f.hours[11].answered, f.hours[11].abandoned) == (1, 1)
    svg = str(hour_chart(f.hours))
    assert svg.startswith('<svg class="hours"') and svg.endswith("</svg>")
    assert "11时：呼入 2，接通 1，放弃 1" in svg and "峰值 2" in svg
    # the busiest hour's offered bar is the full plot height; answered half of it
    assert 'class="off" x="333.0" y="0.0" width="24.0" height="120.0"' in svg
    assert 'class="ans" x="333.0" y="60.0" width="24.0" height="60.0"' in svg
    assert 'class="abd" x="333.0" y="0.0" width="24.0" height="60.0"' in svg
