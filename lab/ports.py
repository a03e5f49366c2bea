"""Free loopback ports for lab servers.

The kernel picks a free port when we bind to port 0; we close the socket and hand the
number on. Another process could take it in between, so callers that can retry should.
RTP ranges cannot be asked of the kernel: we probe a random even-aligned block in the
ephemeral-free band below the kernel's ephemeral range and check every port binds.
"""

from __future__ import annotations

import random
import socket

HOST = "127.0.0.1"
# Linux hands out ephemeral ports from 32768 up; ranges we pick ourselves stay below it,
# so they never collide with a port the kernel gives someone for bind(0).
_RANGE_LOW = 20000
_RANGE_HIGH = 32000


class PortError(RuntimeError):
    """No free port (range) could be found."""


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port(socket.SOCK_STREAM)


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    return _free_port(socket.SOCK_DGRAM)


def _udp_and_tcp_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                return False
    return True


def free_udp_range(size: int, *, step: int = 1, attempts: int = 200) -> range:
    """`size` consecutive ports (starting on an even port) free for UDP and TCP.

    `step` > 1 keeps only every step-th port usable, e.g. for SIP agents that also open
    PORT+1; the returned range covers all ports reserved (its length is size*step).
    """
    span = size * step
    for _ in range(attempts):
        start = random.randrange(_RANGE_LOW, _RANGE_HIGH - span) & ~1
        if all(_udp_and_tcp_free(p) for p in range(start, start + span)):
            return range(start, start + span)
    raise PortError(f"no free block of {span} ports in {_RANGE_LOW}-{_RANGE_HIGH}")
