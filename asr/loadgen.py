"""An AudioSocket client that plays PCM like Asterisk does (for tests and benches).

`play(host, port, stream_id, pcm)` connects, sends the UUID frame, then 20 ms audio
frames paced at real time (or as fast as possible with `pace=False`), then closes
(Asterisk ends a stream with EOF). `read_pcm(wav)` converts any audio file sox reads to
8 kHz mono s16le, as AudioSocket delivers it.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

from asr import frames


def read_pcm(path: Path, rate: int = frames.SAMPLE_RATE) -> bytes:
    argv = ["sox", str(path), "-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16",
            "-c", "1", "-L", "-"]
    return subprocess.run(argv, check=True, capture_output=True).stdout


async def play(host: str, port: int, stream_id: uuid.UUID, pcm: bytes, *,
               pace: bool = True, frame_bytes: int = frames.AUDIO_FRAME_BYTES) -> None:
    _reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(frames.encode(frames.StreamId(stream_id)))
        start = time.monotonic()
        for n, i in enumerate(range(0, len(pcm), frame_bytes)):
            chunk = pcm[i : i + frame_bytes]
            if len(chunk) % 2:
                chunk = chunk[:-1]
            if chunk:
                writer.write(frames.encode(frames.Audio(chunk)))
            if pace:
                await writer.drain()
                due = start + (n + 1) * frame_bytes / frames.BYTES_PER_SECOND
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
