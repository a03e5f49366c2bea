"""Reports: how long a week's and a month's report take over a big store, on both stores.

For each store (a SQLite file, and a throwaway PostgreSQL from `lab.postgres`) the bench
writes two months of history straight into the tables (January 2030 and the December
before it, `--orders` orders each, spread over the month): work orders with a lead
dispatch each (acknowledged, replied, a few returned), 1.5 calls per order (a few
abandoned, repeat callers among them), a caller transcript for every other call, an
extension request for 5 % of the orders and a finished survey callback for 30 %.

Then it times, for the week 14-20 January and for the month of January:

- **load**: `reports.repo.load_inputs` (every query, `workorders.rates.compute_rates`
  for the period and the three red-zone months);
- **build**: `reports.build.build_report` (pure; the server runs it in a worker thread);
- **render**: the HTML body (three SVG charts), the CSV and the JSON of the report;
- **ReportService** as the server uses it: the month, then the week (the red-zone months
  are kept 10 minutes), then the month again (kept a minute: its CSV, its print page).

Each is the median of `--repeat` runs, wall time and this process's CPU time (the
machine the bench runs on is often shared: CPU time says what a report costs). The issue
asks for reports "for any period"; a big city's month is about 20,000 orders (the
default).

    .venv/bin/python bench/reports.py [--orders 20000] [--repeat 3]
                                      [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asr.models import TranscriptSegment
from config.settings import DatabaseSettings
from hotline import db
from ivr_flows.models import CallbackJob
from lab.postgres import PostgresServer
from reports import export, html
from reports.build import build_report
from reports.periods import Period, month_of, week_of
from reports.repo import load_inputs
from reports.web import ReportService
from telephony.call_models import CallRecord
from workorders import repo
from workorders.catalogue import load_catalogue
from workorders.models import Dispatch, ExtensionRequest, WorkOrder

T = TypeVar("T")
MONTH = month_of(date(2030, 1, 1))
WEEK = week_of(date(2030, 1, 16))
TOPICS = [  # (category, unit, kind, text)
    ("供水/停水漏水", "water", "help", "幸福小区停水三天，水管爆裂无人维修"),
    ("供电/停电", "power", "help", "和平街停电，电表跳闸"),
    ("燃气/漏气", "gas", "report", "楼道有燃气味道，怀疑漏气"),
    ("住房/物业管理", "housing", "complaint", "物业不作为，电梯经常故障"),
    ("人社/欠薪", "hrss", "complaint", "工地拖欠工资半年"),
    ("生态环境/噪声", "ecology", "complaint", "夜间施工噪声扰民"),
    ("交通/公交", "transport", "suggestion", "建议增加公交班次"),
    ("市场/消费纠纷", "market", "complaint", "商家拒绝退款，预付卡跑路"),
]
LINES = ["12345", "12345", "12345", "12328", "12315", "12333"]


@dataclass(frozen=True)
class Row:
    store: str
    what: str
    value: str


async def _seed_month(engine: AsyncEngine, period: Period, n: int, first_id: int) -> None:
    rng = random.Random(first_id)
    start = period.start_utc
    span = (period.end_utc - start).total_seconds()
    orders, dispatches, extensions, jobs, calls, segments = [], [], [], [], [], []
    for i in range(n):
        oid = first_id + i
        created = start + timedelta(seconds=rng.random() * span)
        category, unit, kind, text = rng.choice(TOPICS)
        caller = f"138{rng.randrange(0, n // 2):08d}"
        deadline = created + timedelta(days=3)
        replied = created + timedelta(hours=rng.uniform(1, 90)) if rng.random() < 0.8 else None
        returned = rng.random() < 0.03
        number = f"R-{oid:07d}"
        line = rng.choice(LINES)
        orders.append({
            "id": oid, "number": number, "kind": kind, "category": category,
            "title": text[:8], "content": f"市民来电反映{text}", "caller_number": caller,
            "line": line, "status": "replied" if replied else "dispatched", "mode": "direct",
            "lead_unit_id": unit, "created_at": created, "accepted_at": created,
            "dispatched_at": created, "replied_at": replied, "deadline": deadline,
            "yellow_at": deadline - timedelta(hours=12), "light": "green", "channel": "phone",
            "time_limit_class": "d3", "operator": "bench", "address": "", "caller_name": "",
            "petition": False, "enterprise": False, "supervision_due": False, "reopen_count": 0,
        })  # fmt: skip
        dispatches.append({
            "order_id": oid, "unit_id": unit, "role": "lead", "part": "", "reply": "",
            "status": "returned" if returned else ("replied" if replied else "acknowledged"),
            "dispatched_at": created, "acknowledged_at": created + timedelta(minutes=20),
            "replied_at": replied, "returned_at": created + timedelta(hours=2) if returned
            else None, "return_reason": "非本单位职责" if returned else "",
        })  # fmt: skip
        if rng.random() < 0.05:
            extensions.append({
                "order_id": oid, "unit_id": unit, "asked_by": "bench", "reason": "需协调",
                "asked_at": created + timedelta(hours=5), "until": deadline + timedelta(days=3),
                "status": "granted", "note": "",
            })  # fmt: skip
        if replied is not None and rng.random() < 0.4:
            answered = rng.random() < 0.85
            result = {"satisfaction": rng.choice(["满意", "基本满意", "满意", "不满意"]),
                      "solved": rng.choice(["yes", "yes", "no"])} if answered else {}  # fmt: skip
            jobs.append({
                "kind": "survey", "flow": "survey", "order_id": number, "number": caller,
                "variables": {}, "dedupe_key": f"bench-{oid}", "state": "done",
                "due_at": replied, "attempts": 1, "max_attempts": 3,
                "outcome": "answered_result" if answered else "no_answer", "reason": "",
                "result": result, "created_at": replied, "finished_at": replied
                + timedelta(days=1),
            })  # fmt: skip
        for j in range(1 + (i % 2)):  # 1.5 calls per order
            entered = created - timedelta(minutes=5 + j * 30)
            wait = rng.expovariate(1 / 12)
            answered = rng.random() < 0.92
            linkedid = f"c-{oid}-{j}"
            calls.append({
                "uniqueid": linkedid, "linkedid": linkedid, "dnis": line, "line": line,
                "queue": "hotline-general", "caller_number": caller, "entered_at": entered,
                "answered_at": entered + timedelta(seconds=wait) if answered else None,
                "ended_at": entered + timedelta(seconds=wait + 180),
                "route": {}, "transfers": [],
                "outcome": "answered" if answered else "abandoned",
            })  # fmt: skip
            if answered and j == 0:
                segments.append({"call_id": linkedid, "channel": "caller", "segment": 0,
                                 "text": text, "created_at": entered})  # fmt: skip
    chunk = 2000
    async with engine.begin() as conn:
        for table, rows in ((WorkOrder, orders), (Dispatch, dispatches),
                            (ExtensionRequest, extensions), (CallbackJob, jobs),
                            (CallRecord, calls), (TranscriptSegment, segments)):  # fmt: skip
            for at in range(0, len(rows), chunk):
                await conn.execute(insert(table), rows[at : at + chunk])


@dataclass(frozen=True)
class Took:
    wall: float
    cpu: float  # this process, every thread (aiosqlite's included): less noisy on a busy box

    def __str__(self) -> str:
        return f"{self.wall:.2f} s (CPU {self.cpu:.2f} s)"

    def __add__(self, other: Took) -> Took:
        return Took(self.wall + other.wall, self.cpu + other.cpu)


async def _median(repeat: int, work: Callable[[], Awaitable[T]]) -> tuple[Took, T]:
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = await work()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert result is not None
    return Took(statistics.median(walls), statistics.median(cpus)), result


def _at(moment: datetime) -> datetime:
    return moment


@asynccontextmanager
async def store(kind: str, work: Path, pg: PostgresServer | None) -> AsyncIterator[AsyncEngine]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'reports'}.db"
    else:
        assert pg is not None
        url = pg.create_database("bench_reports")
    engine = db.create_engine(DatabaseSettings(url=url))
    try:
        await db.migrate(engine)
        async with db.session_factory(engine)() as s:
            await repo.sync_catalogue(session=s, catalogue=load_catalogue())
        yield engine
    finally:
        await engine.dispose()
        if kind == "postgresql" and pg is not None:
            pg.drop_database("bench_reports")


async def run(args: argparse.Namespace, work: Path, pg: PostgresServer | None) -> list[Row]:
    rows: list[Row] = []
    for kind in args.stores:
        async with store(kind, work, pg) as engine:
            t0 = time.perf_counter()
            await _seed_month(engine, MONTH.previous(), args.orders, 1)
            await _seed_month(engine, MONTH, args.orders, 1 + args.orders)
            print(f"  {kind}: {2 * args.orders} orders seeded in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)  # fmt: skip
            sessions = db.session_factory(engine)
            now = MONTH.end_utc + timedelta(days=1)
            for label, period in (("week", WEEK), ("month", MONTH)):
                async def load(
                    p: Period = period, s: Any = sessions, at: datetime = now
                ) -> Any:
                    return await load_inputs(s, p, now=at)

                t_load, inputs = await _median(args.repeat, load)

                async def build(i: Any = inputs) -> Any:
                    return await asyncio.to_thread(build_report, i)

                t_build, report = await _median(args.repeat, build)

                async def render(r: Any = report) -> int:
                    return len(html.report_body(r)) + len(export.to_csv(r)) + len(
                        json.dumps(export.to_json(r)))  # fmt: skip

                t_render, size = await _median(args.repeat, render)
                what = f"{label} ({len(inputs.orders)} orders, {len(inputs.calls)} calls)"
                rows.append(Row(kind, f"{what}: load", str(t_load)))
                rows.append(Row(kind, f"{what}: build", str(t_build)))
                rows.append(Row(kind, f"{what}: render HTML+CSV+JSON",
                                f"{t_render} ({size // 1024} KiB)"))  # fmt: skip
                rows.append(Row(kind, f"{what}: total", str(t_load + t_build + t_render)))
            # As the server asks: the month, the week after it (the red-zone months are
            # kept), the month again (its CSV or print within a minute: kept).
            service = ReportService(sessionmaker=sessions, clock=functools.partial(_at, now))
            for label, period in (("month", MONTH), ("then week", WEEK), ("month again", MONTH)):
                took, _ = await _median(1, functools.partial(service.report, period))
                rows.append(Row(kind, f"ReportService: {label}", str(took)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="orders per month")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    parser.add_argument("--stores", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
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
