"""The call state machine, driven by events alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.calls import (
    Answered,
    CallEvent,
    CallState,
    FellBack,
    HungUp,
    IllegalCallTransition,
    Offered,
    Outcome,
    Queued,
    Routed,
    advance,
    new_call,
)

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*events: CallEvent):  # type: ignore[no-untyped-def]
    call = new_call("1700000000.1")
    for e in events:
        call = advance(call, e)
    return call


def test_answered_call() -> None:
    call = run(
        Offered(at(0), "12345", "13800138000", "张伟"),
        Routed(at(0.01), "hotline-general"),
        Queued(at(0.02), "hotline-general"),
        Answered(at(4), "1001"),
        HungUp(at(60)),
    )
    assert call.state is CallState.ended and call.outcome is Outcome.answered
    assert call.operator == "1001" and call.wait_seconds == 4.0
    assert call.queue == "hotline-general" and call.caller_name == "张伟"


def test_abandoned_in_queue_and_overflow() -> None:
    call = run(
        Offered(at(0), "12328", "139"),
        Routed(at(0), "hotline-transport"),
        Queued(at(0), "hotline-transport"),
        Queued(at(30), "hotline-default"),
        HungUp(at(40), "16"),
    )
    assert call.outcome is Outcome.abandoned
    assert call.queues == ("hotline-transport", "hotline-default")
    assert call.wait_seconds == 40.0


def test_preferred_operator_answers_before_any_queue() -> None:
    call = run(
        Offered(at(0), "12345", "139"),
        Routed(at(0), "hotline-general", "1002"),
        Answered(at(2), "1002"),
        HungUp(at(9)),
    )
    assert call.outcome is Outcome.answered and call.queues == ()


def test_hung_up_while_holding_is_not_a_missed_call() -> None:
    assert run(Offered(at(0), "12345", "139"), HungUp(at(1))).outcome is Outcome.hung_up_in_hold


def test_fallback_without_the_server_and_the_race_with_it() -> None:
    call = run(Offered(at(0), "12345", "139"), FellBack(at(3)), Queued(at(3), "hotline-default"))
    assert call.fell_back and call.state is CallState.queued
    raced = run(Offered(at(0), "12345", "139"), Routed(at(2.9), "q"), FellBack(at(3)))
    assert raced.fell_back and raced.routed_at == at(2.9)


def test_transfer_requeues_and_second_operator_answers() -> None:
    call = run(
        Offered(at(0), "12345", "139"),
        Queued(at(0), "hotline-default"),
        Answered(at(1), "1001"),
        Queued(at(20), "hotline-transport"),
        Answered(at(25), "1003"),
        HungUp(at(90)),
    )
    assert call.operators == ("1001", "1003") and call.answered_at == at(1)
    assert call.outcome is Outcome.answered


@pytest.mark.parametrize(
    "events",
    [
        (Routed(at(0), "q"),),
        (Offered(at(0), "12345", "1"), Answered(at(1), "1001")),
        (Offered(at(0), "12345", "1"), Offered(at(0), "12345", "1")),
        (Offered(at(0), "12345", "1"), HungUp(at(1)), HungUp(at(2))),
    ],
)
def test_illegal_transitions_are_named(events: tuple[CallEvent, ...]) -> None:
    with pytest.raises(IllegalCallTransition, match=r"is not allowed in state"):
        run(*events)
