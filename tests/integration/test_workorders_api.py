"""The work-order REST API on a real loopback server, on SQLite and PostgreSQL: roles on
every route, take-and-dispatch in one request, unit isolation, clear 4xx, OpenAPI; and
the whole feature in the real server (catalogue loaded, steps on the real bus)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from config.settings import HttpSettings
from hotline.bus_events import BusEvent, OrderStep
from hotline.db import session_factory
from tests.fixtures.server import ServerHandle
from workorders import api, repo
from workorders.catalogue import load_catalogue
from workorders.feature import build as workorders_feature
from workorders.service import OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration
_names = itertools.count()


@dataclass
class Recorder:
    events: list[BusEvent] = field(default_factory=list)

    def publish(self, event: BusEvent) -> object:
        self.events.append(event)
        return event


@dataclass
class Lab:
    server: TestServer
    engine: AsyncEngine
    clients: list[ClientSession] = field(default_factory=list)

    async def client(self, role: Role, unit_id: str | None = None) -> ClientSession:
        """A bearer-token client for a new user of `role` (no cookies, so no CSRF)."""
        async with session_factory(self.engine)() as s:
            user = await accounts.create_user(
                session=s,
                username=f"{role.value}-{next(_names)}",
                password="x" * 12,
                role=role,
                unit_id=unit_id,
            )
            assert user.id is not None
            token = await accounts.create_api_token(session=s, user_id=user.id, name="test")
        http = ClientSession(
            base_url=self.server.make_url(""), headers={"Authorization": f"Bearer {token}"}
        )
        self.clients.append(http)
        return http


@pytest.fixture
async def lab(engine: AsyncEngine) -> AsyncIterator[Lab]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    svc = OrderService(sessionmaker=sessions, publisher=Recorder(), policy=load_presets()["bozhou"])
    app = create_app(
        WebDeps(http=HttpSettings(port=0), sessionmaker=sessions, route_tables=(api.routes(svc),))
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    lab = Lab(server=server, engine=engine)
    try:
        yield lab
    finally:
        for http in lab.clients:
            await http.close()
        await server.close()


def take_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order": {
            "kind": "complaint",
            "category": "人社/欠薪",
            "title": "工地拖欠农民工工资",
            "content": "某工地拖欠三个月工资",
            "caller_number": "13900002222",
            "call_linkedid": f"1763780001.{next(_names)}",  # one order per call
            "time_limit_class": "wd3",
            "call_ended_at": (datetime.now(UTC) - timedelta(seconds=12)).isoformat(),
        },
        "dispatch": [{"unit_id": "hrss", "role": "lead"}],
    }
    body.update(extra)
    return body


async def post(http: ClientSession, path: str, body: Any = None) -> tuple[int, Any]:
    async with http.post(path, json=body if body is not None else {}) as r:
        return r.status, await r.json()


async def get(http: ClientSession, path: str) -> tuple[int, Any]:
    async with http.get(path) as r:
        return r.status, await r.json()


async def test_take_dispatch_and_the_unit_works_it(lab: Lab) -> None:
    op = await lab.client(Role.operator)
    status, order = await post(op, "/api/orders", take_body())
    assert status == 201, order
    n = order["number"]
    assert (order["status"], order["mode"], order["lead_unit_id"]) == (
        "dispatched",
        "direct",
        "hrss",
    )
    assert 12 <= order["dispatch_seconds"] < 60
    hrss = await lab.client(Role.unit_handler, "hrss")
    assert (await post(hrss, f"/api/orders/{n}/acknowledge"))[0] == 200
    status, replied = await post(hrss, f"/api/orders/{n}/reply", {"text": "已督促企业支付"})
    assert (status, replied["status"]) == (200, "replied")
    boss = await lab.client(Role.supervisor)
    assert (await post(boss, f"/api/orders/{n}/review", {"note": "ok"}))[1]["status"] == "reviewed"
    status, history = await get(boss, f"/api/orders/{n}/history")
    assert [e["step"] for e in history["events"]] == [
        "accept",
        "dispatch",
        "acknowledge",
        "reply",
        "review",
    ]


async def test_every_mode_in_one_request(lab: Lab) -> None:
    op = await lab.client(Role.operator)
    joint = take_body(
        dispatch=[{"unit_id": "housing", "role": "lead"}, {"unit_id": "urban", "role": "assisting"}]
    )
    parallel = take_body(
        dispatch=[
            {"unit_id": "housing", "role": "parallel", "part": "核查"},
            {"unit_id": "natural_resources", "role": "parallel", "part": "登记"},
        ]
    )
    on_call = take_body(dispatch=[], on_call=True, note="按政策答复")
    results = await asyncio.gather(
        *(post(op, "/api/orders", b) for b in (joint, parallel, on_call))
    )
    assert [(s, o["mode"], o["status"]) for s, o in results] == [
        (201, "joint", "dispatched"),
        (201, "parallel", "dispatched"),
        (201, "on_call", "archived"),
    ]
    assert len({o["number"] for _, o in results}) == 3
    # another channel (a department's system, by token) creates; dispatch comes later
    status, accepted = await post(op, "/api/orders", take_body(dispatch=[]))
    assert (status, accepted["status"]) == (201, "accepted")
    n = accepted["number"]
    status, dispatched = await post(
        op, f"/api/orders/{n}/dispatch", {"dispatch": [{"unit_id": "hrss"}]}
    )
    assert (status, dispatched["status"]) == (200, "dispatched")


async def test_bad_bodies_get_a_clear_400_and_illegal_steps_a_409(lab: Lab) -> None:
    op = await lab.client(Role.operator)
    cases = [
        (take_body(dispatch=[{"unit_id": "nowhere"}]), "nowhere"),
        (take_body(on_call=True), "either dispatched or resolved"),
        ({"order": {"kind": "gossip", "title": "x"}}, "order.kind"),
        ({"order": {**take_body()["order"], "time_limit_class": "h3"}}, "h3"),
        (take_body(dispatch=[{"unit_id": "hrss", "role": "assisting"}]), "exactly one lead"),
    ]
    for body, message in cases:
        status, error = await post(op, "/api/orders", body)
        assert status == 400, error
        assert message in error["error"]["message"]
    _, order = await post(op, "/api/orders", take_body())
    boss = await lab.client(Role.supervisor)
    status, error = await post(boss, f"/api/orders/{order['number']}/archive")
    assert (status, error["error"]["code"]) == (409, "step_refused")
    assert "cannot archive while it is dispatched" in error["error"]["message"]
    status, error = await post(boss, f"/api/orders/{order['number']}/reopen", {"reason": ""})
    assert status == 400 and "reason" in error["error"]["message"]


async def test_a_unit_cannot_read_or_change_another_units_order(lab: Lab) -> None:
    op = await lab.client(Role.operator)
    _, theirs = await post(op, "/api/orders", take_body())
    n = theirs["number"]
    water = await lab.client(Role.unit_handler, "water")
    assert (await get(water, f"/api/orders/{n}"))[0] == 404
    assert (await get(water, f"/api/orders/{n}/history"))[0] == 404
    for action, body in (
        ("acknowledge", None),
        ("reply", {"text": "x"}),
        ("return", {"reason": "x"}),
    ):
        assert (await post(water, f"/api/orders/{n}/{action}", body))[0] == 404
    assert (await get(water, "/api/orders"))[1]["orders"] == []
    # centre actions are refused by role before anything else
    assert (await post(water, f"/api/orders/{n}/review", {}))[0] == 403
    assert (await post(water, "/api/orders", take_body()))[0] == 403
    assert (await get(water, "/api/rates?start=2026-01-01T00:00Z&end=2027-01-01T00:00Z"))[0] == 403
    hrss = await lab.client(Role.unit_handler, "hrss")
    assert (await get(hrss, f"/api/orders/{n}"))[0] == 200


async def test_return_extension_rates_and_openapi(lab: Lab) -> None:
    op = await lab.client(Role.operator)
    boss = await lab.client(Role.supervisor)
    hrss = await lab.client(Role.unit_handler, "hrss")
    _, order = await post(op, "/api/orders", take_body())
    n = order["number"]
    status, returned = await post(hrss, f"/api/orders/{n}/return", {"reason": "非本单位职责"})
    assert (status, returned["status"]) == (200, "returned")
    _, again = await post(op, f"/api/orders/{n}/redispatch", {"dispatch": [{"unit_id": "market"}]})
    assert again["lead_unit_id"] == "market"
    market = await lab.client(Role.unit_handler, "market")
    until = (datetime.fromisoformat(again["deadline"]) + timedelta(days=3)).isoformat()
    status, asked = await post(
        market, f"/api/orders/{n}/extension", {"until": until, "reason": "需现场核查"}
    )
    assert status == 200 and asked["pending_extension"]["status"] == "pending"
    status, granted = await post(boss, f"/api/orders/{n}/extension/grant", {})
    assert datetime.fromisoformat(granted["deadline"]) == datetime.fromisoformat(until)
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    end = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    status, rates = await get(
        boss, f"/api/rates?start={start.replace('+', '%2B')}&end={end.replace('+', '%2B')}"
    )
    assert status == 200, rates
    assert {u["unit_id"]: u["returns"] for u in rates["units"]}["hrss"] == 1
    assert (await get(boss, "/api/rates?start=2026-01-01&end=2027-01-01"))[0] == 400
    status, doc = await get(op, "/api/openapi.json")
    take = doc["paths"]["/api/orders"]["post"]
    assert sorted(take["x-roles"]) == ["admin", "operator", "supervisor"]
    assert doc["paths"]["/api/orders/{number}/acknowledge"]["post"]["x-roles"] == ["unit_handler"]
    assert "TakeIn" in doc["components"]["schemas"]


async def test_the_feature_in_the_real_server(
    server_factory: Callable[..., Awaitable[ServerHandle]],
) -> None:
    """Catalogue loaded at start, steps on the real bus, and the clock task running: an
    order whose stored deadline has passed turns red and asks for one supervision call."""
    handle = await server_factory(
        builders=(workorders_feature,),
        workorders={"sla_preset": "xining", "clock_interval": 0.1},
    )
    sessions = handle.core.sessionmaker
    async with sessions() as s:
        assert any(u.id == "water" for u in await repo.list_units(session=s))
        user = await accounts.create_user(
            session=s, username="op-real", password="x" * 12, role=Role.operator
        )
        assert user.id is not None
        token = await accounts.create_api_token(session=s, user_id=user.id, name="t")
    seen: list[str] = []
    async with handle.core.bus.subscribe(handle.core.bus.filter("order")) as sub:
        async with ClientSession(
            base_url=handle.http_url, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            body = take_body()
            body["order"]["time_limit_class"] = "d3"
            status, order = await post(http, "/api/orders", body)
            assert status == 201, order
            status, sla = await get(http, "/api/sla")
            assert sla["preset"] == "xining"
        async with sessions() as s:  # as if three days had passed
            row = await repo.load_order(session=s, number=order["number"])
            assert row is not None
            row.deadline = row.yellow_at = datetime.now(UTC) - timedelta(seconds=1)
            s.add(row)
            await s.commit()
        async with asyncio.timeout(10):
            async for message in sub:
                event = message.event
                if isinstance(event, OrderStep) and event.order_id == order["number"]:
                    seen.append(event.step)
                if seen[-1:] == ["supervision_requested"]:
                    break
    assert seen == ["accept", "dispatch", "light_red", "supervision_requested"]


async def test_one_order_per_call_unless_another_is_asked_for(lab: Lab) -> None:
    op = await lab.client(Role.operator)
    body = take_body()
    status, first = await post(op, "/api/orders", body)
    assert status == 201, first
    for again in (body, take_body(order=body["order"], dispatch=[], on_call=True, note="答复")):
        status, refused = await post(op, "/api/orders", again)
        assert status == 409, refused
        assert refused["error"]["code"] == "order_exists_for_call"
        assert refused["error"]["order"] == first["number"]
        assert first["number"] in refused["error"]["message"]
    status, second = await post(op, "/api/orders", {**body, "another_for_call": True})
    assert status == 201 and second["number"] != first["number"]
    assert second["call_linkedid"] == first["call_linkedid"]
    # an order without a call (web form, WeChat) is never refused for it
    web = {"order": {**body["order"], "call_linkedid": None, "channel": "web"}, "dispatch": []}
    assert (await post(op, "/api/orders", web))[0] == 201
    assert (await post(op, "/api/orders", web))[0] == 201


async def test_two_tabs_taking_one_call_at_once_make_one_order(lab: Lab) -> None:
    """Alt+D in two desk tabs at the same instant, several calls at once: one order each
    (SQLite: the writer lock; PostgreSQL: the advisory lock per call)."""
    op = await lab.client(Role.operator)
    bodies = [take_body() for _ in range(4)]
    tries = [b for b in bodies for _ in range(3)]
    results = await asyncio.gather(*(post(op, "/api/orders", b) for b in tries))
    for body in bodies:
        linkedid = body["order"]["call_linkedid"]
        mine = [r for b, r in zip(tries, results, strict=True) if b is body]
        made = [o for s, o in mine if s == 201]
        refused = [o for s, o in mine if s == 409]
        assert len(made) == 1 and len(refused) == 2, mine
        assert {o["error"]["order"] for o in refused} == {made[0]["number"]}
        async with session_factory(lab.engine)() as s:
            assert await repo.order_for_call(session=s, linkedid=linkedid) == made[0]["number"]
            rows = await repo.list_orders(session=s, limit=500)
        assert sum(r.call_linkedid == linkedid for r in rows) == 1


async def test_orders_filtered_by_operator_caller_and_open(lab: Lab) -> None:
    op1, op2 = await lab.client(Role.operator), await lab.client(Role.operator)
    _, a = await post(op1, "/api/orders", take_body())
    other = take_body()
    other["order"]["caller_number"] = "13900009999"
    _, b = await post(op2, "/api/orders", other)
    _, c = await post(op1, "/api/orders", take_body(dispatch=[], on_call=True, note="已答复"))
    _, mine = await get(op1, f"/api/orders?operator={a['operator']}")
    assert [o["number"] for o in mine["orders"]] == [c["number"], a["number"]]
    _, theirs = await get(op1, "/api/orders?caller_number=13900009999")
    assert [o["number"] for o in theirs["orders"]] == [b["number"]]
    # 即办 is finished (reviewed or archived at once): not an open order of the caller
    _, open_ = await get(op1, "/api/orders?caller_number=13900002222&open=1")
    assert [o["number"] for o in open_["orders"]] == [a["number"]]
    _, none = await get(op1, "/api/orders?open=1&status=archived")
    assert none["orders"] == []
    assert (await get(op1, "/api/orders?status=nope"))[0] == 400
