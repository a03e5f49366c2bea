"""The AudioSocket server: one TCP connection per tapped speaker, audio to a sink.

Theory of operation
-------------------
Asterisk's AudioSocket channel (originated by the tap dialplan, spying on one channel
of a call) connects, sends a UUID frame, then 20 ms audio frames until the call ends
(it closes the connection; a 0x00 hangup frame is honoured too). For each connection:

1. the first frame must be the UUID, within `uuid_timeout` seconds;
2. `opener(stream_id)` returns the `StreamSink` that receives this stream (the service
   ties the id to its call and speaker) or raises `StreamRejected` (unknown tap, pool
   at capacity): the connection is then closed, which ends only the tap channel;
3. audio frames go to `sink.audio()` as they arrive; at the end, `await sink.end(why)`
   runs exactly once, whatever the reason (EOF, hangup frame, bad frames, silence for
   `idle_timeout`, server shutdown).

A connection that sends garbage, an unknown frame type, a wrong length, or stops
mid-frame is closed with one logged error naming the stream; other connections are
untouched. Each connection is a task in the server's TaskGroup.

Errors: `StreamRejected` (raised by openers); frame errors come from `asr.frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from asr import frames

log = structlog.get_logger("asr.audiosocket")

_READ_SIZE = 8192


class StreamRejected(Exception):
    """The opener will not take this stream; the message says why."""


class StreamSink(Protocol):
    def audio(self, pcm: bytes) -> None: ...
    def dtmf(self, digit: str) -> None: ...
    async def end(self, reason: str) -> None: ...


Opener = Callable[[uuid.UUID], Awaitable[StreamSink]]


class AudioSocketServer:
    def __init__(
        self,
        host: str,
        port: int,
        opener: Opener,
        *,
        uuid_timeout: float = 5.0,
        idle_timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.requested_port = port
        self._opener = opener
        self.uuid_timeout = uuid_timeout
        self.idle_timeout = idle_timeout
        self.port: int | None = None
        self.connections = 0

    async def serve(self, on_listening: Callable[[int], None] | None = None) -> None:
        """Listen until cancelled; raises OSError if the address cannot be bound."""
        group: list[asyncio.TaskGroup] = []  # set before serving starts

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            group[0].create_task(self._connection(reader, writer))

        # Bind outside the TaskGroup so a taken port raises a plain OSError.
        server = await asyncio.start_server(accepted, self.host, self.requested_port,
                                            start_serving=False)
        async with server, asyncio.TaskGroup() as tg:
            group.append(tg)
            await server.start_serving()
            self.port = server.sockets[0].getsockname()[1]
            log.info("audiosocket listening", host=self.host, port=self.port)
            if on_listening is not None:
                on_listening(self.port)
            await asyncio.Future()  # until cancelled

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        peer = writer.get_extra_info("peername")
        try:
            await self._stream(reader, peer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _stream(self, reader: asyncio.StreamReader, peer: object) -> None:
        parser = frames.FrameReader()
        backlog, problem = await self._read_uuid(reader, parser)
        if problem:
            # A client's bad bytes are no bug of ours: one line, no traceback.
            log.error("audiosocket stream refused", peer=peer, problem=problem)
            return
        if not backlog:
            log.warning("audiosocket closed before its uuid", peer=peer)
            return
        first = backlog.pop(0)
        if not isinstance(first, frames.StreamId):
            log.error("audiosocket first frame is not a uuid", peer=peer,
                      frame=type(first).__name__)
            return
        stream_log = log.bind(stream=str(first.id))
        try:
            sink = await self._opener(first.id)
        except StreamRejected as err:
            stream_log.warning("audiosocket stream rejected", reason=str(err))
            return
        reason = "shutdown"
        try:
            reason = await self._pump(reader, parser, backlog, sink)
        except frames.FrameError as err:
            reason = f"bad frame: {err}"
            stream_log.error("audiosocket stream closed: bad frame", error=str(err))
        except TimeoutError:
            reason = "idle"
            stream_log.error("audiosocket stream closed: no audio", seconds=self.idle_timeout)
        except ConnectionError as err:
            reason = f"connection lost: {err}"
            stream_log.warning("audiosocket connection lost", error=str(err))
        finally:
            await sink.end(reason)
        stream_log.info("audiosocket stream ended", reason=reason)

    async def _read_uuid(
        self, reader: asyncio.StreamReader, parser: frames.FrameReader
    ) -> tuple[list[frames.Frame], str]:
        """The first frames (none at a clean EOF), or what went wrong."""
        try:
            async with asyncio.timeout(self.uuid_timeout):
                while True:
                    data = await reader.read(_READ_SIZE)
                    if not data:
                        parser.finish()
                        return [], ""
                    backlog = parser.feed(data)
                    if backlog:
                        return backlog, ""
        except TimeoutError:
            return [], f"no uuid within {self.uuid_timeout} s"
        except frames.FrameError as err:
            return [], f"bad frame at the start of the stream: {err}"
        except ConnectionError as err:
            return [], f"connection lost: {err}"

    async def _pump(self, reader: asyncio.StreamReader, parser: frames.FrameReader,
                    backlog: list[frames.Frame], sink: StreamSink) -> str:
        batch = backlog
        while True:
            for frame in batch:
                if isinstance(frame, frames.Audio):
                    sink.audio(frame.pcm)
                elif isinstance(frame, frames.Dtmf):
                    sink.dtmf(frame.digit)
                elif isinstance(frame, frames.Hangup):
                    return "hangup"
                elif isinstance(frame, frames.ErrorFrame):
                    return f"asterisk error {frame.code}"
                else:
                    raise frames.FrameError("a second uuid frame in one stream")
            async with asyncio.timeout(self.idle_timeout):
                data = await reader.read(_READ_SIZE)
            if not data:
                parser.finish()
                return "eof"
            batch = parser.feed(data)
