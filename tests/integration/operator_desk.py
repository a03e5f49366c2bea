"""Test helpers: an operator's browser session against a running hotline server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts import repo
from accounts.roles import Role
from agent_desktop.keys import CSRF_HEADER, SESSION_COOKIE
from hotline.bus import Bus
from hotline.bus_events import OperatorState
from hotline.bus_topics import Domain

PASSWORD = "seat-test-Passw0rd-42"


@dataclass
class Browser:
    http: aiohttp.ClientSession
    base: str
    csrf: str

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(self.base + path, json=body,
                                  headers={CSRF_HEADER: self.csrf}) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.base + path) as r:
            return r.status, await r.json()


@contextlib.asynccontextmanager
async def browser(
    base: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    username: str,
    extension: str | None,
    role: Role = Role.operator,
) -> AsyncIterator[Browser]:
    """A signed-in user (created in the server's store) with a cookie session."""
    async with sessionmaker() as session:
        user = await repo.create_user(session=session, username=username, password=PASSWORD,
                                      role=role, sip_extension=extension)
        token, csrf = await repo.create_web_session(session=session, user_id=user.id,
                                                    ttl=timedelta(hours=1))
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: token}) as http:
        yield Browser(http, base, csrf)


class Frames:
    """Every JSON frame of one WebSocket, kept with its arrival time (wall clock)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[tuple[dict[str, Any], float]] = []
        self._taken = 0

    async def next(
        self, want: Callable[[dict[str, Any]], bool], within: float, *, take: bool = True
    ) -> tuple[dict[str, Any], float]:
        """The first frame after the last one taken that `want` accepts (`take`: and
        later calls look only after it)."""
        async with asyncio.timeout(within):
            while True:
                for i in range(self._taken, len(self.frames)):
                    frame, at = self.frames[i]
                    if want(frame):
                        if take:
                            self._taken = i + 1
                        return frame, at
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"WebSocket ended: {msg.type} {msg.data!r}")
                self.frames.append((json.loads(msg.data), time.time()))


@dataclass
class StateLog:
    """Every OperatorState on the bus, with the monotonic time it was received."""

    states: list[tuple[float, OperatorState]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, bus: Bus, ready: asyncio.Event) -> None:
        async with bus.subscribe(bus.filter(Domain.OPERATOR, None, "state")) as sub:
            ready.set()
            async for message in sub:
                event = message.event
                if isinstance(event, OperatorState) and not message.retained:
                    self.states.append((time.monotonic(), event))
                    self.changed.set()

    def of(self, extension: str) -> list[str]:
        return [s.state for _, s in self.states if s.extension == extension]

    async def wait_for(
        self, extension: str, state: str, within: float = 15, after: int = 0
    ) -> tuple[float, OperatorState]:
        """The first `state` of `extension` at index >= `after` in the log."""
        async with asyncio.timeout(within):
            while True:
                for i, (at, s) in enumerate(self.states):
                    if i >= after and s.extension == extension and s.state == state:
                        return at, s
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def state_log(bus: Bus) -> AsyncIterator[StateLog]:
    log = StateLog()
    ready = asyncio.Event()
    task = asyncio.create_task(log.follow(bus, ready))
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        yield log
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
