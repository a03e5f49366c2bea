"""A transfer announced by the operators feature ends up on the call's record."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from hotline.bus_events import CallTransferred
from hotline.features import BUILDERS
from telephony import call_repo
from tests.fixtures.server import ServerHandle

pytestmark = pytest.mark.integration


async def test_a_published_transfer_is_recorded_on_the_call(
    server_factory: Callable[..., Awaitable[ServerHandle]],
) -> None:
    server = await server_factory(builders=BUILDERS)
    core = server.core
    async with core.sessionmaker() as session:
        await call_repo.open_call(
            session=session, uniqueid="1700000000.7", linkedid="1700000000.7",
            entered_at=datetime.now(UTC), dnis="12345", caller_number="13800138000",
        )  # fmt: skip
    transfer = CallTransferred(linkedid="1700000000.7", extension="1001", target="119",
                               kind="emergency", mode="three_way")  # fmt: skip
    # The server subscribes in its own task: an event published before that is not for it
    # (not retained), so announce again each second until it is recorded.
    async with asyncio.timeout(15):
        while True:
            core.bus.publish(transfer)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    while True:
                        async with core.sessionmaker() as session:
                            call = await call_repo.find_call(
                                session=session, uniqueid="1700000000.7"
                            )
                        if call is not None and call.transfers:
                            break
                        await asyncio.sleep(0.05)  # polling the store, with the deadlines
            if call is not None and call.transfers:
                break
    entry = call.transfers[0]
    assert entry["target"] == "119"
    assert entry["mode"] == "three_way"
    assert entry["by"] == "1001"
