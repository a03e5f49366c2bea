"""The whole server (workorders + callbacks wired as in hotline.features) against the
real Asterisk: an order reviewed by the centre is called back, the citizen (sipp)
presses 3 (不满意) then 2 (未解决), and the order is reopened (重办) to its unit with both
answers in its history."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession
from sqlalchemy import select
from sqlmodel import col

from accounts import repo as accounts
from accounts.roles import Role
from ivr_flows.models import CallbackJob
from ivr_flows.prompts import copy_prompts, install_prompts
from lab.pbx import Pbx
from lab.sipp import CallbackCitizen
from tests.fixtures.server import ServerHandle
from workorders.feature import build as workorders
from workorders.feature import make_service
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate
from workorders.service import Actor
from workorders.survey_sink import survey_callbacks

pytestmark = pytest.mark.integration

OPERATOR = Actor("op1", Role.operator)
SUPERVISOR = Actor("boss", Role.supervisor)
WATER = Actor("water1", Role.unit_handler, "water")


async def test_keys_3_then_2_on_the_survey_call_reopen_the_order_to_its_unit(
    pbx: Pbx, tmp_path: Path, server_factory: Callable[..., Awaitable[ServerHandle]],
    callback_citizen_factory: Callable[..., CallbackCitizen],
) -> None:  # fmt: skip
    install_prompts(tmp_path / "prompts")
    copy_prompts(tmp_path / "prompts", pbx.dir / "ivr-prompts")
    citizen = callback_citizen_factory(
        answer="answer", dtmf="32", dtmf_delay=1.0, dtmf_gap=2.0, hangup_after=2.0
    )
    server = await server_factory(
        builders=(workorders, survey_callbacks),
        ivr={
            "prompt_dir": f"{pbx.config.inst}/ivr-prompts",
            "trunk": "PJSIP/pstn/sip:{number}",
            # Any hour of any day: the survey is due as soon as the order is reviewed.
            "calling_hours_start": time(0, 0),
            "calling_hours_end": time(23, 59, 59, 999999),
            "survey_delay_hours": 0,
            "ring_seconds": 2,
            "max_attempts": 1,
            "idle_seconds": 5,
            "poll_seconds": 0.5,
        },
    )
    svc = make_service(server.core)
    order = await svc.take(
        WorkOrderCreate(kind=OrderKind.complaint, title="路灯不亮", line="12345",
                        caller_number=f"13800130001@127.0.0.1:{citizen.sip_port}"),
        [Assignment("water", DispatchRole.lead)], actor=OPERATOR,
    )  # fmt: skip
    await svc.acknowledge(order.number, actor=WATER)
    await svc.reply(order.number, "已修复", actor=WATER)

    async def jobs() -> list[CallbackJob]:
        async with server.core.sessionmaker() as session:
            query = select(CallbackJob).where(col(CallbackJob.order_id) == order.number)
            return list((await session.execute(query)).scalars().all())

    await svc.review(order.number, actor=SUPERVISOR)  # -> OrderStep "review" on the bus
    async with asyncio.timeout(40):  # stored from the bus, called, answered, applied
        while True:
            now = await svc.get(order.number, actor=WATER)  # the unit sees it again
            if now.status == "dispatched":
                break
            await asyncio.sleep(0.1)
    (job,) = await jobs()
    assert (job.state, job.outcome) == ("done", "answered_result")
    assert job.result == {"satisfaction": "不满意", "solved": "no"}
    assert now.reopen_count == 1 and now.survey_satisfied is False  # the last survey
    events = await svc.history(order.number, actor=WATER)
    history = [(e.step, e.actor) for e in events]
    assert history[-2:] == [("survey", "ivr-survey"), ("reopen", "ivr-survey")]
    assert events[-2].note == "不满意；未解决"  # both keypad answers of the one call
    # and the survey counts in GET /api/rates, per unit and per line
    async with server.core.sessionmaker() as session:
        boss = await accounts.create_user(
            session=session, username="boss", password="x" * 12, role=Role.supervisor
        )
        assert boss.id is not None
        token = await accounts.create_api_token(session=session, user_id=boss.id, name="t")
    now_utc = datetime.now(UTC)
    period = {f: (now_utc + timedelta(hours=h)).isoformat() for f, h in (("start", -1), ("end", 1))}
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        ClientSession(server.http_url, headers=headers) as http,
        http.get("/api/rates", params=period) as response,
    ):
        assert response.status == 200, await response.text()
        survey = (await response.json())["survey"]
    assert (survey["attempted"], survey["answered"], survey["satisfied"]) == (1, 1, 0)
    assert (survey["response_rate"], survey["satisfaction_rate"]) == (1.0, 0.0)
    assert [(u["unit_id"], u["answered"]) for u in survey["units"]] == [("water", 1)]
    assert [(x["line"], x["attempted"]) for x in survey["lines"]] == [("12345", 1)]
