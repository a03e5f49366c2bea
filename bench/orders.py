"""Work orders: take-and-dispatch through the REST API, and the SLA clock, on both stores.

For each store (a SQLite file, and a throwaway PostgreSQL from `lab.postgres`):

- **API**: a real aiohttp server on 127.0.0.1 with the work-order routes
  (`agent_desktop.app.create_app`); `--clients` concurrent operators (bearer tokens)
  each POST /api/orders with a draft and a direct dispatch plan (接交一体: the order is
  accepted and dispatched in one request) for `--seconds`. Printed: orders created and
  dispatched per second, and the request latency p50/p95.
- **Clock**: `--open` open orders written straight into the store (dispatched, green),
  then three `SlaClock.tick()`s with an injected clock: *idle* (nothing due: the cost of
  the loop at rest), *yellow* (every order passes yellow_at: all lights move, one history
  row each) and *red* (every order passes its deadline; the tick also asks for
  supervision, one batch of `--batch` orders per tick). Printed: seconds per tick.

  A fourth tick at the same instant moves nothing and times the next supervision batch
  alone (supervision is per order: its targets, the request, a conditional UPDATE).

The clock is timed at `--open` and at a tenth of it, to show the scaling. Its cost grows
linearly with the orders whose light moves (one UPDATE per group and one history row
per order); at rest it is one indexed query. The issue asks for 100,000 open orders;
that takes several minutes per store on a 2-core machine, so the default is 20,000
(about a minute for the whole bench) and the table prints the linear estimate for
100,000 (`--open 100000` measures it).

    .venv/bin/python bench/orders.py [--open 20000] [--clients 8] [--seconds 5]
                                     [--batch 1000] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts import passwords
from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from config.settings import DatabaseSettings, HttpSettings
from hotline import db
from hotline.bus_events import BusEvent
from lab.postgres import PostgresServer
from workorders import api, repo
from workorders.catalogue import load_catalogue
from workorders.clock import SlaClock
from workorders.lifecycle import Status
from workorders.models import Light, OrderKind, UnitPublic, WorkOrder, WorkOrderPublic
from workorders.service import OrderService
from workorders.sla import load_presets


class Discard:
    """The bus: the bench counts nothing published."""

    def publish(self, event: BusEvent) -> object:
        return event


class NoSupervision:
    async def request(self, order: WorkOrderPublic, unit: UnitPublic | None) -> None:
        return None


@dataclass
class Row:
    store: str
    what: str
    value: str


# --------------------------------------------------------------------------- the API


async def _token(engine: AsyncEngine, name: str) -> str:
    async with db.session_factory(engine)() as s:
        user = await accounts.create_user(
            session=s, username=name, password="x" * 12, role=Role.operator
        )
        assert user.id is not None
        return await accounts.create_api_token(session=s, user_id=user.id, name="bench")


def _take_body(n: int) -> dict[str, Any]:
    return {
        "order": {
            "kind": "complaint",
            "category": "人社/欠薪",
            "title": f"工地拖欠农民工工资 {n}",
            "content": "某工地拖欠三个月工资，多次讨要无果。",
            "caller_number": f"139{n:08d}",
            "call_linkedid": f"1763780000.{n}",
            "line": "12345",
            "time_limit_class": "wd3",
            "call_ended_at": (datetime.now(UTC) - timedelta(seconds=20)).isoformat(),
        },
        "dispatch": [{"unit_id": "hrss", "role": "lead"}],
    }


async def bench_api(
    engine: AsyncEngine, args: argparse.Namespace
) -> tuple[float, list[float], list[str]]:
    sessions = db.session_factory(engine)
    svc = OrderService(sessionmaker=sessions, publisher=Discard(), policy=load_presets()["bozhou"])
    app = create_app(
        WebDeps(http=HttpSettings(port=0), sessionmaker=sessions, route_tables=(api.routes(svc),))
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    tokens = [await _token(engine, f"bench-op-{i}") for i in range(args.clients)]
    latencies: list[float] = []
    failures: list[str] = []
    counter = iter(range(10**9))
    try:
        # warm up (first connections, prepared statements) outside the measurement
        async with ClientSession(
            base_url=server.make_url(""), headers={"Authorization": f"Bearer {tokens[0]}"}
        ) as http:
            for _ in range(3):
                async with http.post("/api/orders", json=_take_body(next(counter))) as r:
                    assert r.status == 201, await r.text()
        stop_at = time.perf_counter() + args.seconds

        async def operator(token: str) -> None:
            async with ClientSession(
                base_url=server.make_url(""), headers={"Authorization": f"Bearer {token}"}
            ) as http:
                while time.perf_counter() < stop_at:
                    t0 = time.perf_counter()
                    async with http.post("/api/orders", json=_take_body(next(counter))) as r:
                        body = await r.json()
                    if r.status == 201 and body["status"] == "dispatched":
                        latencies.append(time.perf_counter() - t0)
                    else:  # counted, not fatal: the table shows how many failed
                        failures.append(f"{r.status} {body.get('error', body)}")

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for token in tokens:
                tg.create_task(operator(token))
        elapsed = time.perf_counter() - started
    finally:
        await server.close()
    return len(latencies) / elapsed, latencies, failures


# --------------------------------------------------------------------------- the clock


async def _seed_open_orders(engine: AsyncEngine, n: int, base: datetime) -> None:
    """`n` dispatched green orders: yellow at base+1h, deadline at base+2h."""
    template = WorkOrder(
        kind=OrderKind.complaint,
        category="人社/欠薪",
        title="拖欠工资",
        number="x",
        status=Status.dispatched,
        mode="direct",
        operator="bench",
        lead_unit_id="hrss",
        created_at=base,
        accepted_at=base,
        dispatched_at=base,
        time_limit_class="wd3",
        yellow_at=base + timedelta(hours=1),
        deadline=base + timedelta(hours=2),
        light=Light.green,
    ).model_dump(exclude={"id"})
    chunk = 5000
    async with engine.begin() as conn:
        for start in range(0, n, chunk):
            rows = [
                template | {"number": f"B-{base:%Y%m%d}-{i:06d}"}
                for i in range(start, min(n, start + chunk))
            ]
            await conn.execute(insert(WorkOrder), rows)


async def bench_clock(engine: AsyncEngine, n: int, batch: int) -> dict[str, float]:
    base = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    t0 = time.perf_counter()
    await _seed_open_orders(engine, n, base)
    seeded = time.perf_counter() - t0
    now = base

    clock = SlaClock(
        sessionmaker=db.session_factory(engine),
        publisher=Discard(),
        supervision=NoSupervision(),
        clock=lambda: now,
        batch=batch,
    )
    times = {"seed": seeded}
    for label, at, expect in (
        ("idle", base, 0),
        ("yellow", base + timedelta(minutes=90), n),
        ("red", base + timedelta(hours=3), n),
        ("supervise", base + timedelta(hours=3), 0),  # no light moves: the next batch
    ):
        now = at
        t0 = time.perf_counter()
        moved = await clock.tick()
        times[label] = time.perf_counter() - t0
        if moved != expect:
            raise RuntimeError(f"clock {label}: moved {moved} lights, expected {expect}")
    return times


# --------------------------------------------------------------------------- stores


@asynccontextmanager
async def store(
    kind: str, work: Path, name: str, pg: PostgresServer | None
) -> AsyncIterator[AsyncEngine]:
    """A fresh migrated store with the catalogue's units."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{work / name}.db"
    else:
        assert pg is not None
        url = pg.create_database(name)
    engine = db.create_engine(DatabaseSettings(url=url, pool_size=20))
    try:
        await db.migrate(engine)
        async with db.session_factory(engine)() as s:
            await repo.sync_catalogue(session=s, catalogue=load_catalogue())
        yield engine
    finally:
        await engine.dispose()
        if kind == "postgresql" and pg is not None:
            pg.drop_database(name)


async def run(args: argparse.Namespace, work: Path, pg: PostgresServer | None) -> list[Row]:
    rows: list[Row] = []
    for kind in args.stores:
        async with store(kind, work, "api", pg) as engine:
            rate, lat, failed = await bench_api(engine, args)
        q = statistics.quantiles(lat, n=20)
        rows.append(Row(kind, f"take+dispatch via API ({args.clients} clients)", f"{rate:.1f}/s"))
        rows.append(
            Row(kind, "  request latency p50 / p95", f"{q[9] * 1e3:.0f} / {q[18] * 1e3:.0f} ms")
        )
        rows.append(
            Row(
                kind,
                "  takes failed",
                f"{len(failed)}" + (f" (first: {failed[0]})" if failed else ""),
            )
        )
        print(f"  {kind}: {len(lat)} orders taken in {args.seconds} s", file=sys.stderr)
        per_order: dict[str, float] = {}
        for n in (max(1, args.open // 10), args.open):
            async with store(kind, work, f"clock{n}", pg) as engine:
                t = await bench_clock(engine, n, args.batch)
            lights_red = max(t["red"] - t["supervise"], 0.0)
            rows.append(Row(kind, f"clock, {n} open: idle tick", f"{t['idle']:.3f} s"))
            rows.append(Row(kind, f"clock, {n} open: tick, all turn yellow",
                            f"{t['yellow']:.2f} s ({n / t['yellow']:.0f} orders/s)"))  # fmt: skip
            rows.append(Row(kind, f"clock, {n} open: tick, all turn red",
                            f"{t['red']:.2f} s (with {args.batch} supervisions)"))  # fmt: skip
            rows.append(Row(kind, f"clock, {n} open: tick, next {args.batch} supervisions",
                            f"{t['supervise']:.2f} s"))  # fmt: skip
            per_order = {"yellow": t["yellow"] / n, "red": lights_red / n}
            print(f"  {kind}: {n} orders seeded in {t['seed']:.1f} s", file=sys.stderr)
        if args.open < 100_000:
            rows.append(Row(kind, "clock, 100000 open: all yellow / all red (linear est.)",
                            f"~{per_order['yellow'] * 1e5:.0f} s / ~{per_order['red'] * 1e5:.0f} s"
                            " + supervision"))  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=20_000, help="open orders for the clock")
    parser.add_argument("--batch", type=int, default=1000, help="clock batch size")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="API measurement time")
    parser.add_argument("--stores", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp,
        passwords.use_hasher(passwords.cheap_hasher()),
    ):
        pg = PostgresServer() if "postgresql" in args.stores else None
        if pg is not None:
            pg.start()
        try:
            rows = asyncio.run(run(args, Path(tmp), pg))
        finally:
            if pg is not None:
                pg.stop()
    width = max(len(r.what) for r in rows)
    print(f"\n{'store':<11} {'measure':<{width}}  result")
    for r in rows:
        print(f"{r.store:<11} {r.what:<{width}}  {r.value}")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
