"""Missed-call callbacks dialled automatically, against the real Asterisk 22.

The whole server (server_factory) runs calls, operators and the dialer with
`calls.callback_mode = "auto"`; citizens are sipp (a caller who gives up, then phones
that answer, refuse busy, ring unanswered or do not exist), the operator is a real
baresip softphone logged in on the desktop API. Calling hours are opened to the whole
day: the server runs on the real clock. Backoffs are seconds, so retries happen while
the test watches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.bus_events import CallbackTaskChanged
from hotline.bus_topics import Domain
from hotline.pbx_watch import build as pbx_connection
from ivr_flows.prompts import synthesize
from lab.baresip import Softphone
from lab.pbx import Pbx
from lab.ports import free_udp_port
from lab.sipp import CallbackCitizen, Citizen
from telephony import call_repo
from telephony import callback_dialer_repo as dialer_repo
from telephony.call_models import CallbackStatus, CallbackTaskPublic, DialState
from telephony.call_service import build as calls
from telephony.callback_dialer import build as callback_dialer
from telephony.operator_service import build as operators
from tests.fixtures.server import ServerHandle
from tests.integration.operator_desk import Browser, browser
from tests.waiting import until

pytestmark = pytest.mark.integration

BUILDERS = (pbx_connection, calls, operators, callback_dialer)
ALL_DAY = {"calling_hours_start": "00:00:00", "calling_hours_end": "23:59:59"}
AUTO = {
    "callback_mode": "auto",
    "callback_ring_seconds": 3,
    "callback_queue_seconds": 15,
    "callback_poll_seconds": 0.5,
    "callback_retry_seconds": 2,
    "callback_retry_factor": 1,
    "callback_max_attempts": 2,
}
ServerFactory = Callable[..., Awaitable[ServerHandle]]


async def tasks(server: ServerHandle) -> list[CallbackTaskPublic]:
    async with server.core.sessionmaker() as session:
        return await call_repo.list_callbacks(session=session, status=None)


@asynccontextmanager
async def ready_operator(
    server: ServerHandle, pbx: Pbx, phone: Softphone
) -> AsyncIterator[tuple[str, Browser]]:
    """The softphone's operator logged in on the desktop API (ready)."""
    ext = phone.operator.extension
    try:
        async with browser(server.http_url, server.core.sessionmaker, username=f"cb-{ext}",
                           extension=ext) as b:  # fmt: skip
            status, me = await b.post("/api/operator/login", {})
            assert status == 200 and me["state"] == "ready", me
            yield ext, b
    finally:
        pbx.cli(f"queue unpause member PJSIP/op{ext}")  # the shared PBX stays usable


def task_changes(server: ServerHandle) -> Any:
    bus = server.core.bus
    return bus.subscribe(bus.filter(Domain.CALL, None, "callback_task"))


async def test_an_abandoned_call_is_called_back_and_connected_to_a_ready_operator(
    server_factory: ServerFactory, pbx: Pbx, citizen_factory: Callable[..., Citizen],
    callback_citizen_factory: Callable[..., CallbackCitizen],
    softphone_factory: Callable[..., Softphone],
) -> None:  # fmt: skip
    prompts = pbx.dir / "callback-prompts"
    prompts.mkdir(exist_ok=True)
    await asyncio.to_thread(synthesize, "正在为您转接。",
                            prompts / "callback_connect.wav")  # fmt: skip
    phone_of_citizen = callback_citizen_factory(answer="answer")
    trunk = f"PJSIP/pstn/sip:{{number}}@127.0.0.1:{phone_of_citizen.sip_port}"
    server = await server_factory(
        builders=BUILDERS, calls=AUTO, operators={"wrap_up_seconds": 0},
        ivr={**ALL_DAY, "trunk": trunk, "prompt_dir": f"{pbx.config.inst}/callback-prompts"},
    )  # fmt: skip
    # Nobody is at a desk: the citizen gives up, which leaves a callback task (announced
    # on the bus as waiting), then the dialer's changes follow.
    async with task_changes(server) as changes:
        caller = "13900001111"
        gave_up = citizen_factory(pbx, number="12345", caller=caller, hangup_after=2)
        gave_up.start()
        (task,) = await until(lambda: tasks(server), "the missed call's callback task", within=30)
        assert (task.number, task.line, task.dial_state) == (caller, "12345", DialState.waiting)
        assert gave_up.wait(15).exit_code == 0
        phone = softphone_factory(pbx, 0)
        async with ready_operator(server, pbx, phone) as (ext, _):
            ready_at = time.time()
            await asyncio.to_thread(phone.wait_event, "CALL_ESTABLISHED", 30)

            async def connected() -> CallbackTaskPublic | None:
                (t,) = await tasks(server)
                return t if t.status == CallbackStatus.done else None

            done = await until(connected, "the task closed as connected", within=30)
            phone.hangup()
            assert phone_of_citizen.wait(15).exit_code == 0
        seen: list[CallbackTaskChanged] = []
        at: dict[str, float] = {}
        async with asyncio.timeout(10):
            async for message in changes:
                assert isinstance(message.event, CallbackTaskChanged)
                seen.append(message.event)
                at[message.event.dial_state] = message.envelope.time.timestamp()
                if message.event.dial_state == "connected":
                    break
    prompt_seconds = ((prompts / "callback_connect.wav").stat().st_size - 44) / 16000
    print(f"\ncallback: operator ready -> dial {at['dialing'] - ready_at:.2f} s, "
          f"dial -> connected to the operator {at['connected'] - at['dialing']:.2f} s "
          f"(prompt {prompt_seconds:.2f} s)")  # fmt: skip
    assert (done.dial_state, done.connected_to, done.dial_attempts, done.done_by) == (
        DialState.connected, ext, 1, dialer_repo.DIALER,
    )  # fmt: skip
    assert done.dial_outcome == "connected" and done.dial_reason == f"connected to operator {ext}"
    async with server.core.sessionmaker() as session:
        (dial,) = await dialer_repo.dials_of(session=session, task_id=done.id)
    assert (dial.outcome, dial.operator_extension, dial.dial_status) == ("connected", ext, "ANSWER")
    assert [e.dial_state for e in seen] == ["waiting", "dialing", "connected"]
    assert seen[0].missed_count == 1 and seen[0].status == "open"
    assert seen[-1].connected_to == ext and seen[-1].status == "done"


async def test_busy_then_connected_on_the_retry_and_others_back_to_operators_with_reasons(
    server_factory: ServerFactory, pbx: Pbx,
    callback_citizen_factory: Callable[..., CallbackCitizen],
    softphone_factory: Callable[..., Softphone],
) -> None:  # fmt: skip
    busy = callback_citizen_factory(answer="busy")
    silent = callback_citizen_factory(answer="no-answer")
    nobody = free_udp_port()  # nothing listens there
    server = await server_factory(
        # The prompt file is missing here: Playback fails, the citizen still reaches us.
        builders=BUILDERS, calls={**AUTO, "callback_prompt": "no-such-prompt"},
        operators={"wrap_up_seconds": 0}, ivr={**ALL_DAY, "trunk": "PJSIP/pstn/sip:{number}"},
    )  # fmt: skip
    now = datetime.now(UTC)
    numbers = {
        "busy": f"13800000001@127.0.0.1:{busy.sip_port}",
        "nobody": f"13800000002@127.0.0.1:{nobody}",
        "silent": f"13800000003@127.0.0.1:{silent.sip_port}",
    }
    ids: dict[str, int] = {}
    async with server.core.sessionmaker() as session:
        for n, (name, number) in enumerate(numbers.items()):
            t = await call_repo.note_missed_call(
                session=session, number=number, at=now.replace(microsecond=n)
            )
            ids[name] = t.id
        # A dial a stopped server left behind (its lease is over): never dialled again.
        left = await call_repo.note_missed_call(session=session, number=numbers["nobody"] + "4",
                                                at=now.replace(microsecond=9))  # fmt: skip
        assert await dialer_repo.claim(session=session, task_id=left.id, now=now,
                                       owner="a-stopped-server", channel_id="dead-channel",
                                       lease_until=now - timedelta(seconds=1))  # fmt: skip

    async def by_name() -> dict[str, CallbackTaskPublic]:
        found = {t.id: t for t in await tasks(server)}
        return {name: found[i] for name, i in ids.items()}

    def attempted(name: str, n: int) -> Callable[[], Awaitable[CallbackTaskPublic | None]]:
        async def check() -> CallbackTaskPublic | None:
            t = (await by_name())[name]
            return t if t.dial_attempts >= n and t.dial_state != DialState.dialing else None

        return check

    phone = softphone_factory(pbx, 1)
    async with ready_operator(server, pbx, phone) as (ext, desk):
        first = await until(attempted("busy", 1), "the busy attempt", within=30)
        assert (first.dial_state, first.dial_outcome) == (DialState.waiting, "busy")
        assert first.next_dial_at is not None
        busy.wait(10)
        answering = callback_citizen_factory(answer="answer", sip_port=busy.sip_port)
        lost = await until(attempted("nobody", 1), "the unreachable attempt", within=30)
        assert (lost.dial_state, lost.dial_outcome) == (DialState.manual, "unreachable")
        assert lost.status == CallbackStatus.open  # back on the desk's list
        assert (lost.dial_reason or "").startswith("unreachable after 1 attempt(s)")
        # The busy number's retry is due before the silent one is first dialled (oldest
        # miss first); one operator, so one dial at a time.
        await asyncio.to_thread(phone.wait_event, "CALL_ESTABLISHED", 30)
        retried = await until(attempted("busy", 2), "the retry of the busy number", within=30)
        phone.hangup()
        assert answering.wait(15).exit_code == 0
        await until(attempted("silent", 1), "the first unanswered attempt", within=30)
        silent.wait(10)
        callback_citizen_factory(answer="no-answer", sip_port=silent.sip_port)
        given_up = await until(attempted("silent", 2), "the second unanswered attempt", within=30)
        # The desk: the mode; the dials of a task; a task is taken by hand, a closed one not.
        status, body = await desk.get("/api/callbacks/dialer")
        assert status == 200 and (body["mode"], body["max_attempts"]) == ("auto", 2), body
        status, body = await desk.get(f"/api/callbacks/{ids['busy']}/dials")
        assert status == 200 and [d["outcome"] for d in body["dials"]] == ["busy", "connected"]
        status, body = await desk.post(f"/api/callbacks/{ids['silent']}/take", {})
        assert status == 200 and body["dial_reason"].startswith(f"taken by hand by cb-{ext}")
        status, body = await desk.post(f"/api/callbacks/{ids['busy']}/take", {})
        assert status == 409, body
    assert (retried.status, retried.dial_state, retried.connected_to) == (
        CallbackStatus.done, DialState.connected, ext,
    )  # fmt: skip
    assert (given_up.status, given_up.dial_state, given_up.dial_outcome) == (
        CallbackStatus.open, DialState.manual, "no_answer",
    )  # fmt: skip
    assert (given_up.dial_reason or "").startswith("no_answer after 2 attempt(s)")
    async with server.core.sessionmaker() as session:
        dials = await dialer_repo.dials_of(session=session, task_id=ids["busy"])
        interrupted = await dialer_repo.dials_of(session=session, task_id=left.id)
        (after,) = [t for t in await tasks(server) if t.id == left.id]
    assert [d.outcome for d in dials] == ["busy", "connected"]
    assert [d.channel_id for d in interrupted] == ["dead-channel"]
    assert (after.dial_state, after.dial_outcome, after.dial_attempts) == (
        DialState.manual, "interrupted", 1,
    )  # fmt: skip
