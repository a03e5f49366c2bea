"""Waiting in tests: poll a condition with a deadline (never a fixed sleep for an outcome)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def until(
    check: Callable[[], Awaitable[Any] | Any], what: str, within: float = 15.0
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; return that value.

    Raises AssertionError naming `what` when `within` seconds pass first.
    """
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.1)  # polling interval, with a deadline
