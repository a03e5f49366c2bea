"""Reconnect backoff: exponential, jittered, bounded."""

from __future__ import annotations

import itertools
import random

from telephony.ami_backoff import backoff_delay, backoff_schedule


def test_schedule_doubles_up_to_the_cap() -> None:
    no_jitter = [backoff_delay(n, 0.2, 10.0, 0.999999) for n in range(10)]
    assert [round(d, 3) for d in no_jitter] == [
        0.2,
        0.4,
        0.8,
        1.6,
        3.2,
        6.4,
        10.0,
        10.0,
        10.0,
        10.0,
    ]
    low = [backoff_delay(n, 0.2, 10.0, 0.0) for n in range(8)]
    assert [round(d, 3) for d in low] == [0.2, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_every_delay_is_within_bounds_and_jittered() -> None:
    rng = random.Random(7)
    delays = list(itertools.islice(backoff_schedule(0.2, 10.0, rng.random), 200))
    assert all(0.2 <= d <= 10.0 for d in delays)
    assert len({round(d, 6) for d in delays[20:]}) > 100  # not in lock step at the cap


def test_huge_attempt_numbers_and_inverted_bounds() -> None:
    assert backoff_delay(10_000, 0.2, 10.0, 0.5) == 7.5
    assert backoff_delay(0, 5.0, 1.0, 0.5) == 1.0
