"""Live streams this machine sustains with p95 lag under one second: our pool (workers =
cores, streams pinned to workers) vs one thread per stream (the vosk-server way), in
one run, on the same model and the same real clips paced at real time.

Each round feeds N streams at once (20 ms frames, real time, clips from CLIPS_DIR
taken in turn) through `asr.pool.RecognizerPool` and collects every batch's lag; the
baseline round is the same pool with `workers = N` (one thread each). Rounds go up
in N until both fall behind (p95 >= 1 s) or --max is reached.

    .venv/bin/python bench/asr_capacity.py MODEL_DIR CLIPS_DIR [--seconds 8] [--max 16]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asr.loadgen import read_pcm
from asr.pool import PoolConfig, RecognizerPool
from asr.segments import RecognizedFinal, RecognizedPartial


class Lags:
    def __init__(self) -> None:
        self.lags: list[float] = []

    def on_partial(self, partial: RecognizedPartial) -> None:
        pass

    def on_final(self, final: RecognizedFinal) -> None:
        pass

    def on_lag(self, lag_seconds: float) -> None:
        self.lags.append(lag_seconds)


async def one_round(model: Path, pcms: list[bytes], n: int, workers: int) -> tuple[float, float]:
    pool = RecognizerPool(PoolConfig(model_path=model, workers=workers, max_streams=n,
                                     admit_max_lag=0))
    await pool.start()
    try:
        listeners = [Lags() for _ in range(n)]
        streams = [await pool.open(lst) for lst in listeners]
        t0 = time.monotonic()

        async def feed(k: int) -> None:
            stream = streams[k]
            assert stream is not None
            pcm = pcms[k % len(pcms)]
            for i, at in enumerate(range(0, len(pcm), 320)):
                stream.feed(pcm[at : at + 320])
                delay = t0 + (i + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await stream.close()

        await asyncio.gather(*(feed(k) for k in range(n)))
        lags = sorted(x for lst in listeners for x in lst.lags)
        return lags[int(0.95 * (len(lags) - 1))], lags[-1]
    finally:
        await pool.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("clips", type=Path)
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per stream")
    parser.add_argument("--max", type=int, default=16, help="most streams to try")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    cores = os.cpu_count() or 1
    pcms = [read_pcm(p)[: int(args.seconds * 16000)] for p in sorted(args.clips.glob("*.wav"))]
    print(f"{cores} cores; {args.seconds:.0f} s of speech per stream, paced at real time")
    print(f"{'streams':>7} | {'pool p95':>9} {'max':>7} | {'thread/stream p95':>17} {'max':>7}")
    best = {"pool": 0, "threads": 0}
    n = 2
    while n <= args.max:
        pool_p95, pool_max = await one_round(args.model, pcms, n, cores)
        thr_p95, thr_max = await one_round(args.model, pcms, n, n)
        print(f"{n:>7} | {pool_p95:>8.3f}s {pool_max:>6.2f}s | {thr_p95:>16.3f}s {thr_max:>6.2f}s",
              flush=True)
        if pool_p95 < 1.0:
            best["pool"] = n
        if thr_p95 < 1.0:
            best["threads"] = n
        if pool_p95 >= 1.0 and thr_p95 >= 1.0:
            break
        n += 2
    print(f"sustained with p95 lag < 1 s: pool {best['pool']} streams, "
          f"thread per stream {best['threads']} streams")


if __name__ == "__main__":
    asyncio.run(main())
