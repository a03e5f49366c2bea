"""RFC 2833 / 4733 DTMF as pcap files for sipp's `play_pcap_audio`. Pure apart from writing.

Why not Debian's pcaps (/usr/share/sip-tester/dtmf_2833_<d>.pcap): all twelve carry the
same RTP sequence numbers, timestamp and SSRC. sipp replays a pcap's RTP payload
unchanged, so a second digit in one call looks to Asterisk like a repeat of the first
event (same timestamp, sequence numbers going backwards) and is dropped: only the first
key of a call was ever seen.

`dtmf_packets(digit, index)` builds one event as Asterisk expects it: 3 start packets
(marker on the first), 4 updates, 3 end packets (E bit), 20 ms apart, payload type 101.
`index` (the digit's position in the call) moves sequence numbers, timestamp and SSRC
so that each digit is a new event. `write_pcap(path, packets)` writes classic pcap
(Ethernet, IPv4, UDP: sipp only rewrites addresses and ports). `dtmf_pcap_file()` caches
the files under a directory (default: the system temp dir), one per digit and index.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
PAYLOAD_TYPE = 101
PACKET_MS = 20
SAMPLES_PER_PACKET = 160  # 8 kHz
VOLUME = 10
_FORMAT_VERSION = 1  # bump when the bytes change, so cached files are not reused


def dtmf_packets(digit: str, index: int = 0) -> list[tuple[float, bytes]]:
    """(seconds from the first packet, RTP packet) for one key press."""
    try:
        event = EVENTS[digit]
    except KeyError as err:
        raise ValueError(f"not a DTMF key: {digit!r} (use 0-9 * #)") from err
    seq0 = (1000 + 200 * index) & 0xFFFF
    timestamp = (8000 + 16000 * index) & 0xFFFFFFFF
    ssrc = 0x484C0000 + index  # "HL" + index
    packets: list[tuple[float, bytes]] = []
    plan = [(False, 0), (False, 0), (False, 0)]  # start: duration 0, sent three times
    plan += [(False, n * SAMPLES_PER_PACKET) for n in range(1, 5)]
    plan += [(True, 5 * SAMPLES_PER_PACKET)] * 3  # end, three times (RFC 4733 2.5.1.4)
    for n, (end, duration) in enumerate(plan):
        marker = 0x80 if n == 0 else 0
        header = struct.pack(
            "!BBHII", 0x80, marker | PAYLOAD_TYPE, (seq0 + n) & 0xFFFF, timestamp, ssrc
        )
        flags = (0x80 if end else 0) | VOLUME
        payload = struct.pack("!BBH", event, flags, duration)
        packets.append((n * PACKET_MS / 1000, header + payload))
    return packets


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(rtp: bytes, ident: int) -> bytes:
    src, dst = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])
    udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0, 64, 17, 0,
                     src, dst)  # fmt: skip
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ether = b"\x00" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ether + ip + udp


def pcap_bytes(packets: Sequence[tuple[float, bytes]], start: float = 1_700_000_000.0) -> bytes:
    """A classic pcap (microsecond, Ethernet) holding the RTP packets over UDP (pure)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ident, (offset, rtp) in enumerate(packets):
        frame = _frame(rtp, ident)
        micros = round((start + offset) * 1_000_000)
        sec, usec = divmod(micros, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    return b"".join(out)


def write_pcap(path: Path, packets: Sequence[tuple[float, bytes]]) -> Path:
    """Write atomically (parallel test runs may share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pcap_bytes(packets))
    tmp.replace(path)
    return path


def default_cache() -> Path:
    return Path(tempfile.gettempdir()) / f"hotline-dtmf-v{_FORMAT_VERSION}"


def dtmf_pcap_file(digit: str, index: int = 0, cache: Path | None = None) -> Path:
    """The pcap of key `digit` as the `index`-th key of a call (written once, cached)."""
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    path = (cache or default_cache()) / f"dtmf-{name}-{index}.pcap"
    if not path.exists():
        write_pcap(path, dtmf_packets(digit, index))
    return path
