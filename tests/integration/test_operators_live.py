"""Operator seats against a real Asterisk, baresip softphones and sipp citizens.

- a paused operator is not offered calls (the ready one gets it); a softphone that stops
  makes its seat unreachable; every change is on the bus (server_factory, shared PBX;
  the seats are unpaused again at the end so the shared PBX stays usable);
- transfers (a private PBX whose `pstn` contact is a sipp phone playing 119): three-way
  with 119 (the operator stays on: three channels in one bridge), blind to a queue (the
  other operator gets the caller), blind to 119 (the partner answers); each recorded on
  the bus as CallTransferred.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.app import Running, serve
from hotline.bus import Bus
from hotline.bus_events import CallTransferred
from hotline.bus_topics import Domain
from hotline.pbx_watch import build as pbx_connection
from lab import procs
from lab.baresip import Softphone
from lab.mosquitto import Mosquitto
from lab.pbx import Pbx
from lab.sipp import CallbackCitizen, Citizen
from telephony.operator_service import build as operators
from tests.fixtures.server import ServerHandle, server_settings
from tests.integration.operator_desk import Browser, browser, state_log

pytestmark = pytest.mark.integration
FEATURES = (pbx_connection, operators)


async def test_a_paused_operator_is_not_offered_calls_and_a_stopped_phone_is_unreachable(
    server_factory: Callable[..., Awaitable[ServerHandle]],
    pbx: Pbx,
    softphone_factory: Callable[..., Softphone],
    citizen_factory: Callable[..., Citizen],
) -> None:
    server = await server_factory(builders=FEATURES, operators={"wrap_up_seconds": 0})
    core = server.core
    paused_phone, ready_phone = softphone_factory(pbx, 0), softphone_factory(pbx, 1)
    paused_ext, ready_ext = paused_phone.operator.extension, ready_phone.operator.extension
    try:
        async with (
            state_log(core.bus) as states,
            browser(server.http_url, core.sessionmaker, username="op-a",
                    extension=paused_ext) as a,
            browser(server.http_url, core.sessionmaker, username="op-b",
                    extension=ready_ext) as b,
        ):
            for desk in (a, b):
                status, body = await desk.post("/api/operator/login", {})
                assert status == 200 and body["state"] == "ready", body
            # A seat already ready (static member) that logs in: routing sees every queue
            # the login joined, not only the ones it had when it last changed state.
            for ext in (paused_ext, ready_ext):
                seen = core.presence.get(ext)
                assert seen is not None and "hotline-default" in seen.skills, seen
                assert len(seen.skills) > 1, seen
            status, body = await a.post("/api/operator/state",
                                        {"action": "pause", "reason": "meeting"})
            assert status == 200 and body["state"] == "paused" and body["reason"] == "meeting"
            status, body = await a.post("/api/operator/transfer", {"target": "119"})
            assert status == 409 and body["error"]["code"] == "not_on_call"
            status, body = await a.post("/api/operator/state", {"action": "dance"})
            assert status == 400
            start = len(states.states)
            citizen = citizen_factory(pbx, number="12345", caller="13700000001",
                                      hangup_after=1)
            citizen.start()
            _, talking = await states.wait_for(ready_ext, "talking", after=start)
            assert talking.call_id
            assert citizen.wait(20).exit_code == 0
            await states.wait_for(ready_ext, "ready", after=start)
            assert "ringing" not in states.of(paused_ext)
            assert not any(e.type == "CALL_INCOMING" for e in paused_phone.events())
            status, me = await a.get("/api/operator/me")
            assert me["state"] == "paused" and me["reason"] == "meeting"
            # the illegal: logging in twice is harmless, pausing a talking seat is not allowed
            status, _ = await a.post("/api/operator/state", {"action": "ready"})
            assert status == 200

            mark = len(states.states)
            ready_phone.stop()
            await states.wait_for(ready_ext, "unreachable", after=mark)
            status, me = await b.get("/api/operator/me")
            assert me["state"] == "unreachable"
            status, body = await b.post("/api/operator/state", {"action": "pause"})
            assert status == 409 and body["error"]["code"] == "illegal_state_change"
            assert core.presence.get(ready_ext) is not None
            assert not core.presence.is_ready(ready_ext)
            assert core.presence.is_ready(paused_ext)

            # logging out of a static queue member pauses it with reason "logout"
            status, me = await a.post("/api/operator/state", {"action": "logout"})
            assert status == 200 and me["state"] == "logged_out", me
            member = next(line for line in pbx.cli("queue show hotline-default").splitlines()
                          if f"(PJSIP/op{paused_ext})" in line)
            assert "paused:logout" in member, member
            assert not core.presence.is_ready(paused_ext)
    finally:
        for ext in (paused_ext, ready_ext):
            pbx.cli(f"queue unpause member PJSIP/op{ext}")


@contextlib.asynccontextmanager
async def own_server(
    pbx: Pbx, broker: Mosquitto, store: Path, **sections: Any
) -> AsyncIterator[ServerHandle]:
    """The whole server against a private PBX (server_factory serves the shared one)."""
    settings = server_settings(pbx, broker, store, **sections)
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=ready.set_result,
                                     builders=FEATURES))
    try:
        waiters: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(waiters, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        running = ready.result()
        yield ServerHandle(http_url=running.http_url, settings=settings, core=running.core)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def transfers_on(bus: Bus) -> AsyncIterator[asyncio.Queue[CallTransferred]]:
    seen: asyncio.Queue[CallTransferred] = asyncio.Queue()
    ready = asyncio.Event()

    async def follow() -> None:
        async with bus.subscribe(bus.filter(Domain.CALL, None, "transferred")) as sub:
            ready.set()
            async for message in sub:
                if isinstance(message.event, CallTransferred):
                    seen.put_nowait(message.event)

    task = asyncio.create_task(follow())
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _bridges_with(pbx: Pbx, channels: int) -> bool:
    # Bridge-ID, Name ("<unknown>"), Chans, Type, Technology, Duration
    rows = [line.split() for line in pbx.cli("bridge show all").splitlines()[1:]]
    return any(len(r) >= 6 and r[-4] == str(channels) for r in rows)


async def _transfer(desk: Browser, target: str, mode: str = "blind") -> dict[str, Any]:
    status, body = await desk.post("/api/operator/transfer", {"target": target, "mode": mode})
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_transfers_three_way_and_blind_to_a_queue_and_to_119(
    pbx_factory: Callable[..., Pbx],
    mosquitto: Mosquitto,
    tmp_path: Path,
    softphone_factory: Callable[..., Softphone],
    citizen_factory: Callable[..., Citizen],
    callback_citizen_factory: Callable[..., CallbackCitizen],
) -> None:
    partner = callback_citizen_factory(answer="answer", hangup_after=2)
    own = pbx_factory(pstn_contact=partner.contact)
    first_phone, second_phone = softphone_factory(own, 0), softphone_factory(own, 1)
    first, second = first_phone.operator.extension, second_phone.operator.extension
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            own_server(own, mosquitto, tmp_path / "t.db", operators={"wrap_up_seconds": 30}))
        core = server.core
        states = await stack.enter_async_context(state_log(core.bus))
        transfers = await stack.enter_async_context(transfers_on(core.bus))
        a = await stack.enter_async_context(
            browser(server.http_url, core.sessionmaker, username="op-a", extension=first))
        b = await stack.enter_async_context(
            browser(server.http_url, core.sessionmaker, username="op-b", extension=second))
        for desk in (a, b):
            assert (await desk.post("/api/operator/login", {}))[0] == 200
        assert (await b.post("/api/operator/state", {"action": "pause"}))[0] == 200
        citizen = citizen_factory(own, number="12345", caller="13600000002", max_seconds=60)
        citizen.start()
        _, talking = await states.wait_for(first, "talking")
        call_id = talking.call_id
        assert call_id

        # three-way with 119: the partner joins, the operator stays on
        await _transfer(a, "119", "three_way")
        event = await asyncio.wait_for(transfers.get(), 10)
        assert (event.linkedid, event.target, event.mode, event.ok) == (
            call_id, "119", "three_way", True)
        await asyncio.to_thread(procs.wait_until, lambda: _bridges_with(own, 3), 10,
                                "a three-party bridge")
        assert partner.wait(20).exit_code == 0  # the partner hung up; the two talk on
        assert core.presence.get(first) is not None
        assert states.of(first)[-1] == "talking"

        # blind to the queue: the other operator gets the caller, the first wraps up
        assert (await b.post("/api/operator/state", {"action": "ready"}))[0] == 200
        mark = len(states.states)
        await _transfer(a, core.settings.operators.default_queue)
        event = await asyncio.wait_for(transfers.get(), 10)
        assert (event.kind, event.mode, event.ok) == ("queue", "blind", True)
        await states.wait_for(first, "wrap_up", after=mark)
        _, second_talking = await states.wait_for(second, "talking", after=mark)
        assert second_talking.call_id == call_id

        # blind to 119: a new partner answers, the citizen talks to it
        partner2 = callback_citizen_factory(answer="answer", hangup_after=1,
                                            sip_port=partner.sip_port)
        await _transfer(b, "119")
        event = await asyncio.wait_for(transfers.get(), 10)
        assert (event.kind, event.target, event.ok) == ("emergency", "119", True)
        assert partner2.wait(20).exit_code == 0
        assert citizen.wait(20).exit_code == 0
        await states.wait_for(second, "wrap_up", after=mark)


def _member_line(pbx: Pbx, ext: str) -> str:
    lines = pbx.cli("queue show hotline-default").splitlines()
    return next(line for line in lines if f"(PJSIP/op{ext})" in line)


async def test_a_wrap_up_deadline_survives_a_server_restart(
    pbx: Pbx,
    mosquitto: Mosquitto,
    tmp_path: Path,
    softphone_factory: Callable[..., Softphone],
) -> None:
    phone = softphone_factory(pbx, 2)
    ext = phone.operator.extension
    store = tmp_path / "restart.db"
    try:
        async with (
            own_server(pbx, mosquitto, store) as first,
            browser(first.http_url, first.core.sessionmaker, username="op-r",
                    extension=ext) as desk,
        ):
            assert (await desk.post("/api/operator/login", {}))[0] == 200
            status, body = await desk.post("/api/operator/state",
                                           {"action": "wrap_up", "seconds": 3})
            assert status == 200 and body["state"] == "wrap_up", body
        until = datetime.fromisoformat(body["wrap_up_until"])
        assert "paused" in _member_line(pbx, ext)
        async with own_server(pbx, mosquitto, store) as second:
            async with state_log(second.core.bus) as states:
                presence = second.core.presence
                async with asyncio.timeout(5):
                    while presence.get(ext) is None:
                        await states.changed.wait()
                        states.changed.clear()
                assert not presence.is_ready(ext)  # still wrapping up
                await states.wait_for(ext, "ready", within=10)
                late = (datetime.now(UTC) - until).total_seconds()
                print(f"\nwrap-up ended {late:+.2f} s from its deadline, across a restart")
                assert -0.1 <= late <= 1.0
            await asyncio.to_thread(procs.wait_until,
                                    lambda: "paused" not in _member_line(pbx, ext), 5,
                                    "the member unpaused in Asterisk")
    finally:
        pbx.cli(f"queue unpause member PJSIP/op{ext}")
