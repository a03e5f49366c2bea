"""The wallboard feature in the whole server: order lights and survey jobs from the store,
lights turning by the real SLA clock, figures pushed on the bus.

The server runs work orders (with a fast SLA clock) and the wallboard over the real
broker and a SQLite store. Survey callback jobs are stored (two due, one later, one done
today, one failed today); three orders are taken "in the past" so the SLA clock turns
two of them red and one yellow on its next tick. `GET /api/wallboard/figures` (a supervisor's
bearer token) then shows the counts and the lights newest first, and a
`system.wallboard` event on the bus carries the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop import wallboard_store as store
from agent_desktop.wallboard import build as wallboard
from agent_desktop.wallboard_model import Figures, local_midnight
from hotline.bus_events import WallboardFigures
from hotline.db import session_factory
from ivr_flows import repo as jobs
from ivr_flows.models import CallbackJob, JobState
from tests.fixtures.server import ServerHandle
from tests.waiting import until
from workorders import repo
from workorders.catalogue import load_catalogue
from workorders.feature import build as workorders
from workorders.feature import city_policy
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, Light, OrderKind, WorkOrder, WorkOrderCreate
from workorders.service import Actor, OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration
OPERATOR = Actor("op-wb", Role.operator)


async def test_order_lights_and_surveys_reach_the_wallboard(
    server_factory: Callable[..., Awaitable[ServerHandle]],
) -> None:
    server = await server_factory(builders=(workorders, wallboard),
                                  workorders={"clock_interval": 0.3})  # fmt: skip
    now = datetime.now(UTC)
    async with server.core.sessionmaker() as s:
        boss = await accounts.create_user(session=s, username="boss", password="x" * 16,
                                          role=Role.supervisor)  # fmt: skip
        token = await accounts.create_api_token(session=s, user_id=boss.id, name="wb")
        clerk = await accounts.create_user(session=s, username="clerk", password="x" * 16,
                                           role=Role.operator)  # fmt: skip
        operator_token = await accounts.create_api_token(session=s, user_id=clerk.id, name="op")
        plan = [
            ("due1", JobState.pending, now - timedelta(minutes=5), None),
            ("due2", JobState.pending, now - timedelta(minutes=1), None),
            ("later", JobState.pending, now + timedelta(hours=2), None),
            ("done", JobState.done, now - timedelta(hours=1), now),  # today, even at 00:00
            ("failed", JobState.failed, now - timedelta(hours=1), now),
            ("old", JobState.done, now - timedelta(days=3), now - timedelta(days=2)),
        ]
        for key, state, due, finished in plan:
            await jobs.add_job(session=s, job=CallbackJob(
                kind="survey", flow="survey", order_id=f"N-{key}", number="13800138000",
                dedupe_key=f"wb-{key}", state=state, due_at=due, finished_at=finished))  # fmt: skip

    moment = now
    svc = OrderService(sessionmaker=server.core.sessionmaker, publisher=server.core.bus,
                       policy=city_policy(server.core), clock=lambda: moment)  # fmt: skip
    bus = server.core.bus
    pushed: list[dict[str, Any]] = []

    async def listen() -> None:
        async with bus.subscribe(bus.filter("system", "wallboard")) as sub:
            async for message in sub:
                assert isinstance(message.event, WallboardFigures)
                pushed.append(message.event.figures)

    async with asyncio.TaskGroup() as tg:
        listener = tg.create_task(listen())
        numbers = []
        for limit, hours_ago in (("h3", 4), ("h3", 5), ("h24", 20), ("d7", 1)):
            moment = now - timedelta(hours=hours_ago)
            draft = WorkOrderCreate(kind=OrderKind.complaint, category="供水/停水漏水",
                                    title="停水", content="小区停水", time_limit_class=limit,
                                    caller_number="13800001111")  # fmt: skip
            order = await svc.take(draft, [Assignment("water", DispatchRole.lead)],
                                   actor=OPERATOR)  # fmt: skip
            numbers.append(order.number)

        figures: list[Figures] = []

        async def board_shows_it() -> bool:
            async with ClientSession(
                headers={"Authorization": f"Bearer {token}"}
            ) as http, http.get(server.http_url + "/api/wallboard/figures") as r:
                assert r.status == 200, await r.text()
                f = Figures.model_validate(await r.json())
            figures[:] = [f]
            return (f.orders.red, f.orders.yellow, len(f.lights)) == (2, 1, 3)

        await until(board_shows_it, "two red and one yellow order on the wallboard", within=20)
        async with ClientSession(headers={"Authorization": f"Bearer {operator_token}"}) as op:
            for path in ("/api/wallboard/figures", "/wallboard"):
                async with op.get(server.http_url + path, allow_redirects=False) as r:
                    assert r.status == 403, path  # supervisors and admins only
        f = figures[0]
        assert f.orders.open == 4
        assert {c.number for c in f.lights} == set(numbers[:3])
        assert {c.light for c in f.lights} == {"red", "yellow"}
        assert {c.unit for c in f.lights} == {"供水公司"}  # the unit's short name
        sv = f.surveys
        assert (sv.due, sv.scheduled, sv.calling, sv.done_today, sv.failed_today) == (2, 1, 0, 1, 1)

        async def pushed_it() -> bool:
            return any(p["orders"]["red"] == 2 and p["surveys"]["due"] == 2 for p in pushed)

        await until(pushed_it, "a system.wallboard event with the same figures", within=10)
        listener.cancel()


async def test_the_store_queries_on_sqlite_and_postgresql(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
        for key, state, due, finished in (
            ("a", JobState.pending, now - timedelta(minutes=1), None),
            ("b", JobState.calling, now - timedelta(minutes=1), None),
            ("c", JobState.done, now - timedelta(hours=2), now),
        ):
            await jobs.add_job(session=s, job=CallbackJob(
                kind="survey", flow="survey", order_id=f"N-{key}", number="1",
                dedupe_key=f"st-{key}", state=state, due_at=due, finished_at=finished))  # fmt: skip
        await jobs.add_job(session=s, job=CallbackJob(
            kind="supervision", flow="supervision", order_id="N-x", number="1",
            dedupe_key="st-x", due_at=now - timedelta(minutes=1)))  # fmt: skip
    moment = now - timedelta(hours=4)
    svc = OrderService(sessionmaker=sessions, publisher=_Quiet(), policy=load_presets()["zhangye"],
                       clock=lambda: moment)  # fmt: skip
    draft = WorkOrderCreate(kind=OrderKind.help, category="供水/停水漏水", title="停水",
                            content="停水", time_limit_class="h3", caller_number="1")
    order = await svc.take(draft, [Assignment("water", DispatchRole.lead)], actor=OPERATOR)
    async with sessions() as s:
        await s.execute(update(WorkOrder).where(col(WorkOrder.number) == order.number)
                        .values(light=Light.red.value, light_changed_at=now))  # fmt: skip
        await s.commit()
        figures, lights = await store.order_lights(session=s)
        surveys = await store.surveys(session=s, now=now, midnight=local_midnight(now))
    assert (figures.red, figures.yellow, figures.open) == (1, 0, 1)
    assert [(c.number, c.light, c.unit) for c in lights] == [(order.number, "red", "供水公司")]
    assert (surveys.due, surveys.calling, surveys.scheduled) == (1, 1, 0)
    assert surveys.done_today == 1


class _Quiet:
    def publish(self, event: object) -> object:
        return event
