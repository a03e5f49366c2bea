"""AmiClient against a fake Asterisk on loopback: login, actions, reconnect, backpressure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from telephony import ami_actions
from telephony.ami import (
    AmiActionFailed,
    AmiClient,
    AmiConnectionError,
    AmiLoginError,
    AmiNotConnectedError,
    AmiTimeoutError,
)
from telephony.ami_events import (
    AmiConnected,
    AmiDisconnected,
    AmiEvent,
    ChannelSnapshot,
    FullyBooted,
    Newchannel,
    OriginateResponse,
    QueueMemberSnapshot,
    ResyncCompleted,
    ResyncStarted,
)
from tests.unit.ami_fake import FakeAmi, message

CHANNEL = {
    "Channel": "PJSIP/pstn-00000001",
    "ChannelState": "6",
    "CallerIDNum": "13800138000",
    "CallerIDName": "张伟",
    "Context": "hotline-queue",
    "Exten": "s",
    "Priority": "1",
    "Uniqueid": "1700000000.1",
    "Linkedid": "1700000000.1",
    "Application": "Queue",
    "Duration": "00:00:07",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi().start()
    try:
        yield server
    finally:
        await server.stop()


async def next_of(events: AsyncIterator[AmiEvent], kind: type[AmiEvent], within: float = 5.0):
    """Skip to the next event of `kind` (with a deadline), returning those skipped too."""
    seen: list[AmiEvent] = []
    async with asyncio.timeout(within):
        async for event in events:
            seen.append(event)
            if isinstance(event, kind):
                return event, seen
    raise AssertionError(f"stream ended before {kind.__name__}: {seen}")


async def test_connect_logs_in_then_resyncs(fake: FakeAmi) -> None:
    fake.channels = [CHANNEL]
    fake.queue_members = [{"Queue": "hotline-default", "Name": "op1001",
                           "Location": "PJSIP/op1001", "Status": "1", "Paused": "0"}]  # fmt: skip
    async with AmiClient(fake.settings()) as ami:
        assert ami.authenticated
        done, seen = await next_of(ami.events(), ResyncCompleted)
    kinds = [type(e) for e in seen]
    assert kinds[:3] == [AmiConnected, FullyBooted, ResyncStarted]
    snapshot = next(e for e in seen if isinstance(e, ChannelSnapshot))
    assert snapshot.caller_id_name == "张伟"
    assert snapshot.uniqueid == "1700000000.1"
    assert snapshot.application == "Queue"
    member = next(e for e in seen if isinstance(e, QueueMemberSnapshot))
    assert (member.interface, member.paused) == ("PJSIP/op1001", False)
    assert (done.channels, done.queue_members, done.complete) == (1, 1, True)
    assert isinstance(seen[0], AmiConnected)
    assert seen[0].version == "9.0.0"


async def test_wrong_secret_is_one_clear_line(fake: FakeAmi) -> None:
    ami = AmiClient(fake.settings(secret="wrong"))
    with pytest.raises(AmiLoginError) as err:
        await ami.connect()
    assert str(err.value) == (
        f"AMI login refused for user 'hotline' at 127.0.0.1:{fake.port}: Authentication failed"
    )
    assert not ami.authenticated
    await ami.close()


async def test_unreachable_host_is_a_connection_error(fake: FakeAmi) -> None:
    port = fake.port
    await fake.stop()
    ami = AmiClient(fake.settings(port=port))
    with pytest.raises(AmiConnectionError, match=f"cannot connect to AMI at 127.0.0.1:{port}"):
        await ami.connect()


async def test_silent_server_times_out_login(fake: FakeAmi) -> None:
    fake.answer_login = False
    ami = AmiClient(fake.settings(login_timeout=0.2))
    began = time.monotonic()
    with pytest.raises(AmiConnectionError, match=r"did not answer the login within 0\.2s"):
        await ami.connect()
    assert time.monotonic() - began < 2


async def test_send_before_connect_fails_fast(fake: FakeAmi) -> None:
    ami = AmiClient(fake.settings())
    with pytest.raises(AmiNotConnectedError):
        await ami.send(ami_actions.ping())


async def test_every_action_has_a_timeout(fake: FakeAmi) -> None:
    async with AmiClient(fake.settings(action_timeout=0.2)) as ami:
        with pytest.raises(AmiTimeoutError, match="no reply to Slow"):
            await ami.send(ami_actions.AmiAction("Slow"))
        assert (await ami.send(ami_actions.ping())).headers["Ping"] == "Pong"


async def test_queue_add_resolves_and_errors_raise(fake: FakeAmi) -> None:
    async with AmiClient(fake.settings()) as ami:
        added = await ami.send(ami_actions.queue_add("q", "PJSIP/op1001", member_name="op1001"))
        assert added.message == "Added interface to queue"
        with pytest.raises(AmiActionFailed, match="Invalid/unknown command") as err:
            await ami.send(ami_actions.AmiAction("Bogus"))
        assert err.value.response.response == "Error"


async def test_command_output_is_always_a_tuple(fake: FakeAmi) -> None:
    async with AmiClient(fake.settings()) as ami:
        assert (await ami.send(ami_actions.command("1"))).output == ("line 0",)
        assert (await ami.send(ami_actions.command("3"))).output == ("line 0", "line 1", "line 2")


async def test_originate_is_async_and_typed(fake: FakeAmi) -> None:
    async with AmiClient(fake.settings()) as ami:
        result = await ami.originate(
            channel="PJSIP/13800138000@pstn", context="survey", exten="s",
            channel_id="survey-42", variables={"ORDER": "7", "KIND": "survey"},
            caller_id='"12345" <12345>',
        )  # fmt: skip
        assert result.success and result.reason == 4
        assert result.uniqueid == "survey-42" and result.channel_id == "survey-42"
        sent = fake.named("Originate")[0]
        assert sent["Async"] == ["true"]
        assert sent["ChannelId"] == ["survey-42"]
        assert sent["Variable"] == ["ORDER=7", "KIND=survey"]
        mirrored, _ = await next_of(ami.events(), OriginateResponse)
        assert mirrored == result.event

        fake.originate_ok = False
        failed = await ami.originate(channel="PJSIP/1@pstn", context="c", exten="s",
                                     channel_id="survey-43")  # fmt: skip
        assert not failed.success and failed.uniqueid is None
        assert failed.channel_id == "survey-43"


async def test_reconnect_reports_loss_resyncs_and_works_again(fake: FakeAmi) -> None:
    fake.channels = [CHANNEL]
    async with AmiClient(fake.settings(action_timeout=5)) as ami:
        events = ami.events()
        first, _ = await next_of(events, ResyncCompleted)
        assert first.channels == 1
        pending = asyncio.create_task(ami.send(ami_actions.AmiAction("Slow")))
        await asyncio.sleep(0)  # let it reach the wire
        # Asterisk crashes: the call that was up is gone from the new Asterisk.
        port = fake.port
        await fake.stop()
        lost, _ = await next_of(events, AmiDisconnected)
        assert lost.reason
        with pytest.raises(AmiNotConnectedError):
            await pending
        with pytest.raises(AmiNotConnectedError):
            await ami.send(ami_actions.ping())
        assert not ami.authenticated
        fake.channels = []
        fake.port = port
        await fake.start()
        again, seen = await next_of(events, ResyncCompleted)
        assert [type(e) for e in seen][:3] == [AmiConnected, FullyBooted, ResyncStarted]
        assert again.channels == 0
        assert not any(isinstance(e, ChannelSnapshot) for e in seen)
        assert (await ami.send(ami_actions.ping())).success


async def test_resync_waits_until_asterisk_is_fully_booted(fake: FakeAmi) -> None:
    fake.booted = False  # a restarted Asterisk still loading modules
    async with AmiClient(fake.settings()) as ami:
        events = ami.events()
        await next_of(events, AmiConnected)
        assert (await ami.send(ami_actions.ping())).success
        assert not fake.named("QueueStatus")
        fake.push(message(("Event", "FullyBooted"), ("Status", "Fully Booted")))
        _, seen = await next_of(events, ResyncCompleted)
        assert [type(e) for e in seen][:2] == [FullyBooted, ResyncStarted]
        assert fake.named("QueueStatus")


async def test_resync_without_fully_booted_after_a_while(fake: FakeAmi) -> None:
    fake.booted = False  # e.g. manager.conf filters FullyBooted out
    async with AmiClient(fake.settings(), boot_timeout=0.1) as ami:
        _, seen = await next_of(ami.events(), ResyncCompleted)
        assert [type(e) for e in seen][:2] == [AmiConnected, ResyncStarted]


async def test_unanswered_ping_drops_the_connection(fake: FakeAmi) -> None:
    async with AmiClient(fake.settings(action_timeout=0.1), ping_interval=0.05) as ami:
        events = ami.events()
        await next_of(events, ResyncCompleted)
        fake.silent.add("Ping")
        lost, _ = await next_of(events, AmiDisconnected)
        assert lost.reason == "no answer to Ping"
        fake.silent.discard("Ping")
        await next_of(events, ResyncCompleted)


async def test_full_queue_pauses_reading_and_loses_nothing(fake: FakeAmi) -> None:
    async with AmiClient(fake.settings(queue_size=100)) as ami:
        events = ami.events()
        await next_of(events, ResyncCompleted)
        n = 3000
        fake.push(b"".join(
            message(("Event", "Newchannel"), ("Uniqueid", f"1.{i}"), ("CallerIDName", "张伟"))
            for i in range(n)
        ))  # fmt: skip
        stream = ami._stream
        async with asyncio.timeout(5):
            while not stream.paused:  # noqa: ASYNC110 - polling with a deadline
                await asyncio.sleep(0.001)
        assert len(stream) < 100 + 1500  # bounded by the high water mark plus one read
        got = []
        async with asyncio.timeout(5):
            async for event in events:
                assert isinstance(event, Newchannel)
                got.append(event.uniqueid)
                if len(got) == n:
                    break
        assert got == [f"1.{i}" for i in range(n)]
        assert not stream.paused


async def test_close_ends_the_stream(fake: FakeAmi) -> None:
    ami = AmiClient(fake.settings())
    await ami.connect()
    await ami.close()
    seen = [e async for e in ami.events()]
    assert isinstance(seen[-1], AmiDisconnected)
    assert seen[-1].reason == "closed by client"
