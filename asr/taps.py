"""Which call and speaker an AudioSocket stream belongs to.

The tap dialplan (config/asterisk/extensions_taps.conf.tmpl) makes a fresh UUID for
each tap, announces it with `UserEvent(HotlineTap,TapId: <uuid>,Speaker: caller|operator)`
on the tapped channel (so AMI also gives that channel's Linkedid, our call id), then
originates the AudioSocket channel with that UUID. The UserEvent is sent first, but it
travels over AMI while the audio comes over its own TCP connection, so either may
arrive first: a stream waits up to `tap_wait` seconds for its announcement.
Announcements nobody claims are forgotten after `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from asr.segments import Channel
from telephony.ami_events import AmiEvent, UserEvent

log = structlog.get_logger("asr.taps")

TAP_EVENT = "HotlineTap"


class TapError(ValueError):
    """A HotlineTap announcement that cannot be read."""


@dataclass(frozen=True, slots=True)
class Tap:
    stream_id: uuid.UUID
    call_id: str
    channel: Channel
    tapped: str  # the tapped channel's name, for the log


def parse_tap(event: UserEvent) -> Tap:
    headers = {k.lower(): v.strip() for k, v in event.headers.items()}
    try:
        stream_id = uuid.UUID(headers.get("tapid", ""))
    except ValueError as err:
        raise TapError(f"HotlineTap with a bad TapId {headers.get('tapid')!r}") from err
    speaker = headers.get("speaker", "")
    if speaker not in ("caller", "operator"):
        raise TapError(f"HotlineTap with an unknown Speaker {speaker!r}")
    call_id = event.call_id
    if not call_id:
        raise TapError("HotlineTap without a Linkedid")
    channel: Channel = "caller" if speaker == "caller" else "operator"
    return Tap(stream_id=stream_id, call_id=call_id, channel=channel, tapped=event.channel)


class TapRegistry:
    """AMI handler: remembers announced taps; `claim()` waits for one."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._known: dict[uuid.UUID, tuple[Tap, float]] = {}
        self._waiting: dict[uuid.UUID, asyncio.Future[Tap]] = {}

    async def on_ami_event(self, event: AmiEvent) -> None:
        if not isinstance(event, UserEvent) or event.user_event != TAP_EVENT:
            return
        try:
            tap = parse_tap(event)
        except TapError as err:
            log.error("bad tap announcement", error=str(err),  # noqa: TRY400
                      channel=event.channel)
            return
        self.announce(tap)

    def announce(self, tap: Tap) -> None:
        log.debug("tap announced", stream=str(tap.stream_id), call_id=tap.call_id,
                  speaker=tap.channel)
        waiter = self._waiting.pop(tap.stream_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(tap)
            return
        now = self._clock()
        self._known = {k: v for k, v in self._known.items() if now - v[1] < self.ttl}
        self._known[tap.stream_id] = (tap, now)

    async def claim(self, stream_id: uuid.UUID, wait: float) -> Tap | None:
        """The tap for this stream id, waiting up to `wait` s for its announcement."""
        known = self._known.pop(stream_id, None)
        if known is not None:
            return known[0]
        waiter: asyncio.Future[Tap] = asyncio.get_running_loop().create_future()
        self._waiting[stream_id] = waiter
        try:
            async with asyncio.timeout(wait):
                return await waiter
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(stream_id, None)
            with contextlib.suppress(asyncio.InvalidStateError):
                waiter.cancel()
