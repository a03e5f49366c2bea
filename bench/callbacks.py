"""Survey callbacks end to end: N jobs against sipp phones, at the configured cap.

A private lab Asterisk; one sipp phone per job (its number names the phone's port, trunk
`PJSIP/pstn/sip:{number}`): most answer and press a random 1/2/3, some answer busy,
some never answer (shares set by flags). An answering phone presses two keys in the call:
satisfaction, then solved (1/2), `--gap` seconds apart. Jobs go in batches of `--batch`, all due at
once; the scheduler calls them at most `--cap` at a time. One attempt per job, so each
outcome is what that phone did. Printed: completed calls per minute, every result
checked against the two keys its phone pressed (must be all), and that no job was called
twice (one attempt row each, and each phone saw at most one call).

    .venv/bin/python bench/callbacks.py [--jobs 200] [--cap 10] [--busy 0.1] [--no-answer 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import AmiSettings, DatabaseSettings, IvrSettings
from hotline import db
from ivr_flows import repo
from ivr_flows.feature import DEFAULT_FLOWS
from ivr_flows.flows import load_flows
from ivr_flows.interpreter import CallTracker, FlowInterpreter
from ivr_flows.models import CallbackJob, JobState
from ivr_flows.prompts import install_prompts
from ivr_flows.scheduler import SchedulePolicy, Scheduler
from lab.pbx import Pbx, PbxConfig
from lab.sipp import CallbackCitizen
from telephony.ami import AmiClient

SATISFACTION = {"1": "满意", "2": "基本满意", "3": "不满意"}
SOLVED = {"1": "yes", "2": "no"}


async def bench(args: argparse.Namespace, work: Path) -> int:
    pbx = Pbx(
        PbxConfig.allocate(f"bench-cb-{random.randrange(10**6)}", rtp_ports=4 * args.cap + 40)
    )
    pbx.start()
    try:
        install_prompts(pbx.dir / "ivr-prompts")
        return await _run(args, work, pbx)
    finally:
        pbx.cleanup()


async def _run(args: argparse.Namespace, work: Path, pbx: Pbx) -> int:
    settings = IvrSettings(
        prompt_dir=f"{pbx.config.inst}/ivr-prompts", trunk="PJSIP/pstn/sip:{number}",
        ring_seconds=args.ring, max_attempts=1, max_concurrent_calls=args.cap,
        idle_seconds=5, poll_seconds=0.2, calling_hours_start=clock_time(0, 0),
        calling_hours_end=clock_time(23, 59, 59),
    )  # fmt: skip
    engine = db.create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{work}/cb.db"))
    await db.migrate(engine)
    sessions = db.session_factory(engine)
    ep = pbx.endpoints
    ami = AmiClient(AmiSettings(host=ep.ami_host, port=ep.ami_port, username=ep.ami_username,
                                secret=ep.ami_secret))  # fmt: skip
    await ami.connect()
    tracker = CallTracker()
    scheduler = Scheduler(
        sessionmaker=sessions, placer=FlowInterpreter(ami, tracker, settings, _now),
        flows=load_flows(DEFAULT_FLOWS), policy=SchedulePolicy.from_settings(settings),
        clock=_now,
    )  # fmt: skip
    rng = random.Random(args.seed)
    expected: dict[int, tuple[str, str]] = {}  # job id -> (behaviour, keys)
    phones: list[CallbackCitizen] = []
    began = time.monotonic()
    try:
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(_pump(ami, tracker))
            runner = tg.create_task(scheduler.run())
            for start in range(0, args.jobs, args.batch):
                batch: list[int] = []
                for n in range(start, min(start + args.batch, args.jobs)):
                    roll = rng.random()
                    kind = (
                        "busy"
                        if roll < args.busy
                        else ("no-answer" if roll < args.busy + args.no_answer else "answer")
                    )
                    digit = rng.choice("123") + rng.choice("12")
                    phone = CallbackCitizen(
                        work_dir=work / f"phone{n}", answer=kind,  # type: ignore[arg-type]
                        dtmf=digit if kind == "answer" else "", dtmf_delay=0.3,
                        dtmf_gap=args.gap, hangup_after=0.3, max_seconds=120,
                    )  # fmt: skip
                    await asyncio.to_thread(phone.start)
                    phones.append(phone)
                    async with sessions() as session:
                        job, _ = await repo.add_job(session=session, job=CallbackJob(
                            kind="survey", flow="survey", order_id=f"12345-B-{n:04d}",
                            number=f"1390000{n:04d}@127.0.0.1:{phone.sip_port}",
                            dedupe_key=f"bench:{n}", due_at=_now(), max_attempts=1,
                        ))  # fmt: skip
                    assert job.id is not None
                    expected[job.id] = (kind, digit)
                    batch.append(job.id)
                scheduler.wake()
                await _wait_done(sessions, batch, within=60 + 4 * args.ring * len(batch))
                for phone in phones[start:]:
                    await asyncio.to_thread(phone.stop)
            elapsed = time.monotonic() - began
            runner.cancel()
            pump.cancel()
    finally:
        await ami.close()
    report = await _check(sessions, expected)
    await engine.dispose()
    outcomes: Counter[str] = report["outcomes"]  # type: ignore[assignment]
    rows = [
        ("jobs", str(args.jobs)), ("cap", str(args.cap)),
        ("most calls at once", str(scheduler.max_active)),
        ("elapsed", f"{elapsed:.1f} s"), ("completed calls/min", f"{args.jobs / elapsed * 60:.1f}"),
        *((f"outcome {k}", str(v)) for k, v in sorted(outcomes.items())),
        ("results recorded correctly", f"{report['correct']}/{args.jobs}"),
        ("jobs called more than once", str(report["twice"])),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value:>10}")
    return 0 if report["correct"] == args.jobs and report["twice"] == 0 else 1


def _now() -> datetime:
    return datetime.now(UTC)


async def _pump(ami: AmiClient, tracker: CallTracker) -> None:
    async for event in ami.events():
        await tracker.on_ami_event(event)


async def _wait_done(
    sessions: async_sessionmaker[AsyncSession], ids: list[int], within: float
) -> None:
    async with asyncio.timeout(within):
        while True:
            async with sessions() as session:
                jobs = [await repo.get_job(session=session, job_id=i) for i in ids]
            states = [j.state if j else None for j in jobs]
            if all(s in (JobState.done, JobState.failed) for s in states):
                return
            await asyncio.sleep(0.2)


async def _check(
    sessions: async_sessionmaker[AsyncSession], expected: dict[int, tuple[str, str]]
) -> dict[str, object]:
    want = {"answer": "answered_result", "busy": "busy", "no-answer": "no_answer"}
    outcomes: Counter[str] = Counter()
    correct = twice = 0
    async with sessions() as session:
        for job_id, (kind, digit) in expected.items():
            job = await repo.get_job(session=session, job_id=job_id)
            attempts = await repo.attempts_of(session=session, job_id=job_id)
            assert job is not None
            outcomes[job.outcome or "?"] += 1
            twice += len(attempts) > 1
            ok = job.outcome == want[kind]
            if kind == "answer":
                ok = ok and job.result == {
                    "satisfaction": SATISFACTION[digit[0]], "solved": SOLVED[digit[1]],
                }  # fmt: skip
            correct += ok
    return {"outcomes": outcomes, "correct": correct, "twice": twice}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--cap", type=int, default=10)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--busy", type=float, default=0.1)
    parser.add_argument("--no-answer", type=float, default=0.1)
    parser.add_argument("--ring", type=float, default=2.0, help="ring seconds before no answer")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between the two keys")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="bench-callbacks-") as tmp:
        return asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
