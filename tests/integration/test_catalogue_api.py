"""The responsibility catalogue edited in the app, on SQLite and PostgreSQL: everyone
reads it, supervisors and admins edit it, bad edits get a clear 4xx, and edits survive
the sync from config/units.toml that runs at every start."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from config.settings import HttpSettings
from hotline.bus_events import BusEvent
from hotline.db import session_factory
from workorders import api, repo
from workorders.catalogue import load_catalogue
from workorders.service import OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration
_names = itertools.count()


class Discard:
    def publish(self, event: BusEvent) -> object:
        return event


@pytest.fixture
async def site(engine: AsyncEngine) -> AsyncIterator[tuple[TestServer, list[ClientSession]]]:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    svc = OrderService(sessionmaker=sessions, publisher=Discard(), policy=load_presets()["bozhou"])
    app = create_app(
        WebDeps(http=HttpSettings(port=0), sessionmaker=sessions, route_tables=(api.routes(svc),))
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    clients: list[ClientSession] = []
    try:
        yield server, clients
    finally:
        for c in clients:
            await c.close()
        await server.close()


async def _client(
    engine: AsyncEngine, site: tuple[TestServer, list[ClientSession]], role: Role
) -> ClientSession:
    async with session_factory(engine)() as s:
        user = await accounts.create_user(
            session=s, username=f"cat-{role.value}-{next(_names)}", password="x" * 12, role=role
        )
        assert user.id is not None
        token = await accounts.create_api_token(session=s, user_id=user.id, name="t")
    http = ClientSession(
        base_url=site[0].make_url(""), headers={"Authorization": f"Bearer {token}"}
    )
    site[1].append(http)
    return http


async def call(http: ClientSession, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with http.request(method, path, json=body) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def test_edit_the_catalogue_and_keep_the_edits_across_a_sync(
    engine: AsyncEngine, site: tuple[TestServer, list[ClientSession]]
) -> None:
    boss = await _client(engine, site, Role.supervisor)
    op = await _client(engine, site, Role.operator)
    status, listed = await call(op, "GET", "/api/catalogue")
    assert status == 200 and len(listed["entries"]) == len(load_catalogue().responsibilities)
    entry = next(e for e in listed["entries"] if e["unit_id"] == "hrss")

    new = {"category": "人社/社保卡", "unit_id": "hrss", "keywords": "社保卡 补办", "note": "x"}
    assert (await call(op, "POST", "/api/catalogue", new))[0] == 403
    assert (await call(op, "PATCH", f"/api/catalogue/{entry['id']}", {"note": "y"}))[0] == 403

    status, added = await call(boss, "POST", "/api/catalogue", new)
    assert status == 201 and added["category"] == "人社/社保卡", added
    status, body = await call(boss, "POST", "/api/catalogue", new)
    assert (status, body["error"]["code"]) == (409, "entry_exists")
    status, body = await call(boss, "POST", "/api/catalogue", new | {"unit_id": "nope"})
    assert status == 400 and "nope" in body["error"]["message"]
    status, body = await call(boss, "POST", "/api/catalogue", new | {"time_limit_class": "zz"})
    assert status == 400
    assert (await call(boss, "POST", "/api/catalogue", {"category": ""}))[0] == 400

    edit = {"keywords": "欠薪 讨薪 拖欠工资 包工头", "time_limit_class": "wd1", "note": "已核"}
    status, changed = await call(boss, "PATCH", f"/api/catalogue/{entry['id']}", edit)
    assert status == 200 and {k: changed[k] for k in edit} == edit
    assert changed["unit_id"] == "hrss" and changed["category"] == entry["category"]
    assert (await call(boss, "PATCH", "/api/catalogue/999999", edit))[0] == 404

    # A restart syncs the file again: edits and additions stay, nothing is duplicated.
    async with session_factory(engine)() as s:
        _units, re_added = await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    assert re_added == 0
    status, after = await call(op, "GET", "/api/catalogue")
    by_id = {e["id"]: e for e in after["entries"]}
    assert {k: by_id[entry["id"]][k] for k in edit} == edit
    assert added["id"] in by_id and len(after["entries"]) == len(listed["entries"]) + 1

    assert (await call(boss, "DELETE", f"/api/catalogue/{added['id']}"))[0] == 204
    assert (await call(boss, "DELETE", f"/api/catalogue/{added['id']}"))[0] == 404


async def test_an_entry_deleted_in_the_app_is_not_added_again_by_the_file(
    engine: AsyncEngine, site: tuple[TestServer, list[ClientSession]]
) -> None:
    boss = await _client(engine, site, Role.supervisor)
    _status, listed = await call(boss, "GET", "/api/catalogue")
    gone = listed["entries"][0]
    assert (await call(boss, "DELETE", f"/api/catalogue/{gone['id']}"))[0] == 204

    catalogue = load_catalogue()
    async with session_factory(engine)() as s:
        assert (await repo.sync_catalogue(session=s, catalogue=catalogue))[1] == 0
    _status, after = await call(boss, "GET", "/api/catalogue")
    pairs = {(e["category"], e["unit_id"]) for e in after["entries"]}
    assert (gone["category"], gone["unit_id"]) not in pairs

    # A pair the file names for the first time is still added.
    fresh = catalogue.responsibilities[0].model_copy(update={"category": "新增/文件条目"})
    grown = dataclasses.replace(catalogue, responsibilities=(*catalogue.responsibilities, fresh))
    async with session_factory(engine)() as s:
        assert (await repo.sync_catalogue(session=s, catalogue=grown))[1] == 1
