"""The operator seat state machine, driven by events alone; AMI events to facts."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from agent_desktop.ws import Hub
from config.settings import MqttSettings
from hotline.bus import Bus
from hotline.bus_events import KeywordAlert, OperatorState, ScreenPop, TranscriptFinal
from telephony import transfer
from telephony.ami_events import parse_event
from telephony.operator_facts import Interfaces, facts
from telephony.operators import (
    Called,
    Completed,
    Connected,
    IllegalTransition,
    Login,
    Logout,
    MemberGone,
    MemberSeen,
    OperatorEvent,
    Pause,
    Reachable,
    Resume,
    RingEnded,
    Seat,
    StartWrapUp,
    State,
    Unreachable,
    WrapUpOver,
    changed,
    step,
)

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def run(*events: OperatorEvent, seat: Seat | None = None) -> Seat:
    seat = seat or Seat("1001")
    for i, event in enumerate(events):
        seat = step(seat, event, T0 + timedelta(seconds=i))
    return seat


def test_a_shift_login_call_wrap_up_pause_logout() -> None:
    until = T0 + timedelta(seconds=30)
    seat = run(Login())
    assert seat.state is State.READY and seat.since == T0
    seat = run(Called("c1"), seat=seat)
    assert (seat.state, seat.call_id) == (State.RINGING, "c1")
    seat = run(Connected("c1"), Completed("c1", wrap_up_until=until), seat=seat)
    assert (seat.state, seat.wrap_up_until, seat.call_id) == (State.WRAP_UP, until, None)
    seat = run(WrapUpOver(), seat=seat)
    assert seat.state is State.READY and seat.wrap_up_until is None
    seat = run(Pause("lunch"), seat=seat)
    assert (seat.state, seat.reason) == (State.PAUSED, "lunch")
    assert run(Resume(), seat=seat).state is State.READY
    assert run(Logout(), seat=seat).state is State.LOGGED_OUT


def test_a_call_ends_straight_to_ready_without_a_wrap_up_deadline() -> None:
    assert run(Login(), Called("c"), Connected("c"), Completed("c")).state is State.READY


def test_the_end_of_another_call_does_not_end_this_one() -> None:
    seat = run(Login(), Called("c"), Connected("c"), Completed("old"))
    assert (seat.state, seat.call_id) == (State.TALKING, "c")


@pytest.mark.parametrize(
    ("events", "illegal"),
    [
        ((), Pause("break")),
        ((), Resume()),
        ((Login(), Called("c")), Logout()),
        ((Login(), Called("c"), Connected("c")), Pause("break")),
        ((Login(), Called("c"), Connected("c")), StartWrapUp(T0)),
        ((Login(), Unreachable()), Pause("break")),
    ],
)
def test_illegal_commands_raise_a_named_error(
    events: tuple[OperatorEvent, ...], illegal: OperatorEvent
) -> None:
    seat = run(*events)
    with pytest.raises(IllegalTransition) as err:
        step(seat, illegal, T0)
    assert err.value.state is seat.state
    assert type(illegal).__name__ in str(err.value)


def test_ring_no_answer_goes_back_to_where_it_was() -> None:
    assert run(Login(), Called("c"), RingEnded()).state is State.READY
    paused = run(Login(), Pause("meeting"), Called("c"), RingEnded())
    assert (paused.state, paused.reason) == (State.PAUSED, "meeting")


def test_asterisk_member_facts() -> None:
    assert run(MemberSeen(paused=False)).state is State.READY  # a static member
    seat = run(MemberSeen(paused=True, reason="toilet"))
    assert (seat.state, seat.reason) == (State.PAUSED, "toilet")
    assert run(Login(), MemberSeen(paused=True, reason="logout")).state is State.LOGGED_OUT
    assert run(Login(), MemberGone()).state is State.LOGGED_OUT


def test_wrap_up_is_not_ended_by_our_own_pause_or_a_status_update() -> None:
    seat = run(Login(), StartWrapUp(T0 + timedelta(seconds=5)))
    seat = run(MemberSeen(paused=False), MemberSeen(paused=True, reason="wrap_up"), seat=seat)
    assert seat.state is State.WRAP_UP
    seat = run(MemberSeen(paused=True, reason="training"), seat=seat)
    assert (seat.state, seat.reason) == (State.PAUSED, "training")


def test_unreachable_and_back() -> None:
    seat = run(Login(), Pause("break"), Unreachable())
    assert seat.state is State.UNREACHABLE
    assert run(MemberSeen(paused=False), seat=seat).state is State.UNREACHABLE
    back = run(Reachable(), seat=seat)
    assert (back.state, back.reason) == (State.PAUSED, "break")
    assert run(Login(), Called("c"), Connected("c"), Unreachable(), Reachable()).state is (
        State.READY
    )


def test_since_moves_only_on_a_change_and_changed_sees_calls() -> None:
    seat = run(Login())
    same = step(seat, Resume(), T0 + timedelta(minutes=5))
    assert same.since == T0 and not changed(seat, same)
    ringing = step(seat, Called("c"), T0)
    assert changed(seat, ringing)


def test_every_state_and_event_pair_is_decided() -> None:
    events = [Login(), Logout(), Pause("x"), Resume(), StartWrapUp(T0), WrapUpOver(),
              MemberSeen(paused=False), MemberGone(), Called("c"), RingEnded(),
              Connected("c"), Completed("c"), Unreachable(), Reachable()]  # fmt: skip
    for state in State:
        for event in events:
            with contextlib.suppress(IllegalTransition):
                step(Seat("1", state), event, T0)


def _ami(name: str, **headers: str) -> dict[str, str]:
    return {"Event": name, **headers}


def test_ami_events_become_facts() -> None:
    ifs = Interfaces("PJSIP/op{extension}")
    assert ifs.interface("1001") == "PJSIP/op1001"
    assert ifs.extension("PJSIP/op1001") == "1001"
    assert ifs.extension("PJSIP/pstn-0001") is None
    called = parse_event(_ami("AgentCalled", Channel="PJSIP/pstn-1", Uniqueid="1.1",
                              Linkedid="1.1", Interface="PJSIP/op1002", Queue="q"))
    assert facts(called, ifs) == (("1002", Called("1.1")),)
    status = parse_event(_ami("QueueMemberStatus", Queue="q", Interface="PJSIP/op1001",
                              Paused="1", PausedReason="lunch", Status="5"))
    assert facts(status, ifs) == [("1001", MemberSeen(True, "lunch")), ("1001", Unreachable())]
    contact = parse_event(_ami("ContactStatus", AOR="op1003", ContactStatus="Removed"))
    assert facts(contact, ifs) == (("1003", Unreachable()),)
    device = parse_event(_ami("DeviceStateChange", Device="PJSIP/op1004", State="NOT_INUSE"))
    assert facts(device, ifs) == (("1004", RingEnded()), ("1004", Reachable()))
    other = parse_event(_ami("DeviceStateChange", Device="Queue:q_avail", State="INUSE"))
    assert facts(other, ifs) == ()


# -- transfers and the WebSocket hub's routing (pure parts) -------------------------------

LEGS = transfer.Legs("1.1", "PJSIP/pstn-00000001", "PJSIP/op1001-00000002")


def test_a_blind_transfer_is_the_operators_blind_transfer_into_the_transfer_context() -> None:
    plan = transfer.plan_transfer(LEGS, target="hotline-tax", mode="blind",
                                  queues={"hotline-tax"}, context="hotline-transfer")
    assert (plan.kind, plan.action.name) == ("queue", "BlindTransfer")
    assert dict(plan.action.headers) == {"Channel": "PJSIP/op1001-00000002",
                                         "Context": "hotline-transfer", "Exten": "q-hotline-tax"}
    to_119 = transfer.plan_transfer(LEGS, target="119", mode="blind", queues=(), context="t")
    assert (to_119.kind, dict(to_119.action.headers)["Exten"]) == ("emergency", "119")


def test_a_three_way_call_originates_the_partner_into_the_operators_bridge() -> None:
    plan = transfer.plan_transfer(LEGS, target="120", mode="three_way", queues=(), context="t")
    headers = plan.action.headers
    assert plan.action.name == "Originate" and ("Async", "true") in headers
    assert ("Channel", "Local/120@hotline-transfer-dial") in headers
    assert ("Variable", "HOTLINE_JOIN=PJSIP/op1001-00000002") in headers


@pytest.mark.parametrize(("target", "mode"), [("999", "blind"), ("hotline-tax", "three_way"),
                                              ("q-x", "blind")])
def test_unknown_transfer_targets_are_refused(target: str, mode: transfer.Mode) -> None:
    with pytest.raises(transfer.UnknownTarget):
        transfer.plan_transfer(LEGS, target=target, mode=mode, queues={"hotline-tax"},
                               context="t")


def test_the_hub_sends_each_operator_their_seat_and_their_call_only() -> None:
    hub = Hub(Bus(MqttSettings()))
    hub.bind(1, "1001")
    hub.bind(2, "1002")
    assert hub.recipients(OperatorState(extension="1001", state="ready")) == {1}
    pop = ScreenPop(extension="1002", call_id="c9", caller_number="138")
    assert hub.recipients(pop) == {2}
    text = TranscriptFinal(call_id="c9", channel="caller", segment=0, text="你好")
    assert hub.recipients(text) == {2}
    assert hub.recipients(KeywordAlert(call_id="c1", keyword="煤气", channel="caller")) == set()
    hub.bind(2, None)
    assert hub.recipients(text) == set()


# -- what routing sees of a seat (OperatorDesk, AMI replayed through the real parser) -----


class _Published:
    def __init__(self) -> None:
        self.events: list[object] = []

    def publish(self, event: object) -> object:
        self.events.append(event)
        return event


async def test_routing_sees_the_queues_a_ready_seat_joins_without_a_state_change() -> None:
    from config.settings import Settings  # noqa: PLC0415
    from hotline.feature import Core  # noqa: PLC0415
    from telephony.operator_service import OperatorDesk  # noqa: PLC0415
    from telephony.presence import Presence  # noqa: PLC0415

    presence = Presence()
    core = Core(settings=Settings(), sessionmaker=None, ami=None, bus=_Published(),  # type: ignore[arg-type]
                presence=presence, clock=lambda: datetime(2026, 11, 22, 9, tzinfo=UTC))
    desk = OperatorDesk(core, pops=None)  # type: ignore[arg-type]
    desk._restored.set()  # nothing to restore from a store here
    member = {"Interface": "PJSIP/op1001", "StateInterface": "PJSIP/op1001",
              "MemberName": "op1001", "Status": "1", "Paused": "0"}
    await desk.on_ami_event(parse_event(_ami("QueueMemberAdded", Queue="hotline-default",
                                             **member)))
    seen = presence.get("1001")
    assert seen is not None and seen.state == "ready"
    assert seen.skills == {"hotline-default"}
    await desk.on_ami_event(parse_event(_ami("QueueMemberAdded", Queue="hotline-market",
                                             **member)))
    seen = presence.get("1001")
    assert seen is not None and seen.state == "ready"
    assert seen.skills == {"hotline-default", "hotline-market"}
    assert presence.ready("hotline-market") == {"1001"}
    await desk.on_ami_event(parse_event(_ami("QueueMemberRemoved", Queue="hotline-market",
                                             **member)))
    assert presence.ready("hotline-market") == frozenset()
