"""The calls feature's store writer: one queue, one task, writes in order.

The call service records what happens to a call (`open`, `update`, `route`, `missed`)
without waiting: each call queues a write, and `run()` performs them one at a time, in
the order queued, each in its own session. So a call's record exists before it is
updated, and two misses of one number never race for its callback task (each new or
bumped task is announced on the bus). A failed write is logged with the call id and
skipped: the next ones still go through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.bus_events import BusEvent
from telephony import call_repo
from telephony.callback_events import task_changed
from telephony.calls import Call
from telephony.routing import is_withheld

log = structlog.get_logger("telephony.calls")

_Write = Callable[[AsyncSession], Awaitable[Any]]


class CallStore:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        publish: Callable[[BusEvent], object] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._publish = publish
        self._queue: asyncio.Queue[tuple[str, _Write]] = asyncio.Queue()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        while True:
            call_id, write = await self._queue.get()
            try:
                async with self._sessionmaker() as session:
                    await write(session)
            except Exception:  # one failed write must not stop the others
                log.exception("call.store_failed", call_id=call_id)

    def open(self, call: Call, line: str | None) -> None:
        async def write(session: AsyncSession) -> None:
            await call_repo.open_call(
                session=session, uniqueid=call.uniqueid, linkedid=call.linkedid,
                entered_at=call.offered_at or self._clock(), dnis=call.dnis or None,
                caller_number=call.caller_number, caller_name=call.caller_name,
            )  # fmt: skip
            if line is not None:
                await call_repo.update_call(session=session, uniqueid=call.uniqueid, line=line)

        self._queue.put_nowait((call.linkedid, write))

    def update(self, call: Call, **extra: Any) -> None:
        """The call's state as the record holds it (queue, times, operator, outcome)."""
        values: dict[str, Any] = {
            "queue": call.queue, "answered_at": call.answered_at, "ended_at": call.ended_at,
            "operator_extension": call.operator, "outcome": call.outcome.value, **extra,
        }  # fmt: skip

        async def write(session: AsyncSession) -> None:
            await call_repo.update_call(session=session, uniqueid=call.uniqueid, **values)

        self._queue.put_nowait((call.linkedid, write))

    def route(self, call: Call, line: str | None, route: dict[str, Any]) -> None:
        async def write(session: AsyncSession) -> None:
            await call_repo.update_call(session=session, uniqueid=call.uniqueid, line=line,
                                        route=route)  # fmt: skip

        self._queue.put_nowait((call.linkedid, write))

    def missed(self, call: Call, line: str | None) -> None:
        """A missed call: a callback task for the number (none for a withheld one)."""
        if is_withheld(call.caller_number):
            log.info("callback.not_possible", call_id=call.linkedid, reason="withheld")
            return
        number = call.caller_number or ""

        async def write(session: AsyncSession) -> None:
            task = await call_repo.note_missed_call(
                session=session, number=number, at=call.ended_at or self._clock(), line=line,
                linkedid=call.linkedid,
            )  # fmt: skip
            log.info("callback.noted", call_id=call.linkedid, task=task.id,
                     missed=task.missed_count)  # fmt: skip
            if self._publish is not None:
                self._publish(task_changed(task))

        self._queue.put_nowait((call.linkedid, write))
