"""A recorded real call (tests/data/ami/citizen_call.ami) replayed through the real parser
and the real protocol in 1-, 7- and 1448-byte reads: same typed events, 张伟 intact.
Malformed input through the wire is logged and skipped; the adapter keeps working."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telephony import ami_actions
from telephony.ami import AmiClient
from telephony.ami_events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AmiEvent,
    BridgeEnter,
    DTMFBegin,
    Hangup,
    Newchannel,
    QueueCallerJoin,
    ResyncCompleted,
    UnknownEvent,
    parse_event,
)
from telephony.ami_frames import FrameSplitter, parse_frame
from tests.unit.ami_fake import FakeAmi, message

RECORDING = Path(__file__).resolve().parents[1] / "data" / "ami" / "citizen_call.ami"
READ_SIZES = [1, 7, 1448]


def parse_stream(data: bytes, read_size: int) -> list[AmiEvent]:
    splitter = FrameSplitter()
    events = []
    for i in range(0, len(data), read_size):
        for raw in splitter.feed(data[i : i + read_size]):
            assert isinstance(raw, bytes), raw
            events.append(parse_event(parse_frame(raw)))
    assert splitter.pending_bytes == 0
    return events


@pytest.fixture(scope="module")
def recording() -> bytes:
    return RECORDING.read_bytes()


@pytest.fixture(scope="module")
def reference(recording: bytes) -> list[AmiEvent]:
    return parse_stream(recording, len(recording))


def test_recording_is_a_whole_queued_call(reference: list[AmiEvent]) -> None:
    assert len(reference) >= 100
    citizen = next(e for e in reference if isinstance(e, Newchannel))
    assert citizen.caller_id_name == "张伟"
    assert citizen.caller_id_num == "13800138000"
    order = [QueueCallerJoin, AgentCalled, AgentConnect, BridgeEnter, AgentComplete, Hangup]
    positions = [next(i for i, e in enumerate(reference) if isinstance(e, kind)) for kind in order]
    assert positions == sorted(positions)
    join = reference[positions[0]]
    assert isinstance(join, QueueCallerJoin)
    assert (join.caller_id_name, join.queue, join.uniqueid) == ("张伟", "hotline-default",
                                                                citizen.uniqueid)  # fmt: skip
    called = reference[positions[1]]
    assert isinstance(called, AgentCalled) and called.dest is not None
    assert called.dest.channel.startswith("PJSIP/op1001")
    assert any(isinstance(e, DTMFBegin) and e.digit == "1" for e in reference)
    hangups = {e.uniqueid for e in reference if isinstance(e, Hangup)}
    assert citizen.uniqueid in hangups
    # Every event of the call shares the citizen's linkedid (the call id we log).
    assert all(e.linkedid == citizen.linkedid for e in reference if isinstance(e, Hangup))


@pytest.mark.parametrize("read_size", READ_SIZES)
def test_parser_gives_the_same_events_for_any_read_size(
    recording: bytes, reference: list[AmiEvent], read_size: int
) -> None:
    assert parse_stream(recording, read_size) == reference


async def collect(events: AsyncIterator[AmiEvent], n: int) -> list[AmiEvent]:
    out: list[AmiEvent] = []
    async with asyncio.timeout(10):
        async for event in events:
            out.append(event)
            if len(out) == n:
                return out
    raise AssertionError(f"stream ended after {len(out)} of {n} events")


@pytest.fixture
async def ami() -> AsyncIterator[tuple[FakeAmi, AmiClient]]:
    fake = await FakeAmi().start()
    client = AmiClient(fake.settings())
    try:
        await client.connect()
        async with asyncio.timeout(5):
            async for event in client.events():
                if isinstance(event, ResyncCompleted):
                    break
        yield fake, client
    finally:
        await client.close()
        await fake.stop()


@pytest.mark.parametrize("read_size", READ_SIZES)
async def test_protocol_gives_the_same_events_for_any_read_size(
    ami: tuple[FakeAmi, AmiClient], recording: bytes, reference: list[AmiEvent], read_size: int
) -> None:
    _, client = ami
    proto = client._session  # the real protocol on a real connection, fed exact read sizes
    assert proto is not None
    for i in range(0, len(recording), read_size):
        proto.data_received(recording[i : i + read_size])
    assert await collect(client.events(), len(reference)) == reference


async def test_recording_over_the_wire(
    ami: tuple[FakeAmi, AmiClient], recording: bytes, reference: list[AmiEvent]
) -> None:
    fake, client = ami
    for i in range(0, len(recording), 1448):
        fake.push(recording[i : i + 1448])
    assert await collect(client.events(), len(reference)) == reference


MALFORMED = [
    b"Event: Newchannel\r\nUniqueid: 1.1\r\nCallerIDNa\r\n\r\n",  # truncated
    bytes(range(256)) * 4 + b"\r\n\r\n",  # binary garbage
    b"Event: Hangup\r\nUniqueid: 1.1\r\nthis line has no colon\r\n\r\n",
    b"Event: VarSet\r\nValue: " + b"x" * (1024 * 1024) + b"\r\n\r\n",  # a 1 MB header line
    b"Event: Hangup\r\nUniqueid: 1.2\r\nCause: sixteen\r\n\r\n",  # not a number
    b"Event: Newstate\r\nChannel: PJSIP/x\r\n\r\n",  # no Uniqueid
    b"\xe5\xbc\xa0\r\n\r\n",  # half a name, no header
]


@pytest.mark.parametrize("bad", MALFORMED, ids=lambda b: repr(b[:24]))
async def test_malformed_input_is_skipped_and_the_adapter_goes_on(
    ami: tuple[FakeAmi, AmiClient], bad: bytes
) -> None:
    fake, client = ami
    fake.push(bad)
    fake.push(message(("Event", "Newchannel"), ("Uniqueid", "9.9"), ("CallerIDName", "张伟")))
    [event] = await collect(client.events(), 1)
    assert isinstance(event, Newchannel)
    assert (event.uniqueid, event.caller_id_name) == ("9.9", "张伟")
    assert client.authenticated
    assert (await client.send(ami_actions.ping())).success


async def test_unknown_events_are_kept(ami: tuple[FakeAmi, AmiClient]) -> None:
    fake, client = ami
    fake.push(
        message(("Event", "PeerStatus"), ("Peer", "PJSIP/op1001"), ("PeerStatus", "Reachable"))
    )
    [event] = await collect(client.events(), 1)
    assert event == UnknownEvent(
        name="PeerStatus",
        headers={"Event": "PeerStatus", "Peer": "PJSIP/op1001", "PeerStatus": "Reachable"},
    )
