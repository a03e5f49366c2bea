"""Reports in a real headless Chromium, against the whole server in-process.

Orders are taken through the work-order service at chosen moments in November 2026
(acknowledged, replied, returned, extended), calls stored through the call repository,
a survey as a finished callback job. A supervisor signs in by keyboard at /reports,
picks the week 9-15 November with the date fields (周分析) and sees the figures and the
charts; switches to the month (月通报) and sees the order from 3 November counted too;
downloads the CSV (UTF-8 with BOM) and checks its content; opens the printable page and
prints it to an A4 PDF (test-artifacts/). Screenshots: week, month, print.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from accounts import repo as accounts
from accounts.roles import Role
from ivr_flows.models import CallbackJob, JobKind, JobState
from reports.feature import build as reports
from telephony import call_repo
from tests.fixtures.browser import SCREENSHOTS
from tests.fixtures.server import ServerHandle
from workorders.feature import build as workorders
from workorders.feature import city_policy
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate, WorkOrderPublic
from workorders.service import Actor, OrderService

pytestmark = pytest.mark.e2e
PASSWORD = "reports-e2e-Passw0rd-42"
OPERATOR = Actor("op-e2e", Role.operator)
SUPERVISOR = Actor("boss-e2e", Role.supervisor)
HANDLERS = {u: Actor(f"{u}-e2e", Role.unit_handler, u) for u in ("water", "housing", "power")}
MONDAY = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)  # Monday 9 November 2026, 09:00 in Beijing
CALLER = "13800001111"
Shoot = Callable[[Page, str], Awaitable[Path]]


class Seeder:
    def __init__(self, server: ServerHandle) -> None:
        self.moment = MONDAY
        self.svc = OrderService(sessionmaker=server.core.sessionmaker, publisher=server.core.bus,
                                policy=city_policy(server.core), clock=lambda: self.moment)

    async def take(self, unit: str, title: str, category: str, at: datetime,
                   caller: str = CALLER) -> WorkOrderPublic:  # fmt: skip
        self.moment = at
        draft = WorkOrderCreate(kind=OrderKind.help, category=category, title=title,
                                content=f"市民反映{title}", time_limit_class="d3",
                                caller_number=caller, line="12345")  # fmt: skip
        return await self.svc.take(draft, [Assignment(unit, DispatchRole.lead)], actor=OPERATOR)


async def seed(server: ServerHandle) -> None:
    s = Seeder(server)
    leak = await s.take("water", "幸福小区停水", "供水/停水", MONDAY)
    await s.svc.acknowledge(leak.number, actor=HANDLERS["water"])
    s.moment = MONDAY + timedelta(hours=6)
    await s.svc.reply(leak.number, "已恢复供水", actor=HANDLERS["water"])
    await s.svc.review(leak.number, actor=SUPERVISOR)
    again = await s.take("water", "和平街停水", "供水/停水", MONDAY + timedelta(days=1))
    await s.svc.acknowledge(again.number, actor=HANDLERS["water"])
    lift = await s.take("housing", "电梯故障", "住房/电梯", MONDAY + timedelta(days=2),
                        caller="13900002222")  # fmt: skip
    await s.svc.return_order(lift.number, "不属于本单位职责", actor=HANDLERS["housing"])
    dark = await s.take("power", "停电", "供电/停电", MONDAY + timedelta(days=3),
                        caller="13700003333")  # fmt: skip
    await s.svc.acknowledge(dark.number, actor=HANDLERS["power"])
    await s.svc.ask_extension(dark.number, MONDAY + timedelta(days=9), "需更换变压器",
                              actor=HANDLERS["power"])  # fmt: skip
    await s.svc.grant_extension(dark.number, actor=SUPERVISOR)
    # Earlier in the month, outside the week.
    await s.take("water", "人民路停水", "供水/停水", MONDAY - timedelta(days=6))
    async with server.core.sessionmaker() as session:
        session.add(CallbackJob(kind=JobKind.survey, flow="survey", order_id=leak.number,
                                number=CALLER, dedupe_key="e2e-s1", state=JobState.done,
                                due_at=MONDAY + timedelta(hours=8), outcome="answered_result",
                                result={"satisfaction": "满意", "solved": "yes"},
                                finished_at=MONDAY + timedelta(hours=8)))  # fmt: skip
        await session.commit()
        calls = [  # (days after Monday, line, answered after seconds, caller)
            (0, "12345", 6, CALLER), (1, "12345", 9, CALLER), (2, "12345", None, "13900002222"),
            (3, "12328", 5, "13700003333"), (-6, "12345", 4, CALLER),
        ]  # fmt: skip
        for i, (day, line, wait, caller) in enumerate(calls):
            entered = MONDAY + timedelta(days=day)
            await call_repo.open_call(session=session, uniqueid=f"e2e-r{i}",
                                      linkedid=f"e2e-r{i}", dnis=line, entered_at=entered,
                                      caller_number=caller)  # fmt: skip
            await call_repo.update_call(
                session=session, uniqueid=f"e2e-r{i}", line=line,
                answered_at=None if wait is None else entered + timedelta(seconds=wait),
                ended_at=entered + timedelta(minutes=4),
                outcome="abandoned" if wait is None else "answered",
            )  # fmt: skip
        await accounts.create_user(session=session, username="boss-e2e", password=PASSWORD,
                                   role=Role.supervisor, display_name="赵班长")  # fmt: skip


async def pick(page: Page, first: str, last: str) -> None:
    await page.locator("#from").fill(first)
    await page.locator("#to").fill(last)
    await page.locator("#to").press("Enter")


def tile(page: Page, key: str) -> Locator:
    return page.locator(f'[data-figure="{key}"] .value')


async def test_a_supervisor_reads_a_week_then_a_month_exports_csv_and_prints(
    server_factory: Callable[..., Awaitable[ServerHandle]], page: Page, screenshot: Shoot,
) -> None:
    server = await server_factory(builders=(workorders, reports))
    await seed(server)
    base = server.http_url

    await page.goto(base + "/reports")
    await expect(page).to_have_url(f"{base}/login?next=/reports")
    await expect(page.locator("input[name=username]")).to_be_focused()
    await page.keyboard.type("boss-e2e")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(base + "/reports")
    await expect(page.locator("h1")).to_contain_text("周分析")  # this week by default
    await expect(page.locator('.presets a[aria-current="page"]')).to_have_text("本周")

    # 周分析: 9-15 November.
    started = time.monotonic()
    await pick(page, "2026-11-09", "2026-11-15")
    await expect(page.locator("h1")).to_have_text("2026年11月9日至15日周分析")
    shown_s = time.monotonic() - started
    await expect(tile(page, "orders")).to_have_text("4")
    await expect(tile(page, "calls")).to_have_text("4")
    # The week before had the call and the order of 3 November: 环比 +300 %.
    await expect(page.locator('[data-figure="orders"] .note')).to_contain_text("环比 +300.0%")
    await expect(tile(page, "answer_rate")).to_have_text("75.0%")
    await expect(tile(page, "acknowledgement_rate")).to_have_text("75.0%")
    await expect(tile(page, "satisfaction_rate")).to_have_text("100.0%")
    await expect(tile(page, "returns")).to_have_text("1")
    await expect(tile(page, "extensions")).to_have_text("1")
    await expect(page.locator("svg.chart")).to_have_count(3)
    await expect(page.locator("svg.bars").first).to_contain_text("12345 政务服务便民热线")
    units = page.locator("table.units tbody tr")
    await expect(units).to_have_count(3)
    await expect(units.first).to_contain_text("供水公司")
    await expect(units.last).to_contain_text("市住建局")
    await expect(page.locator(".black-board")).to_contain_text("市住建局")
    await expect(page.locator("table.topics").first).to_contain_text("供水/停水")
    await expect(page.locator("table.callers")).to_contain_text(CALLER)
    await screenshot(page, "week")

    # 月通报: the whole of November, with the order of 3 November.
    await pick(page, "2026-11-01", "2026-11-30")
    await expect(page.locator("h1")).to_have_text("2026年11月通报")
    await expect(tile(page, "orders")).to_have_text("5")
    await expect(tile(page, "calls")).to_have_text("5")
    days = page.locator("table.days")
    await expect(days).to_be_hidden()  # a month folds its thirty rows (and prints without)
    await page.locator("details summary").focus()
    await page.keyboard.press("Enter")
    await expect(days).to_be_visible()
    await expect(days.locator("tbody tr")).to_have_count(30)
    await screenshot(page, "month")

    # CSV: the month's figures, UTF-8 with a BOM for Excel.
    async with page.expect_download() as waiting:
        await page.locator("#csv-link").click()
    download = await waiting.value
    assert download.suggested_filename == "hotline-report-2026-11-01-2026-11-30.csv"
    saved = await download.path()
    raw = await asyncio.to_thread(Path(saved).read_bytes)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["报表", "2026年11月通报"]
    assert ["工单量", "5"] in rows and ["来电量", "5"] in rows and ["退单量", "1"] in rows
    ranked = rows.index(["承办单位排名"]) + 2  # after the title and the header
    # 供电公司: 签收率 100 %, nothing else to judge yet; 供水公司 left one of three unsigned.
    assert [r[:2] for r in rows[ranked : ranked + 3]] == [
        ["1", "供电公司"], ["2", "供水公司"], ["3", "市住建局"],
    ]  # fmt: skip
    assert [CALLER, "3", "3", "供水/停水", ""] in rows

    # The printable page: same figures, laid out for A4; printed to PDF.
    await page.locator("#print-link").click()
    await expect(page).to_have_url(f"{base}/reports/print?from=2026-11-01&to=2026-11-30")
    await expect(page.locator(".print-view h1")).to_have_text("2026年11月通报")
    await expect(tile(page, "orders")).to_have_text("5")
    await expect(page.locator("#print-now")).to_be_visible()
    await screenshot(page, "print")
    await page.emulate_media(media="print")
    await expect(page.locator("#print-now")).to_be_hidden()
    await expect(page.locator("header.top")).to_be_hidden()
    # A4 at 96 dpi is 794 px wide; the screenshot's scrollbar takes 15 more.
    await page.set_viewport_size({"width": 809, "height": 1123})
    await screenshot(page, "print-a4")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = await page.pdf(path=str(SCREENSHOTS / "test_reports-print.pdf"), format="A4",
                         prefer_css_page_size=True)  # fmt: skip
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 1 <= pages <= 6, pages
    print(f"\nreports e2e: week shown {shown_s:.2f} s after submit; month printed on {pages} "
          f"A4 page(s)")  # fmt: skip
