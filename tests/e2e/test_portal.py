"""The unit portal in a real headless Chromium, against the whole server (server_factory).

A unit handler of 市供水有限公司 (unit "water") signs in by keyboard and lands on the
inbox: red before yellow before green, another unit's order absent (also by URL). The
inbox filters and sorts in the page; 签收 works from the inbox; the order page takes a
reply (keyboard), a return with its reason (click, confirm dialog) and an extension
request; each is checked in the store and in the order's history.

The second test seeds 200 open orders for one unit and measures how long the inbox
takes to load (printed; only a generous sanity bound is asserted), then filters and
acknowledges in it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, expect

from accounts import repo as accounts
from accounts.roles import Role
from tests.fixtures.server import ServerHandle
from workorders.feature import build as workorders
from workorders.feature import city_policy
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate, WorkOrderPublic
from workorders.portal import build as unit_portal
from workorders.service import Actor, OrderService
from workorders.sla import CHINA

pytestmark = pytest.mark.e2e
PASSWORD = "portal-e2e-Passw0rd-42"
OPERATOR = Actor("op-e2e", Role.operator)
WATER = Actor("w-e2e", Role.unit_handler, "water")
Shoot = Callable[[Page, str], Awaitable[Path]]
LOAD_BOUND_S = 30.0  # a sanity bound on a loaded 2-core machine, not a speed target


class Seeder:
    """Takes orders at a chosen moment in the past (so they are red, yellow or green now)."""

    def __init__(self, server: ServerHandle) -> None:
        self.moment = datetime.now(UTC)
        self.svc = OrderService(sessionmaker=server.core.sessionmaker, publisher=server.core.bus,
                                policy=city_policy(server.core), clock=lambda: self.moment)

    async def take(self, unit: str, title: str, limit: str, hours_ago: float,
                   category: str = "供水/停水漏水") -> WorkOrderPublic:
        self.moment = datetime.now(UTC) - timedelta(hours=hours_ago)
        draft = WorkOrderCreate(kind=OrderKind.help, category=category, title=title,
                                content="市民反映小区停水，水管爆裂", time_limit_class=limit,
                                caller_number="13800001111", address="城关镇幸福路 8 号")
        return await self.svc.take(draft, [Assignment(unit, DispatchRole.lead)], actor=OPERATOR)


async def start(server_factory: Callable[..., Awaitable[ServerHandle]]) -> ServerHandle:
    server = await server_factory(builders=(workorders, unit_portal))
    async with server.core.sessionmaker() as session:
        for name, unit in (("water-clerk", "water"), ("ecology-clerk", "ecology")):
            await accounts.create_user(session=session, username=name, password=PASSWORD,
                                       role=Role.unit_handler, display_name="王芳",
                                       unit_id=unit)
    return server


async def sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/")
    await expect(page.locator("input[name=username]")).to_be_focused()
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(base + "/portal/orders")


async def test_a_unit_acknowledges_replies_returns_and_asks_for_time_in_chromium(
    server_factory: Callable[..., Awaitable[ServerHandle]], page: Page, screenshot: Shoot,
) -> None:
    server = await start(server_factory)
    seed = Seeder(server)
    green = await seed.take("water", "幸福路停水", "d7", hours_ago=1)
    red = await seed.take("water", "和平街水管爆裂", "h3", hours_ago=4)
    yellow = await seed.take("water", "人民路水压低", "h24", hours_ago=20)
    theirs = await seed.take("ecology", "河道异味", "d3", hours_ago=1, category="生态环境/水污染")
    base = server.http_url

    await sign_in(page, base, "water-clerk")
    rows = page.locator("#inbox tbody tr[data-number]")
    await expect(rows).to_have_count(3)
    numbers = [await r.get_attribute("data-number") for r in await rows.all()]
    assert numbers == [red.number, yellow.number, green.number]  # red first
    await expect(rows.nth(0)).to_have_attribute("data-light", "red")
    await expect(rows.nth(1)).to_have_attribute("data-light", "yellow")
    await expect(page.locator("#count-red")).to_have_text("1")
    await expect(page.locator("#count-waiting")).to_have_text("3")
    await expect(page.locator("#inbox")).not_to_contain_text(theirs.number)
    await screenshot(page, "inbox")

    # Sort by deadline (click), then back to the lights (keyboard); filter by text and light.
    await page.locator("button.sort[data-sort=due]").click()
    await expect(rows.first).to_have_attribute("data-number", red.number)  # earliest due
    await expect(rows.last).to_have_attribute("data-number", green.number)
    await page.locator("button.sort[data-sort=due]").press("Enter")  # descending
    await expect(rows.first).to_have_attribute("data-number", green.number)
    await page.keyboard.press("/")
    await expect(page.locator("#inbox-filter")).to_be_focused()
    await page.keyboard.type("水压")
    await expect(page.locator("#inbox-shown")).to_have_text("1")
    await expect(page.locator(f"tr[data-number='{yellow.number}']")).to_be_visible()
    await expect(page.locator(f"tr[data-number='{red.number}']")).to_be_hidden()
    await page.locator("#inbox-filter").fill("")
    await page.locator("#inbox-light").select_option("red")
    await expect(page.locator("#inbox-shown")).to_have_text("1")
    await page.locator("#inbox-light").select_option("")
    await expect(page.locator("#inbox-shown")).to_have_text("3")

    # Another unit's order is not found, even by its address.
    response = await page.goto(f"{base}/portal/orders/{theirs.number}")
    assert response is not None and response.status == 404
    await expect(page.locator("body")).to_contain_text("不属于本单位")
    await page.goto(base + "/portal/orders")

    # 签收 from the inbox (keyboard: focus the row's button, Enter).
    await page.get_by_role("button", name=f"签收 {green.number}").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("p.notice.ok")).to_contain_text(f"{green.number}：已签收")
    await expect(page.locator(f"tr[data-number='{green.number}'] td.state")).to_have_text("办理中")
    assert (await seed.svc.get(green.number, actor=WATER)).dispatches[0].status == "acknowledged"

    # Open it by keyboard and reply: type the result, Tab to 回复, Enter.
    await page.locator(f"a[href='/portal/orders/{green.number}']").focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{base}/portal/orders/{green.number}")
    await page.locator("textarea[name=text]").focus()
    await page.keyboard.type("已派维修人员更换水管，下午三点恢复供水。")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="回复", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("p.notice.ok")).to_have_text("已回复，等待中心审核。")
    history = page.locator("table.history tbody tr")
    await expect(history.filter(has_text="签收")).to_have_count(1)
    await expect(history.filter(has_text="已派维修人员更换水管")).to_have_count(1)
    replied = await seed.svc.get(green.number, actor=WATER)
    assert replied.status == "replied"
    assert replied.dispatches[0].reply == "已派维修人员更换水管，下午三点恢复供水。"
    await screenshot(page, "replied")

    # 退单 with a reason: the page asks to confirm first.
    await page.goto(f"{base}/portal/orders/{yellow.number}")
    asked: list[str] = []

    async def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", confirm)
    reason = page.locator("form.return textarea[name=reason]")
    await reason.fill("该小区为自备水源，不属于供水公司职责")
    await page.get_by_role("button", name="退单").click()
    await expect(page.locator("p.notice.ok")).to_contain_text("已退单")
    assert asked and "退单" in asked[0]
    returned = await seed.svc.get(yellow.number, actor=OPERATOR)
    assert returned.status == "returned"
    assert returned.dispatches[0].return_reason == "该小区为自备水源，不属于供水公司职责"

    # 延期申请 on the red order: a city-time date two days on, and a reason.
    await page.goto(f"{base}/portal/orders/{red.number}")
    until = (datetime.now(UTC) + timedelta(days=2)).astimezone(CHINA).replace(second=0,
                                                                              microsecond=0)
    await page.locator("input[name=until]").fill(until.strftime("%Y-%m-%dT%H:%M"))
    why = page.locator("form[action$='/extension'] textarea[name=reason]")
    await why.fill("材料未到，需协调施工队")
    await page.get_by_role("button", name="申请延期").click()
    await expect(page.locator("p.notice.ok")).to_have_text("延期申请已提交，等待中心审批。")
    await expect(page.locator(".facts")).to_contain_text("材料未到，需协调施工队")
    pending = (await seed.svc.get(red.number, actor=OPERATOR)).pending_extension
    assert pending is not None and pending.until == until and pending.reason.startswith("材料")
    await expect(page.locator("table.history")).to_contain_text("申请延期")
    await expect(page.locator("table.history")).to_contain_text("供水公司")  # the unit's name
    await screenshot(page, "extension")

    # The inbox keeps what is still the unit's: the red order (extension pending).
    await page.goto(base + "/portal/orders")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-number", red.number)
    await expect(rows.first.locator("td.state .badge")).to_have_text("延期待批")


async def test_an_inbox_of_200_open_orders_loads_filters_and_acknowledges(
    server_factory: Callable[..., Awaitable[ServerHandle]], page: Page, screenshot: Shoot,
) -> None:
    server = await start(server_factory)
    seed = Seeder(server)
    started = time.monotonic()
    # 20 red (3 h limit, taken 4 h ago), 40 yellow (24 h, 20 h ago), 140 green (7 days).
    plan = [("h3", 4.0)] * 20 + [("h24", 20.0)] * 40 + [("d7", 1.0)] * 140
    for i, (limit, ago) in enumerate(plan):
        await seed.take("water", f"供水诉求 {i:03d}", limit, hours_ago=ago)
    seeded = time.monotonic() - started
    base = server.http_url
    await sign_in(page, base, "water-clerk")

    began = time.monotonic()
    await page.goto(base + "/portal/orders", wait_until="load")
    rows = page.locator("#inbox tbody tr[data-number]")
    await expect(rows).to_have_count(200)
    loaded = time.monotonic() - began
    await expect(page.locator("#count-red")).to_have_text("20")
    await expect(page.locator("#count-yellow")).to_have_text("40")
    await expect(rows.first).to_have_attribute("data-light", "red")

    began = time.monotonic()
    await page.locator("#inbox-light").select_option("yellow")
    await expect(page.locator("#inbox-shown")).to_have_text("40")
    await page.locator("#inbox-filter").fill("供水诉求 03")
    await expect(page.locator("#inbox-shown")).to_have_text("10")  # 030..039, all yellow
    filtered = time.monotonic() - began
    await screenshot(page, "filtered")

    target = page.locator("#inbox tbody tr[data-number]:visible").first
    number = await target.get_attribute("data-number")
    assert number
    began = time.monotonic()
    await page.get_by_role("button", name=f"签收 {number}").click()
    await expect(page.locator("p.notice.ok")).to_contain_text(f"{number}：已签收")
    acked = time.monotonic() - began
    await expect(page.locator("#count-waiting")).to_have_text("199")
    assert (await seed.svc.get(number, actor=WATER)).dispatches[0].status == "acknowledged"
    await page.locator("#inbox-state").select_option("acknowledged")
    await expect(page.locator("#inbox-shown")).to_have_text("1")

    print(f"\nportal 200 orders: seeded {seeded:.1f} s, inbox load {loaded * 1000:.0f} ms, "
          f"filter {filtered * 1000:.0f} ms, acknowledge+reload {acked * 1000:.0f} ms")
    assert loaded < LOAD_BOUND_S
