"""AudioSocket framing (pure): bytes from Asterisk in, typed frames out.

Wire format: every frame is a 3-byte header (1 byte type, 2 bytes big-endian payload
length) followed by the payload::

    0x00 hangup   length 0
    0x01 uuid     16 bytes (the stream's id, given in the dial string)
    0x03 dtmf     1 byte (an ASCII digit, * or #)
    0x10 audio    signed 16-bit little-endian PCM, 8 kHz mono; Asterisk sends
                  320-byte (20 ms) frames; we accept any even length up to MAX_AUDIO
    0xff error    0 or 1 byte (an error code from Asterisk)

`FrameReader.feed(data)` returns the complete frames in `data` plus what it kept from
earlier calls; `FrameReader.finish()` says whether the stream stopped mid-frame.

Exceptions::

    FrameError               a byte stream that is not AudioSocket
     ├── UnknownFrameType     a type byte we do not know (garbage, or another protocol)
     ├── BadFrameLength       a known type with a length it cannot have
     └── TruncatedFrame       the stream ended in the middle of a frame
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass

HEADER_BYTES = 3
AUDIO_FRAME_BYTES = 320  # 20 ms of 8 kHz s16le
MAX_AUDIO = 16 * AUDIO_FRAME_BYTES  # 320 ms: far above what Asterisk sends
SAMPLE_RATE = 8000
BYTES_PER_SECOND = SAMPLE_RATE * 2


class FrameError(Exception):
    """The bytes are not a valid AudioSocket stream."""


class UnknownFrameType(FrameError):
    pass


class BadFrameLength(FrameError):
    pass


class TruncatedFrame(FrameError):
    pass


class FrameType(enum.IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class StreamId:
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Audio:
    pcm: bytes


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    code: int | None


Frame = Hangup | StreamId | Dtmf | Audio | ErrorFrame

_DTMF_DIGITS = frozenset("0123456789*#ABCD")


def parse_header(header: bytes) -> tuple[FrameType, int]:
    """The type and payload length of a 3-byte header; raise FrameError if impossible."""
    if len(header) != HEADER_BYTES:
        raise TruncatedFrame(f"header of {len(header)} bytes, expected {HEADER_BYTES}")
    kind_byte, length = struct.unpack(">BH", header)
    try:
        kind = FrameType(kind_byte)
    except ValueError as err:
        raise UnknownFrameType(f"unknown frame type 0x{kind_byte:02x}") from err
    _check_length(kind, length)
    return kind, length


def _check_length(kind: FrameType, length: int) -> None:
    ok = {
        FrameType.HANGUP: length == 0,
        FrameType.UUID: length == 16,
        FrameType.DTMF: length == 1,
        FrameType.AUDIO: 0 < length <= MAX_AUDIO and length % 2 == 0,
        FrameType.ERROR: length <= 1,
    }[kind]
    if not ok:
        raise BadFrameLength(f"{kind.name.lower()} frame with {length} bytes of payload")


def parse_payload(kind: FrameType, payload: bytes) -> Frame:
    """The typed frame for a header's type and its payload."""
    _check_length(kind, len(payload))
    if kind is FrameType.AUDIO:
        return Audio(payload)
    if kind is FrameType.UUID:
        return StreamId(uuid.UUID(bytes=payload))
    if kind is FrameType.DTMF:
        digit = chr(payload[0])
        if digit not in _DTMF_DIGITS:
            raise BadFrameLength(f"dtmf frame with a non-digit byte 0x{payload[0]:02x}")
        return Dtmf(digit)
    if kind is FrameType.ERROR:
        return ErrorFrame(payload[0] if payload else None)
    return Hangup()


class FrameReader:
    """Incremental parser: feed it bytes as they arrive, get whole frames back."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= HEADER_BYTES:
            kind, length = parse_header(bytes(self._buf[:HEADER_BYTES]))
            end = HEADER_BYTES + length
            if len(self._buf) < end:
                break
            frames.append(parse_payload(kind, bytes(self._buf[HEADER_BYTES:end])))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes kept for a frame not yet complete."""
        return len(self._buf)

    def finish(self) -> None:
        """The stream ended: raise TruncatedFrame if it stopped inside a frame."""
        if self._buf:
            raise TruncatedFrame(f"stream ended {len(self._buf)} bytes into a frame")


def encode(frame: Frame) -> bytes:
    """The wire bytes of a frame (what Asterisk would send; used by tests and benches)."""
    if isinstance(frame, Audio):
        kind, payload = FrameType.AUDIO, frame.pcm
    elif isinstance(frame, StreamId):
        kind, payload = FrameType.UUID, frame.id.bytes
    elif isinstance(frame, Dtmf):
        kind, payload = FrameType.DTMF, frame.digit.encode("ascii")
    elif isinstance(frame, ErrorFrame):
        kind, payload = FrameType.ERROR, b"" if frame.code is None else bytes([frame.code])
    else:
        kind, payload = FrameType.HANGUP, b""
    return struct.pack(">BH", kind, len(payload)) + payload
