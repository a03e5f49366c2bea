"""The bus adapter: the only module that imports aiomqtt.

Theory of operation
-------------------
``async with Bus(settings.mqtt) as bus:`` starts one task, the connection keeper, in the
bus's own TaskGroup. The keeper loops: connect; re-subscribe every filter that has a
subscriber; mark the bus connected; then run two tasks until the connection breaks:

- the *receiver* reads messages, parses each once (topic, envelope, typed event) and hands
  it to every matching `Subscription` (hotline.bus_subscription); a bad message is
  logged as an error and skipped;
- the *drainer* takes messages from the `Outbox` in order and sends them, at most
  ``in_flight`` at a time, acknowledging each in the outbox when aiomqtt returns (QoS 1:
  the broker's PUBACK; QoS 0: written).

When the connection breaks, everything in flight goes back to the front of the outbox and
the keeper waits an exponential backoff with jitter (``reconnect_min``..``reconnect_max``)
before trying again. Subscriptions are restored *before* the outbox drains, so a process
that listens to its own events misses none of them across a reconnect.

`Bus.publish()` is a plain function, not a coroutine: it builds the envelope, puts the
bytes in the bounded outbox and returns. Nothing on the call path can wait on the broker.
The outbox's overflow policy (hotline.bus_outbox) drops ephemeral messages oldest-first;
the bus logs every drop (a warning, summarised at most once a second) and every lost
state event (an error) with counts, and `stats()` reports them.

On exit the bus gives queued messages up to ``close_timeout`` to reach the broker (on an
exit by exception or cancellation only if it is connected), then logs an error naming
how many state events it could not deliver.

Exceptions (all are `hotline.bus_topics.BusError`)::

    BusError
     ├── TopicError            a topic or filter that breaks the scheme
     ├── EnvelopeError         a received payload that is not valid (logged and skipped)
     └── BusNotRunningError    publish/subscribe outside ``async with Bus(...)``
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiomqtt
import structlog

from config.settings import MqttSettings
from hotline.bus_events import BusEvent, Envelope, decode, encode
from hotline.bus_outbox import Admission, Outbox, Outgoing
from hotline.bus_subscription import BusMessage, Subscription
from hotline.bus_topics import BusError, Domain, TopicError, parse_topic, topic_filter

__all__ = ["Bus", "BusMessage", "BusNotRunningError", "BusStats", "Subscription", "backoff_delay"]

log = structlog.get_logger("hotline.bus")

# Drops are summarised in the log at most this often (seconds), so a flood of dropped
# partial transcripts costs one line a second, not one line a message.
DROP_REPORT_INTERVAL = 1.0


class BusNotRunningError(BusError):
    """publish() or subscribe() on a bus that is not inside its ``async with``."""


def backoff_delay(
    attempt: int, low: float, high: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before reconnect attempt `attempt` (0-based): doubling, capped, jittered.

    The jitter keeps the delay in [base/2, base] so many clients that lost the same
    broker do not all come back in the same instant.
    """
    base = min(high, low * 2.0 ** min(attempt, 32))
    return base / 2 + rand() * base / 2


def _describe(err: BaseException) -> str:
    cause = err.__cause__
    return f"{err}: {cause}" if cause is not None and str(cause) else str(err)


@dataclass(frozen=True, slots=True)
class BusStats:
    connected: bool
    connects: int  # successful connections since start
    queued: int  # in the outbox (pending + in flight)
    published: int
    dropped: int  # ephemeral messages dropped from a full outbox
    lost: int  # state events dropped from an outbox full of state events
    requeued: int  # sent again after a lost connection
    received: int  # valid messages handed to subscribers
    rejected: int  # bad messages logged and skipped


class Bus:
    """The hotline's connection to the MQTT broker. See the module docstring."""

    def __init__(self, settings: MqttSettings, *, source: str | None = None) -> None:
        self._settings = settings
        self.prefix = settings.topic_prefix
        self.source = source or settings.client_id
        # Unique per process: two clients with one id would keep kicking each other off.
        self.client_id = f"{settings.client_id}-{uuid.uuid4().hex[:8]}"
        self._outbox = Outbox(settings.outbox_limit)
        self._subs: list[Subscription] = []
        self._filters: Counter[str] = Counter()
        self._sub_lock = asyncio.Lock()
        self._client: aiomqtt.Client | None = None
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._down.set()
        self._tg: asyncio.TaskGroup | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._connects = 0
        self._received = 0
        self._rejected = 0
        self._unreported_dropped = 0
        self._unreported_lost = 0
        self._last_report = -DROP_REPORT_INTERVAL

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise BusError("this bus is already running")
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._keeper = self._tg.create_task(self._keep_connected(), name="bus-keeper")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tg is not None and self._keeper is not None
        try:
            # Flush what is queued: always when the broker is there (also on Ctrl-C),
            # and on a normal exit also wait for it to come back, up to close_timeout.
            if len(self._outbox) and (exc_type is None or self.connected):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), self._settings.close_timeout)
        finally:
            self._keeper.cancel()
            tg, self._tg = self._tg, None
            for sub in self._subs:
                sub.close()
            # The body's own exception is not the TaskGroup's: it propagates as it is.
            await tg.__aexit__(None, None, None)
            self._report_drops(force=True)
            if self._outbox.state_queued:
                log.error(
                    "bus.closed_with_undelivered",
                    state_events=self._outbox.state_queued,
                    queued=len(self._outbox),
                )

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    async def wait_connected(self) -> None:
        """Until connected and subscribed (wrap in asyncio.timeout as needed)."""
        await self._up.wait()

    async def wait_disconnected(self) -> None:
        await self._down.wait()

    def stats(self) -> BusStats:
        o = self._outbox.stats()
        return BusStats(
            connected=self.connected,
            connects=self._connects,
            queued=o.queued,
            published=o.published,
            dropped=o.dropped,
            lost=o.lost,
            requeued=o.requeued,
            received=self._received,
            rejected=self._rejected,
        )

    # ------------------------------------------------------------------ publish

    def publish(self, event: BusEvent) -> Envelope:
        """Queue `event` for the broker and return its envelope. Never waits.

        Raises TopicError if the event's ids cannot be topic levels, and
        BusNotRunningError outside ``async with``.
        """
        if self._tg is None:
            raise BusNotRunningError(f"bus is not running; cannot publish {event.type}")
        envelope = Envelope(event=event, source=self.source)
        admission = self._outbox.put(
            event.topic(self.prefix), encode(envelope), event.delivery, retain=event.retain
        )
        self._idle.clear()
        self._wakeup.set()
        if admission.dropped or admission.lost:
            self._note(admission)
        return envelope

    def _note(self, admission: Admission) -> None:
        self._unreported_dropped += admission.dropped
        self._unreported_lost += admission.lost
        self._report_drops()

    def _report_drops(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_report < DROP_REPORT_INTERVAL:
            return
        stats = self._outbox.stats()
        if self._unreported_lost:
            log.error(
                "bus.outbox_full_state_lost",
                lost=self._unreported_lost,
                lost_total=stats.lost,
                limit=self._outbox.limit,
                connected=self.connected,
            )
        if self._unreported_dropped:
            log.warning(
                "bus.outbox_full_dropped",
                dropped=self._unreported_dropped,
                dropped_total=stats.dropped,
                limit=self._outbox.limit,
                connected=self.connected,
            )
        if self._unreported_lost or self._unreported_dropped:
            self._last_report = now
        self._unreported_dropped = self._unreported_lost = 0

    # ------------------------------------------------------------------ subscribe

    def subscribe(self, topic_filter: str) -> Subscription:
        """A subscription to an MQTT filter; use it with ``async with``."""
        try:
            aiomqtt.Wildcard(topic_filter)
        except ValueError as err:
            raise TopicError(f"bad topic filter {topic_filter!r}: {err}") from err
        return Subscription(
            topic_filter, self._settings.subscriber_queue, on_enter=self._add, on_exit=self._remove
        )

    def filter(
        self,
        domain: Domain | str | None = None,
        entity_id: str | None = None,
        event: str | None = None,
    ) -> str:
        """A filter under this bus's prefix (None levels match anything)."""
        return topic_filter(self.prefix, domain, entity_id, event)

    async def _add(self, sub: Subscription) -> None:
        if self._tg is None:
            raise BusNotRunningError(f"bus is not running; cannot subscribe to {sub.filter}")
        async with self._sub_lock:
            self._subs.append(sub)
            self._filters[sub.filter] += 1
            client = self._client
            if self._filters[sub.filter] == 1 and client is not None:
                try:
                    await self._subscribe(client, sub.filter)
                except aiomqtt.MqttError as err:  # the keeper re-subscribes on reconnect
                    log.warning("bus.subscribe_failed", filter=sub.filter, error=str(err))

    @staticmethod
    async def _subscribe(client: aiomqtt.Client, topic_filter: str) -> None:
        granted = await client.subscribe(topic_filter, qos=1)
        for code in granted:
            # A refusal (e.g. by the broker's ACL) would otherwise look like silence.
            if not isinstance(code, int) and code.is_failure:
                log.error("bus.subscribe_refused", filter=topic_filter, reason=str(code))

    async def _remove(self, sub: Subscription) -> None:
        async with self._sub_lock:
            if sub not in self._subs:
                return
            self._subs.remove(sub)
            self._filters[sub.filter] -= 1
            if self._filters[sub.filter] > 0:
                return
            del self._filters[sub.filter]
            client = self._client
            if client is not None:
                try:
                    await client.unsubscribe(sub.filter)
                except aiomqtt.MqttError as err:  # gone with the connection anyway
                    log.debug("bus.unsubscribe_failed", filter=sub.filter, error=str(err))

    # ------------------------------------------------------------------ the keeper

    async def _keep_connected(self) -> None:
        attempt = 0
        while True:
            connects_before = self._connects
            try:
                await self._session()
            except* (aiomqtt.MqttError, OSError) as group:
                error = "; ".join(_describe(e) for e in group.exceptions)
                if self._connects > connects_before:
                    attempt = 0
                    log.warning("bus.disconnected", error=error, url=self._settings.url)
                elif attempt % 10 == 0:
                    log.warning(
                        "bus.connect_failed", error=error, url=self._settings.url, attempt=attempt
                    )
            requeued = self._outbox.requeue()
            if requeued:
                log.info("bus.requeued", messages=requeued)
            delay = backoff_delay(
                attempt, self._settings.reconnect_min, self._settings.reconnect_max
            )
            attempt += 1
            await asyncio.sleep(delay)  # the backoff itself, not a wait for an event

    async def _session(self) -> None:
        s = self._settings
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            identifier=self.client_id,
            keepalive=s.keepalive,
            timeout=s.timeout,
            clean_session=True,
            max_inflight_messages=s.in_flight,
        )
        # aiomqtt warns above 10 pending calls; our window is the real bound.
        client.pending_calls_threshold = s.in_flight + 16
        async with client:
            async with self._sub_lock:
                for f in self._filters:
                    await self._subscribe(client, f)
                self._client = client
            self._connects += 1
            self._up.set()
            self._down.clear()
            log.info("bus.connected", url=s.url, client_id=self.client_id, queued=len(self._outbox))
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._receive(client), name="bus-receive")
                    tg.create_task(self._drain(client, tg), name="bus-drain")
            finally:
                self._client = None
                self._up.clear()
                self._down.set()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._dispatch(str(message.topic), message.payload, retained=message.retain)

    def _dispatch(self, topic: str, payload: bytes, *, retained: bool) -> None:
        subs = [s for s in self._subs if aiomqtt.Topic(topic).matches(s.filter)]
        if not subs:
            return
        try:
            parts = parse_topic(self.prefix, topic)
            envelope = decode(payload, parts)
        except BusError as err:
            self._reject(topic, payload, err)
            return
        self._received += 1
        message = BusMessage(topic=topic, parts=parts, envelope=envelope, retained=retained)
        for sub in subs:
            sub.deliver(message)

    def _reject(self, topic: str, payload: bytes, err: BusError) -> None:
        self._rejected += 1
        log.error("bus.bad_message", topic=topic, error=str(err), payload=repr(payload[:120]))

    async def _drain(self, client: aiomqtt.Client, tg: asyncio.TaskGroup) -> None:
        self._report_drops(force=True)
        window = asyncio.Semaphore(self._settings.in_flight)
        while True:
            await window.acquire()
            message = self._outbox.take()
            while message is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                message = self._outbox.take()
            # Tasks start in creation order and call paho's publish before their first
            # await, so messages reach the socket in outbox order.
            tg.create_task(self._send(client, message, window))

    async def _send(
        self, client: aiomqtt.Client, message: Outgoing, window: asyncio.Semaphore
    ) -> None:
        try:
            await client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
        finally:
            window.release()
        self._outbox.ack(message)
        if not len(self._outbox):
            self._idle.set()
