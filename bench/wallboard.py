"""The wallboard's view model under a busy day: events applied per second, the cost of one
set of figures (computed up to four times a second), its JSON size (one frame per
push to every open wallboard) and the server-drawn page.

Pure: no servers. Calls are spread over the day across the catalogue's lines (80 %
answered, 15 % abandoned, the rest still waiting); seats cycle through the states.

    .venv/bin/python bench/wallboard.py [--seats 100,500] [--calls 5000,20000,50000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_desktop.wallboard_html import board as board_markup
from agent_desktop.wallboard_model import Board
from hotline.bus_events import (
    BusEvent,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallRouted,
    OperatorState,
)
from telephony.catalogue import load_catalogue

STATES = ("ready", "talking", "talking", "wrap_up", "paused", "ringing")
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Beijing: a full day behind


def events(calls: int, seats: int) -> list[tuple[BusEvent, datetime]]:
    dnis = [line.dnis[0] for line in load_catalogue().lines]
    start = NOW - timedelta(hours=13)
    step = (NOW - start) / max(calls, 1)
    out: list[tuple[BusEvent, datetime]] = []
    for i in range(seats):
        out.append((OperatorState(extension=str(8000 + i), state=STATES[i % len(STATES)]), start))
    for i in range(calls):
        at = start + step * i
        lid = f"c{i}"
        out.append((CallOffered(linkedid=lid, caller_number="1", dnis=dnis[i % len(dnis)]), at))
        out.append((CallRouted(linkedid=lid, queue="q"), at + timedelta(seconds=3)))
        kind = i % 20
        if kind < 16:
            out.append((CallAnswered(linkedid=lid, extension="8000"), at + timedelta(seconds=9)))
            out.append((CallEnded(linkedid=lid, answered=True), at + timedelta(seconds=200)))
        elif kind < 19 or i < calls - 50:
            out.append((CallEnded(linkedid=lid, answered=False), at + timedelta(seconds=40)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seats", default="100,500")
    parser.add_argument("--calls", default="5000,20000,50000")
    args = parser.parse_args()
    catalogue = load_catalogue()
    print(
        f"{'seats':>6} {'calls':>7} {'events/s':>10} {'figures ms':>11} {'JSON KiB':>9} "
        f"{'page ms':>8}"
    )
    for seats in (int(s) for s in args.seats.split(",")):
        for calls in (int(c) for c in args.calls.split(",")):
            feed = events(calls, seats)
            board = Board.start(catalogue, NOW, target_seconds=15, asr_capacity=4)
            began = time.perf_counter()
            for event, at in feed:
                board.apply(event, at)
            rate = len(feed) / (time.perf_counter() - began)
            runs = 20
            began = time.perf_counter()
            for _ in range(runs):
                figures = board.figures(NOW)
            per = (time.perf_counter() - began) / runs
            size = len(figures.model_dump_json().encode()) / 1024
            began = time.perf_counter()
            for _ in range(runs):
                board_markup(figures)
            page = (time.perf_counter() - began) / runs
            print(
                f"{seats:>6} {calls:>7} {rate:>10,.0f} {per * 1000:>11.1f} {size:>9.1f} "
                f"{page * 1000:>8.1f}"
            )


if __name__ == "__main__":
    main()
