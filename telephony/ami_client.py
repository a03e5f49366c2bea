"""AmiClient's logic: login, actions with timeouts, reconnect, resync and the event stream.

Theory of operation
-------------------
The client talks to one `Session` at a time: one TCP connection with its parser and its
table of actions waiting for replies. telephony/ami.py builds sessions on panoramisk;
this module never touches sockets or panoramisk. A session calls back synchronously,
while it parses, in wire order: `session_event` (an event no action claimed),
`session_reply` (a reply to one of our actions) and `session_lost`.

- `connect()` = dial + Login within `login_timeout`, then a supervisor task owned by
  the client (cancelled and awaited by `close()`).
- Login accepted -> `AmiConnected`. Once Asterisk says ``FullyBooted`` (right after the
  login if it is up; later if it is still loading modules: QueueStatus would be
  unknown) -> `ResyncStarted`, CoreShowChannels and QueueStatus sent; their items go into
  the stream as typed snapshots as they arrive, then `ResyncCompleted` with the counts.
  No FullyBooted within `boot_timeout` (a manager.conf event filter?) -> resync anyway.
- Lost connection -> `AmiDisconnected(reason)`, waiting actions fail, the supervisor
  redials with exponential backoff and jitter until it is logged in again or closed. A
  resync that fails, or a Ping unanswered while idle, drops the connection on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

import structlog

from config.settings import AmiSettings
from telephony import ami_actions
from telephony.ami_actions import OK_RESPONSES, AmiAction, AmiResponse, OriginateResult
from telephony.ami_backoff import backoff_delay
from telephony.ami_errors import (
    AmiActionFailed,
    AmiConnectionError,
    AmiLoginError,
    AmiNotConnectedError,
    AmiTimeoutError,
)
from telephony.ami_events import (
    AmiConnected,
    AmiDisconnected,
    AmiEvent,
    ChannelSnapshot,
    MalformedAmiMessage,
    OriginateResponse,
    QueueEntrySnapshot,
    QueueMemberSnapshot,
    ResyncCompleted,
    ResyncStarted,
    parse_event,
)
from telephony.ami_frames import Headers
from telephony.ami_stream import EventStream

log = structlog.get_logger()

PING_INTERVAL = 10.0
BOOT_TIMEOUT = 30.0


class Pending(Protocol):
    """One action on the wire (see ami._Pending)."""

    name: str
    kind: str
    mirror: bool
    responses: list[Headers]
    acked: asyncio.Future[Headers]

    @property
    def id(self) -> str: ...

    @property
    def future(self) -> asyncio.Future[list[Headers]]: ...


class Session(Protocol):
    """One logged-in (or logging-in) connection (see ami._Protocol)."""

    closed: bool
    lost: asyncio.Event
    version: str | None

    def send(self, action: AmiAction, kind: str = "plain", mirror: bool = False) -> Pending: ...
    def forget(self, pending: Pending) -> None: ...
    def close(self, reason: str) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


@dataclass
class _Resync:
    pending: set[str] = field(default_factory=set)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    counts: Counter[type[AmiEvent]] = field(default_factory=Counter)
    complete: bool = True


class AmiClientCore:
    """Everything but the wire; `_dial` makes a Session (telephony.ami.AmiClient)."""

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
        self._session: Session | None = None
        self._resync: _Resync | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stream = EventStream(settings.queue_size, self._pause_reading, self._resume_reading)

    async def _dial(self) -> Session:
        """Open a TCP connection with a fresh session on it (raises OSError)."""
        raise NotImplementedError

    # -- public API ------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        return self._session is not None and not self._session.closed

    @property
    def stream_paused(self) -> bool:
        return self._stream.paused

    def events(self) -> AsyncIterator[AmiEvent]:
        """Typed events and connection/resync events, in wire order; one consumer."""
        return self._stream

    async def connect(self) -> None:
        """Return once logged in; raise AmiLoginError or AmiConnectionError."""
        if self._task is not None or self._closing:
            raise RuntimeError("AmiClient.connect() may be called once, before close()")
        await self._open()
        self._task = asyncio.create_task(self._supervise(), name="ami-supervisor")
        self._task.add_done_callback(self._supervisor_done)

    async def send(self, action: AmiAction) -> AmiResponse:
        pending, replies = await self._request(action, self._settings.action_timeout)
        response = AmiResponse.from_replies(action, pending.id, replies)
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
        """Async Originate; returns when its OriginateResponse arrives (also in events())."""
        action = ami_actions.originate(
            channel=channel, context=context, exten=exten, priority=priority,
            channel_id=channel_id, variables=variables, timeout_ms=timeout_ms,
            caller_id=caller_id,
        )  # fmt: skip
        patience = timeout_ms / 1000 + self._settings.action_timeout
        pending, replies = await self._request(action, patience, mirror=True)
        if replies[0].get("Response") not in OK_RESPONSES:
            response = AmiResponse.from_replies(action, pending.id, replies)
            raise AmiActionFailed(f"AMI Originate failed: {response.message}", response)
        event = parse_event(replies[-1])
        assert isinstance(event, OriginateResponse)
        uniqueid = event.uniqueid if event.uniqueid not in ("", "<unknown>") else None
        log.info(
            "ami.originate_done", call_id=channel_id or uniqueid, channel=channel,
            success=event.success, reason=event.reason,
        )  # fmt: skip
        return OriginateResult(
            success=event.success, reason=event.reason, channel=event.channel,
            uniqueid=uniqueid, channel_id=channel_id, action_id=pending.id, event=event,
        )  # fmt: skip

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        session = self._session
        if session is not None:
            session.close("closed by client")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await session.lost.wait()
        self._stream.finish()

    async def __aenter__(self) -> Self:
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
        session: Session | None = None
        try:
            async with asyncio.timeout(s.login_timeout):
                try:
                    session = await self._dial()
                except OSError as err:
                    raise AmiConnectionError(
                        f"cannot connect to AMI at {self._where}: {err.strerror or err}"
                    ) from err
                secret = s.secret.get_secret_value()
                login = session.send(ami_actions.login(s.username, secret), kind="login")
                replies = await login.future
        except BaseException as err:
            if session is not None:
                session.close("login failed")
            if isinstance(err, TimeoutError):
                what = "did not answer the login" if session else "did not accept a connection"
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
            session.close("login refused")
            why = reply.get("Message") or reply.get("Response", "no reason given")
            raise AmiLoginError(
                f"AMI login refused for user {s.username!r} at {self._where}: {why}"
            )

    async def _supervise(self) -> None:
        while True:
            session = self._session
            if session is not None:
                await self._watch(session)
            await self._reconnect()

    async def _watch(self, session: Session) -> None:
        """Wait for the resync, ping while idle; return once the connection is gone."""
        if self._booting:
            try:
                async with asyncio.timeout(self._boot_timeout):
                    await self._booted.wait()
            except TimeoutError:
                log.warning("ami.no_fully_booted", waited=self._boot_timeout)
                if self._booting and not session.closed:
                    self._start_resync(session)
        resync = self._resync
        if resync is not None:
            try:
                async with asyncio.timeout(self._settings.action_timeout):
                    await asyncio.gather(*resync.futures)
            except (TimeoutError, AmiNotConnectedError) as err:
                log.warning("ami.resync_failed", error=str(err) or type(err).__name__)
                session.close("resync failed")
        while not session.closed:
            try:
                async with asyncio.timeout(self._ping_interval):
                    await session.lost.wait()
            except TimeoutError:
                if self._stream.paused or session.closed:
                    continue  # a paused reader cannot see the Pong
                try:
                    await self._request(ami_actions.ping(), self._settings.action_timeout)
                except AmiTimeoutError:
                    session.close("no answer to Ping")
                except AmiNotConnectedError:
                    pass
        await session.lost.wait()

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

    async def _request(
        self, action: AmiAction, patience: float, *, mirror: bool = False
    ) -> tuple[Pending, list[Headers]]:
        session = self._session
        if session is None or session.closed:
            raise AmiNotConnectedError(f"not connected to AMI at {self._where}: {action.name}")
        pending = session.send(action, mirror=mirror)
        try:
            async with asyncio.timeout(patience):
                return pending, await pending.future
        except TimeoutError as err:
            session.forget(pending)
            hint = " (reading is paused: nothing consumes events())" if self._stream.paused else ""
            raise AmiTimeoutError(
                f"no reply to {action.name} from AMI at {self._where} within {patience:g}s{hint}"
            ) from err

    def _start_resync(self, session: Session) -> None:
        self._booting = False
        self._booted.set()
        self._stream.put(ResyncStarted())
        resync = _Resync()
        for action in (ami_actions.core_show_channels(), ami_actions.queue_status()):
            pending = session.send(action, kind="resync", mirror=True)
            resync.pending.add(pending.id)
            resync.futures.append(pending.future)
        self._resync = resync

    # -- called by the session while it parses (synchronous, in wire order) ---------------

    def session_event(self, headers: Headers) -> None:
        self._emit(headers)
        session = self._session
        if self._booting and session is not None and headers.get("Event") == "FullyBooted":
            self._start_resync(session)

    def session_reply(self, session: Session, pending: Pending, msg: Headers, done: bool) -> None:
        name = msg.get("Event", "")
        if pending.mirror and name and not name.endswith("Complete"):
            event = self._emit(msg)
            if event is not None and self._resync is not None and pending.kind == "resync":
                self._resync.counts[type(event)] += 1
        if not done:
            return
        if pending.kind == "login" and msg.get("Response") == "Success" and not session.closed:
            self._session = session
            s = self._settings
            self._stream.put(AmiConnected(host=s.host, port=s.port, version=session.version or ""))
            log.info("ami.connected", at=self._where, version=session.version)
            self._booting = True
            self._booted.clear()
        elif pending.kind == "resync" and self._resync and pending.id in self._resync.pending:
            self._resync_done(pending)

    def _resync_done(self, pending: Pending) -> None:
        resync = self._resync
        assert resync is not None
        if pending.responses[0].get("Response") not in OK_RESPONSES:
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

    def session_lost(self, session: Session, reason: str) -> None:
        if session is not self._session:
            return
        self._session = None
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
        if self._session is not None and not self._session.closed:
            self._session.pause_reading()
            log.warning("ami.backpressure", queued=len(self._stream))

    def _resume_reading(self) -> None:
        if self._session is not None and not self._session.closed:
            self._session.resume_reading()
