"""Routing decisions from facts alone: line, enterprise, key caller, preferred, withheld."""

from __future__ import annotations

import pytest

from telephony.catalogue import load_catalogue
from telephony.routing import (
    CallerFacts,
    IncomingCall,
    Reason,
    RoutingPolicy,
    decide,
    is_withheld,
)

CAT = load_catalogue()
POLICY = RoutingPolicy(key_caller_threshold=3, preferred_ring_seconds=8)


def nobody_ready(_: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("dnis", "queue"),
    [
        ("12345", "hotline-general"),
        ("12343", "hotline-general"),
        ("12328", "hotline-transport"),
        ("12366", "hotline-tax"),
    ],
)
def test_each_line_lands_in_its_skill_queue(dnis: str, queue: str) -> None:
    d = decide(IncomingCall(dnis, "13800138000"), CallerFacts(), CAT, POLICY, nobody_ready)
    assert d.queue == queue and d.line == dnis and d.flags == ()
    assert d.overflow_queue == "hotline-default" and d.overflow_seconds == 60
    assert d.reasons[0].code == "line" and dnis in d.reasons[0].detail


def test_enterprise_line_is_flagged_and_outranks_citizens() -> None:
    citizen = decide(IncomingCall("12345", "13800138000"), CallerFacts(), CAT, POLICY, nobody_ready)
    firm = decide(IncomingCall("96345", "02188888888"), CallerFacts(), CAT, POLICY, nobody_ready)
    assert firm.queue == citizen.queue
    assert firm.priority > citizen.priority and "enterprise" in firm.flags


def test_unknown_dnis_goes_to_the_default_queue_with_a_flag() -> None:
    d = decide(IncomingCall("999", "13800138000"), CallerFacts(), CAT, POLICY, nobody_ready)
    assert (d.queue, d.line, d.skill, d.flags) == ("hotline-default", None, None, ("unknown_dnis",))
    assert d.reasons == (Reason("unknown_dnis", "999 -> hotline-default"),)


def test_key_caller_gets_a_flag_and_a_boost() -> None:
    base = decide(
        IncomingCall("12345", "139"), CallerFacts(recent_calls=2), CAT, POLICY, nobody_ready
    )
    key = decide(
        IncomingCall("12345", "139"), CallerFacts(recent_calls=3), CAT, POLICY, nobody_ready
    )
    assert "key_caller" not in base.flags and "key_caller" in key.flags
    assert key.priority == base.priority + 1


def test_preferred_operator_only_when_ready() -> None:
    facts = CallerFacts(last_operator="1002")
    ready = decide(IncomingCall("12345", "139"), facts, CAT, POLICY, lambda ext: ext == "1002")
    assert ready.preferred_operator == "1002" and ready.preferred_ring_seconds == 8
    busy = decide(IncomingCall("12345", "139"), facts, CAT, POLICY, nobody_ready)
    assert busy.preferred_operator is None and busy.preferred_ring_seconds == 0
    assert busy.reasons[-1] == Reason("preferred_not_ready", "operator 1002")


@pytest.mark.parametrize(
    ("number", "flag"),
    [
        (None, "no_caller_id"),
        ("", "no_caller_id"),
        ("anonymous", "withheld"),
        ("Unknown", "withheld"),
    ],
)
def test_no_caller_id_and_withheld_are_queued_without_history(
    number: str | None, flag: str
) -> None:
    facts = CallerFacts(recent_calls=50, last_operator="1001")
    d = decide(IncomingCall("12345", number), facts, CAT, POLICY, lambda _: True)
    assert d.queue == "hotline-general" and d.flags == (flag,)
    assert d.preferred_operator is None


def test_decision_as_json_keeps_reasons_in_order() -> None:
    d = decide(
        IncomingCall("96345", "139"),
        CallerFacts(recent_calls=9, last_operator="1001"),
        CAT,
        POLICY,
        lambda _: True,
    )
    data = d.as_json()
    assert [r["code"] for r in data["reasons"]] == ["line", "enterprise", "key_caller", "preferred"]
    assert data["flags"] == ["enterprise", "key_caller"]
    assert "preferred: operator 1001" in d.summary()


def test_is_withheld() -> None:
    assert is_withheld(None) and is_withheld(" Anonymous ") and not is_withheld("13800138000")


def test_an_unstaffed_skill_goes_straight_to_the_wider_group() -> None:
    d = decide(IncomingCall("12328", "139"), CallerFacts(), CAT, POLICY, nobody_ready,
               staffed=lambda q: q != "hotline-transport")  # fmt: skip
    assert (d.queue, d.overflow_seconds, d.skill) == ("hotline-default", 0, "transport")
    assert d.reasons[-1] == Reason(
        "skill_unstaffed", "nobody in hotline-transport -> hotline-default"
    )
