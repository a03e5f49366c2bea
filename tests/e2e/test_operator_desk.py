"""The operator desk in a real headless Chromium, against the real lab Asterisk.

The server runs in-process (server_factory) with the PBX connection and the operators
feature; an operator user for extension 1001-style seat (a registered baresip that
answers by itself) signs in at /login (the Chinese form, by keyboard), lands on /desk,
signs the seat in with the keyboard (Tab to 签入, Enter) and is 就绪. A sipp citizen
(张伟, 13800138000) dials 12345; the page shows the screen pop from the WebSocket: the
line dialled, the number, the name and the caller's two earlier calls; the seat goes
振铃 then 通话中 as the softphone answers. Screenshots: login, desk ready, desk with pop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from accounts import repo
from accounts.roles import Role
from hotline.pbx_watch import build as pbx_connection
from lab.baresip import Softphone
from lab.pbx import Pbx
from lab.sipp import Citizen
from telephony import call_repo
from telephony.operator_service import build as operators
from tests.fixtures.server import ServerHandle

pytestmark = pytest.mark.e2e
USERNAME = "desk-op"
PASSWORD = "desk-e2e-Passw0rd-42"
CALLER = "13800138000"
Shoot = Callable[[Page, str], Awaitable[Path]]


async def test_operator_signs_in_and_sees_the_screen_pop_in_chromium(
    server_factory: Callable[..., Awaitable[ServerHandle]],
    pbx: Pbx,
    softphone_factory: Callable[..., Softphone],
    citizen_factory: Callable[..., Citizen],
    page: Page,
    screenshot: Shoot,
) -> None:
    started = time.monotonic()
    server = await server_factory(builders=(pbx_connection, operators),
                                  operators={"wrap_up_seconds": 30})
    phone = softphone_factory(pbx, 0)
    ext = phone.operator.extension
    now = datetime.now(UTC)
    async with server.core.sessionmaker() as session:
        await repo.create_user(session=session, username=USERNAME, password=PASSWORD,
                               role=Role.operator, display_name="李娜", sip_extension=ext)
        for i, outcome in enumerate(("answered", "abandoned")):
            entered = now - timedelta(days=i + 1)
            await call_repo.open_call(session=session, uniqueid=f"e2e-old-{i}",
                                      linkedid=f"e2e-old-{i}", dnis="12345",
                                      entered_at=entered, caller_number=CALLER)
            await call_repo.update_call(session=session, uniqueid=f"e2e-old-{i}",
                                        outcome=outcome, ended_at=entered + timedelta(minutes=3))
    base = server.http_url
    try:
        # /desk without a session sends the browser to the Chinese login form.
        await page.goto(base + "/desk")
        await expect(page).to_have_url(f"{base}/login?next=/desk")
        await expect(page.locator("h1")).to_have_text("登录")
        await expect(page).to_have_title("登录 · 12345 热线")
        await screenshot(page, "login")
        # Keyboard only: the username field has autofocus.
        await expect(page.locator("input[name=username]")).to_be_focused()
        await page.keyboard.type(USERNAME)
        await page.keyboard.press("Tab")
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(base + "/desk")
        await expect(page.locator("#seat-ext")).to_have_value(ext)
        state = page.locator("#seat-state")
        # The lab PBX has every operator as a static queue member: Asterisk says ready.
        await expect(state).to_have_attribute("data-state", "ready")

        # Keyboard: from the extension field, Tab to 签入 and Enter (binds the seat).
        await page.locator("#seat-ext").focus()
        await page.keyboard.press("Tab")
        await expect(page.locator("button[data-act=login]")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(state).to_have_attribute("data-state", "ready")
        # Pause with a reason by keyboard: the reason select, then 示忙.
        await page.locator("#pause-reason").focus()
        await page.keyboard.press("ArrowDown")  # 小休 -> 用餐
        await expect(page.locator("#pause-reason")).to_have_value("meal")
        await page.keyboard.press("Tab")
        await expect(page.locator("button[data-act=pause]")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(state).to_have_attribute("data-state", "paused")
        await expect(state).to_have_text("示忙（用餐）")
        await screenshot(page, "desk-paused")
        # Back to 就绪 with a click.
        await page.get_by_role("button", name="就绪", exact=True).click()
        await expect(state).to_have_attribute("data-state", "ready")
        await expect(state).to_have_text("就绪")
        await expect(page.locator("#desk-error")).to_be_empty()
        await expect(page.locator("#pop")).to_be_hidden()
        await screenshot(page, "desk-ready")

        citizen = citizen_factory(pbx, number="12345", caller=CALLER, display_name="张伟",
                                  hangup_after=4)
        citizen.start()
        pop = page.locator("#pop")
        await expect(pop).to_be_visible(timeout=20_000)
        await expect(page.locator("#pop-number")).to_have_text(CALLER)
        await expect(page.locator("#pop-name")).to_have_text("张伟")
        await expect(page.locator("#pop-dnis")).to_have_text("12345")
        await expect(page.locator("#pop-total")).to_have_text("2")
        await expect(page.locator("#pop-answered")).to_have_text("1")
        await expect(page.locator("#pop-abandoned")).to_have_text("1")
        history = page.locator("#pop-history li")
        await expect(history).to_have_count(2)
        await expect(history.first).to_contain_text("12345")
        await expect(history.first).to_contain_text("已接通")
        await expect(history.last).to_contain_text("放弃")
        # The softphone answers: the seat follows Asterisk to 通话中.
        await expect(state).to_have_attribute("data-state", "talking", timeout=15_000)
        await expect(state).to_have_text("通话中")
        await expect(page.locator("#pop-line")).to_contain_text("热线")  # the catalogue's line
        await screenshot(page, "desk-pop")
        print(f"\noperator desk e2e: pop shown {time.monotonic() - started:.1f} s after start")

        await expect(state).to_have_attribute("data-state", "wrap_up", timeout=20_000)
        await expect(state).to_have_text("话后整理")
        assert citizen.wait(15).exit_code == 0
    finally:
        pbx.cli(f"queue unpause member PJSIP/op{ext}")  # the shared PBX stays usable
