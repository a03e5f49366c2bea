from __future__ import annotations

import asyncio
import uuid

import pytest

from asr.taps import TapError, TapRegistry, parse_tap
from telephony.ami_events import UserEvent, parse_event


def _event(**headers: str) -> UserEvent:
    event = parse_event({"Event": "UserEvent", "UserEvent": "HotlineTap", **headers})
    assert isinstance(event, UserEvent)
    return event


def test_a_tap_names_its_call_and_speaker() -> None:
    sid = uuid.uuid4()
    tap = parse_tap(_event(TapId=str(sid), Speaker="operator", Channel="PJSIP/op1001-01",
                           Uniqueid="1.5", Linkedid="1.2"))
    assert (tap.stream_id, tap.call_id, tap.channel, tap.tapped) == (
        sid, "1.2", "operator", "PJSIP/op1001-01")


@pytest.mark.parametrize("headers", [
    {"TapId": "nope", "Speaker": "caller", "Linkedid": "1.2"},
    {"TapId": str(uuid.uuid4()), "Speaker": "citizen", "Linkedid": "1.2"},
    {"TapId": str(uuid.uuid4()), "Speaker": "caller"},
])
def test_bad_announcements_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(TapError):
        parse_tap(_event(**headers))


async def test_a_stream_may_come_before_or_after_its_announcement() -> None:
    reg = TapRegistry()
    early, late = uuid.uuid4(), uuid.uuid4()
    await reg.on_ami_event(_event(TapId=str(early), Speaker="caller", Linkedid="c1"))
    tap = await reg.claim(early, 0.1)
    assert tap is not None and tap.call_id == "c1"
    waiting = asyncio.create_task(reg.claim(late, 5))
    await asyncio.sleep(0)
    await reg.on_ami_event(_event(TapId=str(late), Speaker="operator", Linkedid="c1"))
    tap = await waiting
    assert tap is not None and tap.channel == "operator"
    assert await reg.claim(uuid.uuid4(), 0.05) is None
    await reg.on_ami_event(_event(TapId="bad", Speaker="caller", Linkedid="c1"))  # logged


def test_unclaimed_announcements_expire() -> None:
    now = [0.0]
    reg = TapRegistry(ttl=10, clock=lambda: now[0])
    old = uuid.uuid4()
    reg.announce(parse_tap(_event(TapId=str(old), Speaker="caller", Linkedid="c")))
    now[0] = 11
    reg.announce(parse_tap(_event(TapId=str(uuid.uuid4()), Speaker="caller", Linkedid="c")))
    assert old not in reg._known
