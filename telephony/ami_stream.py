"""The one ordered stream of AMI events, with backpressure instead of loss.

The producer (the AMI protocol, inside `data_received`) calls `put` synchronously, so the
order of the stream is the order of the wire. The queue never drops: when it holds
`high_water` items it calls `pause()` (the adapter stops reading the socket; the kernel
buffers and then TCP flow control slow Asterisk down), and once the consumer has taken
it down to `low_water` it calls `resume()`. One read may finish many messages, so the
queue can overshoot `high_water` by one read's worth; it is a soft limit.

While reading is paused, action replies wait too: an adapter whose events nobody
consumes will time its actions out. One consumer only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from telephony.ami_events import AmiEvent


class EventStream:
    def __init__(
        self,
        high_water: int,
        pause: Callable[[], None],
        resume: Callable[[], None],
    ) -> None:
        self._items: deque[AmiEvent] = deque()
        self._high = high_water
        self._low = high_water // 2
        self._pause = pause
        self._resume = resume
        self._ready = asyncio.Event()
        self._finished = False
        self._error: BaseException | None = None
        self.paused = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: AmiEvent) -> None:
        if self._finished:
            return
        self._items.append(item)
        self._ready.set()
        if not self.paused and len(self._items) >= self._high:
            self.paused = True
            self._pause()

    def finish(self, error: BaseException | None = None) -> None:
        """No more items: the iterator ends after the queued ones (or raises `error`)."""
        self._finished = True
        self._error = error
        self._ready.set()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> AmiEvent:
        while not self._items:
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if self.paused and len(self._items) <= self._low:
            self.paused = False
            self._resume()
        return item
