"""The RFC 2833 pcaps the lab writes: each key of a call is a new event for Asterisk."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.dtmf_pcap import dtmf_packets, dtmf_pcap_file, pcap_bytes


def rtp_fields(packet: bytes) -> tuple[int, int, int, int, int, bool, int]:
    _, mpt, seq, ts, ssrc = struct.unpack("!BBHII", packet[:12])
    event, flags, duration = struct.unpack("!BBH", packet[12:16])
    return mpt & 0x7F, seq, ts, ssrc, event, bool(flags & 0x80), duration


def test_one_key_is_one_event_start_updates_end() -> None:
    packets = [rtp_fields(p) for _, p in dtmf_packets("5")]
    assert {p[0] for p in packets} == {101}
    assert {p[4] for p in packets} == {5}
    assert len({p[2] for p in packets}) == 1  # one timestamp per event
    assert [p[5] for p in packets] == [False] * 7 + [True] * 3
    assert [p[1] for p in packets] == list(range(packets[0][1], packets[0][1] + 10))


def test_keys_of_one_call_differ_in_timestamp_sequence_and_ssrc() -> None:
    first = rtp_fields(dtmf_packets("1", 0)[-1][1])
    second = rtp_fields(dtmf_packets("1", 1)[0][1])
    assert second[1] > first[1] and second[2] != first[2] and second[3] != first[3]
    assert rtp_fields(dtmf_packets("#")[0][1])[4] == 11
    with pytest.raises(ValueError, match="not a DTMF key"):
        dtmf_packets("A")


def test_pcap_file_is_classic_pcap_with_udp_frames(tmp_path: Path) -> None:
    path = dtmf_pcap_file("*", 2, cache=tmp_path)
    data = path.read_bytes()
    assert data == pcap_bytes(dtmf_packets("*", 2))
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, linktype) == (0xA1B2C3D4, 1)
    _, _, incl, orig = struct.unpack("<IIII", data[24:40])
    assert incl == orig == 14 + 20 + 8 + 16
    assert data[40 + 12 : 40 + 14] == b"\x08\x00" and data[40 + 14 + 9] == 17  # IPv4, UDP
    assert dtmf_pcap_file("*", 2, cache=tmp_path) == path  # cached
