"""Routing under a burst: sipp calls at a set rate through the real Asterisk.

A private lab Asterisk (skill queues from the shipped catalogue, a paused member in each
skill queue so every call waits there), a lab broker, and the server in-process with
the calls feature only. Three sipp processes call 12345, 12343 and 12328 at the given
total rate; each citizen hangs up after --talk seconds (so every call is abandoned in
its queue and leaves a callback task). Measured:

- decision latency: the HotlineIncoming AMI event reaching the server -> the Redirect
  acknowledged by Asterisk (history read, decision, Setvar, Redirect), p50/p95/max;
- calls stuck: offered calls that never left the holding context by our Redirect, or
  whose record never settled (must be 0); fallbacks are reported separately.

    .venv/bin/python bench/routing.py [--calls 60] [--rate 20] [--talk 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from hotline.app import Running, serve
from hotline.feature import Core, Feature
from lab import procs
from lab.mosquitto import Mosquitto
from lab.pbx import Pbx, PbxConfig
from lab.ports import free_udp_port, free_udp_range
from lab.sipp import Citizen
from telephony import ami_actions
from telephony.call_models import CallRecord
from telephony.call_service import CallService
from telephony.call_service import build as build_calls
from tests.fixtures.server import server_settings

LINES = (("12345", "hotline-general"), ("12343", "hotline-general"),
         ("12328", "hotline-transport"))  # fmt: skip


async def poll(check: Any, within: float = 30.0) -> None:
    """Until check() (or its awaitable) is true, or the deadline passes."""
    deadline = time.monotonic() + within
    for _ in range(int(within * 20)):
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


def sipp_burst(pbx: Pbx, work: Path, dnis: str, caller: str, calls: int, rate: float,
               talk: float) -> Any:  # fmt: skip
    citizen = Citizen(pbx.endpoints, number=dnis, caller=caller, hangup_after=talk,
                      work_dir=work)  # fmt: skip
    scenario = work / "burst.xml"
    scenario.write_text(citizen.scenario(), encoding="utf-8")
    argv = [
        "sipp", f"{pbx.endpoints.sip_host}:{pbx.endpoints.sip_port}", "-sf", str(scenario),
        "-s", dnis, "-key", "caller", caller, "-key", "display", "压测",
        "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mi", "127.0.0.1",
        "-mp", str(free_udp_range(4).start), "-r", f"{rate:.3f}", "-rp", "1000",
        "-m", str(calls), "-l", str(calls), "-nostdin", "-timeout", "120s",
    ]  # fmt: skip
    return procs.spawn(argv, work / "sipp.log", cwd=work)


async def run(calls: int, rate: float, talk: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-routing-"))
    pbx = Pbx(PbxConfig.allocate("bench-routing", static_members=False, rtp_ports=600))
    broker = Mosquitto(data_dir=work / "mqtt")
    services: list[CallService] = []

    def builder(core: Core) -> Feature:
        feature = build_calls(core)
        services.extend(h for h in feature.ami_handlers if isinstance(h, CallService))
        return feature

    pbx.start()
    broker.start()
    stop = asyncio.Event()
    try:
        settings = server_settings(pbx, broker, work / "hotline.db", log={"level": "warning"})
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(settings, stop=stop, on_ready=ready.set_result,
                                         builders=(builder,)))  # fmt: skip
        core = (await asyncio.wait_for(ready, 30)).core
        service = services[0]
        for queue in ("hotline-general", "hotline-transport"):
            await core.ami.send(ami_actions.queue_add(queue, "PJSIP/op1001", paused=True))
        await poll(lambda: "PJSIP/op1001" in service.roster.members("hotline-transport"))
        started = time.monotonic()
        per_line = calls // len(LINES)
        bursts = [
            sipp_burst(pbx, work / f"sipp{i}", dnis, f"1390000000{i}", per_line,
                       rate / len(LINES), talk)
            for i, (dnis, _) in enumerate(LINES)
        ]  # fmt: skip
        for p in bursts:
            await asyncio.to_thread(p.wait, 300)
        await poll(lambda: not service.live_calls)
        elapsed = time.monotonic() - started
        rows: list[CallRecord] = []

        async def settled() -> bool:
            nonlocal rows
            async with core.sessionmaker() as session:
                rows = list((await session.execute(select(CallRecord))).scalars())
            return all(r.outcome != "in_progress" for r in rows)

        await poll(settled)  # the store writes queued behind the last hang-ups
        stop.set()
        await asyncio.wait_for(task, 30)
    finally:
        stop.set()
        broker.stop()
        pbx.cleanup()
    fell_back = sum(1 for r in rows if r.route.get("fallback"))
    unrouted = sum(1 for r in rows if not r.route)
    unsettled = sum(1 for r in rows if r.outcome == "in_progress")
    return {
        "offered": len(rows), "routed": service.routed, "failures": service.route_failures,
        "fell_back": fell_back, "stuck": unrouted + unsettled + len(service.live_calls),
        "latencies": sorted(service.latencies), "elapsed": elapsed,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="total calls (split over 3 lines)")
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second, total")
    parser.add_argument("--talk", type=float, default=2.0, help="seconds each citizen waits")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    r = asyncio.run(run(args.calls, args.rate, args.talk))
    lat = [x * 1000 for x in r["latencies"]]

    def pct(p: float) -> str:
        return f"{lat[min(len(lat) - 1, int(p * len(lat)))]:.1f}" if lat else "-"

    print(f"routing burst: {r['offered']} calls at {args.rate:g}/s over "
          f"{len(LINES)} lines, {r['elapsed']:.1f} s")  # fmt: skip
    print(f"{'offered':>8}{'routed':>8}{'fellback':>10}{'failed':>8}{'stuck':>7}"
          f"{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'mean ms':>9}")  # fmt: skip
    mean = f"{statistics.fmean(lat):.1f}" if lat else "-"
    print(f"{r['offered']:>8}{r['routed']:>8}{r['fell_back']:>10}{r['failures']:>8}"
          f"{r['stuck']:>7}{pct(0.5):>9}{pct(0.95):>9}{pct(1.0):>9}{mean:>9}")  # fmt: skip
    if r["stuck"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
