"""One run of a flow, driven by answers alone."""

from __future__ import annotations

import pytest

from ivr_flows.feature import DEFAULT_FLOWS
from ivr_flows.flows import Flow, load_flows
from ivr_flows.machine import FlowRun


@pytest.fixture(scope="module")
def flows() -> dict[str, Flow]:
    return load_flows(DEFAULT_FLOWS)


def test_greeting_and_question_are_one_command_and_answers_fill_the_result(
    flows: dict[str, Flow],
) -> None:
    run = FlowRun(flows["survey"])
    first = run.start()
    assert (first.op, first.step, first.prompts) == (
        "read", "satisfaction", ("survey_greeting", "ask_satisfaction"),
    )  # fmt: skip
    second = run.answer(first.seq, "3")
    assert second is not None and (second.op, second.step) == ("read", "solved")
    assert run.complete and run.result == {"satisfaction": "不满意"}
    last = run.answer(second.seq, "2")
    assert last is not None and (last.op, last.prompts) == ("end", ("survey_thanks",))
    assert run.result == {"satisfaction": "不满意", "solved": "no"} and run.finished
    assert [(a.step, a.digits, a.accepted) for a in run.answers] == [
        ("satisfaction", "3", True), ("solved", "2", True),
    ]  # fmt: skip


def test_silence_and_wrong_keys_are_retried_then_the_flow_gives_up(
    flows: dict[str, Flow],
) -> None:
    run = FlowRun(flows["survey"])
    cmd = run.start()
    cmd2 = run.answer(cmd.seq, "")
    assert cmd2 is not None and cmd2.prompts[0] == "no_input"
    cmd3 = run.answer(cmd2.seq, "9")
    assert cmd3 is not None and cmd3.prompts[0] == "invalid_choice"
    end = run.answer(cmd3.seq, "")  # retries = 2: the third miss ends it
    assert end is not None and (end.op, end.step) == ("end", "goodbye")
    assert not run.complete


def test_a_stale_report_is_ignored(flows: dict[str, Flow]) -> None:
    run = FlowRun(flows["survey"])
    first = run.start()
    assert run.answer(first.seq + 5, "1") is None
    assert run.answer(first.seq, "1") is not None
    assert run.answer(first.seq, "1") is None  # the same report twice


def test_supervision_spells_the_order_reference(flows: dict[str, Flow]) -> None:
    run = FlowRun(flows["supervision"], {"order_ref": "0042"})
    first = run.start()
    assert first.prompts == (
        "supervision_intro", "d0", "d0", "d4", "d2", "supervision_overdue", "ask_acknowledge",
    )  # fmt: skip
    end = run.answer(first.seq, "1")
    assert end is not None and end.op == "end" and run.result == {"acknowledged": "yes"}
