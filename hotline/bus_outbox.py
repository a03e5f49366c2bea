"""The bus outbox: what has been published but not yet handed to the broker. Pure.

`hotline.bus.Bus.publish()` only puts here and returns; the connection keeper takes
messages in order, sends them, and acknowledges each when the broker has (QoS 1) or the
bytes are written (QoS 0). On a lost connection, whatever was taken but not acknowledged
goes back to the front, in order, to be sent again after reconnect (so a state event is
delivered at least once; receivers may see a duplicate id after a reconnect).

The outbox is bounded by `limit` messages (pending + in flight). When a message arrives
and it is full:

- the oldest pending *ephemeral* message is dropped to make room (counted in `dropped`);
- if nothing ephemeral is pending, a new ephemeral message is itself dropped (`dropped`);
- if only state events are pending, the oldest pending state event is dropped and counted
  in `lost`: the loud failure, which the bus logs as an error. The newest state is kept
  because a late reader needs it most (e.g. an operator's current state).
- if everything is in flight, the message is accepted beyond the limit (this is bounded
  by the in-flight window, which is far smaller than the limit).

`put()` returns an `Admission` saying what this one call dropped, so the caller can log.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from hotline.bus_topics import Delivery


@dataclass(slots=True, eq=False)
class Outgoing:
    """One message ready for the wire."""

    seq: int
    topic: str
    payload: bytes
    delivery: Delivery
    retain: bool

    @property
    def qos(self) -> int:
        return self.delivery.qos


@dataclass(frozen=True, slots=True)
class Admission:
    """What one `put()` cost: ephemeral messages dropped, state events lost."""

    dropped: int = 0
    lost: int = 0


@dataclass(frozen=True, slots=True)
class OutboxStats:
    queued: int  # pending + in flight
    in_flight: int
    published: int  # acknowledged since start
    dropped: int  # ephemeral messages dropped because the outbox was full
    lost: int  # state events dropped because the outbox was full of state events
    requeued: int  # messages sent again after a lost connection


class Outbox:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("outbox limit must be at least 1")
        self.limit = limit
        self._seq = 0
        self._pending: OrderedDict[int, Outgoing] = OrderedDict()  # by seq, oldest first
        # The pending messages of each class, oldest first, to find what to drop quickly.
        self._by_class: dict[Delivery, deque[Outgoing]] = {d: deque() for d in Delivery}
        self._in_flight: dict[int, Outgoing] = {}
        self._published = 0
        self._dropped = 0
        self._lost = 0
        self._requeued = 0

    def __len__(self) -> int:
        return len(self._pending) + len(self._in_flight)

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def state_queued(self) -> int:
        """State events not yet acknowledged (pending or in flight)."""
        in_flight = sum(1 for m in self._in_flight.values() if m.delivery is Delivery.STATE)
        return len(self._by_class[Delivery.STATE]) + in_flight

    def stats(self) -> OutboxStats:
        return OutboxStats(
            queued=len(self),
            in_flight=len(self._in_flight),
            published=self._published,
            dropped=self._dropped,
            lost=self._lost,
            requeued=self._requeued,
        )

    def put(self, topic: str, payload: bytes, delivery: Delivery, *, retain: bool) -> Admission:
        """Queue one message, making room by the policy above."""
        dropped = lost = 0
        if len(self) >= self.limit:
            if self._by_class[Delivery.EPHEMERAL]:
                self._remove_oldest(Delivery.EPHEMERAL)
                dropped = 1
            elif delivery is Delivery.EPHEMERAL:
                self._dropped += 1
                return Admission(dropped=1)
            elif self._by_class[Delivery.STATE]:
                self._remove_oldest(Delivery.STATE)
                lost = 1
        self._seq += 1
        message = Outgoing(self._seq, topic, payload, delivery, retain)
        self._pending[message.seq] = message
        self._by_class[delivery].append(message)
        self._dropped += dropped
        self._lost += lost
        return Admission(dropped=dropped, lost=lost)

    def take(self) -> Outgoing | None:
        """The oldest pending message, now in flight; None if nothing is pending."""
        if not self._pending:
            return None
        _, message = self._pending.popitem(last=False)
        oldest = self._by_class[message.delivery].popleft()
        assert oldest is message, "outbox class queue out of order"
        self._in_flight[message.seq] = message
        return message

    def ack(self, message: Outgoing) -> None:
        """The broker has it: forget it."""
        if self._in_flight.pop(message.seq, None) is not None:
            self._published += 1

    def requeue(self) -> int:
        """The connection is gone: put everything in flight back in front, in order."""
        returned = sorted(self._in_flight.values(), key=lambda m: m.seq, reverse=True)
        self._in_flight.clear()
        for message in returned:  # newest first, each moved to the front
            self._pending[message.seq] = message
            self._pending.move_to_end(message.seq, last=False)
            self._by_class[message.delivery].appendleft(message)
        self._requeued += len(returned)
        return len(returned)

    def _remove_oldest(self, delivery: Delivery) -> None:
        message = self._by_class[delivery].popleft()
        del self._pending[message.seq]
