"""AMI events per second: our adapter vs bare panoramisk, same recorded stream, one run.

A loopback TCP server speaks just enough AMI (Login, empty CoreShowChannels/QueueStatus
lists) and, once the client is logged in, writes the recorded call
(tests/data/ami/citizen_call.ami) repeated to about 50,000 events. We time from that
write to the last event delivered: for panoramisk, one plain callback registered for
'*'; for the adapter, typed events taken from `AmiClient.events()`. The last column
counts the events whose CallerIDName arrived as 张伟 (panoramisk decodes each read on
its own and drops characters split between reads).

    .venv/bin/python bench/ami_throughput.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import AmiSettings
from telephony.ami import AmiClient
from telephony.ami_events import ChannelInfo, ResyncCompleted, UnknownEvent

RECORDING = Path(__file__).resolve().parent.parent / "tests" / "data" / "ami" / "citizen_call.ami"
NAME = "张伟"
LOGIN_OK = (
    "Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
)
EMPTY_LIST = (
    "Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n\r\n"
    "Event: {name}Complete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
)


class ReplayServer:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[None]] = set()
        self.logged_in = asyncio.Event()
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for w in self.writers:
            w.transport.abort()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    def replay(self) -> None:
        for w in self.writers:
            w.write(self.blob)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        buf = b""
        try:
            while data := await reader.read(65536):
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    head = dict(line.split(": ", 1) for line in raw.decode().split("\r\n"))
                    aid = head.get("ActionID", "")
                    name = head.get("Action", "")
                    if name == "Login":
                        writer.write(LOGIN_OK.format(aid=aid).encode())
                        self.logged_in.set()
                    elif name in ("CoreShowChannels", "QueueStatus"):
                        writer.write(EMPTY_LIST.format(aid=aid, name=name).encode())
                    else:
                        writer.write(f"Response: Success\r\nActionID: {aid}\r\n\r\n".encode())
        except ConnectionError:
            pass
        finally:
            writer.close()


async def run_panoramisk(blob: bytes, total: int) -> tuple[float, int]:
    # The one import of panoramisk outside telephony/ami.py: measuring it bare is the point.
    from panoramisk import Manager  # noqa: PLC0415

    server = ReplayServer(blob)
    await server.start()
    done = asyncio.get_running_loop().create_future()
    count = 0
    intact = 0

    def on_event(_manager: object, event: dict[str, str]) -> None:
        nonlocal count, intact
        count += 1
        if event.get("CallerIDName") == NAME:
            intact += 1
        if count == total and not done.done():
            done.set_result(None)

    manager = Manager(host="127.0.0.1", port=server.port, username="bench", secret="bench",
                      ping_delay=3600, reconnect_timeout=3600)  # fmt: skip
    manager.register_event("*", on_event)
    try:
        await manager.connect()
        await server.logged_in.wait()
        await asyncio.sleep(0.05)  # let its login reply settle before timing
        began = time.perf_counter()
        server.replay()
        await asyncio.wait_for(done, 120)
        return time.perf_counter() - began, intact
    finally:
        manager.close()
        await server.stop()


async def run_adapter(blob: bytes, total: int) -> tuple[float, int]:
    server = ReplayServer(blob)
    await server.start()
    settings = AmiSettings(host="127.0.0.1", port=server.port, username="bench",
                           secret="bench", queue_size=100_000)  # type: ignore[arg-type]  # fmt: skip
    async with AmiClient(settings, ping_interval=3600) as ami:
        events = ami.events()
        async for event in events:
            if isinstance(event, ResyncCompleted):
                break
        began = time.perf_counter()
        server.replay()
        count = intact = 0
        async with asyncio.timeout(120):
            async for event in events:
                count += 1
                if isinstance(event, ChannelInfo):
                    intact += event.caller_id_name == NAME
                elif isinstance(event, UnknownEvent):
                    intact += event.headers.get("CallerIDName") == NAME
                if count == total:
                    break
        elapsed = time.perf_counter() - began
    await server.stop()
    return elapsed, intact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.disable(logging.WARNING)
    recording = RECORDING.read_bytes()
    per_copy = recording.count(b"\r\n\r\n")
    copies = max(1, -(-args.events // per_copy))
    blob = recording * copies
    total = per_copy * copies
    named = blob.count(f"\r\nCallerIDName: {NAME}\r\n".encode())
    print(f"stream: {RECORDING.name} x {copies} = {total} events, {len(blob) / 1e6:.1f} MB")
    rows = []
    for label, run in (
        ("panoramisk 1.4 (bare)", run_panoramisk),
        ("hotline AmiClient", run_adapter),
    ):
        seconds, intact = asyncio.run(run(blob, total))
        rows.append((label, total, seconds, total / seconds, f"{intact}/{named}"))
    print(f"{'adapter':<24}{'events':>9}{'seconds':>10}{'events/s':>11}{'张伟 intact':>15}")
    for label, n, seconds, rate, intact in rows:
        print(f"{label:<24}{n:>9}{seconds:>10.2f}{rate:>11.0f}{intact:>16}")


if __name__ == "__main__":
    main()
