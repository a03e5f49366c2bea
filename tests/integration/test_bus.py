"""The bus against a real mosquitto on loopback: round trips, broker down, restarts."""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from hotline.bus import Bus, BusMessage, BusNotRunningError, Subscription
from hotline.bus_events import (
    CallAnswered,
    CallOffered,
    Envelope,
    OperatorState,
    TranscriptPartial,
    encode,
)
from lab.mosquitto import Mosquitto, MosquittoError
from tests.fixtures.bus import mqtt_settings

pytestmark = pytest.mark.integration

WAIT = 10.0  # seconds: a deadline for things that take milliseconds


async def _next(sub: Subscription) -> BusMessage:
    async with asyncio.timeout(WAIT):
        return await anext(sub)


async def _connected(*buses: Bus) -> None:
    async with asyncio.timeout(WAIT):
        for bus in buses:
            await bus.wait_connected()


async def _disconnected(*buses: Bus) -> None:
    async with asyncio.timeout(WAIT):
        for bus in buses:
            await bus.wait_disconnected()


def _raw_publish(broker: Mosquitto, topic: str, *payloads: bytes) -> None:
    """QoS 0 PUBLISHes, in order, from a bare MQTT 3.1.1 client: to put garbage on the bus."""

    def length(n: int) -> bytes:
        out = bytearray()
        while True:
            n, digit = divmod(n, 128)
            out.append(digit | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def string(s: bytes) -> bytes:
        return len(s).to_bytes(2, "big") + s

    connect = string(b"MQTT") + bytes([4, 0x02, 0, 30]) + string(b"raw-publisher")
    with socket.create_connection((broker.host, broker.port), timeout=WAIT) as sock:
        sock.sendall(b"\x10" + length(len(connect)) + connect)
        assert sock.recv(4) == b"\x20\x02\x00\x00"  # CONNACK, accepted
        for payload in payloads:
            publish = string(topic.encode()) + payload
            sock.sendall(b"\x30" + length(len(publish)) + publish)
        sock.sendall(b"\xe0\x00")  # DISCONNECT


async def test_publish_subscribe_round_trip(mosquitto: Mosquitto) -> None:
    async with Bus(mqtt_settings(mosquitto)) as bus:
        await _connected(bus)
        async with bus.subscribe(bus.filter("call")) as sub:
            sent = bus.publish(
                CallOffered(
                    linkedid="1700000000.1", caller_number="13800138000", caller_name="张伟"
                )
            )
            got = await _next(sub)
        assert got.envelope == sent
        assert got.event.caller_name == "张伟"  # type: ignore[attr-defined]
        assert got.topic == f"{bus.prefix}/v1/call/1700000000.1/offered"
        assert not got.retained
        assert bus.stats().received == 1


async def test_retained_state_reaches_a_late_subscriber_and_close_flushes(
    mosquitto: Mosquitto,
) -> None:
    settings = mqtt_settings(mosquitto)
    async with Bus(settings) as producer:
        producer.publish(OperatorState(extension="8001", state="on_call"))
        producer.publish(OperatorState(extension="8001", state="wrap_up"))
    # the producer is gone: its close waited until the broker had both
    assert producer.stats().published == 2
    async with Bus(settings) as late, late.subscribe(late.filter("operator", "8001")) as sub:
        got = await _next(sub)
    assert got.retained
    assert got.event == OperatorState(extension="8001", state="wrap_up")


async def test_publish_is_not_a_coroutine_and_needs_a_running_bus(mosquitto: Mosquitto) -> None:
    assert not inspect.iscoroutinefunction(Bus.publish)
    bus = Bus(mqtt_settings(mosquitto))
    with pytest.raises(BusNotRunningError):
        bus.publish(CallAnswered(linkedid="1", extension="8001"))


async def test_broker_down_state_events_kept_in_order_ephemeral_dropped(
    mosquitto_factory: Callable[[], Mosquitto],
) -> None:
    broker = mosquitto_factory()
    async with Bus(mqtt_settings(broker, outbox_limit=500)) as bus:
        await _connected(bus)
        async with bus.subscribe(bus.filter("call")) as sub:
            broker.stop()
            await _disconnected(bus)
            with structlog.testing.capture_logs() as logs:
                started = time.perf_counter()
                for i in range(100):
                    bus.publish(CallAnswered(linkedid=f"1700000000.{i}", extension="8001"))
                    for j in range(10):
                        bus.publish(
                            TranscriptPartial(
                                call_id=f"1700000000.{i}", channel="caller", segment=j, text="喂"
                            )
                        )
                elapsed = time.perf_counter() - started
                down = bus.stats()
                broker.start()  # same port
                received = [await _next(sub) for _ in range(100)]
                await _connected(bus)
            up = bus.stats()

    # publish() is a plain function (above) and 1100 calls took no network round trip.
    assert elapsed < 1.0, f"1100 publish() calls took {elapsed:.3f}s"
    assert not down.connected
    assert (down.queued, down.dropped, down.lost) == (500, 600, 0)
    assert [m.event for m in received] == [
        CallAnswered(linkedid=f"1700000000.{i}", extension="8001") for i in range(100)
    ]
    assert up.dropped == 600 and up.lost == 0 and up.connects == 2
    warned = [e for e in logs if e["event"] == "bus.outbox_full_dropped"]
    assert warned and all(e["log_level"] == "warning" for e in warned)
    assert sum(e["dropped"] for e in warned) == 600  # every drop is in the log


async def test_subscriber_survives_broker_restart(
    mosquitto_factory: Callable[[], Mosquitto],
) -> None:
    broker = mosquitto_factory()
    settings = mqtt_settings(broker)
    async with Bus(settings) as listener, Bus(settings) as talker:
        async with listener.subscribe(listener.filter("call", event="answered")) as sub:
            await _connected(listener, talker)
            talker.publish(CallAnswered(linkedid="1", extension="8001"))
            assert (await _next(sub)).event.entity_id == "1"

            broker.stop()
            await _disconnected(listener, talker)
            broker.start()
            await _connected(listener, talker)  # connected means re-subscribed
            talker.publish(CallAnswered(linkedid="2", extension="8001"))
            assert (await _next(sub)).event.entity_id == "2"

            broker.kill()  # a crash, not a clean shutdown
            await _disconnected(listener, talker)
            broker.start()
            await _connected(listener, talker)
            talker.publish(CallAnswered(linkedid="3", extension="8001"))
            assert (await _next(sub)).event.entity_id == "3"
        assert listener.stats().connects == 3


async def test_bad_payload_is_logged_and_skipped(mosquitto: Mosquitto) -> None:
    async with Bus(mqtt_settings(mosquitto)) as bus:
        await _connected(bus)
        async with bus.subscribe(bus.filter("call")) as sub:
            topic = f"{bus.prefix}/v1/call/1700000000.9/answered"
            good = Envelope(CallAnswered(linkedid="1700000000.9", extension="8002"), "raw")
            with structlog.testing.capture_logs() as logs:
                # one connection, so the broker keeps the order: bad first, then good
                await asyncio.to_thread(
                    _raw_publish, mosquitto, topic, b'{"schema": 1, "ty', encode(good)
                )
                got = await _next(sub)
        assert got.envelope == good
        assert bus.stats().rejected == 1
        bad = [e for e in logs if e["event"] == "bus.bad_message"]
        assert len(bad) == 1
        assert bad[0]["log_level"] == "error"
        assert bad[0]["topic"] == topic
        assert "JSON" in bad[0]["error"]


async def test_closing_with_state_events_undelivered_is_an_error(
    mosquitto_factory: Callable[[], Mosquitto],
) -> None:
    broker = mosquitto_factory()
    with structlog.testing.capture_logs() as logs:
        async with Bus(mqtt_settings(broker, close_timeout=0.2)) as bus:
            await _connected(bus)
            broker.stop()
            await _disconnected(bus)
            for i in range(3):
                bus.publish(CallAnswered(linkedid=str(i), extension="8001"))
    errors = [e for e in logs if e["event"] == "bus.closed_with_undelivered"]
    assert len(errors) == 1
    assert errors[0]["log_level"] == "error"
    assert errors[0]["state_events"] == 3


async def test_cancelled_owner_still_flushes_and_errors_propagate_as_they_are(
    mosquitto: Mosquitto,
) -> None:
    settings = mqtt_settings(mosquitto)
    queued = asyncio.Event()

    async def owner() -> None:
        async with Bus(settings) as bus:
            await _connected(bus)
            for i in range(200):
                bus.publish(CallAnswered(linkedid=str(i), extension="8001"))
            queued.set()
            await asyncio.Event().wait()  # until cancelled, as on Ctrl-C

    async with Bus(settings) as watcher, watcher.subscribe(watcher.filter("call")) as sub:
        await _connected(watcher)
        task = asyncio.create_task(owner())
        async with asyncio.timeout(WAIT):
            await queued.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        got = [await _next(sub) for _ in range(200)]
    assert [m.event.entity_id for m in got] == [str(i) for i in range(200)]

    with pytest.raises(ValueError, match="boom"):  # not wrapped in an ExceptionGroup
        async with Bus(settings):
            raise ValueError("boom")


def test_lab_broker_restarts_on_its_port_and_reports_a_taken_port(
    mosquitto_factory: Callable[[], Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_factory()
    port, first_pid = broker.port, broker.pid
    broker.kill()
    assert not broker.running
    broker.start()
    assert broker.port == port and broker.pid != first_pid
    assert broker.url == f"mqtt://127.0.0.1:{port}"
    with socket.create_connection((broker.host, port), timeout=WAIT):
        pass
    # a port given explicitly and already taken: a clear error with mosquitto's words
    with pytest.raises(MosquittoError, match="in use"), Mosquitto(port=port, data_dir=tmp_path):
        pass
