"""A server stopped while a callback rings: hung up, the task (or survey job) handed back.

Two servers in turn on one SQLite store against the real Asterisk 22 (the shared pbx):
the first dials a sipp phone that rings and never answers and is stopped mid-ring; the
phone must see the CANCEL, and the task must be waiting again (not `dialing` until its
lease ends). The second start dials it again at once (the phone now answers busy: the
last attempt, so the task goes back to the operators with the reason). The same for a
survey callback (ivr_flows' scheduler): its attempt is settled at the stop, not after the
lease.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from hotline.app import Running, serve
from ivr_flows import repo as ivr_repo
from ivr_flows.feature import build as survey_callbacks
from ivr_flows.models import CallbackJob, JobState
from ivr_flows.prompts import install_prompts
from lab.baresip import Softphone
from lab.mosquitto import Mosquitto
from lab.pbx import Pbx
from lab.sipp import CallbackCitizen
from telephony import call_repo
from telephony import callback_dialer_repo as dialer_repo
from telephony.call_models import CallbackTaskPublic, DialState
from tests.fixtures.server import ServerHandle, server_settings
from tests.integration.operator_desk import browser
from tests.integration.test_callback_dialer_live import ALL_DAY, AUTO, BUILDERS, until
from tests.integration.test_callbacks_live import ivr_settings_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ivr-prompts")
    install_prompts(target)
    return target


class Server:
    """One whole server (hotline.app.serve) that the test may stop in the middle."""

    def __init__(self, settings: Settings, builders: tuple[Any, ...] = BUILDERS) -> None:
        self.settings = settings
        self.builders = builders
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.handle: ServerHandle | None = None

    async def __aenter__(self) -> ServerHandle:
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(
            serve(self.settings, stop=self._stop, on_ready=ready.set_result, builders=self.builders)
        )
        waiting: set[asyncio.Future[Any]] = {self._task, ready}
        done, _ = await asyncio.wait(waiting, timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if self._task in done:
            self._task.result()
            raise AssertionError("the server stopped before it was ready")
        assert ready in done, "the server was not ready within 30 s"
        running = ready.result()
        return ServerHandle(http_url=running.http_url, settings=self.settings, core=running.core)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


@asynccontextmanager
async def ready_operator(server: ServerHandle, pbx: Pbx, phone: Softphone,
                         username: str) -> AsyncIterator[None]:  # fmt: skip
    ext = phone.operator.extension
    try:
        async with browser(server.http_url, server.core.sessionmaker, username=username,
                           extension=ext) as b:  # fmt: skip
            status, me = await b.post("/api/operator/login", {})
            assert status == 200 and me["state"] == "ready", me
            # A seat the resync already found ready keeps the skills seen then until its
            # state changes: pause and back, so the dialer sees the desk's queues.
            for action in ("pause", "ready"):
                status, me = await b.post("/api/operator/state", {"action": action})
                assert status == 200, me
            yield
    finally:
        pbx.cli(f"queue unpause member PJSIP/op{ext}")  # the shared PBX stays usable


async def the_task(server: ServerHandle, task_id: int) -> CallbackTaskPublic:
    async with server.core.sessionmaker() as session:
        (task,) = [t for t in await call_repo.list_callbacks(session=session, status=None)
                   if t.id == task_id]  # fmt: skip
        return task


async def test_a_server_stopped_while_a_callback_rings_hangs_up_and_hands_the_task_back(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path,
    callback_citizen_factory: Callable[..., CallbackCitizen],
    softphone_factory: Callable[..., Softphone],
) -> None:  # fmt: skip
    ringing = callback_citizen_factory(answer="no-answer")
    settings = server_settings(
        pbx, mosquitto, tmp_path / "hotline.db", operators={"wrap_up_seconds": 0},
        calls={**AUTO, "callback_ring_seconds": 60, "callback_retry_seconds": 600},
        ivr={**ALL_DAY, "trunk": "PJSIP/pstn/sip:{number}"},
    )  # fmt: skip
    phone = softphone_factory(pbx, 1)
    first = Server(settings)
    async with first as server:
        async with server.core.sessionmaker() as session:
            missed = await call_repo.note_missed_call(
                session=session, number=f"13800000007@127.0.0.1:{ringing.sip_port}",
                at=datetime.now(UTC),
            )  # fmt: skip
        async with ready_operator(server, pbx, phone, "cb-stop-1"):

            async def ringing_now() -> bool:
                task = await the_task(server, missed.id)
                channels = pbx.cli("core show channels concise")
                return task.dial_state == DialState.dialing and "Ringing" in channels

            await until(ringing_now, "the citizen's phone ringing", within=30)
            stopped_at = time.monotonic()
            await first.stop()
            stop_seconds = time.monotonic() - stopped_at
            after_stop = await the_task(server, missed.id)
    # The phone heard the CANCEL: its scenario (ring until CANCEL, then 487) ran to its end.
    assert (await asyncio.to_thread(ringing.wait, 15)).exit_code == 0
    print(f"\nstop while ringing: server stopped in {stop_seconds:.2f} s")
    assert (after_stop.dial_state, after_stop.dial_outcome, after_stop.claimed_by) == (
        DialState.waiting, "interrupted", None,
    )  # fmt: skip
    assert (after_stop.dial_reason or "").startswith("server stopped while ringing at attempt 1")
    answering = callback_citizen_factory(answer="busy", sip_port=ringing.sip_port)
    async with Server(settings) as server:
        async with ready_operator(server, pbx, phone, "cb-stop-2"):

            async def redialled() -> CallbackTaskPublic | None:
                t = await the_task(server, missed.id)
                return t if t.dial_attempts == 2 and t.dial_state != DialState.dialing else None

            again = await until(redialled, "the dial again after the restart", within=30)
        async with server.core.sessionmaker() as session:
            dials = await dialer_repo.dials_of(session=session, task_id=missed.id)
    assert (await asyncio.to_thread(answering.wait, 15)).exit_code == 0
    assert [d.outcome for d in dials] == ["interrupted", "busy"]
    assert (again.dial_state, again.dial_outcome) == (DialState.manual, "busy")


async def test_a_server_stopped_during_a_survey_call_hangs_up_and_settles_the_attempt(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path, prompt_cache: Path,
    callback_citizen_factory: Callable[..., CallbackCitizen],
) -> None:  # fmt: skip
    ringing = callback_citizen_factory(answer="no-answer")
    ivr = ivr_settings_for(pbx, prompt_cache, ring_seconds=60, **ALL_DAY).model_dump(mode="json")
    settings = server_settings(pbx, mosquitto, tmp_path / "hotline.db", ivr=ivr)
    server_of = Server(settings, builders=(survey_callbacks,))
    async with server_of as server:
        async with server.core.sessionmaker() as session:
            job, _ = await ivr_repo.add_job(session=session, job=CallbackJob(
                kind="survey", flow="survey", order_id="STOP-1", dedupe_key="stop-1",
                number=f"13800000008@127.0.0.1:{ringing.sip_port}", due_at=datetime.now(UTC),
            ))  # fmt: skip
        job_id = job.id
        assert job_id is not None

        async def ringing_now() -> bool:
            async with server.core.sessionmaker() as session:
                found = await ivr_repo.get_job(session=session, job_id=job_id)
            channels = pbx.cli("core show channels concise")
            return found is not None and found.state == JobState.calling and "Ringing" in channels

        await until(ringing_now, "the citizen's phone ringing", within=30)
        await server_of.stop()
        async with server.core.sessionmaker() as session:
            after = await ivr_repo.get_job(session=session, job_id=job_id)
            tries = await ivr_repo.attempts_of(session=session, job_id=job_id)
    assert (await asyncio.to_thread(ringing.wait, 15)).exit_code == 0  # it heard the CANCEL
    assert after is not None
    assert (after.state, after.attempts, after.claimed_by) == (JobState.pending, 1, None)
    assert "interrupted: the server stopped" in (after.reason or "")
    assert [t.ended_at is not None for t in tries] == [True]
