"""`hotline report` (reports.cli) on SQLite and PostgreSQL: CSV to a file, JSON to stdout,
a bad period refused with one line."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.roles import Role
from config.settings import Settings
from hotline.bus_events import BusEvent
from hotline.db import session_factory
from reports import cli
from workorders import repo
from workorders.catalogue import load_catalogue
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate
from workorders.service import Actor, OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # Tuesday 10 November 2026, 10:00 in Beijing
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


class Discard:
    def publish(self, event: BusEvent) -> object:
        return event


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


async def test_report_command_writes_csv_and_json(
    engine: AsyncEngine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    svc = OrderService(sessionmaker=sessions, publisher=Discard(),
                       policy=load_presets()["zhangye"], clock=lambda: T0)  # fmt: skip
    draft = WorkOrderCreate(kind=OrderKind.complaint, category="供水/停水", title="停水",
                            caller_number="13800001111", line="12345")  # fmt: skip
    await svc.take(draft, [Assignment("water", DispatchRole.lead)],
                   actor=Actor("op", Role.operator))  # fmt: skip
    settings = Settings.model_validate({"database": {"url": db_url}})

    out = tmp_path / "周分析.csv"
    args = parse("--preset", "last_week", "--output", str(out))
    assert cli.handles(args)
    assert await cli.run(args, settings, now=NOW) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.startswith("报表,2026年11月9日至15日周分析")
    assert "工单量,1" in text
    assert "2026年11月9日至15日周分析" in capsys.readouterr().err

    assert await cli.run(parse("--from", "2026-11-01", "--to", "2026-11-30", "--format",
                               "json"), settings, now=NOW) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["period"]["title"] == "2026年11月通报"
    assert data["headline"]["orders"] == 1 and data["units"][0]["unit_id"] == "water"

    assert await cli.run(parse("--from", "2026-11-30", "--to", "2026-11-01"), settings,
                         now=NOW) == 1  # fmt: skip
    assert "结束日期不能早于开始日期" in capsys.readouterr().err
    assert await cli.run(parse("--to", "2026-11-01"), settings, now=NOW) == 1
    assert "--from and --to go together" in capsys.readouterr().err
