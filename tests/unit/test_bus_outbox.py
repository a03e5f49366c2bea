"""The outbox policy and the reconnect backoff: pure, no broker."""

from __future__ import annotations

import pytest

from hotline.bus import backoff_delay
from hotline.bus_outbox import Admission, Outbox
from hotline.bus_topics import Delivery

S, E = Delivery.STATE, Delivery.EPHEMERAL


def _fill(box: Outbox, kinds: str) -> list[Admission]:
    return [
        box.put(f"t/{i}", kind.encode(), S if kind == "s" else E, retain=False)
        for i, kind in enumerate(kinds)
    ]


def _drain(box: Outbox) -> list[str]:
    out = []
    while (m := box.take()) is not None:
        out.append(m.topic)
        box.ack(m)
    return out


def test_fifo_and_counts() -> None:
    box = Outbox(10)
    _fill(box, "sese")
    assert len(box) == 4 and box.state_queued == 2
    assert _drain(box) == ["t/0", "t/1", "t/2", "t/3"]
    stats = box.stats()
    assert (stats.published, stats.queued, stats.dropped, stats.lost) == (4, 0, 0, 0)


def test_full_drops_oldest_ephemeral_first() -> None:
    box = Outbox(4)
    _fill(box, "eses")  # t/0..t/3: e s e s
    got = box.put("t/new", b"", E, retain=False)
    assert got == Admission(dropped=1)
    assert _drain(box) == ["t/1", "t/2", "t/3", "t/new"]
    assert box.stats().dropped == 1


def test_state_event_makes_room_by_dropping_ephemeral() -> None:
    box = Outbox(3)
    _fill(box, "ese")
    assert box.put("t/s", b"", S, retain=False) == Admission(dropped=1)
    assert _drain(box) == ["t/1", "t/2", "t/s"]


def test_new_ephemeral_dropped_when_only_state_is_queued() -> None:
    box = Outbox(2)
    _fill(box, "ss")
    assert box.put("t/e", b"", E, retain=False) == Admission(dropped=1)
    assert _drain(box) == ["t/0", "t/1"]


def test_state_overflow_loses_oldest_state_and_says_so() -> None:
    box = Outbox(3)
    _fill(box, "sss")
    assert box.put("t/3", b"", S, retain=False) == Admission(lost=1)
    assert box.stats().lost == 1
    assert _drain(box) == ["t/1", "t/2", "t/3"]


def test_state_kept_while_down_ephemeral_trimmed() -> None:
    """The broker-down scenario: 100 state + 1000 ephemeral into a 500 outbox."""
    box = Outbox(500)
    for i in range(100):
        box.put(f"s/{i}", b"", S, retain=False)
        for j in range(10):
            box.put(f"e/{i}/{j}", b"", E, retain=False)
    stats = box.stats()
    assert (stats.queued, stats.dropped, stats.lost) == (500, 600, 0)
    sent = _drain(box)
    assert [t for t in sent if t.startswith("s/")] == [f"s/{i}" for i in range(100)]
    # what survived of the ephemeral ones is the newest 400, in order
    eph = [t for t in sent if t.startswith("e/")]
    assert eph == [f"e/{i}/{j}" for i in range(100) for j in range(10)][-400:]


def test_requeue_puts_in_flight_back_in_front_in_order() -> None:
    box = Outbox(10)
    _fill(box, "sesse")
    first = [box.take(), box.take(), box.take()]
    assert first[1] is not None
    box.ack(first[1])  # t/1 acknowledged; t/0 and t/2 still in flight
    assert box.requeue() == 2
    assert _drain(box) == ["t/0", "t/2", "t/3", "t/4"]
    assert box.stats().requeued == 2


def test_requeued_ephemeral_still_droppable() -> None:
    box = Outbox(3)
    _fill(box, "ess")
    box.take()
    box.requeue()
    assert box.put("t/x", b"", S, retain=False) == Admission(dropped=1)
    assert _drain(box) == ["t/1", "t/2", "t/x"]


def test_in_flight_counts_against_the_limit_but_is_never_dropped() -> None:
    box = Outbox(2)
    _fill(box, "ee")
    a, b = box.take(), box.take()
    assert a and b
    # everything is in flight: accepted beyond the limit rather than dropping sent work
    assert box.put("t/s", b"", S, retain=False) == Admission()
    assert len(box) == 3
    box.ack(a)
    box.ack(b)
    assert _drain(box) == ["t/s"]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Outbox(0)


def test_backoff_doubles_caps_and_jitters() -> None:
    top = [backoff_delay(n, 0.2, 10.0, rand=lambda: 1.0) for n in range(8)]
    assert top == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
    assert backoff_delay(3, 0.2, 10.0, rand=lambda: 0.0) == pytest.approx(0.8)
    assert backoff_delay(10_000, 0.2, 10.0, rand=lambda: 0.5) == pytest.approx(7.5)
