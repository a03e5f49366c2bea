"""Reconnect delays: exponential with jitter, bounded (pure).

Attempt n waits between half and all of min(maximum, minimum * 2**n), never less than
`minimum`: the first retries are quick (Asterisk restarts in under a second), later ones
back off so a dead PBX is not hammered, and jitter keeps several adapters from retrying in
step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator


def backoff_delay(attempt: int, minimum: float, maximum: float, jitter: float) -> float:
    """Seconds before reconnect attempt `attempt` (0-based); `jitter` is in [0, 1)."""
    minimum = min(minimum, maximum)
    ceiling = min(maximum, minimum * 2.0 ** min(attempt, 60))
    return max(minimum, ceiling * (0.5 + 0.5 * jitter))


def backoff_schedule(
    minimum: float, maximum: float, rand: Callable[[], float] = random.random
) -> Iterator[float]:
    """The delays for attempts 0, 1, 2, ... (endless)."""
    attempt = 0
    while True:
        yield backoff_delay(attempt, minimum, maximum, rand())
        attempt += 1
