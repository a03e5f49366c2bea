"""The desk's shared lists and guards, in headless Chromium against the whole server.

No phone call is needed (a screen pop is published on the bus as the operators feature
would): the server runs every feature with missed-call callbacks in auto mode, calling
hours closed (so nothing is dialled) and misses older than an hour left to people.

- 漏接回拨: each task shows the dialer's state, outcome and reason in Chinese (worded by
  the server); a task the dialer hands back (too old) appears by push, without a reload;
  我来回拨 (keyboard) takes a waiting one.
- The pop shows the caller's orders still being worked (重复来电), with their lights.
- One order per call: an order taken for this call elsewhere (another tab) is shown
  instead of an error; 另建一单 takes a second one on purpose.
- My calls / my orders come filtered by the server.
- A supervisor on /desk gets every seat's pops over the socket but shows none of them.
Screenshots: callbacks, pop, exists, supervisor.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select
from sqlmodel import col

from accounts import repo as accounts
from accounts.roles import Role
from hotline.bus_events import ScreenPop
from telephony import call_repo
from tests.e2e import desk_live as live
from tests.fixtures.server import ServerHandle
from workorders.models import WorkOrder

pytestmark = pytest.mark.e2e

EXT = "1987"  # the operator's account extension: not seated, no phone needed
OPERATOR, SUPERVISOR = "desk-follow-op", "desk-follow-boss"
PASSWORD = "desk-follow-Passw0rd-42"
CALLER, WAITING, OLD = "13800061234", "13900002001", "13900002002"
UNIT = "market"
Shoot = Callable[[Page, str], Awaitable[Path]]
_calls = itertools.count(1)


def closed_hours() -> dict[str, str]:
    """An hour of calling time that is not now (Asia/Shanghai): nothing gets dialled."""
    start = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=3)).hour
    end = f"{start + 1:02d}:00:00" if start < 23 else "23:59:00"
    return {"calling_hours_start": f"{start:02d}:00:00", "calling_hours_end": end}


@contextlib.asynccontextmanager
async def other_page(page: Page) -> AsyncIterator[Page]:
    """A page in a fresh context (own cookies) of the same browser; JS errors fail it."""
    browser = page.context.browser
    assert browser is not None
    context: BrowserContext = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN")  # fmt: skip
    context.set_default_timeout(15_000)
    errors: list[str] = []
    try:
        tab = await context.new_page()
        tab.on("pageerror", lambda err: errors.append(str(err)))
        yield tab
    finally:
        await context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


async def _seed(server: ServerHandle) -> str:
    """The two users and a waiting callback task; the operator's API token."""
    async with server.core.sessionmaker() as s:
        op = await accounts.create_user(session=s, username=OPERATOR, password=PASSWORD,
                                        role=Role.operator, sip_extension=EXT,
                                        display_name="王芳")  # fmt: skip
        await accounts.create_user(session=s, username=SUPERVISOR, password=PASSWORD,
                                   role=Role.supervisor, display_name="赵班长")  # fmt: skip
        assert op.id is not None
        token = await accounts.create_api_token(session=s, user_id=op.id, name="tab")
        await call_repo.note_missed_call(session=s, number=WAITING, line="12345",
                                         at=datetime.now(UTC))  # fmt: skip
    return token


def order_body(linkedid: str, title: str) -> dict[str, Any]:
    return {"order": {"kind": "complaint", "category": "市场监管/消费者权益", "title": title,
                      "content": title, "caller_number": CALLER, "call_linkedid": linkedid,
                      "channel": "phone"},
            "dispatch": [{"unit_id": UNIT, "role": "lead"}]}  # fmt: skip


async def _take(http: ClientSession, linkedid: str, title: str) -> str:
    async with http.post("/api/orders", json=order_body(linkedid, title)) as r:
        body = await r.json()
        assert r.status == 201, body
        return str(body["number"])


async def test_desk_callbacks_repeat_orders_one_order_per_call_and_a_supervisor(
    server_factory: Callable[..., Awaitable[ServerHandle]], page: Page, screenshot: Shoot
) -> None:
    server = await server_factory(
        calls={"callback_mode": "auto", "callback_max_age_hours": 1,
               "callback_poll_seconds": 0.5, "callback_prompt": ""},
        ivr=closed_hours(),
    )  # fmt: skip
    token = await _seed(server)
    base = server.http_url
    bearer = {"Authorization": f"Bearer {token}"}
    async with ClientSession(base_url=base, headers=bearer) as http:
        earlier = await _take(http, f"desk-follow-earlier-{next(_calls)}", "商场电梯故障")

        await live.sign_in(page, base, OPERATOR, PASSWORD, "/desk")
        await page.wait_for_function("() => window.deskStats.hello")
        rows = page.locator("#callback-list li")
        waiting = rows.filter(has_text=WAITING)
        await expect(waiting).to_contain_text("等待自动回拨")
        await expect(waiting).to_contain_text("排队等待自动回拨")
        await expect(waiting.get_by_role("button", name=f"我来回拨 {WAITING}")).to_be_visible()

        # A miss two hours old: the dialer hands it to people; the desk hears it by push.
        async with server.core.sessionmaker() as s:
            await call_repo.note_missed_call(session=s, number=OLD, line="12345",
                                             at=datetime.now(UTC) - timedelta(hours=2))
        old = rows.filter(has_text=OLD)
        await expect(old).to_contain_text("转人工回拨", timeout=20_000)
        await expect(old).to_contain_text("漏接时间过久，不再自动回拨，请人工回拨")
        assert await page.evaluate("window.deskStats.callbackEvents") >= 1
        await screenshot(page, "callbacks")

        # 我来回拨 by keyboard: Alt+C to the list's first button, Tab to this one, Enter.
        await page.keyboard.press("Alt+c")
        take = waiting.get_by_role("button", name=f"我来回拨 {WAITING}")
        for _ in range(6):
            if await take.evaluate("b => b === document.activeElement"):
                break
            await page.keyboard.press("Tab")
        await expect(take).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(waiting).to_contain_text(f"{OPERATOR} 已认领，人工回拨")
        await expect(waiting.get_by_role("button", name=f"我来回拨 {WAITING}")).to_have_count(0)
        await expect(page.locator("#desk-error")).to_be_empty()

        async with other_page(page) as boss:
            await live.sign_in(boss, base, SUPERVISOR, PASSWORD, "/desk")
            await boss.wait_for_function("() => window.deskStats.hello")

            # The operator's phone rings (as the operators feature announces it).
            call_id = f"desk-follow-{next(_calls)}"
            server.core.bus.publish(ScreenPop(extension=EXT, call_id=call_id,
                                              caller_number=CALLER, caller_name="张伟",
                                              dnis="12345"))  # fmt: skip
            await expect(page.locator("#pop-number")).to_have_text(CALLER)
            repeat = page.locator("#pop-repeat")
            await expect(repeat).to_be_visible()
            await expect(page.locator("#pop-repeat-count")).to_have_text("1")
            await expect(page.locator("#pop-orders")).to_contain_text(earlier)
            await expect(page.locator("#pop-orders")).to_contain_text("商场电梯故障")
            await expect(page.locator("#pop-orders .light.green")).to_have_text("绿灯")
            await screenshot(page, "pop")

            # The supervisor's socket carried that pop; their desk shows none of it.
            await boss.wait_for_function("() => window.deskStats.otherSeats >= 1")
            await expect(boss.locator("#pop")).to_be_hidden()
            await expect(boss.locator("#f-title")).to_be_disabled()
            await expect(boss.locator("#seat-state")).to_have_attribute("data-state",
                                                                        "logged_out")
            await screenshot(boss, "supervisor")

        # The draft (no transcript: the operator types), the unit chosen by keyboard.
        await page.locator("#f-title").focus()
        await page.keyboard.type("商场电梯再次故障")
        await page.locator("#f-unit").select_option(UNIT)
        # Another tab took this call's order a moment ago.
        first = await _take(http, call_id, "另一标签页的工单")
        await page.keyboard.press("Alt+d")
        exists = page.locator("#draft-exists")
        await expect(exists).to_be_visible()
        await expect(exists).to_contain_text(f"本通话已有工单 {first}")
        await expect(exists).to_contain_text("另一标签页的工单")
        await expect(page.locator("#desk-error")).to_be_empty()
        await expect(page.locator("#btn-another")).to_be_focused()
        await screenshot(page, "exists")
        # A second, unrelated request in the same call: 另建一单 on purpose.
        await page.keyboard.press("Enter")
        notice = page.locator("#desk-notice")
        await expect(notice).to_contain_text("已派发至")
        second = await notice.get_attribute("data-order")
        assert second and second != first
        await expect(exists).to_be_hidden()
        # My orders: the server's list of this operator's (all three were theirs).
        orders = page.locator("#order-list")
        for number in (earlier, first, second):
            await expect(orders).to_contain_text(number)

    async with server.core.sessionmaker() as s:
        taken = (await s.execute(select(WorkOrder).where(
            col(WorkOrder.call_linkedid) == call_id))).scalars().all()  # fmt: skip
    assert sorted(o.number for o in taken) == sorted([first, second])
