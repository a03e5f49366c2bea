"""Pure AMI framing: message boundaries, banner, size cap, malformed lines."""

from __future__ import annotations

import pytest

from telephony.ami_frames import FrameSplitter, MalformedAmiMessage, parse_frame

NAME = "张伟".encode()


def feed_all(splitter: FrameSplitter, data: bytes, size: int) -> list[bytes | MalformedAmiMessage]:
    out: list[bytes | MalformedAmiMessage] = []
    for i in range(0, len(data), size):
        out.extend(splitter.feed(data[i : i + size]))
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1448])
def test_banner_and_messages_survive_any_split(size: int) -> None:
    data = (
        b"Asterisk Call Manager/9.0.0\r\n"
        b"Response: Success\r\nActionID: a1\r\n\r\n"
        b"Event: Newchannel\r\nCallerIDName: " + NAME + b"\r\nUniqueid: 1.1\r\n\r\n"
    )
    splitter = FrameSplitter()
    frames = feed_all(splitter, data, size)
    assert splitter.version == "9.0.0"
    assert [parse_frame(f) for f in frames if isinstance(f, bytes)] == [
        {"Response": "Success", "ActionID": "a1"},
        {"Event": "Newchannel", "CallerIDName": "张伟", "Uniqueid": "1.1"},
    ]


def test_a_name_split_inside_a_character_is_whole() -> None:
    msg = b"Event: Newchannel\r\nCallerIDName: " + NAME + b"\r\nUniqueid: 1\r\n\r\n"
    cut = msg.index(NAME) + 1  # inside the first character's three bytes
    splitter = FrameSplitter()
    assert splitter.feed(msg[:cut]) == []
    [frame] = splitter.feed(msg[cut:])
    assert isinstance(frame, bytes)
    assert parse_frame(frame)["CallerIDName"] == "张伟"


@pytest.mark.parametrize("size", [1, 4096, 2_000_000])
def test_oversized_message_is_reported_once_and_the_next_one_kept(size: int) -> None:
    splitter = FrameSplitter(max_bytes=1024)
    data = b"Event: X\r\nBig: " + b"y" * 1_000_000 + b"\r\n\r\nEvent: Ok\r\n\r\n"
    out = feed_all(splitter, data, size)
    assert len(out) == 2
    assert isinstance(out[0], MalformedAmiMessage)
    assert "longer than 1024 bytes" in str(out[0])
    assert out[1] == b"Event: Ok"
    assert splitter.pending_bytes == 0


def test_memory_stays_bounded_while_discarding() -> None:
    splitter = FrameSplitter(max_bytes=1024)
    for _ in range(1000):
        splitter.feed(b"z" * 1000)
    assert splitter.pending_bytes < 2048


@pytest.mark.parametrize(
    "raw",
    [
        b"Event: Newchannel\r\nno colon here",
        b"\x00\x01\x02garbage",
        b"Foo: bar",  # neither Event nor Response
        b"Event: X\r\nbad key: v",
    ],
)
def test_malformed_frames_raise(raw: bytes) -> None:
    with pytest.raises(MalformedAmiMessage):
        parse_frame(raw)


def test_repeated_keys_keep_every_value() -> None:
    raw = b"Response: Success\r\nOutput: one\r\nOutput: two\r\nMessage: Command output follows"
    assert parse_frame(raw)["Output"] == "one\ntwo"


def test_old_style_command_body() -> None:
    raw = b"Response: Follows\r\nActionID: 1\r\nline one\r\nline two\r\n--END COMMAND--"
    headers = parse_frame(raw)
    assert headers["Output"] == "line one\nline two"


def test_empty_values_and_invalid_utf8() -> None:
    headers = parse_frame(b"Event: X\r\nEmpty:\r\nAlso: \r\nName: \xe5\xbc")
    assert headers["Empty"] == "" and headers["Also"] == ""
    assert headers["Name"] == "\ufffd"  # visibly damaged, not silently dropped
