"""The keyword alerts of a call, for a desk reloaded mid-call (GET /api/calls/{id}/alerts).

The whole server (operators feature) over the shared Asterisk and broker with a SQLite
store; the alerts are stored as the transcription feature stores them (asr.repo.add_alert).
An operator's cookie session reads them oldest first; an admin (no seat) may not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from accounts.roles import Role
from asr import repo as transcripts
from hotline.pbx_watch import build as pbx_connection
from telephony.operator_service import build as operators
from tests.fixtures.server import ServerHandle
from tests.integration.operator_desk import browser

pytestmark = pytest.mark.integration


async def test_a_reloaded_desk_reads_the_calls_stored_alerts(
    server_factory: Callable[..., Awaitable[ServerHandle]],
) -> None:
    server = await server_factory(builders=(pbx_connection, operators))
    call = "1790000000.42"
    async with server.core.sessionmaker() as s:
        await transcripts.add_alert(call, "caller", "煤气", "transfer_119", "家里煤气漏了",
                                    session=s)  # fmt: skip
        await transcripts.add_alert(call, "caller", "着火", "transfer_119", "好像着火了",
                                    session=s)  # fmt: skip
        await transcripts.add_alert("another.1", "caller", "跳楼", "alert_supervisor", "x",
                                    session=s)  # fmt: skip
    async with browser(server.http_url, server.core.sessionmaker, username="desk-alerts",
                       extension="1001") as desk:  # fmt: skip
        status, body = await desk.get(f"/api/calls/{call}/alerts")
        assert status == 200, body
        assert body["call_id"] == call
        assert [(a["keyword"], a["channel"], a["action"]) for a in body["alerts"]] == [
            ("煤气", "caller", "transfer_119"), ("着火", "caller", "transfer_119"),
        ]  # fmt: skip
        assert all(a["at"] for a in body["alerts"])
        status, body = await desk.get("/api/calls/no-such-call/alerts")
        assert (status, body["alerts"]) == (200, [])
    async with browser(server.http_url, server.core.sessionmaker, username="admin-alerts",
                       extension=None, role=Role.admin) as admin:  # fmt: skip
        status, _ = await admin.get(f"/api/calls/{call}/alerts")
        assert status == 403
