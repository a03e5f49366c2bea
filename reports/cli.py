"""`hotline report`: a report from the command line, as CSV or JSON (e.g. from cron).

    hotline report --preset last_month --format csv --output 月通报.csv
    hotline report --from 2026-11-16 --to 2026-11-22 --format json

The same report as /reports.csv and /api/reports (`reports.repo` + `reports.build`),
read from the configured store; nothing is written to it. CSV is UTF-8 with a BOM (for
Excel); without --output the report goes to standard output. Problems (a bad period,
an unreachable store, an unwritable file) print one line on stderr and return 1.

`hotline.cli` calls `add_parsers(subparsers)` and, for this command, `await run(args,
settings)` (like `accounts.admin_cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import Settings
from hotline.db import StoreError, check, create_engine, session_factory
from reports import export
from reports.build import build_report
from reports.periods import PRESETS, Period, PeriodError, local_day, parse_period, preset
from reports.repo import ReportStoreError, load_inputs
from telephony.catalogue import CatalogueError, load_catalogue

COMMAND = "report"


def add_parsers(subparsers: Any) -> None:
    report = subparsers.add_parser(COMMAND, help="write a report (日报/周分析/月通报)")
    when = report.add_mutually_exclusive_group()
    when.add_argument("--preset", choices=sorted(PRESETS), help="default: last_week")
    when.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (with --to)")
    report.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (both included)")
    report.add_argument("--format", choices=("csv", "json"), default="csv")
    report.add_argument("--output", type=Path, help="file to write (default: standard output)")


def handles(args: argparse.Namespace) -> bool:
    return getattr(args, "command", None) == COMMAND


def period_of(args: argparse.Namespace, now: datetime) -> Period:
    if args.first or args.last:
        if not (args.first and args.last):
            raise PeriodError("--from and --to go together")
        return parse_period(args.first, args.last)
    return preset(args.preset or "last_week", local_day(now))


async def run(args: argparse.Namespace, settings: Settings, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    try:
        period = period_of(args, now)
        catalogue = load_catalogue(settings.calls.catalogue)
    except (PeriodError, CatalogueError) as err:
        return _fail(str(err))
    engine = create_engine(settings.database)
    try:
        await check(engine)
        inputs = await load_inputs(
            session_factory(engine),
            period,
            now=now,
            line_names={line.id: line.name for line in catalogue.lines},
            answered_within_seconds=settings.calls.answered_within_seconds,
            key_caller_threshold=settings.calls.key_caller_threshold,
        )
    except (StoreError, ReportStoreError) as err:
        return _fail(str(err))
    finally:
        await engine.dispose()
    report = await asyncio.to_thread(build_report, inputs)
    if args.format == "csv":
        text = export.to_csv(report)
    else:
        text = json.dumps(export.to_json(report), ensure_ascii=False, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        await asyncio.to_thread(args.output.write_text, text, encoding="utf-8")
    except OSError as err:
        return _fail(f"cannot write {args.output}: {err.strerror}")
    print(f"{period.title}: {args.output}", file=sys.stderr)
    return 0


def _fail(message: str) -> int:
    print(f"hotline report: {message}", file=sys.stderr)
    return 1
