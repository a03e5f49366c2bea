"""Typed AMI events from header mappings."""

from __future__ import annotations

import dataclasses

import pytest

from telephony.ami_events import (
    EVENT_TYPES,
    AgentComplete,
    AgentConnect,
    ChannelInfo,
    DialBegin,
    Hangup,
    MalformedAmiMessage,
    Newchannel,
    QueueMemberStatus,
    UnknownEvent,
    UserEvent,
    VarSet,
    parse_event,
)

CHANNEL = {
    "Channel": "PJSIP/pstn-00000001",
    "ChannelState": "4",
    "ChannelStateDesc": "Ring",
    "CallerIDNum": "13800138000",
    "CallerIDName": "张伟",
    "ConnectedLineNum": "<unknown>",
    "ConnectedLineName": "<unknown>",
    "Language": "en",
    "AccountCode": "",
    "Context": "from-pstn",
    "Exten": "12345",
    "Priority": "1",
    "Uniqueid": "1700000000.1",
    "Linkedid": "1700000000.0",
}


def dest(prefix: str = "Dest") -> dict[str, str]:
    return {prefix + k: v for k, v in CHANNEL.items()} | {
        prefix + "Channel": "PJSIP/op1001-00000002",
        prefix + "Uniqueid": "1700000000.2",
    }


def test_channel_fields_are_typed() -> None:
    event = parse_event({"Event": "Newchannel", "Privilege": "call,all", **CHANNEL})
    assert event == Newchannel(
        channel="PJSIP/pstn-00000001", channel_state=4, channel_state_desc="Ring",
        caller_id_num="13800138000", caller_id_name="张伟", connected_line_num="<unknown>",
        connected_line_name="<unknown>", language="en", account_code="", context="from-pstn",
        exten="12345", priority=1, uniqueid="1700000000.1", linkedid="1700000000.0",
    )  # fmt: skip
    assert event.call_id == "1700000000.0"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.uniqueid = "x"  # type: ignore[misc]


def test_hangup_and_agent_connect() -> None:
    hangup = parse_event({"Event": "Hangup", **CHANNEL, "Cause": "16", "Cause-txt": "Normal"})
    assert isinstance(hangup, Hangup) and (hangup.cause, hangup.cause_txt) == (16, "Normal")
    connect = parse_event({"Event": "AgentConnect", **CHANNEL, **dest(), "Queue": "q",
                           "MemberName": "op1001", "Interface": "PJSIP/op1001",
                           "HoldTime": "3", "RingTime": "1"})  # fmt: skip
    assert isinstance(connect, AgentConnect)
    assert connect.caller_id_name == "张伟"
    assert isinstance(connect.dest, ChannelInfo)
    assert connect.dest.channel == "PJSIP/op1001-00000002"
    assert (connect.hold_time, connect.ring_time, connect.member_name) == (3, 1, "op1001")


def test_originate_dial_has_no_caller_channel() -> None:
    event = parse_event({"Event": "DialBegin", **dest(), "DialString": "13800138000@pstn"})
    assert isinstance(event, DialBegin)
    assert event.uniqueid == "" and event.dest is not None
    assert event.dest.uniqueid == "1700000000.2"


def test_queue_member_and_user_event_and_global_varset() -> None:
    member = parse_event({"Event": "QueueMemberStatus", "Queue": "q", "MemberName": "op1001",
                          "Interface": "PJSIP/op1001", "Paused": "1", "InCall": "0",
                          "Status": "2"})  # fmt: skip
    assert isinstance(member, QueueMemberStatus)
    assert (member.paused, member.in_call, member.status) == (True, False, 2)
    user = parse_event({"Event": "UserEvent", "UserEvent": "TapStarted", "Tap": "abc"})
    assert isinstance(user, UserEvent) and user.user_event == "TapStarted"
    assert user.headers["Tap"] == "abc"
    var = parse_event({"Event": "VarSet", "Variable": "G", "Value": "1"})
    assert isinstance(var, VarSet) and var.uniqueid == ""


def test_unknown_event_keeps_its_headers() -> None:
    assert parse_event({"Event": "Newexten", "Uniqueid": "1"}) == UnknownEvent(
        name="Newexten", headers={"Event": "Newexten", "Uniqueid": "1"}
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Response": "Success"},
        {"Event": "Hangup", **CHANNEL, "Cause": "sixteen"},
        {"Event": "Newstate", "Channel": "PJSIP/x"},
    ],
)
def test_malformed_events_raise(headers: dict[str, str]) -> None:
    with pytest.raises(MalformedAmiMessage):
        parse_event(headers)


def test_agent_complete_without_the_callers_snapshot_names_the_call_by_the_member_leg() -> None:
    # Seen live: the caller hung up as the operator's leg ended; app_queue sent only the
    # member's (Dest) channel. Dropping the event left the seat "talking" for good.
    event = parse_event({
        "Event": "AgentComplete", "Queue": "hotline-default", "MemberName": "op1001",
        "Interface": "PJSIP/op1001", "HoldTime": "1", "TalkTime": "3", "Reason": "caller",
        "DestChannel": "PJSIP/op1001-00000002", "DestUniqueid": "1795339743.13",
        "DestLinkedid": "1795339743.12",
    })  # fmt: skip
    assert isinstance(event, AgentComplete)
    assert event.call_id == "1795339743.12" and event.talk_time == 3
    assert event.dest is not None and event.dest.uniqueid == "1795339743.13"
    with pytest.raises(MalformedAmiMessage):  # neither leg: still refused
        parse_event({"Event": "AgentComplete", "Interface": "PJSIP/op1001"})


def test_required_event_names_have_classes() -> None:
    required = [
        "Newchannel",
        "Newstate",
        "Hangup",
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
        "BridgeLeave",
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "QueueMemberStatus",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "VarSet",
        "UserEvent",
        "DTMFBegin",
        "DTMFEnd",
        "OriginateResponse",
        "FullyBooted",
        "Shutdown",
        "CoreShowChannel",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
    ]
    assert set(required) <= set(EVENT_TYPES)
    for name in required:  # every class parses from its bare name (empty defaults)
        headers = {"Event": name, "Uniqueid": "1"}
        assert type(parse_event(headers)) is EVENT_TYPES[name]
