"""The AMI adapter: the only module in the project that imports panoramisk.

Theory of operation
-------------------
panoramisk gives us its protocol (`AMIProtocol`), its `Action` (ActionIDs, wire format,
a future per action) and its `Manager` event registry. We keep those and replace what
the notes (shared/notes/asterisk.md, "AMI with panoramisk 1.4") found broken:

1. Chinese text: `_Protocol.data_received` cuts the byte stream into messages *before*
   decoding (telephony.ami_frames), so a name split across reads survives; over-long
   messages, garbage and lines without a colon are logged and skipped.
2. Login: `connect()` returns only after Asterisk accepted the login, else
   `AmiLoginError` / `AmiConnectionError` within `login_timeout` (telephony.ami_client).
3. Originate always carries ``Async: true`` (telephony.ami_actions.originate).
4. Its OriginateResponse resolves `originate()` (by ActionID) and is also put into the
   event stream; the result keeps the ChannelId for failures (Uniqueid '<unknown>').
5. Every wait has a timeout; sending while not logged in fails at once; actions waiting
   when the connection drops fail (panoramisk queued them for a blind resend). How an
   answer ends is declared by the action (`_Pending.add_message`), never guessed from
   the reply text, so QueueAdd resolves.
6. Command output is always a tuple of lines (`AmiResponse.output`).
7. We track `authenticated` ourselves, reconnect with backoff and jitter instead of
   panoramisk's fixed forever-retry, and resync from CoreShowChannels and QueueStatus
   after every login (telephony.ami_client).
8. One plain callback registered for '*' puts typed events into one ordered stream
   (telephony.ami_stream); no task per event. A full stream pauses reading.
9. One pattern only, so dispatch stays cheap (bench/ami_throughput.py).

Errors are those of telephony.ami_errors (re-exported here)::

    AmiError
    ├── AmiConnectionError, AmiLoginError, AmiTimeoutError
    └── AmiNotConnectedError, AmiActionFailed
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from config.settings import AmiSettings
from telephony.ami_actions import OK_RESPONSES, AmiAction, AmiResponse, OriginateResult
from telephony.ami_client import BOOT_TIMEOUT, PING_INTERVAL, AmiClientCore, Pending, Session
from telephony.ami_errors import (
    AmiActionFailed,
    AmiConnectionError,
    AmiError,
    AmiLoginError,
    AmiNotConnectedError,
    AmiTimeoutError,
)
from telephony.ami_frames import FrameSplitter, Headers, MalformedAmiMessage, parse_frame

__all__ = [
    "AmiAction",
    "AmiActionFailed",
    "AmiClient",
    "AmiConnectionError",
    "AmiError",
    "AmiLoginError",
    "AmiNotConnectedError",
    "AmiResponse",
    "AmiTimeoutError",
    "OriginateResult",
]

log = structlog.get_logger()


def _settle(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
        fut.exception()  # mark retrieved: nobody may be awaiting it any more


class _Pending(Action):  # type: ignore[misc]
    """One action on the wire; collects its replies until the declared end."""

    def __init__(self, action: AmiAction, kind: str, mirror: bool) -> None:
        headers: dict[str, str | list[str]] = {"Action": action.name}
        for key, value in action.headers:
            old = headers.get(key)
            if old is None:
                headers[key] = value
            else:
                headers[key] = [*([old] if isinstance(old, str) else old), value]
        super().__init__(headers, as_list=action.as_list)
        self.name = action.name
        self.final_event = action.final_event
        self.kind = kind
        self.mirror = mirror  # also put its events into the stream
        self.acked: asyncio.Future[Headers] = asyncio.get_running_loop().create_future()

    def add_message(self, msg: Headers) -> bool:
        """Take one reply; True once the action is complete (its future then has them all)."""
        self.responses.append(msg)
        if len(self.responses) == 1:
            if not self.acked.done():
                self.acked.set_result(msg)
            done = msg.get("Response") not in OK_RESPONSES or not (self.as_list or self.final_event)
        elif self.final_event:
            done = msg.get("Event") == self.final_event
        else:
            done = msg.get("EventList") == "Complete" or msg.get("Event", "").endswith("Complete")
        if done and not self.future.done():
            self.future.set_result(list(self.responses))
        return done

    def fail(self, exc: AmiError) -> None:
        _settle(self.acked, exc)
        _settle(self.future, exc)


class _EventMessage:
    """What Manager.dispatch needs: an `event` name and a `manager` slot."""

    __slots__ = ("event", "headers", "manager")

    def __init__(self, headers: Headers) -> None:
        self.event = headers["Event"]
        self.headers = headers
        self.manager: Any = None


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with our framing, action bookkeeping and close (a Session)."""

    # set by AMIProtocol.connection_made
    transport: asyncio.Transport
    responses: dict[str, _Pending]
    closed: bool
    version: str | None
    factory: Any

    def __init__(self, client: AmiClient) -> None:
        self._client = client
        self._splitter = FrameSplitter()
        self.lost = asyncio.Event()
        self.close_reason: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.factory = self._client.manager
        self.encoding = "utf-8"
        if self._client.stream_paused:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        items = self._splitter.feed(data)
        if self.version is None:
            self.version = self._splitter.version
        for item in items:
            if isinstance(item, MalformedAmiMessage):
                log.warning("ami.malformed", error=str(item))
                continue
            try:
                headers = parse_frame(item)
            except MalformedAmiMessage as err:
                log.warning("ami.malformed", error=str(err))
                continue
            self.handle_message(headers)

    def handle_message(self, headers: Headers) -> None:
        action_id = headers.get("ActionID", "")
        pending = self.responses.get(action_id)
        if pending is None:
            if "Event" in headers:
                self.factory.dispatch(_EventMessage(headers))
            return
        done = pending.add_message(headers)
        if done:
            del self.responses[action_id]
        self._client.session_reply(self, pending, headers, done)

    def send(self, action: AmiAction, kind: str = "plain", mirror: bool = False) -> Pending:
        # Not panoramisk's send: it logs and swallows write errors.
        if self.closed:
            raise AmiNotConnectedError(f"AMI connection closed: cannot send {action.name}")
        pending = _Pending(action, kind, mirror)
        self.responses[pending.id] = pending
        self.transport.write(str(pending).encode("utf-8"))
        return pending

    def forget(self, pending: Pending) -> None:
        self.responses.pop(pending.id, None)

    def close(self, reason: str = "closed by client") -> None:
        # Not panoramisk's close: it queues unanswered actions for a resend after reconnect.
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self.transport.close()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._splitter.pending_bytes:
            log.warning("ami.truncated", discarded_bytes=self._splitter.pending_bytes)
        for pending in list(self.responses.values()):
            pending.fail(
                AmiNotConnectedError(f"AMI connection lost before the reply to {pending.name}")
            )
        self.responses.clear()
        reason = self.close_reason or (str(exc) if exc else "connection closed by Asterisk")
        self.lost.set()
        self._client.session_lost(self, reason)


class AmiClient(AmiClientCore):
    """`async with AmiClient(settings) as ami:` then consume `ami.events()`.

    `connect()`, `events()`, `send(action)`, `originate(...)`, `close()`,
    `authenticated`: see telephony.ami_client.AmiClientCore.
    """

    def __init__(
        self,
        settings: AmiSettings,
        *,
        ping_interval: float = PING_INTERVAL,
        boot_timeout: float = BOOT_TIMEOUT,
    ) -> None:
        super().__init__(settings, ping_interval=ping_interval, boot_timeout=boot_timeout)
        self.manager = Manager()
        # Drop its FullyBooted hook: it resends queued actions from a task nobody awaits.
        self.manager.callbacks.clear()
        self.manager.patterns.clear()
        self.manager.register_event("*", self._on_event)

    def _on_event(self, _manager: Any, message: _EventMessage) -> None:
        self.session_event(message.headers)

    async def _dial(self) -> Session:
        loop = asyncio.get_running_loop()
        s = self._settings
        _, proto = await loop.create_connection(lambda: _Protocol(self), s.host, s.port)
        session: Session = proto
        return session
