"""Typed AMI actions: header building and injection guards."""

from __future__ import annotations

import pytest

from telephony import ami_actions
from telephony.ami_actions import AmiAction, AmiResponse


def test_of_converts_and_repeats() -> None:
    action = AmiAction.of("QueueAdd", Queue="q", Penalty=0, Paused=False, MemberName=None,
                          Variable=["A=1", "B=2"])  # fmt: skip
    assert action.headers == (("Queue", "q"), ("Penalty", "0"), ("Paused", "false"),
                              ("Variable", "A=1"), ("Variable", "B=2"))  # fmt: skip
    assert not action.as_list


@pytest.mark.parametrize("value", ["x\r\nAction: Hangup", "x\n", "x\r"])
def test_line_breaks_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="bad header"):
        AmiAction.of("Setvar", Value=value)


def test_action_id_is_ours() -> None:
    with pytest.raises(ValueError, match="ActionID"):
        AmiAction.of("Ping", ActionID="mine")


def test_originate_is_always_async() -> None:
    action = ami_actions.originate(channel="PJSIP/1@pstn", context="c", exten="s",
                                   channel_id="id-1", variables={"K": "v"})  # fmt: skip
    headers = dict(action.headers)
    assert headers["Async"] == "true" and headers["ChannelId"] == "id-1"
    assert action.final_event == "OriginateResponse"


def test_secret_is_not_in_repr() -> None:
    assert "hunter2" not in repr(ami_actions.login("u", "hunter2"))


def test_list_actions_and_output() -> None:
    assert ami_actions.core_show_channels().as_list
    assert ami_actions.queue_status().as_list
    resp = AmiResponse("Command", "1", "Success", "", {"Output": "a\nb"})
    assert resp.output == ("a", "b") and resp.success
