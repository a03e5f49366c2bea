"""A subscriber's side of the bus: typed messages, buffered per subscription. No I/O.

`hotline.bus.Bus.subscribe()` makes a `Subscription`; the bus's receiver parses each
message once and calls `deliver()` on every subscription whose filter matches. Delivery
never blocks the receiver: each subscription buffers up to `maxsize` messages and, if
its reader falls further behind, drops the oldest with an error logged (the first time
and every thousandth), counted in `overflowed`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import structlog

from hotline.bus_events import BusEvent, Envelope
from hotline.bus_topics import BusError, TopicParts

log = structlog.get_logger("hotline.bus")


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One received event with where it came from."""

    topic: str
    parts: TopicParts
    envelope: Envelope
    retained: bool

    @property
    def event(self) -> BusEvent:
        return self.envelope.event


class Subscription:
    """``async with bus.subscribe(filter) as sub: async for message in sub: ...``

    Entering waits for the broker to accept the subscription if the bus is connected;
    otherwise it is made on the next connect. The iterator ends when the bus closes.
    A subscriber that falls more than ``subscriber_queue`` messages behind loses the
    oldest ones, with an error logged.
    """

    def __init__(
        self,
        topic_filter: str,
        maxsize: int,
        *,
        on_enter: Callable[[Subscription], Awaitable[None]],
        on_exit: Callable[[Subscription], Awaitable[None]],
    ) -> None:
        self._on_enter = on_enter
        self._on_exit = on_exit
        self.filter = topic_filter
        self._maxsize = maxsize
        self._items: deque[BusMessage] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._entered = False
        self.overflowed = 0

    async def __aenter__(self) -> Self:
        await self._on_enter(self)
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self._on_exit(self)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> BusMessage:
        if not self._entered:
            raise BusError("use `async with bus.subscribe(...) as sub` before iterating")
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def deliver(self, message: BusMessage) -> None:
        """Called by the bus for each matching message; never blocks."""
        if self._closed:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.overflowed += 1
            if self.overflowed == 1 or self.overflowed % 1000 == 0:  # loud, not a flood
                log.error("bus.subscriber_overflow", filter=self.filter, lost=self.overflowed)
        self._items.append(message)
        self._ready.set()

    def close(self) -> None:
        """No more messages: the iterator ends once the buffered ones are read."""
        self._closed = True
        self._ready.set()
