"""Routing through a real Asterisk: sipp citizens, baresip operators, the server in-process.

One private Asterisk for the module (operators are not static members: each test adds
the members it needs with AMI QueueAdd), and a fresh server (calls feature only) per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.app import Running, StartupError, serve
from hotline.feature import Core, Feature
from lab.mosquitto import Mosquitto
from lab.pbx import Pbx, PbxConfig
from lab.sipp import Citizen
from telephony import ami_actions, call_repo
from telephony.call_models import CallbackTask, CallRecord
from telephony.call_service import CallService
from telephony.call_service import build as build_calls
from telephony.catalogue import SHIPPED
from telephony.presence import OperatorPresence
from tests.fixtures.pbx import _instance_name, _root
from tests.fixtures.server import server_settings

pytestmark = pytest.mark.integration

HOLD_SECONDS = 3


@dataclass
class Server:
    core: Core
    service: CallService
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@pytest.fixture(scope="module")
def calls_pbx() -> Iterator[Pbx]:
    pbx = Pbx(PbxConfig.allocate(_instance_name("calls"), root=_root(), static_members=False,
                                 hold_seconds=HOLD_SECONDS))  # fmt: skip
    try:
        pbx.start()
        yield pbx
    finally:
        pbx.cleanup()


@pytest.fixture
async def start_server(
    calls_pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(**calls: Any) -> Server:
        settings = server_settings(calls_pbx, mosquitto, tmp_path / f"s{len(servers)}.db",
                                   calls=calls)  # fmt: skip
        made: list[CallService] = []

        def builder(core: Core) -> Feature:
            feature = build_calls(core)
            made.extend(h for h in feature.ami_handlers if isinstance(h, CallService))
            return feature

        stop = asyncio.Event()
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve(settings, stop=stop, on_ready=ready.set_result, builders=(builder,))
        )
        waiting: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(waiting, timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if task in done:
            task.result()
            raise AssertionError("the server stopped before it was ready")
        server = Server(ready.result().core, made[0], stop, task)
        servers.append(server)
        await until(lambda: calls_pbx.cli("dialplan show globals").find("HOTLINE_ROUTER_UNTIL=0")
                    < 0, "the router lease")  # fmt: skip
        return server

    yield start
    for server in servers:
        if not server.task.done():
            with contextlib.suppress(Exception):
                await server.shutdown()
    for queue in ("hotline-general", "hotline-default", "hotline-transport"):
        for n in range(1001, 1005):
            with contextlib.suppress(Exception):
                calls_pbx.cli(f"queue remove member PJSIP/op{n} from {queue}")


async def until(check: Callable[[], Any], what: str, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling interval, with a deadline


def live_by_caller(service: CallService) -> dict[str | None, Any]:
    return {c.caller_number: c for c in service.live_calls.values()}


async def records(server: Server) -> list[CallRecord]:
    async with server.core.sessionmaker() as session:
        return list((await session.execute(select(CallRecord))).scalars())


async def callbacks(server: Server) -> list[CallbackTask]:
    async with server.core.sessionmaker() as session:
        return list((await session.execute(select(CallbackTask))).scalars())


async def add_member(server: Server, queue: str, extension: str, *, paused: bool = False) -> None:
    """A member as the operators feature would add one; routing sees it via AMI."""
    interface = f"PJSIP/op{extension}"
    await server.core.ami.send(
        ami_actions.queue_add(queue, interface, member_name=f"op{extension}", paused=paused)
    )
    await until(lambda: interface in server.service.roster.members(queue), "the member seen")


def call(citizen_factory: Callable[..., Citizen], pbx: Pbx, **kw: Any) -> Citizen:
    citizen = citizen_factory(pbx, **kw)
    citizen.start()
    return citizen


async def test_lines_route_to_skill_queues_and_a_hang_up_leaves_one_callback(
    start_server: Callable[..., Awaitable[Server]],
    calls_pbx: Pbx,
    citizen_factory: Callable[..., Citizen],
) -> None:
    server = await start_server()
    await add_member(server, "hotline-general", "1001", paused=True)
    await add_member(server, "hotline-transport", "1002", paused=True)
    expected = {
        "13800000001": ("12345", "hotline-general", []),
        "13800000002": ("12343", "hotline-general", []),
        "13800000003": ("12328", "hotline-transport", []),
        "13800000004": ("999", "hotline-default", ["unknown_dnis"]),
        "anonymous": ("12345", "hotline-general", ["withheld"]),
    }
    citizens = [call(citizen_factory, calls_pbx, caller=caller, number=dnis, hangup_after=4)
                for caller, (dnis, _, _) in expected.items()]  # fmt: skip

    def all_queued() -> bool:
        live = live_by_caller(server.service)
        return all(c in live and live[c].queue == q for c, (_, q, _) in expected.items())

    await until(all_queued, "every call in its queue")
    for citizen in citizens:
        await asyncio.to_thread(citizen.wait, 20)
    await until(lambda: not server.service.live_calls, "every call ended")

    async def settled() -> list[CallRecord] | None:
        rows = await records(server)
        return rows if all(r.outcome != "in_progress" for r in rows) else None

    rows = await until(settled, "records settled")
    by_caller = {r.caller_number: r for r in rows}
    for caller, (dnis, queue, flags) in expected.items():
        r = by_caller[caller]
        assert (r.dnis, r.queue, r.route["queue"], r.outcome) == (dnis, queue, queue, "abandoned")
        assert r.route["flags"] == flags
        assert r.route["reasons"], r.route
    assert by_caller["13800000003"].line == "12328"
    assert by_caller["13800000004"].line is None

    tasks = await until(lambda: _n_callbacks(server, 4), "callback tasks")
    assert sorted(t.number for t in tasks) == sorted(c for c in expected if c != "anonymous")
    assert all(t.missed_count == 1 and t.status == "open" for t in tasks)
    assert server.service.route_failures == 0 and server.service.routed == 5


async def _n_callbacks(server: Server, n: int) -> list[CallbackTask] | None:
    tasks = await callbacks(server)
    return tasks if len(tasks) >= n else None


async def test_enterprise_call_is_answered_first(
    start_server: Callable[..., Awaitable[Server]],
    calls_pbx: Pbx,
    citizen_factory: Callable[..., Citizen],
    softphone_factory: Callable[..., Any],
) -> None:
    softphone_factory(calls_pbx, operator=0)  # blocks the loop a moment: before the server
    server = await start_server()
    await add_member(server, "hotline-general", "1001", paused=True)
    order = [("13900000001", "12345"), ("13900000002", "12345"), ("02100000003", "96345")]
    for i, (caller, dnis) in enumerate(order):
        call(citizen_factory, calls_pbx, caller=caller, number=dnis, hangup_after=8)
        await until(lambda i=i: sum(c.queue == "hotline-general"  # type: ignore[misc]
                                    for c in server.service.live_calls.values()) == i + 1,
                    "the caller queued")  # fmt: skip
    await server.core.ami.send(ami_actions.queue_pause("PJSIP/op1001", False))

    def answered() -> list[Any]:
        return [c for c in server.service.live_calls.values() if c.operator]

    first = await until(answered, "an answer")
    assert [c.dnis for c in first] == ["96345"]
    assert first[0].operator == "1001"


async def test_repeat_caller_reaches_their_last_operator_and_skills_overflow(
    start_server: Callable[..., Awaitable[Server]],
    calls_pbx: Pbx,
    citizen_factory: Callable[..., Citizen],
    softphone_factory: Callable[..., Any],
) -> None:
    for index in (0, 1, 2):  # these block the loop a moment: before the server starts
        softphone_factory(calls_pbx, operator=index)
    server = await start_server(overflow_seconds=2)
    await add_member(server, "hotline-general", "1001")  # not 1002: only the preference
    await add_member(server, "hotline-default", "1003")  # the wider group
    await add_member(server, "hotline-transport", "1004", paused=True)  # staffed, nobody free
    now = server.core.clock()
    async with server.core.sessionmaker() as session:
        await call_repo.open_call(session=session, uniqueid="old.1", linkedid="old.1",
                                  entered_at=now - timedelta(days=2), dnis="12345",
                                  caller_number="13700000001")  # fmt: skip
        await call_repo.update_call(session=session, uniqueid="old.1", outcome="answered",
                                    operator_extension="1002",
                                    answered_at=now - timedelta(days=2))  # fmt: skip
    server.core.presence.update(OperatorPresence("1002", "ready", frozenset({"general"})))

    call(citizen_factory, calls_pbx, caller="13700000001", number="12345", hangup_after=8)
    call(citizen_factory, calls_pbx, caller="13700000002", number="12328", hangup_after=8)

    def both_answered() -> dict[str | None, Any] | None:
        live = live_by_caller(server.service)
        ok = all(live.get(c) and live[c].operator for c in ("13700000001", "13700000002"))
        return live if ok else None

    live = await until(both_answered, "both calls answered")
    assert live["13700000001"].operator == "1002" and live["13700000001"].queues == ()
    overflowed = live["13700000002"]
    assert overflowed.operator == "1003"
    assert overflowed.queues == ("hotline-transport", "hotline-default")
    assert overflowed.wait_seconds is not None and overflowed.wait_seconds >= 2


async def test_calls_reach_the_default_queue_without_the_server(
    start_server: Callable[..., Awaitable[Server]],
    calls_pbx: Pbx,
    citizen_factory: Callable[..., Citizen],
) -> None:
    server = await start_server()
    await add_member(server, "hotline-transport", "1004", paused=True)
    call(citizen_factory, calls_pbx, caller="13600000001", number="12328", hangup_after=20)
    await until(lambda: "13600000001" in live_by_caller(server.service)
                and live_by_caller(server.service)["13600000001"].queue, "routed")  # fmt: skip
    await server.shutdown()  # mid-flow: one call is queued, the server goes away

    def queued(caller: str, queue: str) -> bool:
        for line in calls_pbx.cli("core show channels concise").splitlines():
            fields = line.split("!")  # channel!context!exten!prio!state!app!data!callerid!...
            if len(fields) > 7 and fields[5] == "Queue" and fields[7] == caller:
                return fields[6].split(",")[0] == queue
        return False

    call(citizen_factory, calls_pbx, caller="13600000002", number="12345", hangup_after=20)
    await until(lambda: queued("13600000002", "hotline-default"), "the default queue")
    assert queued("13600000001", "hotline-transport")  # the routed call is undisturbed

    # A server that died holding its lease: the call waits hold_seconds, then goes on.
    calls_pbx.cli(f"dialplan set global HOTLINE_ROUTER_UNTIL {int(time.time()) + 60}")
    try:
        started = time.monotonic()
        call(citizen_factory, calls_pbx, caller="13600000003", number="12345", hangup_after=20)
        await until(lambda: queued("13600000003", "hotline-default"), "the fallback")
        assert time.monotonic() - started >= HOLD_SECONDS - 0.5
    finally:
        calls_pbx.cli("dialplan set global HOTLINE_ROUTER_UNTIL 0")


async def test_a_bad_catalogue_stops_the_start_naming_the_line(
    start_server: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    bad = tmp_path / "hotlines.toml"
    text = await asyncio.to_thread(SHIPPED.read_text, encoding="utf-8")
    await asyncio.to_thread(
        bad.write_text, text.replace('skill = "transport"', 'skill = "trains"'), encoding="utf-8"
    )
    with pytest.raises(StartupError, match=r"\[\[line\]\] #3 '12328 .*unknown skill 'trains'"):
        await start_server(catalogue=str(bad))
