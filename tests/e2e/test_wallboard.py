"""The supervisor wallboard in a real headless Chromium, against the real lab Asterisk.

The whole server runs in-process (server_factory: PBX connection, calls, operators and
their WebSocket hub, the wallboard). 100 seats are seeded as `operator.state` events on
the bus; a supervisor signs in by keyboard and lands on /wallboard, drawn on the server
with every seat (its load time is printed). Then, without a reload: a sipp citizen
calls 12345 while no softphone is registered, the board shows one caller waiting on the
line and its wait counting up; the citizen gives up and the abandoned count goes to 1.
A softphone registers, a second citizen is answered: the answered count goes to 1 and
the operator's seat shows 通话中. Screenshots: 100 seats, a caller waiting, after both.
A second test: the SLA clock turns orders yellow and red and a survey finishes while an
admin watches; the counts, the lit orders and the surveys done follow by push.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.wallboard import build as wallboard
from hotline.bus_events import OperatorState, SurveyResult
from hotline.pbx_watch import build as pbx_connection
from ivr_flows import repo as jobs
from ivr_flows.models import CallbackJob, JobState
from lab.baresip import Softphone
from lab.pbx import Pbx
from lab.sipp import Citizen
from telephony.call_service import build as calls
from telephony.operator_service import build as operators
from tests.fixtures.server import ServerHandle
from workorders.feature import build as workorders
from workorders.feature import city_policy
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate
from workorders.service import Actor, OrderService

pytestmark = pytest.mark.e2e
USERNAME = "floor-boss"
PASSWORD = "wallboard-e2e-Passw0rd-42"
SEEDED = 100
STATES = ("ready", "talking", "talking", "wrap_up", "paused", "ringing", "logged_out")
RENDER_BOUND_S = 30.0  # a sanity bound on a loaded 2-core machine, not a speed target
Shoot = Callable[[Page, str], Awaitable[Path]]


async def test_the_wallboard_follows_real_calls_by_push_with_100_seats(
    server_factory: Callable[..., Awaitable[ServerHandle]],
    pbx: Pbx,
    softphone_factory: Callable[..., Softphone],
    citizen_factory: Callable[..., Citizen],
    page: Page,
    screenshot: Shoot,
) -> None:
    server = await server_factory(builders=(pbx_connection, calls, operators, wallboard),
                                  operators={"wrap_up_seconds": 0})
    async with server.core.sessionmaker() as session:
        await accounts.create_user(session=session, username=USERNAME, password=PASSWORD,
                                   role=Role.supervisor, display_name="赵班长")
    for i in range(SEEDED):
        reason = "meal" if STATES[i % len(STATES)] == "paused" else None
        server.core.bus.publish(OperatorState(extension=str(8000 + i),
                                              state=STATES[i % len(STATES)], reason=reason))
    base = server.http_url
    ext = ""
    try:
        await page.goto(base + "/wallboard")
        await expect(page).to_have_url(f"{base}/login?next=/wallboard")
        await expect(page.locator("input[name=username]")).to_be_focused()
        await page.keyboard.type(USERNAME)
        await page.keyboard.press("Tab")
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(base + "/wallboard")
        await expect(page.locator("h1")).to_have_text("班长监控")
        seeded = page.locator("#wb-seats li.seat[data-ext^='80']")
        await expect(seeded).to_have_count(SEEDED)  # pushed, or drawn if already seated
        await expect(page.locator("#wb-link")).to_have_attribute("data-state", "live")

        # A fresh load with 100 seats: drawn on the server, then live.
        began = time.monotonic()
        await page.reload(wait_until="load")
        drawn = time.monotonic() - began
        await expect(seeded).to_have_count(SEEDED)
        await expect(page.locator("#wb-link")).to_have_attribute("data-state", "live")
        live = time.monotonic() - began
        counts = page.locator("#wb-seat-counts")
        await expect(counts.locator("[data-state=talking] strong")).to_have_text(
            str(sum(STATES[i % len(STATES)] == "talking" for i in range(SEEDED))))
        await expect(page.locator("#wb-seats li[data-ext='8004'] .st")).to_have_text("示忙（用餐）")
        await expect(page.locator("#wb-waiting")).to_have_text("0")
        await screenshot(page, "100-seats")
        # From here on the page must change by push alone: a reload would drop this mark.
        await page.evaluate("window.__noReload = true")

        quitter = citizen_factory(pbx, number="12345", caller="13900001111",
                                  display_name="刘洋", hangup_after=8)
        quitter.start()
        await expect(page.locator("#wb-waiting")).to_have_text("1", timeout=20_000)
        line = page.locator("#wb-lines tr[data-key='12345']")
        await expect(line.locator("td").nth(0)).to_have_text("1")
        await expect(page.locator("#wb-longest")).not_to_have_text("—")
        await expect(page.locator("#wb-longest")).not_to_have_text("0:00")  # counting up
        await screenshot(page, "waiting")
        await expect(page.locator("#wb-abandoned")).to_have_text("1", timeout=20_000)
        await expect(page.locator("#wb-waiting")).to_have_text("0")
        await expect(page.locator("#wb-answer-rate")).to_have_text("0.0%")
        hour = page.locator("#wb-hours g").filter(has_text="放弃 1")  # the chart, redrawn
        await expect(hour).to_have_count(1)
        assert (await asyncio.to_thread(quitter.wait, 15)).exit_code == 0

        phone = await asyncio.to_thread(softphone_factory, pbx, 0)  # the server keeps running
        ext = phone.operator.extension
        caller = citizen_factory(pbx, number="12345", caller="13800138000",
                                 display_name="张伟", hangup_after=6)
        caller.start()
        await expect(page.locator("#wb-answered")).to_have_text("1", timeout=30_000)
        await expect(page.locator(f"#wb-seats li[data-ext='{ext}']")).to_have_attribute(
            "data-state", "talking")
        await expect(page.locator("#wb-offered")).to_have_text("2")
        await expect(page.locator("#wb-answer-rate")).not_to_have_text("0.0%")
        assert await page.evaluate("window.__noReload === true")
        await screenshot(page, "answered")
        assert (await asyncio.to_thread(caller.wait, 20)).exit_code == 0
        print(f"\nwallboard {SEEDED}+ seats: reload drawn {drawn * 1000:.0f} ms, "
              f"live {live * 1000:.0f} ms")
        assert live < RENDER_BOUND_S
    finally:
        if ext:
            pbx.cli(f"queue unpause member PJSIP/op{ext}")  # the shared PBX stays usable


async def test_orders_turning_red_and_surveys_done_show_up_by_push(
    server_factory: Callable[..., Awaitable[ServerHandle]], page: Page, screenshot: Shoot,
) -> None:
    """The SLA clock turns orders yellow and red, a survey finishes: no reload needed."""
    server = await server_factory(builders=(pbx_connection, operators, workorders, wallboard),
                                  workorders={"clock_interval": 0.3})  # fmt: skip
    async with server.core.sessionmaker() as session:
        await accounts.create_user(session=session, username=USERNAME, password=PASSWORD,
                                   role=Role.admin, display_name="钱管理")  # fmt: skip
    base = server.http_url
    await page.goto(base + "/login?next=/wallboard")
    await expect(page.locator("input[name=username]")).to_be_focused()
    await page.keyboard.type(USERNAME)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(base + "/wallboard")  # admins watch the floor too
    await expect(page.locator("#wb-link")).to_have_attribute("data-state", "live")
    await expect(page.locator("#wb-red")).to_have_text("0")
    await page.evaluate("window.__noReload = true")

    moment = datetime.now(UTC)
    svc = OrderService(sessionmaker=server.core.sessionmaker, publisher=server.core.bus,
                       policy=city_policy(server.core), clock=lambda: moment)  # fmt: skip
    numbers = []
    for limit, hours_ago in (("h3", 4), ("h24", 20), ("d7", 1)):
        moment = datetime.now(UTC) - timedelta(hours=hours_ago)
        draft = WorkOrderCreate(kind=OrderKind.complaint, category="供水/停水漏水", title="停水",
                                content="小区停水", time_limit_class=limit,
                                caller_number="13800001111")  # fmt: skip
        order = await svc.take(draft, [Assignment("water", DispatchRole.lead)],
                               actor=Actor("op", Role.operator))  # fmt: skip
        numbers.append(order.number)
    await expect(page.locator("#wb-red")).to_have_text("1")
    await expect(page.locator("#wb-yellow")).to_have_text("1")
    await expect(page.locator("#wb-open")).to_have_text("3")
    lit = page.locator("#wb-lights li")
    await expect(lit).to_have_count(2)
    await expect(page.locator("#wb-lights")).to_contain_text(numbers[0])
    await expect(page.locator("#wb-lights li.light-red")).to_contain_text("供水公司")

    async with server.core.sessionmaker() as session:
        await jobs.add_job(session=session, job=CallbackJob(
            kind="survey", flow="survey", order_id=numbers[2], number="13800001111",
            dedupe_key="e2e-survey", state=JobState.done, due_at=datetime.now(UTC),
            finished_at=datetime.now(UTC)))  # fmt: skip
    server.core.bus.publish(SurveyResult(order_id=numbers[2], outcome="answered_result",
                                         satisfaction="满意", solved=True, attempts=1))
    await expect(page.locator("#wb-survey-done")).to_have_text("1")
    assert await page.evaluate("window.__noReload === true")
    await screenshot(page, "lights-and-surveys")
