"""The callback dialer's decisions: which task to dial, what an attempt means, what next."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from functools import reduce
from zoneinfo import ZoneInfo

import pytest

from config.settings import Settings
from hotline.app import StartupError
from hotline.feature import Core
from ivr_flows.jobs import CallingHours, RetryPolicy
from telephony import callback_dialer
from telephony.ami_events import AgentConnect, AmiEvent, DialEnd, Hangup, Newstate, UserEvent
from telephony.call_models import DialState
from telephony.callback_dialer_plan import (
    DIAL_STATE_LABELS,
    OUTCOME_LABELS,
    STAGE_EVENT,
    Candidate,
    DialerPolicy,
    DialOutcome,
    DialProgress,
    Pick,
    interrupted_step,
    next_step,
    observe,
    plan_dials,
    queue_for,
    stopped_step,
    verdict,
)
from telephony.callback_dialer_track import DialTracker
from telephony.catalogue import load_catalogue
from telephony.operator_interfaces import OperatorInterfaces

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
EVENING = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 21:00: calling hours closed
POLICY = DialerPolicy(
    hours=CallingHours(start=time(9), end=time(20), tz=SHANGHAI),
    retry=RetryPolicy(max_attempts=3, backoff=timedelta(minutes=10), factor=2),
    cap=2,
)
GENERAL = "hotline-general"
TRANSPORT = "hotline-transport"
EVERYTHING = frozenset({GENERAL, TRANSPORT, "hotline-default"})


def task(task_id: int, minutes_ago: int = 10, queue: str = GENERAL, **kw: object) -> Candidate:
    missed = MORNING - timedelta(minutes=minutes_ago)
    return Candidate(task_id, queue, missed, missed, **kw)  # type: ignore[arg-type]


def plan(
    tasks: Iterable[Candidate], ready: dict[str, frozenset[str]], in_flight: tuple[str, ...] = (),
    now: datetime = MORNING,
) -> list[Pick]:  # fmt: skip
    return plan_dials(tasks, now=now, policy=POLICY, ready=ready, in_flight=list(in_flight))


def test_nothing_is_dialled_without_a_ready_operator_of_the_queue() -> None:
    assert plan([task(1)], {}) == []
    assert plan([task(1)], {"1001": frozenset({TRANSPORT})}) == []
    assert plan([task(1)], {"1001": EVERYTHING}) == [Pick(1, GENERAL, "1001")]


def test_longest_waiting_first_one_dial_per_free_operator_and_the_cap() -> None:
    tasks = [task(1, 5), task(2, 50), task(3, 20)]
    one = {"1001": EVERYTHING}
    three = {"1001": EVERYTHING, "1002": EVERYTHING, "1003": EVERYTHING}
    assert [p.task_id for p in plan(tasks, one)] == [2]
    assert [p.task_id for p in plan(tasks, three)] == [2, 3]  # cap 2
    # A dial in flight holds one operator and one slot.
    assert [p.task_id for p in plan(tasks, three, (GENERAL,))] == [2]
    assert plan(tasks, one, (GENERAL,)) == []


def test_operators_are_matched_to_the_queue_each_task_needs() -> None:
    tasks = [task(1, 30, TRANSPORT), task(2, 20, GENERAL)]
    ready = {"1001": frozenset({GENERAL}), "1002": frozenset({TRANSPORT})}
    assert plan(tasks, ready) == [Pick(1, TRANSPORT, "1002"), Pick(2, GENERAL, "1001")]
    # The only transport operator is held by a dial in flight: the transport task waits.
    assert plan(tasks, ready, (TRANSPORT,)) == [Pick(2, GENERAL, "1001")]


def test_closed_hours_a_later_retry_and_old_misses_are_not_dialled() -> None:
    ready = {"1001": EVERYTHING}
    assert plan([task(1)], ready, now=EVENING) == []
    later = task(1, next_dial_at=MORNING + timedelta(minutes=5))
    assert plan([later], ready) == []
    assert plan([later], ready, now=MORNING + timedelta(minutes=5)) == [Pick(1, GENERAL, "1001")]
    assert plan([task(2, minutes_ago=25 * 60)], ready) == []  # max_age 24 h


def test_a_callback_joins_its_lines_skill_queue_or_the_default_group() -> None:
    catalogue = load_catalogue()
    assert queue_for(None, catalogue) == catalogue.default_queue
    assert queue_for("no-such-line", catalogue) == catalogue.default_queue
    line = catalogue.lines[0]
    assert queue_for(line.id, catalogue) == catalogue.skill_of(line).queue


ME = "4f7a-channel"
INTERFACES = OperatorInterfaces("PJSIP/op{extension}")


def fold(*events: AmiEvent, start: DialProgress | None = None) -> DialProgress:
    return reduce(lambda p, e: observe(p, e, INTERFACES.extension), events, start or DialProgress())


def stage(name: str) -> UserEvent:
    return UserEvent(uniqueid=ME, user_event=STAGE_EVENT, headers={"Stage": name})


ANSWERED = DialProgress(answered=True, rang=True, dial_status="ANSWER")


def test_unanswered_attempts_are_classified_by_cause_and_dial_status() -> None:
    busy = fold(DialEnd(uniqueid=ME, dial_status="BUSY"), Hangup(uniqueid=ME, cause=17))
    silent = fold(Newstate(uniqueid=ME, channel_state=5), Hangup(uniqueid=ME, cause=19))
    nobody = fold(Hangup(uniqueid=ME, cause=19))
    assert busy.settled and busy.hangup_cause == 17
    outcomes = [verdict(p, queue_seconds=60).outcome for p in (busy, silent, nobody)]
    assert [str(o) for o in outcomes] == ["busy", "no_answer", "unreachable"]


def test_answered_attempts_are_connected_to_the_operator_or_not_connected() -> None:
    connected = fold(
        stage("answered"),
        AgentConnect(uniqueid=ME, interface="PJSIP/op1003", member_name="op1003"),
        start=ANSWERED,
    )
    assert connected.settled and connected.operator == "1003"
    v = verdict(connected, queue_seconds=60)
    assert (str(v.outcome), v.reason) == ("answered_result", "connected to operator 1003")
    timeout = fold(stage("answered"), stage("queue_TIMEOUT"), Hangup(uniqueid=ME, cause=16),
                   start=ANSWERED)  # fmt: skip
    assert verdict(timeout, queue_seconds=60).reason == "answered, no operator free within 60 s"
    left = fold(stage("answered"), Hangup(uniqueid=ME, cause=16), start=ANSWERED)
    assert verdict(left, queue_seconds=60).reason.endswith("before an operator answered")


def test_busy_is_retried_after_the_backoff_then_handed_to_operators_with_the_reason() -> None:
    busy = verdict(fold(DialEnd(uniqueid=ME, dial_status="BUSY"), Hangup(uniqueid=ME, cause=17)),
                   queue_seconds=60)  # fmt: skip
    first = next_step(busy, attempts_made=1, max_attempts=3, now=MORNING, policy=POLICY)
    assert (first.state, first.outcome) == (DialState.waiting, DialOutcome.busy)
    assert first.next_dial_at == MORNING + timedelta(minutes=10)
    second = next_step(busy, attempts_made=2, max_attempts=3, now=MORNING, policy=POLICY)
    assert second.next_dial_at == MORNING + timedelta(minutes=20)
    last = next_step(busy, attempts_made=3, max_attempts=3, now=MORNING, policy=POLICY)
    assert (last.state, last.next_dial_at) == (DialState.manual, None)
    assert last.reason.startswith("busy after 3 attempt(s)")
    # A retry that would fall after 20:00 waits for the next morning.
    late = next_step(busy, attempts_made=1, max_attempts=3,
                     now=datetime(2026, 11, 24, 11, 55, tzinfo=UTC), policy=POLICY)  # fmt: skip
    assert late.next_dial_at == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def test_connected_closes_unreachable_and_not_connected_go_to_manual_at_once() -> None:
    connected = fold(AgentConnect(uniqueid=ME, interface="PJSIP/op1001"), start=ANSWERED)
    step = next_step(verdict(connected, queue_seconds=60), attempts_made=1, max_attempts=3,
                     now=MORNING, policy=POLICY)  # fmt: skip
    assert (step.state, step.outcome) == (DialState.connected, DialOutcome.connected)
    for progress, outcome in (
        (fold(Hangup(uniqueid=ME, cause=3)), DialOutcome.unreachable),
        (fold(Hangup(uniqueid=ME, cause=16), start=ANSWERED), DialOutcome.not_connected),
    ):
        step = next_step(verdict(progress, queue_seconds=60), attempts_made=1, max_attempts=3,
                         now=MORNING, policy=POLICY)  # fmt: skip
        assert (step.state, step.outcome) == (DialState.manual, outcome)
        assert step.reason.startswith(f"{outcome.value} after 1 attempt(s)")


def test_a_dial_interrupted_by_a_restart_goes_to_the_operators() -> None:
    step = interrupted_step(2)
    assert (step.state, step.outcome, step.next_dial_at) == (
        DialState.manual, DialOutcome.interrupted, None,
    )  # fmt: skip
    assert "not dialled again" in step.reason


def test_a_dial_this_server_stops_while_ringing_is_dialled_again_at_the_next_start() -> None:
    ringing = DialProgress(rang=True)
    again = stopped_step(ringing, attempts_made=1, max_attempts=2, now=MORNING, policy=POLICY)
    assert (again.state, again.next_dial_at, again.outcome) == (
        DialState.waiting, MORNING, DialOutcome.interrupted,
    )  # fmt: skip
    assert again.reason.startswith("server stopped while ringing at attempt 1: hung up")
    late = stopped_step(ringing, attempts_made=1, max_attempts=2, now=EVENING, policy=POLICY)
    assert late.state is DialState.waiting and late.next_dial_at is not None
    assert late.next_dial_at > EVENING  # calling hours: tomorrow morning
    last = stopped_step(ringing, attempts_made=2, max_attempts=2, now=MORNING, policy=POLICY)
    assert (last.state, last.next_dial_at) == (DialState.manual, None)
    assert "no attempt left" in last.reason
    # Answered (hearing the prompt or queued): maybe talking to someone: a person decides.
    answered = DialProgress(answered=True, rang=True, dial_status="ANSWER")
    assert stopped_step(answered, attempts_made=1, max_attempts=2, now=MORNING,
                        policy=POLICY) == interrupted_step(1)  # fmt: skip


def _core(**calls: object) -> Core:
    settings = Settings.model_validate({"calls": calls})
    # The builder only keeps these (no I/O at build time): plain stand-ins suffice.
    return Core(settings=settings, sessionmaker=None, ami=None, bus=None)  # type: ignore[arg-type]


def test_manual_mode_runs_no_dialer_and_auto_runs_one_with_its_routes() -> None:
    manual = callback_dialer.build(_core())
    assert (manual.tasks, manual.ami_handlers) == ((), ())
    assert manual.routes is not None and len(manual.routes.routes) == 4
    auto = callback_dialer.build(_core(callback_mode="auto"))
    assert len(auto.tasks) == 2 and isinstance(auto.ami_handlers[0], DialTracker)


def test_a_prompt_that_would_break_the_dialplan_stops_the_start() -> None:
    with pytest.raises(StartupError, match="callback_prompt"):
        callback_dialer.build(_core(callback_mode="auto", callback_prompt="a,b"))


def test_every_outcome_and_dial_state_has_a_chinese_label() -> None:
    assert set(OUTCOME_LABELS) == {o.value for o in DialOutcome}
    assert set(DIAL_STATE_LABELS) == {d.value for d in DialState}
