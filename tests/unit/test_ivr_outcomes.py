"""Outcomes by hangup cause and dial status, as Asterisk 22 reported them live."""

from __future__ import annotations

import pytest

from ivr_flows.outcomes import AttemptFacts, Outcome, classify


@pytest.mark.parametrize(
    ("facts", "outcome"),
    [
        (AttemptFacts(answered=True, hangup_cause=16, result_complete=True), "answered_result"),
        (AttemptFacts(answered=True, hangup_cause=16), "answered_no_result"),
        # 486: OriginateResponse Reason 0, DialEnd BUSY, cause 17
        (AttemptFacts(answered=False, hangup_cause=17, dial_status="BUSY"), "busy"),
        (AttemptFacts(answered=False, hangup_cause=17), "busy"),
        # rang (180) until the originate timeout: cause 19 in state Ringing
        (AttemptFacts(answered=False, hangup_cause=19, rang=True), "no_answer"),
        # nothing answered the INVITE at all: also cause 19, but it never rang
        (AttemptFacts(answered=False, hangup_cause=19), "unreachable"),
        (AttemptFacts(answered=False, hangup_cause=34, dial_status="CONGESTION"), "unreachable"),
        (AttemptFacts(answered=False, hangup_cause=1), "unreachable"),
        (AttemptFacts(answered=False), "unreachable"),  # no channel was ever made
    ],
)
def test_classify(facts: AttemptFacts, outcome: str) -> None:
    assert classify(facts).outcome == Outcome(outcome)


def test_only_busy_and_no_answer_are_retried() -> None:
    retried = {o for o in Outcome if classify(_facts_for(o)).retryable}
    assert retried == {Outcome.busy, Outcome.no_answer}


def _facts_for(outcome: Outcome) -> AttemptFacts:
    return {
        Outcome.answered_result: AttemptFacts(answered=True, result_complete=True),
        Outcome.answered_no_result: AttemptFacts(answered=True),
        Outcome.busy: AttemptFacts(answered=False, hangup_cause=17),
        Outcome.no_answer: AttemptFacts(answered=False, hangup_cause=19, rang=True),
        Outcome.unreachable: AttemptFacts(answered=False, hangup_cause=27),
    }[outcome]
