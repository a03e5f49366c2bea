"""The AMI adapter: the only module in the project that imports panoramisk.

Theory of operation
-------------------
panoramisk gives us its protocol (`AMIProtocol`), its `Action` (ActionIDs, wire format,
a future per action) and its `Manager` event registry. We keep those and replace what
the notes (shared/notes/asterisk.md, "AMI with panoramisk 1.4") found broken:

- `_Protocol.data_received` cuts the byte stream into messages *before* decoding
  (telephony.ami_frames), so a Chinese name split across reads survives; messages over
  a size cap, garbage and lines without a colon are logged and skipped.
- `connect()` returns only after Asterisk accepted the login: `AmiLoginError` if it
  refused, `AmiConnectionError` if it cannot be reached, both within
  `settings.login_timeout`. We track the login state ourselves (`authenticated`).
- Every action has a timeout (`AmiTimeoutError`); sending while not logged in fails at
  once (`AmiNotConnectedError`), and actions waiting when the connection drops fail
  with it instead of being queued for a resend. How an answer ends is declared by the
  action (single / list / final event), never guessed from the reply text.
- Originate is always async; its OriginateResponse resolves `originate()` and is also
  put into the event stream.
- One plain callback is registered for '*' and puts typed events into one ordered
  stream (telephony.ami_stream): no task per event. A full stream pauses reading.
- On connection loss: `AmiDisconnected`, then reconnect with exponential backoff and
  jitter (telephony.ami_backoff) until closed. After every login: `AmiConnected`,
  once Asterisk is fully booted `ResyncStarted`, the CoreShowChannels and QueueStatus
  items as typed snapshots in wire order, `ResyncCompleted` (the call state drops calls
  that are not in it: calls that were up when Asterisk died never get a Hangup). A
  resync that times out drops the connection and so starts again. A Ping every
  `ping_interval` finds dead peers.

Exceptions::

    AmiError
    ├── AmiConnectionError    cannot connect, no answer to the login in time, or the
    │                         connection closed during login
    ├── AmiLoginError         Asterisk refused the username or secret
    ├── AmiTimeoutError       no reply to an action within settings.action_timeout
    ├── AmiNotConnectedError  not logged in, or the connection dropped before the reply
    └── AmiActionFailed       Asterisk answered the action with an error
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from config.settings import AmiSettings
from telephony import ami_actions
from telephony.ami_actions import AmiAction, AmiResponse, OriginateResult
from telephony.ami_backoff import backoff_delay
from telephony.ami_events import (
    AmiConnected,
    AmiDisconnected,
    AmiEvent,
    ChannelSnapshot,
    OriginateResponse,
    QueueEntrySnapshot,
    QueueMemberSnapshot,
    ResyncCompleted,
    ResyncStarted,
    parse_event,
)
from telephony.ami_frames import FrameSplitter, Headers, MalformedAmiMessage, parse_frame
from telephony.ami_stream import EventStream

log = structlog.get_logger()

PING_INTERVAL = 10.0
BOOT_TIMEOUT = 30.0  # resync anyway if no FullyBooted (filtered by manager.conf?) by then
_OK = ("Success", "Follows", "Goodbye")


class AmiError(Exception):
    """Anything the AMI adapter reports."""


class AmiConnectionError(AmiError):
    pass


class AmiLoginError(AmiError):
    pass


class AmiTimeoutError(AmiError):
    pass


class AmiNotConnectedError(AmiError):
    pass


class AmiActionFailed(AmiError):
    def __init__(self, message: str, response: AmiResponse) -> None:
        super().__init__(message)
        self.response = response


def _settle(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
        fut.exception()  # mark retrieved: nobody may be awaiting it any more


class _Pending(Action):  # type: ignore[misc]
    """One action on the wire; collects its replies until the declared end."""

    def __init__(self, action: AmiAction, kind: str = "plain", mirror: bool = False) -> None:
        headers: dict[str, str | list[str]] = {"Action": action.name}
        for key, value in action.headers:
            old = headers.get(key)
            headers[key] = (
                value if old is None else [*([old] if isinstance(old, str) else old), value]
            )
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
            done = msg.get("Response") not in _OK or not (self.as_list or self.final_event)
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
        self.factory = self._client._manager
        self.encoding = "utf-8"
        if self._client._stream.paused:
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
        self._client._on_reply(self, pending, headers, done)

    def send_action(self, pending: _Pending) -> None:
        if self.closed:
            raise AmiNotConnectedError(f"AMI connection closed: cannot send {pending.name}")
        self.responses[pending.id] = pending
        self.transport.write(str(pending).encode("utf-8"))

    def forget(self, pending: _Pending) -> None:
        self.responses.pop(pending.id, None)

    def close(self, reason: str = "closed by client") -> None:
        # Not panoramisk's close: it queues unanswered actions for a resend after reconnect.
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self.transport.close()

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
        self._client._on_lost(self, reason)


@dataclass
class _Resync:
    pending: set[str] = field(default_factory=set)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    counts: Counter[type[AmiEvent]] = field(default_factory=Counter)
    complete: bool = True


class AmiClient:
    """`async with AmiClient(settings) as ami:` then consume `ami.events()`."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        ping_interval: float = PING_INTERVAL,
        boot_timeout: float = BOOT_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._where = f"{settings.host}:{settings.port}"
        self._ping_interval = ping_interval
        self._boot_timeout = boot_timeout
        self._booting = False
        self._booted = asyncio.Event()
        self._proto: _Protocol | None = None
        self._resync: _Resync | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stream = EventStream(settings.queue_size, self._pause_reading, self._resume_reading)
        self._manager = Manager()
        # Drop its FullyBooted hook: it resends queued actions from a task nobody awaits.
        self._manager.callbacks.clear()
        self._manager.patterns.clear()
        self._manager.register_event("*", self._on_event)

    # -- public API ------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        return self._proto is not None and not self._proto.closed

    def events(self) -> AsyncIterator[AmiEvent]:
        """Typed events and connection/resync events, in wire order; one consumer."""
        return self._stream

    async def connect(self) -> None:
        if self._task is not None or self._closing:
            raise RuntimeError("AmiClient.connect() may be called once, before close()")
        await self._open()
        self._task = asyncio.create_task(self._supervise(), name="ami-supervisor")
        self._task.add_done_callback(self._supervisor_done)

    async def send(self, action: AmiAction) -> AmiResponse:
        pending, replies = await self._request(action, self._settings.action_timeout)
        response = _response(action, pending.id, replies)
        if not response.success:
            raise AmiActionFailed(
                f"AMI {action.name} failed: {response.message or response.response}", response
            )
        return response

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout_ms: int = 30000,
        caller_id: str | None = None,
    ) -> OriginateResult:
        action = ami_actions.originate(
            channel=channel, context=context, exten=exten, priority=priority,
            channel_id=channel_id, variables=variables, timeout_ms=timeout_ms,
            caller_id=caller_id,
        )  # fmt: skip
        timeout = timeout_ms / 1000 + self._settings.action_timeout
        pending, replies = await self._request(action, timeout, mirror=True)
        first, last = replies[0], replies[-1]
        if first.get("Response") not in _OK:
            response = _response(action, pending.id, replies)
            raise AmiActionFailed(f"AMI Originate failed: {response.message}", response)
        event = parse_event(last)
        assert isinstance(event, OriginateResponse)
        uniqueid = event.uniqueid if event.uniqueid not in ("", "<unknown>") else None
        log.info(
            "ami.originate_done", call_id=channel_id or uniqueid, channel=channel,
            success=event.success, reason=event.reason,
        )  # fmt: skip
        return OriginateResult(
            success=event.success,
            reason=event.reason,
            channel=event.channel,
            uniqueid=uniqueid,
            channel_id=channel_id,
            action_id=pending.id,
            event=event,
        )

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        proto = self._proto
        if proto is not None:
            proto.close("closed by client")
            async with asyncio.timeout(1.0):
                await proto.lost.wait()
        self._stream.finish()

    async def __aenter__(self) -> AmiClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- connecting ------------------------------------------------------------------------

    async def _open(self) -> None:
        """Connect and log in, or raise AmiConnectionError / AmiLoginError."""
        s = self._settings
        loop = asyncio.get_running_loop()
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(s.login_timeout):
                try:
                    _, proto = await loop.create_connection(lambda: _Protocol(self), s.host, s.port)
                except OSError as err:
                    raise AmiConnectionError(
                        f"cannot connect to AMI at {self._where}: {err.strerror or err}"
                    ) from err
                assert proto is not None
                login = _Pending(
                    ami_actions.login(s.username, s.secret.get_secret_value()), kind="login"
                )
                proto.send_action(login)
                replies = await login.future
        except BaseException as err:
            if proto is not None:
                proto.close("login failed")
            if isinstance(err, TimeoutError):
                what = "did not answer the login" if proto else "did not accept a connection"
                raise AmiConnectionError(
                    f"AMI at {self._where} {what} within {s.login_timeout:g}s"
                ) from err
            if isinstance(err, AmiNotConnectedError):
                raise AmiConnectionError(
                    f"AMI at {self._where} closed the connection during login"
                ) from err
            raise
        reply = replies[0]
        if reply.get("Response") != "Success":
            proto.close("login refused")
            why = reply.get("Message") or reply.get("Response", "no reason given")
            raise AmiLoginError(
                f"AMI login refused for user {s.username!r} at {self._where}: {why}"
            )

    def _activate(self, proto: _Protocol) -> None:
        """Login accepted (called while its reply is parsed, so ordering is exact)."""
        self._proto = proto
        s = self._settings
        self._stream.put(AmiConnected(host=s.host, port=s.port, version=proto.version or ""))
        log.info("ami.connected", at=self._where, version=proto.version)
        # A restarted Asterisk takes logins while it still loads modules (QueueStatus is
        # then unknown): resync once it says FullyBooted, which it also sends right after
        # the login reply when it is already up.
        self._booting = True
        self._booted.clear()

    def _start_resync(self, proto: _Protocol) -> None:
        self._booting = False
        self._booted.set()
        self._stream.put(ResyncStarted())
        resync = _Resync()
        for action in (ami_actions.core_show_channels(), ami_actions.queue_status()):
            pending = _Pending(action, kind="resync", mirror=True)
            proto.send_action(pending)
            resync.pending.add(pending.id)
            resync.futures.append(pending.future)
        self._resync = resync

    async def _supervise(self) -> None:
        while True:
            proto = self._proto
            if proto is not None:
                await self._watch(proto)
            await self._reconnect()

    async def _watch(self, proto: _Protocol) -> None:
        """Wait for the resync, ping while idle; return once the connection is gone."""
        if self._booting:
            try:
                async with asyncio.timeout(self._boot_timeout):
                    await self._booted.wait()
            except TimeoutError:
                log.warning("ami.no_fully_booted", waited=self._boot_timeout)
                if self._booting and not proto.closed:
                    self._start_resync(proto)
        resync = self._resync
        if resync is not None:
            try:
                async with asyncio.timeout(self._settings.action_timeout):
                    await asyncio.gather(*resync.futures)
            except (TimeoutError, AmiError) as err:
                log.warning("ami.resync_failed", error=str(err) or type(err).__name__)
                proto.close("resync failed")
        while not proto.closed:
            try:
                async with asyncio.timeout(self._ping_interval):
                    await proto.lost.wait()
            except TimeoutError:
                if self._stream.paused or proto.closed:
                    continue  # a paused reader cannot see the Pong
                try:
                    await self._request(ami_actions.ping(), self._settings.action_timeout)
                except AmiTimeoutError:
                    proto.close("no answer to Ping")
                except AmiNotConnectedError:
                    pass
        await proto.lost.wait()

    async def _reconnect(self) -> None:
        s = self._settings
        for attempt in itertools.count():
            delay = backoff_delay(attempt, s.reconnect_min, s.reconnect_max, random.random())
            log.info("ami.reconnect_wait", attempt=attempt + 1, delay=round(delay, 3))
            await asyncio.sleep(delay)
            try:
                await self._open()
                return
            except AmiLoginError as err:
                log.error("ami.login_refused", error=str(err))  # noqa: TRY400
            except AmiConnectionError as err:
                log.info("ami.reconnect_failed", error=str(err))

    def _supervisor_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("ami.supervisor_crashed", exc_info=exc)
            self._stream.finish(exc)

    # -- requests --------------------------------------------------------------------------

    async def _request(
        self, action: AmiAction, patience: float, *, mirror: bool = False
    ) -> tuple[_Pending, list[Headers]]:
        proto = self._proto
        if proto is None or proto.closed:
            raise AmiNotConnectedError(f"not connected to AMI at {self._where}: {action.name}")
        pending = _Pending(action, mirror=mirror)
        proto.send_action(pending)
        try:
            async with asyncio.timeout(patience):
                return pending, await pending.future
        except TimeoutError as err:
            proto.forget(pending)
            hint = " (reading is paused: nothing consumes events())" if self._stream.paused else ""
            raise AmiTimeoutError(
                f"no reply to {action.name} from AMI at {self._where} within {patience:g}s{hint}"
            ) from err

    # -- callbacks from the protocol (synchronous, in wire order) ---------------------------

    def _on_event(self, _manager: Any, message: _EventMessage) -> None:
        self._emit(message.headers)
        if self._booting and message.event == "FullyBooted" and self._proto is not None:
            self._start_resync(self._proto)

    def _on_reply(self, proto: _Protocol, pending: _Pending, msg: Headers, done: bool) -> None:
        name = msg.get("Event", "")
        if pending.mirror and name and not name.endswith("Complete"):
            event = self._emit(msg)
            if event is not None and self._resync is not None and pending.kind == "resync":
                self._resync.counts[type(event)] += 1
        if not done:
            return
        if pending.kind == "login" and msg.get("Response") == "Success" and not proto.closed:
            self._activate(proto)
        elif pending.kind == "resync" and self._resync and pending.id in self._resync.pending:
            resync = self._resync
            if pending.responses[0].get("Response") not in _OK:
                resync.complete = False
                log.warning("ami.resync_action_failed", action=pending.name,
                            message=pending.responses[0].get("Message"))  # fmt: skip
            resync.pending.discard(pending.id)
            if not resync.pending:
                self._resync = None
                self._stream.put(ResyncCompleted(
                    channels=resync.counts[ChannelSnapshot],
                    queue_members=resync.counts[QueueMemberSnapshot],
                    queue_entries=resync.counts[QueueEntrySnapshot],
                    complete=resync.complete,
                ))  # fmt: skip

    def _on_lost(self, proto: _Protocol, reason: str) -> None:
        if proto is not self._proto:
            return
        self._proto = None
        self._resync = None
        self._booting = False
        self._booted.set()  # wakes _watch, which then sees the connection closed
        self._stream.put(AmiDisconnected(reason=reason))
        log.warning("ami.disconnected", at=self._where, reason=reason)

    def _emit(self, headers: Headers) -> AmiEvent | None:
        try:
            event = parse_event(headers)
        except MalformedAmiMessage as err:
            call_id = headers.get("Linkedid") or headers.get("Uniqueid")
            log.warning("ami.malformed_event", error=str(err), call_id=call_id)
            return None
        self._stream.put(event)
        return event

    def _pause_reading(self) -> None:
        if self._proto is not None and not self._proto.closed:
            self._proto.transport.pause_reading()
            log.warning("ami.backpressure", queued=len(self._stream))

    def _resume_reading(self) -> None:
        if self._proto is not None and not self._proto.closed:
            self._proto.transport.resume_reading()


def _response(action: AmiAction, action_id: str, replies: list[Headers]) -> AmiResponse:
    first = replies[0]
    events: list[AmiEvent] = []
    for msg in replies[1:]:
        if msg.get("Event", "").endswith("Complete"):
            continue
        try:
            events.append(parse_event(msg))
        except MalformedAmiMessage as err:
            log.warning("ami.malformed_event", action=action.name, error=str(err))
    return AmiResponse(
        action=action.name,
        action_id=action_id,
        response=first.get("Response", ""),
        message=first.get("Message", ""),
        headers=first,
        events=tuple(events),
    )
