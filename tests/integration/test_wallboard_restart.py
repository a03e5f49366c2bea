"""The wallboard's time in state survives a restart: seats seeded from the store.

The operators' state history (telephony.operator_models.OperatorStateChange) is in the
store before the server starts, as a previous run left it. The wallboard of the new
server (over the real broker, against the shared Asterisk) must show each seat's stored
state since the stored time, not since its own start; a bus event repeating a state
keeps that time, a new state starts a new one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop import wallboard_store as store
from agent_desktop.wallboard import build as wallboard
from hotline import db
from hotline.bus_events import OperatorState
from lab.mosquitto import Mosquitto
from lab.pbx import Pbx
from telephony.operator_models import OperatorStateChange
from tests.fixtures.server import server_settings
from tests.integration.test_callback_dialer_stop import Server
from tests.waiting import until

pytestmark = pytest.mark.integration
# Extensions no other test's retained operator.state messages on the shared broker use.
SEATS = ("7701", "7702", "7703")


async def test_time_in_state_is_seeded_from_the_store_at_start(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = server_settings(pbx, mosquitto, tmp_path / "wb.db")
    now = datetime.now(UTC).replace(microsecond=0)
    engine = db.create_engine(settings.database)
    try:
        await db.migrate(engine)
        async with db.session_factory(engine)() as s:
            for ext, state, reason, ago in (
                ("7701", "logged_out", None, 3600), ("7701", "ready", None, 1500),
                ("7702", "paused", "meal", 600), ("7703", "talking", None, 90),
            ):  # fmt: skip
                s.add(OperatorStateChange(extension=ext, state=state, reason=reason,
                                          at=now - timedelta(seconds=ago)))  # fmt: skip
            await s.commit()
    finally:
        await engine.dispose()
    async with Server(settings, builders=(wallboard,)) as server:
        async with server.core.sessionmaker() as s:
            boss = await accounts.create_user(session=s, username="boss", password="x" * 16,
                                              role=Role.supervisor)  # fmt: skip
            token = await accounts.create_api_token(session=s, user_id=boss.id, name="wb")
        headers = {"Authorization": f"Bearer {token}"}
        async with ClientSession(headers=headers) as http:

            async def board() -> tuple[dict[str, tuple[str, datetime]], dict[str, str]]:
                async with http.get(f"{server.http_url}/api/wallboard/figures") as resp:
                    assert resp.status == 200
                    body = await resp.json()
                rows = [s for s in body["seats"] if s["extension"] in SEATS]
                when = datetime.fromisoformat
                return (
                    {s["extension"]: (s["state"], when(s["since"])) for s in rows},
                    {s["extension"]: s["label"] for s in rows},
                )

            seeded = {
                "7701": ("ready", now - timedelta(seconds=1500)),
                "7702": ("paused", now - timedelta(seconds=600)),
                "7703": ("talking", now - timedelta(seconds=90)),
            }

            async def is_seeded() -> bool:
                return (await board())[0] == seeded

            await until(is_seeded, "the seats seeded from the store")
            assert (await board())[1]["7702"] == "示忙（用餐）"
            # This start's operators feature repeats a state: the time stays; 7703 hangs up.
            server.core.bus.publish(OperatorState(extension="7701", state="ready"))
            server.core.bus.publish(OperatorState(extension="7703", state="wrap_up"))

            async def wrapping_up() -> bool:
                return (await board())[0]["7703"][0] == "wrap_up"

            await until(wrapping_up, "the wrap-up of 7703 on the board")
            states = (await board())[0]
    assert states["7701"] == seeded["7701"] and states["7702"] == seeded["7702"]
    assert states["7703"][1] >= now  # a new state: its own time


async def test_the_seat_states_query_on_sqlite_and_postgresql(engine: AsyncEngine) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    async with db.session_factory(engine)() as s:
        for ext, state, ago in (("7801", "ready", 50), ("7801", "paused", 20),
                                ("7801", "talking", -5), ("7802", "ready", 10)):  # fmt: skip
            s.add(OperatorStateChange(extension=ext, state=state,
                                      at=start - timedelta(seconds=ago)))  # fmt: skip
        await s.commit()
        rows = await store.seat_states(session=s, before=start)
    # 7801's "talking" was written after this start (it came on the bus): not seeded.
    assert sorted((r.extension, r.state) for r in rows) == [("7801", "paused"), ("7802", "ready")]
