"""The WebSocket hub at /ws: bus events pushed to the browsers that need them.

Theory of operation
-------------------
A browser opens ``/ws`` with its session cookie (the security middleware has already
identified the user by then; a WebSocket upgrade is a GET, so a foreign ``Origin`` is
refused here instead of by CSRF). A user may hold several sockets (tabs).

`Hub.run()` is one task that subscribes to every event on the bus and routes each one:

- `ScreenPop` and `OperatorState` of extension E: to the users seated at E (an
  operator's seat comes from their desktop login, `bind()`, else from the open operator
  session in the store, else from their account's SIP extension). Both also tell the hub
  which call E is on;
- transcript partials and finals, keyword alerts of call C: to the users whose seat is
  on call C;
- callback task changes (漏接回拨): to every operator (the desk's list is shared);
- everything: to supervisors and admins (the wallboard).

Each message is one JSON text frame: ``{"type": "operator.pop", "topic": ...,
"time": ..., "data": {...the event's fields...}}``. A socket that cannot take a message
is closed and forgotten; the others are not held up. On connect the user first gets
``{"type": "hello", ...}`` with what the desk knows now (`Snapshot`), so a page opened
while the phone rings still shows the pop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import WSMsgType, web

from accounts.roles import Role
from agent_desktop.errors import Forbidden
from agent_desktop.keys import PRINCIPAL
from hotline.bus import Bus
from hotline.bus_events import (
    BusEvent,
    CallbackTaskChanged,
    KeywordAlert,
    OperatorState,
    ScreenPop,
    TranscriptFinal,
    TranscriptPartial,
)
from hotline.bus_subscription import BusMessage

log = structlog.get_logger("agent_desktop.ws")
Snapshot = Callable[[str], list[dict[str, Any]]]  # extension -> events to show now
SeatLookup = Callable[[int], Awaitable[str | None]]  # user id -> seat from the store
_WATCHERS = frozenset({Role.supervisor, Role.admin})
SEND_TIMEOUT = 2.0


class Hub:
    def __init__(
        self, bus: Bus, snapshot: Snapshot | None = None, seat_lookup: SeatLookup | None = None
    ) -> None:
        self.bus = bus
        self._snapshot = snapshot
        self._lookup = seat_lookup
        self._sockets: dict[int, set[web.WebSocketResponse]] = {}
        self._roles: dict[int, Role] = {}
        self._seat_of_user: dict[int, str] = {}
        self._call_of_seat: dict[str, str] = {}
        self.subscribed = asyncio.Event()

    # -- who is where ----------------------------------------------------------------------

    def bind(self, user_id: int, extension: str | None) -> None:
        """The user now sits at `extension` (None: logged out of the seat)."""
        if extension is None:
            self._seat_of_user.pop(user_id, None)
        else:
            self._seat_of_user[user_id] = extension

    def _users_at(self, extension: str) -> list[int]:
        return [u for u, e in self._seat_of_user.items() if e == extension]

    def _users_on_call(self, call_id: str) -> list[int]:
        seats = {e for e, c in self._call_of_seat.items() if c == call_id}
        return [u for u, e in self._seat_of_user.items() if e in seats]

    def recipients(self, event: BusEvent) -> set[int]:
        """Users who get `event` (and notes the call a seat is on)."""
        users = {u for u, r in self._roles.items() if r in _WATCHERS}
        match event:
            case ScreenPop():
                self._call_of_seat[event.extension] = event.call_id
                users.update(self._users_at(event.extension))
            case OperatorState():
                if event.call_id:
                    self._call_of_seat[event.extension] = event.call_id
                users.update(self._users_at(event.extension))
            case TranscriptPartial() | TranscriptFinal() | KeywordAlert():
                users.update(self._users_on_call(event.call_id))
            case CallbackTaskChanged():
                users.update(u for u, r in self._roles.items() if r is Role.operator)
        return users

    # -- the bus side ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with self.bus.subscribe(self.bus.filter()) as sub:
                self.subscribed.set()
                async for message in sub:
                    await self._forward(message)
        finally:
            await self.close_all()

    async def _forward(self, message: BusMessage) -> None:
        users = self.recipients(message.event)
        if not users:
            return
        frame = json.dumps(
            {
                "type": message.envelope.type,
                "topic": message.topic,
                "time": message.envelope.time.isoformat(),
                "data": message.event.model_dump(mode="json"),
            },
            ensure_ascii=False,
        )
        sockets = [ws for u in users for ws in self._sockets.get(u, ())]
        await asyncio.gather(*(self._send(ws, frame) for ws in sockets))

    async def _send(self, ws: web.WebSocketResponse, frame: str) -> None:
        try:
            await asyncio.wait_for(ws.send_str(frame), SEND_TIMEOUT)
        except (ConnectionError, TimeoutError, RuntimeError) as err:
            log.info("ws.send_failed", error=str(err) or type(err).__name__)
            with contextlib.suppress(Exception):
                await ws.close()

    async def close_all(self) -> None:
        sockets = [ws for group in self._sockets.values() for ws in group]
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server stopping")

    # -- the browser side ------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL]
        if principal is None:
            raise Forbidden("sign in first")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise Forbidden("WebSocket from another site", code="bad_origin")
        user = principal.user
        extension = await self._seat(user.id, user.sip_extension)
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        self._sockets.setdefault(user.id, set()).add(ws)
        self._roles[user.id] = user.role
        log.info("ws.open", user=user.username, extension=extension)
        try:
            hello: dict[str, Any] = {"type": "hello", "extension": extension,
                                     "role": str(user.role), "events": []}
            if extension and self._snapshot is not None:
                hello["events"] = self._snapshot(extension)
            await ws.send_str(json.dumps(hello, ensure_ascii=False))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str('{"type":"pong"}')
        finally:
            group = self._sockets.get(user.id, set())
            group.discard(ws)
            if not group:
                self._sockets.pop(user.id, None)
                self._roles.pop(user.id, None)
            log.info("ws.closed", user=user.username)
        return ws

    async def _seat(self, user_id: int, fallback: str | None) -> str | None:
        if user_id in self._seat_of_user:
            return self._seat_of_user[user_id]
        extension = await self._lookup(user_id) if self._lookup is not None else None
        extension = extension or fallback
        if extension:
            self._seat_of_user[user_id] = extension
        return extension
