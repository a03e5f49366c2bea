"""The composition root in-process: features wired, PBX connection on the bus."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from hotline.bus_events import Domain, PbxConnection
from tests.fixtures.server import ServerHandle

pytestmark = pytest.mark.integration


async def test_server_serves_health_and_reports_the_pbx_on_the_bus(
    server_factory: Callable[..., Awaitable[ServerHandle]],
) -> None:
    server = await server_factory()
    async with aiohttp.ClientSession() as http, http.get(server.http_url + "/healthz") as r:
        assert r.status == 200
        assert (await r.json())["status"] == "ok"
    bus = server.core.bus
    # Retained: a subscriber that comes after the login still sees the connection state.
    async with bus.subscribe(bus.filter(Domain.PBX, None, "connection")) as sub:
        async with asyncio.timeout(10):
            message = await anext(aiter(sub))
    event = message.event
    assert isinstance(event, PbxConnection)
    assert event.connected
