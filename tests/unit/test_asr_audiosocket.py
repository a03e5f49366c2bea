"""The AudioSocket server on loopback with a recording opener (no recognizer)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from structlog.testing import capture_logs

from asr import frames
from asr.audiosocket import AudioSocketServer, StreamRejected, StreamSink

Served = tuple[AudioSocketServer, "Opener"]


class Recorder:
    def __init__(self) -> None:
        self.pcm = bytearray()
        self.digits = ""
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def audio(self, pcm: bytes) -> None:
        self.pcm += pcm

    def dtmf(self, digit: str) -> None:
        self.digits += digit

    async def end(self, reason: str) -> None:
        self.ended.set_result(reason)


class Opener:
    def __init__(self) -> None:
        self.sinks: dict[uuid.UUID, Recorder] = {}
        self.refuse: set[uuid.UUID] = set()

    async def __call__(self, stream_id: uuid.UUID) -> StreamSink:
        if stream_id in self.refuse:
            raise StreamRejected("not today")
        self.sinks[stream_id] = Recorder()
        return self.sinks[stream_id]


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    opener = Opener()
    srv = AudioSocketServer("127.0.0.1", 0, opener, uuid_timeout=0.3, idle_timeout=2.0)
    listening = asyncio.Event()
    task = asyncio.create_task(srv.serve(on_listening=lambda _p: listening.set()))
    await asyncio.wait_for(listening.wait(), 5)
    yield srv, opener
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _send(port: int | None, data: bytes, *, close: bool = True) -> bytes:
    """Send bytes, then read until the server closes (what it sent back, if anything)."""
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if close:
        writer.write_eof()
    got = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return got


async def _until(check: Callable[[], bool], deadline: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + deadline
    while not check():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.01)


def _stream(sid: uuid.UUID, pcm: bytes) -> bytes:
    out = frames.encode(frames.StreamId(sid))
    for i in range(0, len(pcm), 320):
        out += frames.encode(frames.Audio(pcm[i : i + 320]))
    return out


async def test_a_stream_delivers_its_audio_and_digits_then_ends(server: Served) -> None:
    srv, opener = server
    sid = uuid.uuid4()
    pcm = bytes(range(256)) * 10
    await _send(srv.port, _stream(sid, pcm) + frames.encode(frames.Dtmf("7")))
    sink = opener.sinks[sid]
    assert await asyncio.wait_for(sink.ended, 5) == "eof"
    assert bytes(sink.pcm) == pcm and sink.digits == "7"


async def test_hangup_frame_ends_the_stream(server: Served) -> None:
    srv, opener = server
    sid = uuid.uuid4()
    await _send(srv.port, _stream(sid, b"\x00" * 640) + frames.encode(frames.Hangup()),
                close=False)
    assert await asyncio.wait_for(opener.sinks[sid].ended, 5) == "hangup"


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (b"\x42\x00\x00", "unknown frame type 0x42"),
        (b"\x10\x00\x03abc", "audio frame with 3 bytes"),
        (b"\xde\xad\xbe\xef" * 8, "unknown frame type 0xde"),
        (b"\x10\x01\x40" + b"\x00" * 100, "stream ended 103 bytes into a frame"),
    ],
)
async def test_bad_frames_close_only_their_stream(
    server: Served, tail: bytes, expected: str
) -> None:
    srv, opener = server
    good, bad = uuid.uuid4(), uuid.uuid4()
    _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(_stream(good, b"\x01\x00" * 320))
    await writer.drain()
    with capture_logs() as logs:
        bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", srv.port)
        bad_writer.write(_stream(bad, b"\x02\x00" * 320))
        await _until(lambda: bad in opener.sinks)
        bad_writer.write(tail)
        bad_writer.write_eof()
        assert await asyncio.wait_for(bad_reader.read(), 5) == b""  # closed by the server
        bad_writer.close()
        reason = await asyncio.wait_for(opener.sinks[bad].ended, 5)
    assert expected in reason
    assert any(e["log_level"] == "error" and expected in e.get("error", "") for e in logs)
    # The good stream is still open and still delivering.
    assert not opener.sinks[good].ended.done()
    writer.write(frames.encode(frames.Audio(b"\x03\x00" * 160)))
    writer.write_eof()
    await writer.drain()
    assert await asyncio.wait_for(opener.sinks[good].ended, 5) == "eof"
    assert len(opener.sinks[good].pcm) == 640 + 320
    writer.close()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", None),  # connects and leaves: a warning only
        (b"GET / HTTP/1.1\r\n\r\n", "unknown frame type 0x47"),
        (frames.encode(frames.Audio(b"\x00" * 320)), "first frame is not a uuid"),
    ],
)
async def test_clients_without_a_uuid_are_closed(
    server: Served, data: bytes, problem: str | None
) -> None:
    srv, opener = server
    with capture_logs() as logs:
        await _send(srv.port, data)
    assert opener.sinks == {}
    if problem is not None:
        assert any(problem in " ".join(str(v) for v in e.values()) for e in logs), logs


async def test_a_client_that_never_sends_its_uuid_times_out(server: Served) -> None:
    srv, opener = server
    with capture_logs() as logs:
        await _send(srv.port, b"\x01\x00", close=False)  # half a header, then silence
    assert any("no uuid within" in e.get("problem", "") for e in logs), logs
    assert opener.sinks == {}


async def test_a_refused_stream_is_closed(server: Served) -> None:
    srv, opener = server
    sid = uuid.uuid4()
    opener.refuse.add(sid)
    with capture_logs() as logs:
        await _send(srv.port, _stream(sid, b"\x00" * 320), close=False)
    assert any(e.get("reason") == "not today" for e in logs)


async def test_a_taken_port_raises() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OSError):
            await AudioSocketServer("127.0.0.1", port, Opener()).serve()
    finally:
        blocker.close()
        await blocker.wait_closed()
