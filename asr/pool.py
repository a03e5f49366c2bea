"""The recognizer pool: the only module that imports vosk (`load_model` and
`make_recognizer` serve asr.speech, the one-shot recognizer for IVR answers).

Theory of operation
-------------------
One `vosk.Model` is loaded once (in a thread: it takes seconds) from a path in settings
and shared by every recognizer. Recognition runs in `workers` threads (default: the
number of cores; Vosk releases the GIL while it decodes, and more threads than cores
only slows it down). Each stream is pinned to one worker for its whole life, so its
recognizer is only ever touched by that thread and never needs a lock.

Between the event loop and the workers:

- the loop appends each audio frame to the stream's `pending` buffer (bounded: past
  `max_backlog_seconds` the oldest audio is dropped and counted) and, if the stream is
  not already waiting, puts the stream on its worker's queue. A stream is on a queue at
  most once, so a queue never holds more entries than the pool has streams;
- the worker takes everything pending, decodes it in 100 ms pieces, and hands results
  back with `loop.call_soon_threadsafe` to the stream's `ResultListener`.

Lag is measured per batch: the time from the arrival of the batch's oldest byte to the
end of its decoding; the listener gets it after every batch.

Starting a recognizer costs about a second of decoding (a dynamic-graph model expands
its graph on the first audio); a spare-maker thread keeps `spares` recognizers warmed
on faint noise, so a new stream or a renewal takes one at once.

Admission control: `open()` returns None when `max_streams` streams are live, or
when a live stream lags more than `admit_max_lag` seconds (the machine is slower or
busier than `max_streams` assumed); the caller marks that stream "transcription
unavailable" instead of letting every stream fall behind. Recognizers are created off
the loop (about 70 ms each). A recognizer's memory grows over a call and is not given
back, so it is deleted when the stream ends and replaced at the first utterance end past
`renew_seconds` (or forced at twice that).

Exceptions::

    PoolError            the pool cannot do what was asked
     ├── ModelLoadError   no usable model at the configured path
     └── PoolClosed       the pool is not running
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import random
import struct
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog
import vosk

from asr.model_files import ModelFileError, check_model_dir
from asr.segments import RecognizedFinal, RecognizedPartial, parse_final, parse_partial

log = structlog.get_logger("asr.pool")

_PIECE_SECONDS = 0.1
SPARE_NICE = 10  # niceness of the spare-maker thread (Linux: per thread)
_FIRST_SPARE_TIMEOUT = 30.0  # seconds start() waits for the first warmed recognizer


class PoolError(Exception):
    pass


class ModelLoadError(PoolError):
    pass


class PoolClosed(PoolError):
    pass


@dataclass(frozen=True)
class PoolConfig:
    model_path: Path
    workers: int = 0  # 0: the number of cores
    max_streams: int = 0  # 0: two per worker (bench/asr_capacity.py: 4 streams on 2 cores)
    sample_rate: int = 8000
    renew_seconds: float = 300.0
    max_backlog_seconds: float = 30.0
    partial_every: float = 0.2  # seconds of audio between partial results
    admit_max_lag: float = 2.0  # refuse new streams while one lags more; 0: off
    spares: int = 1  # warmed recognizers kept ready, so a new stream starts at once

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def stream_limit(self) -> int:
        return self.max_streams or 2 * self.worker_count


class _SharedModels:
    """Loaded models by path, shared while anyone holds one: the live transcription pool
    and the IVR recognizer (asr.speech) of one server use one copy (about 500 MiB each).
    A model is read-only once loaded, and recognizers in many threads may share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

    def load(self, path: Path) -> Any:
        key = str(path.resolve())
        with self._lock:  # a second caller waits for the first load instead of repeating it
            model = self._models.get(key)
            if model is None:
                vosk.SetLogLevel(-2)
                model = vosk.Model(key)
                self._models[key] = model
            return model


_MODELS = _SharedModels()  # an empty map and a lock: nothing is loaded at import


def load_model(path: Path) -> Any:
    """The `vosk.Model` at `path`, shared with other holders in this process (blocking,
    seconds on first load: call it from a thread). Also used by asr.speech."""
    return _MODELS.load(path)


def make_recognizer(model: Any, sample_rate: int, grammar: Sequence[str] | None = None) -> Any:
    """A fresh `vosk.KaldiRecognizer`, restricted to the `grammar` phrases if given."""
    if grammar is None:
        return vosk.KaldiRecognizer(model, sample_rate)
    return vosk.KaldiRecognizer(model, sample_rate, json.dumps(list(grammar), ensure_ascii=False))


class ResultListener(Protocol):
    """Called on the event loop, in order, for one stream."""

    def on_partial(self, partial: RecognizedPartial) -> None: ...
    def on_final(self, final: RecognizedFinal) -> None: ...
    def on_lag(self, lag_seconds: float) -> None: ...


class PoolStream:
    """One live stream in the pool. `feed` and `close` are called on the event loop."""

    def __init__(self, pool: RecognizerPool, worker: _Worker, listener: ResultListener,
                 recognizer: Any) -> None:
        self._pool = pool
        self._worker = worker
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._first_arrival: float | None = None
        self._scheduled = False
        self._closing = False
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.dropped_bytes = 0
        self.last_lag = 0.0  # written by the worker (a float store is atomic)
        # worker-thread state
        self._rec = recognizer
        self._decoded = 0  # bytes of stream audio decoded
        self._rec_start = 0  # stream byte where the current recognizer began
        self._since_partial = 0

    def feed(self, pcm: bytes) -> None:
        limit = int(self._pool.config.max_backlog_seconds * self._pool.bytes_per_second)
        with self._lock:
            if self._closing:
                return
            if self._first_arrival is None:
                self._first_arrival = time.monotonic()
            self._pending += pcm
            excess = len(self._pending) - limit
            if excess > 0:
                excess += excess % 2
                del self._pending[:excess]
                self.dropped_bytes += excess
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            self._worker.jobs.put(self)

    async def close(self) -> None:
        """No more audio: decode what is left, flush the last words, free the recognizer."""
        with self._lock:
            already = self._closing
            self._closing = True
            schedule = not self._scheduled
            self._scheduled = True
        if not already and schedule:
            self._worker.jobs.put(self)
        await asyncio.shield(self.closed)

    def current_lag(self, now: float) -> float:
        """The last batch's lag, or how long the oldest waiting audio has waited."""
        first = self._first_arrival
        return max(self.last_lag, 0.0 if first is None else now - first)

    # ----------------------------------------------------------------- worker thread
    def _post(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
            self._loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        with self._lock:
            data = bytes(self._pending)
            self._pending.clear()
            first = self._first_arrival
            self._first_arrival = None
            closing = self._closing
            self._scheduled = False
        try:
            self._decode(data)
            if first is not None:
                self.last_lag = time.monotonic() - first
                self._post(self._listener.on_lag, self.last_lag)
            if closing:
                self._finish()
        except Exception as err:  # a recognizer failure ends this stream, not the worker
            log.exception("recognizer failed", error=str(err))
            self._release(err)

    def _decode(self, data: bytes) -> None:
        rate = self._pool.bytes_per_second
        piece = int(_PIECE_SECONDS * rate)
        every = int(self._pool.config.partial_every * rate)
        for i in range(0, len(data), piece):
            chunk = data[i : i + piece]
            done = self._rec.AcceptWaveform(chunk)
            self._decoded += len(chunk)
            self._since_partial += len(chunk)
            if done:
                self._emit_final(self._rec.Result())
                self._maybe_renew(force=False)
            elif self._since_partial >= every:
                self._since_partial = 0
                partial = parse_partial(self._rec.PartialResult(), self._decoded / rate)
                self._post(self._listener.on_partial, partial)
        if (self._decoded - self._rec_start) / rate > 2 * self._pool.config.renew_seconds:
            self._emit_final(self._rec.FinalResult())
            self._maybe_renew(force=True)

    def _emit_final(self, raw: str) -> None:
        rate = self._pool.bytes_per_second
        final = parse_final(raw, self._rec_start / rate, self._decoded / rate)
        self._since_partial = 0
        self._post(self._listener.on_final, final)

    def _maybe_renew(self, *, force: bool) -> None:
        age = (self._decoded - self._rec_start) / self._pool.bytes_per_second
        if force or age > self._pool.config.renew_seconds:
            self._rec = None  # free the old one before making the next
            self._rec = self._pool.new_recognizer()
            self._rec_start = self._decoded
            log.info("recognizer renewed", after_seconds=round(age, 1))

    def _finish(self) -> None:
        self._emit_final(self._rec.FinalResult())
        self._release(None)

    def _release(self, err: BaseException | None) -> None:
        with self._lock:
            self._closing = True
            self._pending.clear()
        self._rec = None
        self._post(self._pool._released, self, err)


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.streams = 0
        # At most one entry per stream (see the module docstring), plus the stop marker.
        self.jobs: queue.Queue[PoolStream | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=f"asr-worker-{index}",
                                       daemon=True)

    def _loop(self) -> None:
        while (stream := self.jobs.get()) is not None:
            stream._run()


class RecognizerPool:
    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self.bytes_per_second = config.sample_rate * 2
        self._model: Any = None
        self._workers: list[_Worker] = []
        self._streams: set[PoolStream] = set()
        self._reserved = 0
        self._spare_cond = threading.Condition()
        self._spare_list: list[Any] = []
        self._stopping = False
        self._spare_thread: threading.Thread | None = None
        rng = random.Random(0)
        self._warmup_audio = struct.pack(
            f"<{config.sample_rate}h", *(rng.randint(-30, 30) for _ in range(config.sample_rate))
        )

    @property
    def running(self) -> bool:
        return self._model is not None

    @property
    def capacity(self) -> int:
        return self.config.stream_limit

    @property
    def active(self) -> int:
        return len(self._streams) + self._reserved

    async def start(self) -> None:
        """Load the model (in a thread) and start the workers."""
        try:
            check_model_dir(self.config.model_path)
        except ModelFileError as err:
            raise ModelLoadError(str(err)) from err
        started = time.monotonic()
        try:
            self._model = await asyncio.to_thread(self._load)
        except Exception as err:
            raise ModelLoadError(f"Vosk could not load {self.config.model_path}: {err}") from err
        self._workers = [_Worker(i) for i in range(self.config.worker_count)]
        for w in self._workers:
            w.thread.start()
        if self.config.spares:
            self._spare_thread = threading.Thread(target=self._keep_spares, name="asr-spares",
                                                  daemon=True)
            self._spare_thread.start()
            # Ready means ready for a stream: the first one must not pay the warm-up as lag.
            await asyncio.to_thread(self._wait_for_spare, _FIRST_SPARE_TIMEOUT)
        log.info("model loaded", path=str(self.config.model_path),
                 seconds=round(time.monotonic() - started, 2),
                 workers=len(self._workers), max_streams=self.capacity)

    def _wait_for_spare(self, timeout: float) -> None:
        with self._spare_cond:
            self._spare_cond.wait_for(lambda: self._spare_list or self._stopping, timeout)

    def _load(self) -> Any:
        return load_model(self.config.model_path)

    async def stop(self) -> None:
        """Stop the workers (streams still open are abandoned)."""
        with self._spare_cond:
            self._stopping = True
            self._spare_cond.notify_all()
        if self._spare_thread is not None:
            await asyncio.to_thread(self._spare_thread.join, 10)
            self._spare_thread = None
        for w in self._workers:
            w.jobs.put(None)
        for w in self._workers:
            await asyncio.to_thread(w.thread.join, 10)
        self._workers = []
        self._model = None

    def new_recognizer(self) -> Any:
        """A warmed recognizer: a spare if one is ready, else a new one (blocking,
        about a second: call it from a thread)."""
        with self._spare_cond:
            if self._spare_list:
                rec = self._spare_list.pop()
                self._spare_cond.notify()
                return rec
        return self._make_recognizer()

    def _make_recognizer(self) -> Any:
        rec = vosk.KaldiRecognizer(self._model, self.config.sample_rate)
        rec.SetWords(True)
        # A dynamic-graph model expands its graph and runs its first network chunk on
        # the first half second of audio: about a second of decoding that would show as
        # lag at the start of every stream. Pay it here, on faint noise, then reset.
        rec.AcceptWaveform(self._warmup_audio)
        rec.Reset()
        return rec

    def _keep_spares(self) -> None:
        """Spare-maker thread: keep `spares` warmed recognizers ready."""
        # Warming is background work: live streams' decoding must win the CPU when a
        # stream takes the spare and the next one is warmed at the same moment.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SPARE_NICE)
        while True:
            with self._spare_cond:
                while not self._stopping and len(self._spare_list) >= self.config.spares:
                    self._spare_cond.wait()
                if self._stopping:
                    self._spare_list.clear()
                    return
            rec = self._make_recognizer()
            with self._spare_cond:
                self._spare_list.append(rec)
                self._spare_cond.notify_all()  # start() may be waiting for the first

    async def open(self, listener: ResultListener) -> PoolStream | None:
        """A new stream, or None when the pool is at capacity."""
        if not self.running:
            raise PoolClosed("the recognizer pool is not running")
        if self.active >= self.capacity:
            return None
        limit = self.config.admit_max_lag
        if limit and self.worst_lag() > limit:
            log.warning("pool behind: new stream refused", lag=round(self.worst_lag(), 2))
            return None
        self._reserved += 1
        try:
            rec = await asyncio.to_thread(self.new_recognizer)
        finally:
            self._reserved -= 1
        worker = min(self._workers, key=lambda w: w.streams)
        worker.streams += 1
        stream = PoolStream(self, worker, listener, rec)
        self._streams.add(stream)
        return stream

    def worst_lag(self) -> float:
        now = time.monotonic()
        return max((s.current_lag(now) for s in self._streams), default=0.0)

    def _released(self, stream: PoolStream, err: BaseException | None) -> None:
        if stream in self._streams:
            self._streams.discard(stream)
            stream._worker.streams -= 1
        if not stream.closed.done():
            if err is None:
                stream.closed.set_result(None)
            else:
                stream.closed.set_exception(PoolError(f"recognition failed: {err}"))
