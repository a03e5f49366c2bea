"""Live transcription, the feature: taps in, transcripts out on the bus and in the store.

Theory of operation
-------------------
`build(core)` returns the feature: the `TapRegistry` listens to AMI for tap
announcements, and one task runs the recognizer pool, the AudioSocket server and the
store writer. For every AudioSocket stream:

1. the stream's UUID is claimed from the registry (call id + speaker), or it is refused;
2. the pool admits it, or it is marked unavailable (`TranscriptStatus` "unavailable",
   which the desktop shows) and closed: every other stream keeps its pace;
3. audio goes to the pool; results come back on the loop to a `StreamSession`, which
   publishes `TranscriptPartial` (only when the text changes, a few per second at most),
   `TranscriptFinal` (also queued for the store), `KeywordAlert` (also stored), and
   `TranscriptLag` per stream plus `SystemLag("asr")` at most every `lag_interval`;
4. at the end of the stream (the call hung up) the pool flushes the last words as a
   final and frees the recognizer; `TranscriptStatus` "ended" follows.

Offsets: the first stream of a call starts that call's clock; a later stream (the
operator's, after the queue) starts at its own arrival time on that clock.

Nothing here may take the server down: a missing model, a taken port or a failing store
is logged and reported as `SystemHealth("asr")`, and calls go on without transcripts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asr import repo
from asr.audiosocket import AudioSocketServer, StreamRejected, StreamSink
from asr.keywords import KeywordRule, KeywordWatcher
from asr.pool import ModelLoadError, PoolConfig, PoolError, PoolStream, RecognizerPool
from asr.segments import RecognizedFinal, RecognizedPartial, Segment, SegmentTracker
from asr.taps import Tap, TapRegistry
from config.settings import AsrSettings
from hotline.bus import Bus
from hotline.bus_events import (
    KeywordAlert,
    SystemHealth,
    SystemLag,
    TranscriptFinal,
    TranscriptLag,
    TranscriptPartial,
    TranscriptStatus,
)
from hotline.feature import Core, Feature

log = structlog.get_logger("asr")

StoreJob = Callable[[AsyncSession], Awaitable[object]]
_STORE_QUEUE = 10_000


@dataclass
class _Call:
    started: float
    streams: int = 0


class StreamSession:
    """One admitted stream: the sink for its audio and the listener for its results."""

    def __init__(self, service: TranscriptionService, tap: Tap, offset: float) -> None:
        self.service = service
        self.tap = tap
        self.tracker = SegmentTracker(
            tap.channel,
            offset_seconds=offset,
            min_interval=service.settings.partial_interval,
            number_style=service.settings.number_style,
        )
        self.stream: PoolStream | None = None
        self.lag = 0.0
        self.max_lag = 0.0
        self._lag_published = 0.0
        self.log = log.bind(call_id=tap.call_id, speaker=tap.channel)

    # StreamSink
    def audio(self, pcm: bytes) -> None:
        if self.stream is not None:
            self.stream.feed(pcm)

    def dtmf(self, digit: str) -> None:
        self.log.debug("tap heard a digit", digit=digit)

    async def end(self, reason: str) -> None:
        if self.stream is not None:
            try:
                await self.stream.close()
            except PoolError as err:
                self.log.error("recognition ended with an error", error=str(err))  # noqa: TRY400
            if self.stream.dropped_bytes:
                self.log.warning("audio dropped: recognition fell behind",
                                 seconds=self.stream.dropped_bytes / 16000)
        self.service.stream_ended(self, reason)

    # ResultListener
    def on_partial(self, partial: RecognizedPartial) -> None:
        out = self.tracker.on_partial(partial)
        if out is None:
            return
        self.service.bus.publish(TranscriptPartial(
            call_id=self.tap.call_id, channel=out.channel, segment=out.index, text=out.text))
        self.service.check_keywords(self.tap, out.text)

    def on_final(self, final: RecognizedFinal) -> None:
        segment = self.tracker.on_final(final)
        if segment is None:
            return
        self.service.bus.publish(TranscriptFinal(
            call_id=self.tap.call_id, channel=segment.channel, segment=segment.index,
            text=segment.text, start_seconds=segment.start_seconds,
            end_seconds=segment.end_seconds, confidence=segment.confidence))
        self.service.store_segment(self.tap.call_id, segment)
        self.service.check_keywords(self.tap, segment.text)

    def on_lag(self, lag_seconds: float) -> None:
        self.lag = lag_seconds
        self.max_lag = max(self.max_lag, lag_seconds)
        now = time.monotonic()
        if now - self._lag_published >= self.service.settings.lag_interval:
            self._lag_published = now
            self.service.bus.publish(TranscriptLag(
                call_id=self.tap.call_id, channel=self.tap.channel,
                lag_seconds=round(lag_seconds, 4), max_lag_seconds=round(self.max_lag, 4)))
            self.service.report_lag()


class TranscriptionService:
    def __init__(self, settings: AsrSettings, bus: Bus,
                 sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.bus = bus
        self.sessionmaker = sessionmaker
        self.taps = TapRegistry()
        self.keywords = KeywordWatcher(
            KeywordRule(keyword=k.keyword, action=k.action) for k in settings.keywords)
        self.pool: RecognizerPool | None = None
        self.server = AudioSocketServer(
            settings.audiosocket_host, settings.audiosocket_port, self.open_stream,
            uuid_timeout=settings.uuid_timeout, idle_timeout=settings.idle_timeout)
        self.listening = asyncio.Event()
        self._calls: dict[str, _Call] = {}
        self._sessions: set[StreamSession] = set()
        self._store: asyncio.Queue[StoreJob] = asyncio.Queue(_STORE_QUEUE)
        self._system_lag_at = 0.0

    # ----------------------------------------------------------------- the task
    async def run(self) -> None:
        if not self.settings.enabled:
            log.info("transcription disabled by settings")
            return
        await self._start_pool()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._serve())
                tg.create_task(self._write_store())
        finally:
            if self.pool is not None:
                await self.pool.stop()

    async def _start_pool(self) -> None:
        path = self.settings.model_path
        if path is None:
            self._health("down", "no model configured (asr.model_path)")
            return
        pool = RecognizerPool(PoolConfig(
            model_path=path, workers=self.settings.workers,
            max_streams=self.settings.max_streams, renew_seconds=self.settings.renew_seconds,
            max_backlog_seconds=self.settings.max_backlog_seconds,
            admit_max_lag=self.settings.admit_max_lag,
            # Asking for partials costs decoding time: no more often than we publish them.
            partial_every=max(self.settings.partial_interval, 0.1)))
        try:
            await pool.start()
        except ModelLoadError as err:
            log.error("transcription unavailable: no model", error=str(err))  # noqa: TRY400
            self._health("down", str(err))
            return
        self.pool = pool
        self._health("up", f"{pool.config.worker_count} workers, {pool.capacity} streams",
                     capacity=pool.capacity)  # fmt: skip

    async def _serve(self) -> None:
        try:
            await self.server.serve(on_listening=lambda _port: self.listening.set())
        except OSError as err:
            log.error(  # noqa: TRY400  (the reason is enough; no traceback)
                "audiosocket server cannot listen", host=self.settings.audiosocket_host,
                port=self.settings.audiosocket_port, error=str(err))
            self._health("down", f"audiosocket: {err}")

    async def _write_store(self) -> None:
        while True:
            job = await self._store.get()
            try:
                async with self.sessionmaker() as session:
                    await job(session)
            except (repo.TranscriptStoreError, OSError) as err:
                log.error("transcript not stored", error=str(err))  # noqa: TRY400
            except Exception:  # a bug here must not stop transcription or the server
                log.exception("transcript store writer failed")

    def _health(
        self, status: Literal["up", "degraded", "down"], detail: str, capacity: int | None = None
    ) -> None:
        self.bus.publish(
            SystemHealth(component="asr", status=status, detail=detail, capacity=capacity)
        )

    # ----------------------------------------------------------------- streams
    async def open_stream(self, stream_id: uuid.UUID) -> StreamSink:
        tap = await self.taps.claim(stream_id, self.settings.tap_wait)
        if tap is None:
            raise StreamRejected("no call announced this tap")
        call = self._calls.setdefault(tap.call_id, _Call(started=time.monotonic()))
        call.streams += 1
        session = StreamSession(self, tap, offset=time.monotonic() - call.started)
        try:
            stream = await self._admit(session)
        except StreamRejected as err:
            self._unavailable(tap, str(err))
            self._forget_stream(tap.call_id)
            raise
        session.stream = stream
        self._sessions.add(session)
        session.log.info("transcribing", tapped=tap.tapped,
                         offset=round(session.tracker.offset_seconds, 2))
        self.bus.publish(TranscriptStatus(call_id=tap.call_id, channel=tap.channel,
                                          status="live"))
        return session

    async def _admit(self, session: StreamSession) -> PoolStream:
        if self.pool is None:
            raise StreamRejected("no recognizer model loaded")
        try:
            stream = await self.pool.open(session)
        except PoolError as err:
            raise StreamRejected(str(err)) from err
        if stream is None:
            if self.pool.active < self.pool.capacity:
                raise StreamRejected(
                    f"recognition is {self.pool.worst_lag():.1f} s behind: no new streams")
            raise StreamRejected(f"all {self.pool.capacity} recognizers busy")
        return stream

    def _unavailable(self, tap: Tap, why: str) -> None:
        log.warning("transcription unavailable", call_id=tap.call_id, speaker=tap.channel,
                    reason=why)
        self.bus.publish(TranscriptStatus(call_id=tap.call_id, channel=tap.channel,
                                          status="unavailable", detail=why))

    def stream_ended(self, session: StreamSession, reason: str) -> None:
        self._sessions.discard(session)
        tap = session.tap
        self.bus.publish(TranscriptStatus(call_id=tap.call_id, channel=tap.channel,
                                          status="ended", detail=reason))
        self._forget_stream(tap.call_id)

    def _forget_stream(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        call.streams -= 1
        if call.streams <= 0:
            del self._calls[call_id]
            self.keywords.forget(call_id)

    # ----------------------------------------------------------------- outputs
    def store_segment(self, call_id: str, segment: Segment) -> None:
        async def job(session: AsyncSession) -> object:
            return await repo.add_segment(call_id, segment, session=session)

        self._queue_store(job, call_id)

    def check_keywords(self, tap: Tap, text: str) -> None:
        for hit in self.keywords.check(tap.call_id, text):
            log.warning("keyword heard", call_id=tap.call_id, speaker=tap.channel,
                        keyword=hit.keyword, action=hit.action)
            self.bus.publish(KeywordAlert(call_id=tap.call_id, keyword=hit.keyword,
                                          channel=tap.channel, text=text, action=hit.action))

            async def job(session: AsyncSession, hit_text: str = text,
                          keyword: str = hit.keyword, action: str = hit.action) -> object:
                await repo.add_alert(tap.call_id, tap.channel, keyword, action, hit_text,
                                     session=session)
                return None

            self._queue_store(job, tap.call_id)

    def _queue_store(self, job: StoreJob, call_id: str) -> None:
        try:
            self._store.put_nowait(job)
        except asyncio.QueueFull:
            log.error("transcript store backlog full: dropped a write",  # noqa: TRY400
                      call_id=call_id)

    def report_lag(self) -> None:
        now = time.monotonic()
        if now - self._system_lag_at < self.settings.lag_interval:
            return
        self._system_lag_at = now
        worst = max((s.lag for s in self._sessions), default=0.0)
        self.bus.publish(SystemLag(component="asr", lag_seconds=round(worst, 4)))


def build(core: Core) -> Feature:
    service = TranscriptionService(core.settings.asr, core.bus, core.sessionmaker)
    return Feature(name="transcription", ami_handlers=(service.taps,), tasks=(service.run,))
