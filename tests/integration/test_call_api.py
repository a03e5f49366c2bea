"""The calls REST API on a real aiohttp server and store: records, callbacks, figures, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo
from accounts.passwords import cheap_hasher, use_hasher
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from config.settings import HttpSettings
from hotline.bus_events import BusEvent, CallbackTaskChanged
from hotline.db import session_factory
from telephony import call_api, call_repo

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def published() -> list[BusEvent]:
    return []


@pytest.fixture
async def api(
    engine: AsyncEngine, published: list[BusEvent]
) -> AsyncIterator[tuple[str, dict[str, dict[str, str]]]]:
    sessions = session_factory(engine)
    app = create_app(
        WebDeps(
            http=HttpSettings(port=0),
            sessionmaker=sessions,
            route_tables=(call_api.routes(clock=lambda: NOW, publish=published.append),),
        )
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    headers: dict[str, dict[str, str]] = {}
    async with sessions() as session:
        with use_hasher(cheap_hasher()):
            for role in (Role.operator, Role.supervisor, Role.unit_handler):
                user = await repo.create_user(
                    session=session,
                    username=f"u-{role.value}",
                    password="correct horse battery",
                    role=role,
                    unit_id="u1" if role is Role.unit_handler else None,
                )
                token = await repo.create_api_token(session=session, user_id=user.id, name="t")
                headers[role.value] = {"Authorization": f"Bearer {token}"}
        for n, (dnis, answered_after, outcome) in enumerate(
            [("12345", 5, "answered"), ("12345", 30, "answered"), ("12328", None, "abandoned")]
        ):
            at = NOW - timedelta(minutes=10 - n)
            await call_repo.open_call(
                session=session,
                uniqueid=f"c{n}",
                linkedid=f"c{n}",
                entered_at=at,
                dnis=dnis,
                caller_number=f"1380000000{n}",
            )
            await call_repo.update_call(
                session=session,
                uniqueid=f"c{n}",
                line=dnis,
                outcome=outcome,
                route={"queue": "hotline-transport" if dnis == "12328" else "hotline-general"},
                answered_at=at + timedelta(seconds=answered_after) if answered_after else None,
                operator_extension="1001" if answered_after else None,
                ended_at=at + timedelta(seconds=60),
            )
        await call_repo.note_missed_call(session=session, number="13800000002", at=NOW)
    try:
        yield str(server.make_url("")), headers
    finally:
        await server.close()


async def test_calls_callbacks_figures_and_roles(
    api: tuple[str, dict[str, dict[str, str]]], published: list[BusEvent]
) -> None:
    base, headers = api
    async with ClientSession(base_url=base) as http:
        async with http.get("/api/calls?line=12345", headers=headers["operator"]) as r:
            assert r.status == 200
            calls = (await r.json())["calls"]
        assert [c["uniqueid"] for c in calls] == ["c1", "c0"]
        async with http.get(f"/api/calls/{calls[0]['id']}", headers=headers["operator"]) as r:
            assert (await r.json())["dnis"] == "12345"
        async with http.get("/api/calls/9999", headers=headers["operator"]) as r:
            assert r.status == 404
        async with http.get("/api/calls?limit=0", headers=headers["operator"]) as r:
            assert r.status == 400
        async with http.get("/api/calls", headers=headers["unit_handler"]) as r:
            assert r.status == 403

        async with http.get("/api/callbacks", headers=headers["operator"]) as r:
            tasks = (await r.json())["callbacks"]
        assert [t["number"] for t in tasks] == ["13800000002"]
        done_url = f"/api/callbacks/{tasks[0]['id']}/done"
        async with http.post(done_url, headers=headers["operator"]) as r:
            assert r.status == 200 and (await r.json())["done_by"] == "u-operator"
        # The desk and the wallboard follow the list on the bus.
        assert [(e.task_id, e.status) for e in published if isinstance(e, CallbackTaskChanged)] == [
            (tasks[0]["id"], "done")
        ]
        async with http.get("/api/callbacks", headers=headers["operator"]) as r:
            assert (await r.json())["callbacks"] == []

        async with http.get("/api/calls/figures", headers=headers["operator"]) as r:
            assert r.status == 403
        async with http.get("/api/calls/figures", headers=headers["supervisor"]) as r:
            figures = await r.json()
        total = figures["total"]
        assert (total["offered"], total["answered"], total["abandoned"]) == (3, 2, 1)
        assert total["answered_within_target"] == pytest.approx(1 / 3, abs=1e-3)
        assert total["longest_wait_seconds"] == 60.0
        lines = {f["key"]: f for f in figures["lines"]}
        assert lines["12345"]["answer_rate"] == 1.0 and lines["12328"]["answer_rate"] == 0.0
        assert {f["key"] for f in figures["queues"]} == {"hotline-general", "hotline-transport"}

        async with http.get("/api/openapi.json") as r:
            paths = (await r.json())["paths"]
        assert {"/api/calls", "/api/calls/figures", "/api/callbacks"} <= set(paths)


async def test_calls_of_one_seat_and_callback_rows_in_chinese(
    api: tuple[str, dict[str, dict[str, str]]],
) -> None:
    base, headers = api
    op = headers["operator"]
    async with ClientSession(base_url=base) as http:
        async with http.get("/api/calls?operator_extension=1001", headers=op) as r:
            assert [c["uniqueid"] for c in (await r.json())["calls"]] == ["c1", "c0"]
        async with http.get("/api/calls?operator_extension=1009", headers=op) as r:
            assert (await r.json())["calls"] == []
        async with http.get("/api/callbacks", headers=op) as r:
            (task,) = (await r.json())["callbacks"]
    assert task["dial_state"] == "waiting" and task["dial_state_label"] == "等待自动回拨"
    assert task["outcome_label"] is None and task["reason_label"] == "排队等待自动回拨"
    assert task["takeable"] is True
