"""One citizen's request through every page, in headless Chromium against the whole server.

The server runs in-process with every feature (server_factory with the default
builders, transcription on the Korean Vosk test model). Three people are signed in, each
in their own browser context: the operator on /desk (seat signed in), the supervisor on
/wallboard, the handler of 市市场监督管理局 on /portal/orders.

A sipp citizen dials 12345 and speaks; the operator's baresip answers. The desk shows
the pop and the live transcript; the draft suggests the unit from the catalogue. When
the call has ended the operator dispatches with Alt+D alone. The wallboard, without a
reload, counts the answered call and the open order; the unit handler opens the inbox,
finds the order (with its deadline light) and acknowledges it by keyboard; the store
says acknowledged. Screenshots: desk, portal, wallboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from accounts import repo as accounts
from accounts.roles import Role
from lab.pbx import Pbx
from lab.ports import free_tcp_port
from tests.e2e import desk_live as live
from tests.e2e.desk_live import AUDIO
from tests.fixtures.server import ServerHandle
from workorders import repo as orders
from workorders.models import ResponsibilityEntry

pytestmark = pytest.mark.e2e

CLIP = "zeroth_104_003_0294.wav"  # ... 소비자 에게 ... 공정을 거쳐야 한다
CALLER = "13800077777"
UNIT = "market"
PASSWORD = "journey-e2e-Passw0rd-42"
OPERATOR, HANDLER, SUPERVISOR = "journey-op", "journey-unit", "journey-boss"
Shoot = Callable[[Page, str], Awaitable[Path]]


@contextlib.asynccontextmanager
async def other_page(page: Page) -> AsyncIterator[Page]:
    """A page in a fresh context (own cookies) of the same browser; JS errors fail it."""
    browser = page.context.browser
    assert browser is not None
    context: BrowserContext = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    errors: list[str] = []
    try:
        tab = await context.new_page()
        tab.on("pageerror", lambda err: errors.append(str(err)))
        yield tab
    finally:
        await context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


async def _seed(server: ServerHandle, extension: str) -> None:
    async with server.core.sessionmaker() as s:
        for username, role, extra in (
            (OPERATOR, Role.operator, {"sip_extension": extension, "display_name": "王芳"}),
            (HANDLER, Role.unit_handler, {"unit_id": UNIT, "display_name": "陈静"}),
            (SUPERVISOR, Role.supervisor, {"display_name": "赵班长"}),
        ):
            await accounts.create_user(session=s, username=username, password=PASSWORD,
                                       role=role, **extra)
        s.add(ResponsibilityEntry(category="市场监管/消费者权益", unit_id=UNIT,
                                  keywords="소비자 공정 커피 차례"))
        await s.commit()


async def test_a_call_becomes_an_order_the_unit_acknowledges_and_the_floor_sees(
    pbx: Pbx,
    taps: Callable[[int], None],
    server_factory: Callable[..., Awaitable[ServerHandle]],
    citizen_factory: Any,
    softphone_factory: Any,
    page: Page,
    screenshot: Shoot,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    port = free_tcp_port()
    taps(port)
    server = await server_factory(asr=live.asr_settings(port),
                                  operators={"wrap_up_seconds": 120})
    wav = live.padded(AUDIO / CLIP, tmp_path / "citizen.wav", 1.5)
    await live.listening(port)
    phone = await asyncio.to_thread(softphone_factory, pbx, 0)
    ext = phone.operator.extension
    await live.operator_ready(server, ext)
    await _seed(server, ext)
    base = server.http_url
    desk = page
    state = desk.locator("#seat-state")
    try:
        async with other_page(desk) as board, other_page(desk) as portal:
            await live.sign_in(board, base, SUPERVISOR, PASSWORD, "/wallboard")
            await expect(board.locator("#wb-link")).to_have_attribute("data-state", "live")
            await expect(board.locator("#wb-open")).to_have_text("0")
            await board.evaluate("window.__noReload = true")  # from here on: push only
            await live.sign_in(portal, base, HANDLER, PASSWORD, "/portal/orders")
            await live.sign_in(desk, base, OPERATOR, PASSWORD, "/desk")
            await desk.locator("#seat-ext").focus()
            await desk.keyboard.press("Tab")  # 签入
            await desk.keyboard.press("Enter")
            await expect(state).to_have_attribute("data-state", "ready")

            citizen = citizen_factory(pbx, number="12345", caller=CALLER, display_name="周敏",
                                      wav=wav, hangup_after=10)
            citizen.start()
            await expect(desk.locator("#pop-number")).to_have_text(CALLER, timeout=20_000)
            await expect(board.locator("#wb-answered")).to_have_text("1", timeout=20_000)
            await expect(board.locator(f"#wb-seats li[data-ext='{ext}']")).to_have_attribute(
                "data-state", "talking")
            await expect(desk.locator("#transcript li.caller.final").first).to_be_visible(
                timeout=30_000)
            await expect(desk.locator("#f-unit")).to_have_value(UNIT, timeout=20_000)
            await expect(state).to_have_attribute("data-state", "wrap_up", timeout=25_000)
            assert (await asyncio.to_thread(citizen.wait, 20)).exit_code == 0
            await screenshot(desk, "desk")

            await desk.keyboard.press("Alt+d")  # the one action, no mouse
            notice = desk.locator("#desk-notice")
            await expect(notice).to_contain_text("已派发至 市市场监督管理局")
            number = await notice.get_attribute("data-order")
            assert number
            await expect(state).to_have_attribute("data-state", "ready")

            # The floor sees the open order without a reload.
            await expect(board.locator("#wb-open")).to_have_text("1", timeout=20_000)
            assert await board.evaluate("window.__noReload === true")

            # The unit opens its inbox: the order is there; 签收 by keyboard.
            await portal.reload()
            row = portal.locator(f"#inbox tr[data-number='{number}']")
            await expect(row).to_be_visible()
            await expect(row).to_have_attribute("data-light", "green")
            await expect(row).to_contain_text("消费者权益")
            await portal.get_by_role("button", name=f"签收 {number}").focus()
            await portal.keyboard.press("Enter")
            await expect(portal.locator("p.notice.ok")).to_contain_text(f"{number}：已签收")
            await screenshot(portal, "portal")
            await expect(board.locator("#wb-open")).to_have_text("1")  # still being handled
            await screenshot(board, "wallboard")
    finally:
        pbx.cli(f"queue unpause member PJSIP/op{ext}")  # the shared PBX stays usable

    async with server.core.sessionmaker() as s:
        row_ = await orders.load_order(session=s, number=number)
        assert row_ is not None and row_.id is not None
        dispatches = await orders.load_dispatches(session=s, order_id=row_.id)
    assert (row_.status, row_.lead_unit_id, row_.operator) == ("acknowledged", UNIT, OPERATOR)
    assert row_.call_linkedid and row_.caller_number == CALLER
    assert [(d.unit_id, d.status) for d in dispatches] == [(UNIT, "acknowledged")]
    print(f"\njourney: call → desk → dispatch → unit acknowledges → wallboard, "
          f"{time.monotonic() - started:.1f} s")
