"""Reports over a real store (SQLite and PostgreSQL) and a real aiohttp server (loopback).

Orders go through the work-order service (take, acknowledge, reply, return, extension,
即办), calls through the call repository, a survey as a finished callback job and a
transcript segment as the transcription feature stores them. The report read back from
the store must agree with `workorders.rates` (computed once, reused) and count the calls,
units, topics and key callers; then the four routes answer a supervisor and refuse an
operator.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from asr.models import TranscriptSegment
from config.settings import HttpSettings
from hotline.bus_events import BusEvent
from hotline.db import session_factory
from ivr_flows.models import CallbackJob, JobKind, JobState
from reports.build import build_report
from reports.periods import week_of
from reports.repo import load_inputs
from reports.web import ReportService, routes
from telephony import call_repo
from workorders import repo
from workorders.catalogue import load_catalogue
from workorders.lifecycle import Assignment
from workorders.models import DispatchRole, OrderKind, WorkOrderCreate, WorkOrderPublic
from workorders.rates import compute_rates
from workorders.service import Actor, OrderService
from workorders.sla import load_presets

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 23 November 2026, 09:00 in Beijing
WEEK = week_of(date(2026, 11, 23))
OPERATOR = Actor("op1", Role.operator)
SUPERVISOR = Actor("boss", Role.supervisor)
HANDLERS = {u: Actor(f"{u}1", Role.unit_handler, u) for u in ("water", "power", "housing")}
CALLER = "13800002222"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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
class Env:
    sessions: async_sessionmaker[AsyncSession]
    svc: OrderService
    clock: Clock
    reports: ReportService | None = None


@pytest.fixture
async def env(engine: AsyncEngine) -> Env:
    sessions = session_factory(engine)
    async with sessions() as s:
        await repo.sync_catalogue(session=s, catalogue=load_catalogue())
    clock = Clock()
    svc = OrderService(sessionmaker=sessions, publisher=Recorder(),
                       policy=load_presets()["zhangye"], clock=clock)  # fmt: skip
    return Env(sessions, svc, clock)


async def take(env: Env, unit: str | None, *, title: str, category: str, hours: float = 0,
               kind: OrderKind = OrderKind.help, caller: str = CALLER,
               line: str = "12345") -> WorkOrderPublic:  # fmt: skip
    env.clock.now = T0 + timedelta(hours=hours)
    draft = WorkOrderCreate(kind=kind, category=category, title=title, content=title,
                            caller_number=caller, line=line, time_limit_class="h24")  # fmt: skip
    plan = None if unit is None else [Assignment(unit, DispatchRole.lead)]
    note = "" if plan else "按知识库答复"
    return await env.svc.take(draft, plan, actor=OPERATOR, note=note)


async def seed(env: Env) -> dict[str, WorkOrderPublic]:
    """A week: five orders, four calls, a survey, a transcript; one order the week before."""
    o: dict[str, WorkOrderPublic] = {}
    o["before"] = await take(env, "water", title="停水", category="供水/停水", hours=-24 * 7)
    o["leak"] = await take(env, "water", title="小区停水三天", category="供水/停水")
    await env.svc.acknowledge(o["leak"].number, actor=HANDLERS["water"])
    env.clock.now = T0 + timedelta(hours=5)
    await env.svc.reply(o["leak"].number, "已恢复供水", actor=HANDLERS["water"])
    await env.svc.review(o["leak"].number, actor=SUPERVISOR)
    o["again"] = await take(env, "water", title="又停水了", category="供水/停水", hours=6)
    await env.svc.acknowledge(o["again"].number, actor=HANDLERS["water"])
    o["lift"] = await take(env, "housing", title="电梯故障", category="住房/电梯", hours=7,
                           kind=OrderKind.complaint, caller="13900003333")  # fmt: skip
    await env.svc.return_order(o["lift"].number, "不属于本单位职责", actor=HANDLERS["housing"])
    o["power"] = await take(env, "power", title="停电", category="供电/停电", hours=8,
                            line="12328", caller="13700004444")  # fmt: skip
    await env.svc.acknowledge(o["power"].number, actor=HANDLERS["power"])
    await env.svc.ask_extension(o["power"].number, T0 + timedelta(days=3), "需更换变压器",
                                actor=HANDLERS["power"])  # fmt: skip
    await env.svc.grant_extension(o["power"].number, actor=SUPERVISOR)
    o["asked"] = await take(env, None, title="公积金提取", category="公积金", hours=9,
                            kind=OrderKind.inquiry, caller="13600005555")  # fmt: skip
    async with env.sessions() as s:
        s.add(CallbackJob(kind=JobKind.survey, flow="survey", order_id=o["leak"].number,
                          number=CALLER, dedupe_key="s1", state=JobState.done,
                          due_at=T0 + timedelta(hours=10), outcome="answered_result",
                          result={"satisfaction": "满意", "solved": "yes"},
                          finished_at=T0 + timedelta(hours=10)))  # fmt: skip
        s.add(TranscriptSegment(call_id="call-0", channel="caller", segment=0,
                                text="我们 小区 停水 三天 了"))  # fmt: skip
        await s.commit()
        calls = [  # (line, answered after, caller)
            ("12345", 5, CALLER), ("12345", 25, CALLER), ("12345", None, "13900003333"),
            ("12328", 4, "13700004444"),
        ]  # fmt: skip
        for i, (line, wait, caller) in enumerate(calls):
            entered = T0 + timedelta(hours=i)
            await call_repo.open_call(session=s, uniqueid=f"u{i}", linkedid=f"call-{i}",
                                      dnis=line, entered_at=entered,
                                      caller_number=caller)  # fmt: skip
            answered = None if wait is None else entered + timedelta(seconds=wait)
            await call_repo.update_call(
                session=s, uniqueid=f"u{i}", line=line, answered_at=answered,
                ended_at=entered + timedelta(minutes=3),
                outcome="abandoned" if wait is None else "answered",
            )  # fmt: skip
    return o


async def test_report_from_the_store_agrees_with_the_rates(env: Env) -> None:
    o = await seed(env)
    now = T0 + timedelta(days=2)
    inputs = await load_inputs(env.sessions, WEEK, now=now, line_names={"12345": "12345 热线"},
                               key_caller_threshold=2)  # fmt: skip
    r = build_report(inputs)
    rates = await compute_rates(env.sessions, WEEK.start_utc, WEEK.end_utc)
    assert r.rates == rates
    h = r.headline
    assert (h.orders, h.dispatched, h.resolved_on_call) == (5, 4, 1)
    assert (h.calls_offered, h.calls_answered, h.calls_abandoned) == (4, 3, 1)
    assert h.answer_rate == 0.75 and h.answered_within_target_rate == 0.5
    assert h.acknowledgement_rate == rates.acknowledgement_rate == 0.75
    assert h.on_time_rate == rates.on_time_rate == 1.0
    assert (h.surveys, h.response_rate, h.satisfaction_rate, h.resolution_rate) == (1, 1, 1, 1)
    assert (h.returns, h.extensions) == (1, 1)
    assert (h.previous_orders, h.orders_change) == (1, 4.0)  # one the week before: +400 %
    assert (h.previous_calls_offered, h.calls_change) == (0, None)

    units = {u.unit_id: u for u in r.units}
    assert units["water"].name == "供水公司"  # the catalogue's short name
    assert (units["water"].dispatched, units["water"].on_time_rate) == (2, 1.0)
    assert units["water"].satisfaction_rate == 1.0
    assert (units["housing"].returns, units["housing"].acknowledgement_rate) == (1, 0.0)
    assert (units["power"].extensions_asked, units["power"].extensions_granted) == (1, 1)
    assert [u.unit_id for u in r.units if u.rank] == ["water", "power", "housing"]
    assert units["housing"].score == 0.0  # 签收率 0 and a return

    lines = {v.line: v for v in r.lines}
    assert (lines["12345"].label, lines["12345"].offered, lines["12345"].orders) == (
        "12345 热线", 3, 4,
    )  # fmt: skip
    assert (lines["12328"].offered, lines["12328"].orders) == (1, 1)
    assert [(d.offered, d.orders) for d in r.days][:2] == [(4, 5), (0, 0)]
    categories = {t.key: t for t in r.categories}
    assert (categories["供水/停水"].count, categories["供水/停水"].previous) == (2, 1)
    assert r.categories[0].key == "供水/停水"  # rising first
    words = {t.key: t for t in r.words}
    assert words["停水"].count == 3  # two orders and the caller's words on call-0
    assert [(k.number, k.calls, k.orders) for k in r.key_callers] == [(CALLER, 2, 2)]
    assert r.key_callers[0].key
    assert o["asked"].mode == "on_call"
    # Red-zone months (August to October) have no orders: nobody is in the red zone.
    assert [m.first.month for m in r.red_zone_months] == [8, 9, 10] and r.red_zone == ()


@pytest.fixture
async def web(env: Env, engine: AsyncEngine) -> AsyncIterator[tuple[Env, TestServer]]:
    service = ReportService(sessionmaker=env.sessions, clock=lambda: T0 + timedelta(days=1))
    env.reports = service
    app = create_app(WebDeps(http=HttpSettings(port=0), sessionmaker=env.sessions,
                             route_tables=(routes(service),)))  # fmt: skip
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield env, server
    finally:
        await server.close()


async def browser(env: Env, server: TestServer, role: Role) -> ClientSession:
    name = f"{role.value}-reports"
    async with env.sessions() as s:
        await accounts.create_user(session=s, username=name, password=PASSWORD, role=role)
    http = ClientSession(base_url=server.make_url(""), cookie_jar=CookieJar(unsafe=True))
    async with http.get("/login") as page:
        token = _CSRF.search(await page.text())
    assert token
    form = {"username": name, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
    async with http.post("/login", data=form) as r:
        assert r.status == 200, await r.text()
    return http


async def test_page_print_csv_and_json_for_supervisors_only(
    web: tuple[Env, TestServer],
) -> None:
    env, server = web
    await seed(env)
    boss = await browser(env, server, Role.supervisor)
    operator = await browser(env, server, Role.operator)
    admin = await browser(env, server, Role.admin)
    try:
        async with boss.get("/reports") as r:  # this week by default (clock: Tuesday 24th)
            assert r.status == 200
            page = await r.text()
        assert "2026年11月23日至29日周分析" in page
        assert 'aria-current="page">本周' in page
        assert "<svg" in page and "分线路来电量与接通量" in page and "每日接通率" in page
        assert "小区停水三天" not in page  # order texts are not shown, only topics
        async with boss.get("/reports?preset=this_month") as r:
            assert "2026年11月通报" in await r.text()
        async with boss.get("/reports/print?from=2026-11-23&to=2026-11-29") as r:
            assert r.status == 200
            printed = await r.text()
        assert "print-view" in printed and "周分析" in printed
        async with boss.get("/reports.csv?from=2026-11-23&to=2026-11-29") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert "hotline-report-2026-11-23-2026-11-29.csv" in r.headers["Content-Disposition"]
            raw = await r.read()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0] == ["报表", "2026年11月23日至29日周分析"]
        assert ["接通率", "75.0%"] in rows and ["工单量", "5"] in rows
        async with boss.get("/api/reports?from=2026-11-23&to=2026-11-29") as r:
            assert r.status == 200
            data = await r.json()
        assert data["period"]["kind"] == "week" and data["headline"]["orders"] == 5
        assert data["rates"]["acknowledgement_rate"] == 0.75
        async with boss.get("/api/reports?from=2026-11-30&to=2026-11-01") as r:
            assert r.status == 400
            assert (await r.json())["error"]["code"] == "bad_period"
        async with boss.get("/reports?preset=decade") as r:
            assert r.status == 400 and "未知的报表时段" in await r.text()
        # Page, CSV and print of one period within a minute: read and built once.
        assert env.reports is not None
        assert await env.reports.report(WEEK) is await env.reports.report(WEEK)
        for path in ("/reports", "/reports/print", "/reports.csv", "/api/reports"):
            async with operator.get(path, allow_redirects=False) as r:
                assert r.status == 403, path
            async with admin.get(path, allow_redirects=False) as r:
                assert r.status == 200, path
    finally:
        await boss.close()
        await operator.close()
        await admin.close()

