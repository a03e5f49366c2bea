from __future__ import annotations

import struct
import uuid

import pytest

from asr import frames


def test_every_frame_type_round_trips() -> None:
    sid = uuid.uuid4()
    sent: list[frames.Frame] = [
        frames.StreamId(sid),
        frames.Audio(b"\x01\x00" * 160),
        frames.Dtmf("5"),
        frames.ErrorFrame(3),
        frames.ErrorFrame(None),
        frames.Hangup(),
    ]
    wire = b"".join(frames.encode(f) for f in sent)
    assert frames.FrameReader().feed(wire) == sent


def test_frames_split_anywhere_are_reassembled() -> None:
    sid = uuid.uuid4()
    wire = frames.encode(frames.StreamId(sid)) + frames.encode(frames.Audio(b"\x00" * 320))
    reader = frames.FrameReader()
    got: list[frames.Frame] = []
    for i in range(len(wire)):
        got += reader.feed(wire[i : i + 1])
    assert got == [frames.StreamId(sid), frames.Audio(b"\x00" * 320)]
    reader.finish()


def test_header_is_big_endian() -> None:
    assert frames.parse_header(b"\x10\x01\x40") == (frames.FrameType.AUDIO, 320)


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"GET / HTTP/1.1\r\n", frames.UnknownFrameType),
        (b"\x42\x00\x00", frames.UnknownFrameType),
        (b"\x01\x00\x0f" + b"x" * 15, frames.BadFrameLength),  # uuid must be 16 bytes
        (b"\x10\x00\x03abc", frames.BadFrameLength),  # odd audio
        (b"\x10\x00\x00", frames.BadFrameLength),  # empty audio
        (struct.pack(">BH", 0x10, frames.MAX_AUDIO + 2), frames.BadFrameLength),
        (b"\x03\x00\x02", frames.BadFrameLength),
        (b"\x03\x00\x01x", frames.BadFrameLength),  # not a digit
        (b"\x00\x00\x01", frames.BadFrameLength),  # hangup has no payload
    ],
)
def test_bad_frames_raise_a_named_error(wire: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        frames.FrameReader().feed(wire)
    assert issubclass(error, frames.FrameError)


def test_a_stream_that_stops_mid_frame_is_truncated() -> None:
    reader = frames.FrameReader()
    assert reader.feed(b"\x10\x01\x40" + b"\x00" * 100) == []
    assert reader.pending == 103
    with pytest.raises(frames.TruncatedFrame):
        reader.finish()
