"""The draft order for a call on SQLite and PostgreSQL, over a real aiohttp server: the
call record and the transcript in the store become a prefilled order with suggestions,
knowledge articles for 即办, and the order is accepted by the real service as is."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from asr import repo as transcripts
from asr.segments import Segment
from config.settings import HttpSettings
from hotline.bus_events import BusEvent
from hotline.db import session_factory
from knowledge import repo as knowledge
from telephony import call_repo
from workorders import draft, repo
from workorders.catalogue import load_catalogue
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, WorkOrderCreate
from workorders.service import Actor, OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parents[2] / "config" / "knowledge_seed.toml"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_names = itertools.count()
Speaker = Literal["caller", "operator"]


@dataclass
class Recorder:
    events: list[BusEvent] = field(default_factory=list)

    def publish(self, event: BusEvent) -> object:
        self.events.append(event)
        return event


@dataclass
class Desk:
    server: TestServer
    engine: AsyncEngine
    browsers: list[ClientSession] = field(default_factory=list)

    async def call(self, linkedid: str, lines: list[tuple[Speaker, str]]) -> None:
        sessions = session_factory(self.engine)
        now = datetime.now(UTC)
        async with sessions() as s:
            await call_repo.open_call(
                session=s,
                uniqueid=linkedid,
                linkedid=linkedid,
                entered_at=now - timedelta(minutes=3),
                dnis="12345",
                caller_number="13800001111",
                caller_name="郑先生",
            )
            for i, (speaker, text) in enumerate(lines):
                seg = Segment(
                    channel=speaker,
                    index=i,
                    text=text,
                    start_seconds=float(i * 5),
                    end_seconds=float(i * 5 + 4),
                    confidence=0.9,
                )
                await transcripts.add_segment(linkedid, seg, session=s)

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
        form = {"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
        async with http.post("/login", data=form) as home:
            found = _CSRF.search(await home.text())
        assert found
        return http, found.group(1)


@pytest.fixture
async def desk(engine: AsyncEngine) -> AsyncIterator[Desk]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
        await knowledge.seed_if_empty(session=s, path=SEED)
    app = create_app(
        WebDeps(
            http=HttpSettings(port=0),
            sessionmaker=sessions,
            route_tables=(draft.routes(load_presets()["zhangye"]),),
        )
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    desk = Desk(server, engine)
    try:
        yield desk
    finally:
        for http in desk.browsers:
            await http.close()
        await server.close()


async def get_json(http: ClientSession, path: str) -> tuple[int, Any]:
    async with http.get(path) as r:
        return r.status, await r.json()


async def test_a_call_becomes_a_prefilled_order_that_the_service_accepts(desk: Desk) -> None:
    await desk.call("1763780000.42", [
        ("operator", "您好，12345热线，请问有什么可以帮您"),
        ("caller", "我家在城东区和盛园小区三号楼，水管爆裂了"),
        ("caller", "楼下都淹了，赶紧派人来"),
    ])  # fmt: skip
    operator, _ = await desk.browser(Role.operator)
    status, body = await get_json(operator, "/api/calls/1763780000.42/draft")
    assert status == 200, body
    order, s = body["order"], body["suggestions"]
    assert (order["caller_number"], order["caller_name"], order["line"]) == (
        "13800001111", "郑先生", "12345")  # fmt: skip
    assert order["call_linkedid"] == "1763780000.42" and order["channel"] == "phone"
    assert order["kind"] == "help" and s["kind"]["label"] == "求助"  # not the operator's 请问
    assert order["category"] == "供水/停水漏水"
    assert s["units"]["units"] == [{"id": "water", "name": "市供水有限公司"}]
    assert s["assisting"]["units"][0]["id"] == "district.east"
    assert s["mode"]["value"] == "joint"
    assert s["urgent"] is True and order["time_limit_class"] == "immediate"
    assert s["time_limit"]["label"] == "即办"
    assert order["address"] == "城东区和盛园小区三号楼"
    assert "话务员：您好" in order["content"] and "市民：楼下都淹了" in order["content"]
    assert [line["speaker"] for line in body["transcript"]] == ["operator", "caller", "caller"]
    for part in ("kind", "category", "units", "time_limit", "address"):
        assert s[part]["reason"], part

    svc = OrderService(sessionmaker=session_factory(desk.engine), publisher=Recorder(),
                       policy=load_presets()["zhangye"])  # fmt: skip
    taken = await svc.take(WorkOrderCreate.model_validate(order),
                           [Assignment("water", DispatchRole.lead)],
                           actor=Actor("op", Role.operator))  # fmt: skip
    assert taken.status == "dispatched" and taken.call_linkedid == "1763780000.42"


async def test_an_inquiry_is_offered_the_knowledge_to_answer_it(desk: Desk) -> None:
    await desk.call("1763780000.77", [("caller", "请问社保卡丢了怎么补办，要带什么材料")])
    operator, _ = await desk.browser(Role.operator)
    status, body = await get_json(operator, "/api/calls/1763780000.77/draft")
    assert status == 200
    assert body["suggestions"]["kind"]["value"] == "inquiry"
    assert "社会保障卡" in body["articles"][0]["title"]
    assert body["suggestions"]["mode"]["value"] == "on_call"


async def test_suggest_from_text_and_refusals(desk: Desk) -> None:
    operator, csrf = await desk.browser(Role.operator)
    status, body = await get_json(operator, "/api/calls/nope/draft")
    assert status == 404 and body["error"]["code"] == "not_found"
    headers = {"X-CSRF-Token": csrf}
    req = {"text": "我要举报城北区门源路有人私搭乱建", "caller_number": "139"}
    async with operator.post("/api/drafts/suggest", json=req, headers=headers) as r:
        assert r.status == 200
        body = await r.json()
    assert body["linkedid"] is None and body["order"]["caller_number"] == "139"
    assert body["suggestions"]["kind"]["value"] == "report"
    assert body["suggestions"]["units"]["units"][0]["id"] == "urban"
    async with operator.post("/api/drafts/suggest", json={"text": ""}, headers=headers) as r:
        assert r.status == 400
    unit, _ = await desk.browser(Role.unit_handler, "water")
    status, _ = await get_json(unit, "/api/calls/1763780000.42/draft")
    assert status == 403
