"""The unit portal on a real aiohttp server (loopback) over the real work-order service,
on SQLite and PostgreSQL: a unit handler signs in, sees only their unit's orders, most
urgent first, and acknowledges, replies, returns with a reason and asks for an extension
through the HTML forms (with CSRF); another unit's order is not found."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from config.settings import HttpSettings
from hotline.bus_events import BusEvent
from hotline.db import session_factory
from tests.fixtures.server import ServerHandle
from workorders import portal, repo
from workorders.catalogue import load_catalogue
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate, WorkOrderPublic
from workorders.service import Actor, OrderService
from workorders.sla import CHINA, load_presets

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
PASSWORD = "correct horse battery"
OPERATOR = Actor("op1", Role.operator)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ORDER = re.compile(r'href="/portal/orders/([0-9A-Za-z-]+)"')
_names = itertools.count()


@dataclass
class Recorder:
    events: list[BusEvent] = field(default_factory=list)

    def publish(self, event: BusEvent) -> object:
        self.events.append(event)
        return event


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Portal:
    server: TestServer
    engine: AsyncEngine
    svc: OrderService
    clock: Clock
    browsers: list[ClientSession] = field(default_factory=list)

    async def take(self, unit: str, title: str, hours_ago: float = 0) -> WorkOrderPublic:
        self.clock.now = T0 - timedelta(hours=hours_ago)
        try:
            draft = WorkOrderCreate(
                kind=OrderKind.help,
                category="供水/停水漏水",
                title=title,
                content="市民反映水管爆裂",
                time_limit_class="h24",
                caller_number="13800001111",
            )
            return await self.svc.take(draft, [Assignment(unit, DispatchRole.lead)], actor=OPERATOR)
        finally:
            self.clock.now = T0

    async def browser(self, role: Role, unit: str | None = None) -> tuple[ClientSession, str]:
        name = f"{role.value}-{next(_names)}"
        async with session_factory(self.engine)() as s:
            await accounts.create_user(
                session=s, username=name, password=PASSWORD, role=role, unit_id=unit
            )
        http = ClientSession(base_url=self.server.make_url(""), cookie_jar=CookieJar(unsafe=True))
        self.browsers.append(http)
        async with http.get("/login") as page:
            token = _CSRF.search(await page.text())
        assert token
        form = {
            "username": name,
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "/portal/orders",
        }
        async with http.post("/login", data=form) as home:
            text = await home.text()
        found = _CSRF.search(text)
        assert found, text
        return http, found.group(1)


@pytest.fixture
async def lab(engine: AsyncEngine) -> AsyncIterator[Portal]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    clock = Clock()
    svc = OrderService(
        sessionmaker=sessions, publisher=Recorder(), policy=load_presets()["zhangye"], clock=clock
    )
    app = create_app(
        WebDeps(
            http=HttpSettings(port=0),
            sessionmaker=sessions,
            route_tables=(portal.routes(svc, clock=clock),),
        )
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    lab = Portal(server, engine, svc, clock)
    try:
        yield lab
    finally:
        for http in lab.browsers:
            await http.close()
        await server.close()


async def post(http: ClientSession, path: str, csrf: str | None, **fields: str) -> tuple[int, str]:
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    async with http.post(path, data=data, allow_redirects=False) as r:
        return r.status, (r.headers.get("Location") or await r.text())


async def test_a_unit_works_its_orders_and_only_its_own(lab: Portal) -> None:
    green = await lab.take("water", "绿灯工单", hours_ago=1)
    red = await lab.take("water", "红灯工单", hours_ago=30)  # 24 h limit: over
    yellow = await lab.take("water", "黄灯工单", hours_ago=20)  # past 80 %
    theirs = await lab.take("ecology", "别人的工单")
    water, csrf = await lab.browser(Role.unit_handler, "water")

    async with water.get("/portal/orders") as r:
        assert r.status == 200
        inbox = await r.text()
    assert _ORDER.findall(inbox) == [red.number, yellow.number, green.number]
    assert theirs.number not in inbox and "别人的工单" not in inbox
    assert 'class="light-red"' in inbox and 'class="light-yellow"' in inbox
    assert "超时 6小时0分" in inbox and "待签收" in inbox

    # Another unit's order: not found, to read and to act on.
    async with water.get(f"/portal/orders/{theirs.number}") as r:
        assert r.status == 404
    status, _ = await post(water, f"/portal/orders/{theirs.number}/acknowledge", csrf)
    assert status == 404
    # A form without the session's CSRF token is refused.
    status, _ = await post(water, f"/portal/orders/{green.number}/acknowledge", None)
    assert status == 403

    # 签收, then 回复.
    status, location = await post(water, f"/portal/orders/{green.number}/acknowledge", csrf)
    assert (status, location) == (303, f"/portal/orders/{green.number}?done=acknowledged")
    async with water.get(location) as r:
        detail = await r.text()
    assert "已签收。" in detail and "办理中" in detail and "签收" in detail
    assert 'name="text"' in detail  # the reply form is offered now
    status, _ = await post(water, f"/portal/orders/{green.number}/acknowledge", csrf)
    assert status == 409  # twice: the lifecycle refuses
    status, page = await post(water, f"/portal/orders/{green.number}/reply", csrf, text="  ")
    assert status == 400 and "请填写办理结果" in page
    status, _ = await post(
        water, f"/portal/orders/{green.number}/reply", csrf, text="已派维修人员更换水管，恢复供水。"
    )
    assert status == 303
    water_actor = Actor("x", Role.unit_handler, "water")
    done = await lab.svc.get(green.number, actor=water_actor)
    assert done.status == "replied"
    assert done.dispatches[0].reply == "已派维修人员更换水管，恢复供水。"

    # 退单 needs a reason.
    status, page = await post(water, f"/portal/orders/{yellow.number}/return", csrf, reason="")
    assert status == 400 and "退单必须填写理由" in page
    status, _ = await post(
        water,
        f"/portal/orders/{yellow.number}/return",
        csrf,
        reason="该小区为自备水源，不属于供水公司职责",
    )
    assert status == 303
    assert (await lab.svc.get(yellow.number, actor=OPERATOR)).status == "returned"

    # 延期申请: a time in the city's local time, later than now.
    until = (T0 + timedelta(days=2)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    status, page = await post(
        water,
        f"/portal/orders/{red.number}/extension",
        csrf,
        until="2020-01-01T08:00",
        reason="需要协调",
    )
    assert status == 400 and "晚于现在" in page
    status, _ = await post(
        water,
        f"/portal/orders/{red.number}/extension",
        csrf,
        until=until,
        reason="需协调施工队，材料未到",
    )
    assert status == 303
    async with water.get(f"/portal/orders/{red.number}") as r:
        detail = await r.text()
    assert "已申请延期至" in detail and "需协调施工队" in detail
    assert 'action="/portal/orders/' + red.number + '/extension"' not in detail  # one pending
    history = await lab.svc.history(red.number, actor=OPERATOR)
    assert [e.step for e in history][-1] == "ask_extension"

    # The inbox now holds what is still this unit's to do: red (extension pending).
    async with water.get("/portal/orders") as r:
        assert _ORDER.findall(await r.text()) == [red.number]
    async with water.get("/portal/orders?all=1") as r:
        everything = _ORDER.findall(await r.text())
    assert set(everything) == {red.number, yellow.number, green.number}


async def test_other_roles_may_not_use_the_portal(lab: Portal) -> None:
    order = await lab.take("water", "工单")
    operator, csrf = await lab.browser(Role.operator)
    async with operator.get("/portal/orders") as r:
        assert r.status == 403
    status, _ = await post(operator, f"/portal/orders/{order.number}/acknowledge", csrf)
    assert status == 403
    anonymous = ClientSession(base_url=lab.server.make_url(""))
    lab.browsers.append(anonymous)
    async with anonymous.get("/portal/orders", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/login")


async def test_the_whole_server_serves_the_portal_drafts_and_seeded_knowledge(
    server_factory: Callable[..., Awaitable[ServerHandle]],
) -> None:
    """The features as `hotline.features.BUILDERS` wires them, in the real server."""
    server = await server_factory()
    async with server.core.sessionmaker() as s:
        for name, role, unit in (("w1", Role.unit_handler, "water"), ("op1", Role.operator, None)):
            await accounts.create_user(session=s, username=name, password=PASSWORD, role=role,
                                       unit_id=unit)  # fmt: skip
    async with ClientSession(base_url=server.http_url, cookie_jar=CookieJar(unsafe=True)) as h:
        async with h.get("/login") as page:
            token = _CSRF.search(await page.text())
        assert token
        form = {"username": "w1", "password": PASSWORD, "csrf_token": token.group(1),
                "next": "/portal/orders"}  # fmt: skip
        async with h.post("/login", data=form) as inbox:
            assert inbox.status == 200
            assert "市供水有限公司" in await inbox.text()  # the catalogue was loaded
        # The knowledge base is seeded by a start-up task: poll until it is there.
        async with asyncio.timeout(10):
            while True:
                async with h.get("/api/knowledge", params={"q": "社保卡补办"}) as r:
                    assert r.status == 200
                    hits = (await r.json())["hits"]
                if hits:
                    break
                await asyncio.sleep(0.05)
        assert "社会保障卡" in hits[0]["title"]
        async with h.get("/api/calls/nope/draft") as r:
            assert r.status == 403  # a unit handler does not write drafts
