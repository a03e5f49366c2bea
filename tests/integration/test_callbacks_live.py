"""Automated callbacks against a real Asterisk 22, with sipp playing the citizen's phone.

Each test builds the callbacks machinery by hand (store on SQLite, AMI client, one event
pump, the real interpreter and scheduler, the real bus) with an injected clock that only
the test moves: no test sleeps to wait for calling hours or a retry backoff. Several
citizens run at once on the shared Asterisk: the trunk `PJSIP/pstn/sip:{number}` lets
each job's number name its own sipp port; the supervision test uses the default trunk
`PJSIP/<number>@pstn` on an Asterisk of its own whose pstn contact is the citizen.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import AmiSettings, DatabaseSettings, IvrSettings
from hotline import db
from hotline.app import StartupError
from hotline.bus import Bus
from hotline.bus_events import OrderStep, SupervisionCallResult, SurveyResult
from hotline.bus_topics import Domain
from ivr_flows import repo
from ivr_flows.feature import DEFAULT_FLOWS
from ivr_flows.feature import build as callbacks
from ivr_flows.flows import FlowError, load_flows
from ivr_flows.interpreter import CallNotPlaced, CallReport, CallTracker, FlowInterpreter
from ivr_flows.models import CallbackJob, JobKind, JobState
from ivr_flows.orders import OrderListener, ResultPublisher
from ivr_flows.outcomes import AttemptFacts, classify
from ivr_flows.prompts import copy_prompts, install_prompts
from ivr_flows.scheduler import SchedulePolicy, Scheduler
from lab.mosquitto import Mosquitto
from lab.pbx import Pbx
from lab.sipp import CallbackCitizen
from telephony.ami import AmiClient
from telephony.ami_events import Hangup, Newchannel
from tests.fixtures.bus import mqtt_settings
from tests.fixtures.server import ServerHandle

pytestmark = pytest.mark.integration

# 21:00 in Shanghai: calling hours (09:00-20:00) are closed.
EVENING = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
MORNING = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 the next day


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RecordingSink:
    """The workorders side as the root would wire it: remembers what it was asked."""

    calls: list[tuple[str, SurveyResult]] = field(default_factory=list)

    async def survey_satisfied(self, result: SurveyResult) -> None:
        self.calls.append(("archive", result))

    async def survey_dissatisfied(self, result: SurveyResult) -> None:
        self.calls.append(("reopen", result))

    async def survey_unanswered(self, result: SurveyResult) -> None:
        self.calls.append(("unanswered", result))


@dataclass
class Rig:
    scheduler: Scheduler
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    sink: RecordingSink
    bus: Bus
    listener: OrderListener
    live_channels: list[int]  # [current, most at once] outbound channels seen on AMI

    async def add(self, number: str, *, due: datetime | None = None, **kw: Any) -> int:
        job = await self.listener.store(
            kind=kw.pop("kind", JobKind.survey), flow=kw.pop("flow", "survey"),
            order_id=kw.pop("order_id", f"12345-20261122-{number[-4:]}"), number=number,
            due_at=due or self.clock.now, dedupe_key=f"test:{number}:{kw.pop('key', '')}", **kw,
        )  # fmt: skip
        assert job.id is not None
        return job.id

    async def jobs(self, ids: Sequence[int]) -> list[CallbackJob]:
        async with self.sessions() as session:
            out = []
            for job_id in ids:
                job = await repo.get_job(session=session, job_id=job_id)
                assert job is not None
                out.append(job)
            return out

    async def wait_for(
        self, ids: Sequence[int], done: Callable[[CallbackJob], bool], within: float = 30
    ) -> list[CallbackJob]:
        async with asyncio.timeout(within):
            while True:
                jobs = await self.jobs(ids)
                if all(done(j) for j in jobs):
                    return jobs
                await asyncio.sleep(0.05)

    def move(self, to: datetime) -> None:
        self.clock.now = to
        self.scheduler.wake()


def finished(job: CallbackJob) -> bool:
    return job.state in (JobState.done, JobState.failed)


def attempted(n: int) -> Callable[[CallbackJob], bool]:
    return lambda job: job.state != JobState.calling and job.attempts >= n


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ivr-prompts")
    install_prompts(target)
    return target


def ivr_settings_for(pbx: Pbx, prompt_cache: Path, **overrides: Any) -> IvrSettings:
    copy_prompts(prompt_cache, pbx.dir / "ivr-prompts")  # inside the chroot
    values: dict[str, Any] = {
        "prompt_dir": f"{pbx.config.inst}/ivr-prompts",
        "trunk": "PJSIP/pstn/sip:{number}",
        "ring_seconds": 2,
        "max_attempts": 2,
        "retry_backoff_minutes": 10,
        "max_concurrent_calls": 5,
        "idle_seconds": 5,
        "poll_seconds": 0.5,
    }
    values.update(overrides)
    return IvrSettings(**values)


@contextlib.asynccontextmanager
async def rig(
    pbx: Pbx, broker: Mosquitto, tmp_path: Path, settings: IvrSettings,
    clock: FakeClock | None = None, *, schedulers: int = 1,
) -> AsyncIterator[tuple[Rig, list[Scheduler]]]:  # fmt: skip
    engine = db.create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/cb.db"))
    await db.migrate(engine)
    ep = pbx.endpoints
    ami = AmiClient(AmiSettings(host=ep.ami_host, port=ep.ami_port, username=ep.ami_username,
                                secret=ep.ami_secret, reconnect_min=0.05))  # fmt: skip
    clock = clock or FakeClock(MORNING)
    sessions = db.session_factory(engine)
    tracker = CallTracker()
    live = [0, 0]
    ours: set[str] = set()

    async def pump() -> None:
        async for event in ami.events():
            await tracker.on_ami_event(event)
            # Ours: outbound on the trunk, with a ChannelId (a uuid; Asterisk's own ids are
            # "1795326461.12"), so calls left over on the shared Asterisk do not count.
            if (
                isinstance(event, Newchannel)
                and event.channel.startswith("PJSIP/pstn-")
                and "-" in event.uniqueid
            ):
                ours.add(event.uniqueid)
                live[0] += 1
                live[1] = max(live)
            elif isinstance(event, Hangup) and event.uniqueid in ours:
                ours.discard(event.uniqueid)
                live[0] -= 1

    flows = load_flows(DEFAULT_FLOWS)
    policy = SchedulePolicy.from_settings(settings)
    sink = RecordingSink()
    try:
        await ami.connect()
        async with Bus(mqtt_settings(broker)) as bus, asyncio.TaskGroup() as tg:
            made = [
                Scheduler(
                    sessionmaker=sessions,
                    flows=flows,
                    policy=policy,
                    clock=clock,
                    placer=FlowInterpreter(ami, tracker, settings, clock),
                    on_finished=ResultPublisher(bus, sink),
                )
                for _ in range(schedulers)
            ]
            listener = OrderListener(
                bus=bus, sessionmaker=sessions, contacts=_NoContacts(), settings=settings,
                policy=policy, clock=clock,
            )  # fmt: skip
            tasks = [tg.create_task(pump())]
            yield Rig(made[0], sessions, clock, sink, bus, listener, live), made
            for task in tasks:
                task.cancel()
    finally:
        await ami.close()
        await engine.dispose()


class _NoContacts:
    async def citizen_number(self, order_id: str) -> str | None:
        return None

    async def unit_number(self, order_id: str, unit_id: str | None) -> str | None:
        return None


@contextlib.asynccontextmanager
async def running(*schedulers: Scheduler) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(s.run()) for s in schedulers]
        yield
        for task in tasks:
            task.cancel()


def number_of(citizen: CallbackCitizen, n: int = 0) -> str:
    return f"1380013{n:04d}@127.0.0.1:{citizen.sip_port}"


CitizenFactory = Callable[..., CallbackCitizen]


async def test_survey_two_keys_per_call_wait_for_calling_hours_then_archive_or_reopen(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path, prompt_cache: Path,
    callback_citizen_factory: CitizenFactory,
) -> None:  # fmt: skip
    # Two questions answered by keypad in one call: satisfaction, then solved (1 yes, 2 no).
    # The second key comes while the second question is said (dtmf_gap).
    citizens = {
        digits: callback_citizen_factory(
            answer="answer", dtmf=digits, dtmf_delay=1.0, dtmf_gap=2.0, hangup_after=2.0
        )
        for digits in ("11", "22", "32")
    }
    settings = ivr_settings_for(pbx, prompt_cache)
    async with rig(pbx, mosquitto, tmp_path, settings, FakeClock(EVENING)) as (r, _):
        results = r.bus.subscribe(r.bus.filter(Domain.ORDER, None, "survey_result"))
        ids = {d: await r.add(number_of(c, i)) for i, (d, c) in enumerate(citizens.items())}
        # Due now, but it is 21:00: nothing is called until 09:00.
        async with asyncio.TaskGroup() as tg:
            assert await r.scheduler.tick(tg) == 0
        assert {j.state for j in await r.jobs(list(ids.values()))} == {JobState.pending}
        async with results, running(r.scheduler):
            r.move(MORNING)
            jobs = await r.wait_for(list(ids.values()), finished)
            received = []
            async with asyncio.timeout(10):
                async for message in results:
                    received.append(message.event)
                    if len(received) == 3:
                        break
    by_digits = dict(zip(ids, jobs, strict=True))
    assert {d: (j.state, j.result) for d, j in by_digits.items()} == {
        "11": (JobState.done, {"satisfaction": "满意", "solved": "yes"}),
        "22": (JobState.done, {"satisfaction": "基本满意", "solved": "no"}),
        "32": (JobState.done, {"satisfaction": "不满意", "solved": "no"}),
    }
    assert all(j.attempts == 1 and j.outcome == "answered_result" for j in jobs)
    actions = {result.order_id: action for action, result in r.sink.calls}
    assert actions == {
        by_digits["11"].order_id: "archive",
        by_digits["22"].order_id: "archive",
        by_digits["32"].order_id: "reopen",
    }
    events = {e.order_id: e for e in received if isinstance(e, SurveyResult)}
    dissatisfied = events[by_digits["32"].order_id]
    assert (dissatisfied.satisfaction, dissatisfied.solved, dissatisfied.attempts) == (
        "不满意", False, 1,
    )  # fmt: skip
    assert (
        events[by_digits["11"].order_id].satisfaction,
        events[by_digits["11"].order_id].solved,
    ) == ("满意", True)


async def test_busy_then_answered_no_answer_until_retries_end_and_unreachable(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path, prompt_cache: Path,
    callback_citizen_factory: CitizenFactory,
) -> None:  # fmt: skip
    busy = callback_citizen_factory(answer="busy")
    silent = callback_citizen_factory(answer="no-answer")
    nobody = CallbackCitizen(work_dir=tmp_path / "nobody")  # never started: nothing listens
    settings = ivr_settings_for(pbx, prompt_cache)
    async with rig(pbx, mosquitto, tmp_path, settings) as (r, _), running(r.scheduler):
        first, second, third = (
            await r.add(number_of(busy, 1)),
            await r.add(number_of(silent, 2)),
            await r.add(number_of(nobody, 3)),
        )
        jobs = await r.wait_for([first, second, third], attempted(1))
        assert [(j.state, j.outcome) for j in jobs] == [
            (JobState.pending, "busy"),
            (JobState.pending, "no_answer"),
            (JobState.failed, "unreachable"),
        ]
        retry_at = jobs[0].due_at
        assert retry_at - MORNING == timedelta(minutes=10)  # the backoff, inside hours
        busy.wait(10)
        silent.wait(10)
        callback_citizen_factory(
            answer="answer", dtmf="1", hangup_after=0.5, sip_port=busy.sip_port
        )
        callback_citizen_factory(answer="no-answer", sip_port=silent.sip_port)
        r.move(retry_at)
        jobs = await r.wait_for([first, second], finished)
    assert (jobs[0].state, jobs[0].attempts, jobs[0].result["satisfaction"]) == (
        JobState.done, 2, "满意",
    )  # fmt: skip
    assert (jobs[1].state, jobs[1].attempts, jobs[1].outcome) == (
        JobState.failed, 2, "no_answer",
    )  # fmt: skip
    assert "no_answer after 2 attempt(s)" in jobs[1].reason
    unanswered = [res.order_id for action, res in r.sink.calls if action == "unanswered"]
    assert sorted(unanswered) == sorted([jobs[1].order_id, (await r.jobs([third]))[0].order_id])


async def test_the_cap_holds_when_20_jobs_fall_due_at_once(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path, prompt_cache: Path,
    callback_citizen_factory: CitizenFactory,
) -> None:  # fmt: skip
    citizens = [
        callback_citizen_factory(answer="answer", dtmf="3", dtmf_delay=0.3, hangup_after=0.3)
        for _ in range(20)
    ]
    settings = ivr_settings_for(pbx, prompt_cache, max_concurrent_calls=5)
    async with rig(pbx, mosquitto, tmp_path, settings) as (r, _):
        ids = [await r.add(number_of(c, n)) for n, c in enumerate(citizens)]
        async with running(r.scheduler):
            jobs = await r.wait_for(ids, finished, within=60)
        assert r.scheduler.max_active == 5
        assert 1 < r.live_channels[1] <= 5  # what Asterisk itself had up at once
    assert all(j.attempts == 1 for j in jobs)
    assert all(j.result.get("satisfaction") == "不满意" for j in jobs)


async def test_restart_between_scheduling_and_calling_calls_once(
    pbx: Pbx, mosquitto: Mosquitto, tmp_path: Path, prompt_cache: Path,
    callback_citizen_factory: CitizenFactory,
) -> None:  # fmt: skip
    citizen = callback_citizen_factory(answer="answer", dtmf="1", hangup_after=0.5)
    settings = ivr_settings_for(pbx, prompt_cache)
    clock = FakeClock(MORNING)
    async with rig(pbx, mosquitto, tmp_path, settings, clock, schedulers=3) as (r, made):
        job_id = await r.add(number_of(citizen), due=MORNING + timedelta(hours=1))
        first, *after_restart = made
        async with running(first):
            await asyncio.sleep(0)  # it runs, finds nothing due, and is stopped
        # Two schedulers after the restart (or an old one still running) race for it.
        async with running(*after_restart):
            clock.now = MORNING + timedelta(hours=1)
            for s in after_restart:
                s.wake()
            (job,) = await r.wait_for([job_id], finished)
        async with r.sessions() as session:
            attempts = await repo.attempts_of(session=session, job_id=job_id)
    assert job.state == JobState.done
    assert len(attempts) == 1
    assert sum(s.calls_placed for s in made) == 1


async def test_supervision_call_on_the_default_trunk_is_acknowledged_by_keypad(
    pbx_factory: Callable[..., Pbx], mosquitto: Mosquitto, tmp_path: Path,
    prompt_cache: Path, callback_citizen_factory: CitizenFactory,
) -> None:  # fmt: skip
    unit_phone = callback_citizen_factory(answer="answer", dtmf="1", dtmf_delay=1.0)
    own = pbx_factory(pstn_contact=unit_phone.contact)
    settings = ivr_settings_for(own, prompt_cache, trunk="PJSIP/{number}@pstn")
    async with rig(own, mosquitto, tmp_path, settings) as (r, _):

        class UnitContacts(_NoContacts):
            async def unit_number(self, order_id: str, unit_id: str | None) -> str | None:
                return "057112345" if unit_id == "city.water" else None

        listener = OrderListener(
            bus=r.bus, sessionmaker=r.sessions, contacts=UnitContacts(), settings=settings,
            policy=r.scheduler.policy, clock=r.clock, on_stored=r.scheduler.wake,
        )  # fmt: skip
        results = r.bus.subscribe(r.bus.filter(Domain.ORDER, None, "supervision_call"))
        async with results, running(r.scheduler):
            step = OrderStep(order_id="12345-20261122-0042", step="supervision_requested",
                             unit="city.water")  # fmt: skip
            job = await listener.on_step(step, "event-1", MORNING)
            assert job is not None and job.id is not None
            assert job.variables == {"order_ref": "0042"}
            (done,) = await r.wait_for([job.id], finished)
            async with asyncio.timeout(10):
                message = await anext(aiter(results))
    assert (done.state, done.result) == (JobState.done, {"acknowledged": "yes"})
    event = message.event
    assert isinstance(event, SupervisionCallResult)
    assert (event.acknowledged, event.unit, event.attempts) == (True, "city.water", 1)


async def test_a_reviewed_order_on_the_bus_stores_a_survey_for_the_next_day(
    pbx: Pbx,
    mosquitto: Mosquitto,
    tmp_path: Path,
    prompt_cache: Path,
) -> None:
    settings = ivr_settings_for(pbx, prompt_cache)

    class Citizens(_NoContacts):
        async def citizen_number(self, order_id: str) -> str | None:
            return "13800138000"

    async with rig(pbx, mosquitto, tmp_path, settings, FakeClock(EVENING)) as (r, _):
        listener = OrderListener(
            bus=r.bus, sessionmaker=r.sessions, contacts=Citizens(), settings=settings,
            policy=r.scheduler.policy, clock=r.clock,
        )  # fmt: skip
        step = OrderStep(order_id="12345-20261122-0007", step="review", actor="centre")
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(listener.run())
            async with asyncio.timeout(10):
                await listener.ready.wait()
                r.bus.publish(step)
                r.bus.publish(step)  # a second review (after a reopen): a second survey
                stored: list[CallbackJob] = []
                while len(stored) < 2:
                    await asyncio.sleep(0.05)
                    async with r.sessions() as session:
                        stored = list(
                            await repo.jobs_for_order(session=session, order_id=step.order_id)
                        )
            task.cancel()
    job = stored[0]
    assert (job.kind, job.flow, job.number) == ("survey", "survey", "13800138000")
    # Reviewed at 21:00 Shanghai: a day later is after hours, so 09:00 the day after.
    assert job.due_at == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


async def test_the_server_refuses_to_start_with_a_broken_flow_naming_the_line(
    server_factory: Callable[..., Awaitable[ServerHandle]], tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("prompts.toml", "survey.toml", "supervision.toml"):
        shutil.copy(DEFAULT_FLOWS / name, flows / name)
    text = (flows / "survey.toml").read_text(encoding="utf-8")
    (flows / "survey.toml").write_text(text.replace('next = "comment"', 'next = "coment"', 1))
    line = text.splitlines().index('next = "comment"') + 1
    with pytest.raises(StartupError) as info:
        await server_factory(builders=(callbacks,), ivr={"flows_dir": str(flows)})
    cause = info.value.__cause__
    assert isinstance(cause, FlowError)
    assert cause.line == line
    assert f"survey.toml:{line}: steps.solved.choices.1.next: unknown step 'coment'" in str(
        info.value
    )


@dataclass
class ScriptedPlacer:
    """A CallPlacer that answers from a script instead of Asterisk (store paths only)."""

    not_placed: int = 0  # the first N calls find AMI down
    placed: list[str] = field(default_factory=list)

    async def place(self, *, flow: Any, number: str, channel_id: str, variables: Any,
                    job_ref: str = "") -> CallReport:  # fmt: skip
        if self.not_placed:
            self.not_placed -= 1
            raise CallNotPlaced("not connected to AMI")
        self.placed.append(number)
        facts = AttemptFacts(answered=True, hangup_cause=16, result_complete=True)
        return CallReport(channel_id, classify(facts), facts, {"satisfaction": "满意"})


async def test_a_call_left_by_a_dead_scheduler_is_retried_and_an_unplaced_one_not_counted(
    tmp_path: Path,
) -> None:
    engine = db.create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/cb.db"))
    await db.migrate(engine)
    sessions = db.session_factory(engine)
    clock = FakeClock(MORNING)
    settings = IvrSettings(retry_backoff_minutes=5, max_attempts=3)
    policy = SchedulePolicy.from_settings(settings)
    placer = ScriptedPlacer(not_placed=1)
    scheduler = Scheduler(sessionmaker=sessions, placer=placer, policy=policy, clock=clock,
                          flows=load_flows(DEFAULT_FLOWS))  # fmt: skip
    try:
        async with sessions() as session:
            crashed, _ = await repo.add_job(session=session, job=CallbackJob(
                kind="survey", flow="survey", order_id="A", number="1", dedupe_key="a",
                due_at=MORNING))  # fmt: skip
            unplaced, _ = await repo.add_job(session=session, job=CallbackJob(
                kind="survey", flow="survey", order_id="B", number="2", dedupe_key="b",
                due_at=MORNING + timedelta(minutes=1)))  # fmt: skip
            assert crashed.id is not None and unplaced.id is not None
            # A scheduler claimed A, then died mid-call.
            assert await repo.claim(session=session, job_id=crashed.id, now=MORNING,
                                    owner="dead", channel_id="c-dead")  # fmt: skip
        clock.now = MORNING + timedelta(minutes=1)
        assert await scheduler.recover() == 0  # within the lease: maybe still calling
        async with asyncio.TaskGroup() as tg:
            assert await scheduler.tick(tg) == 1  # B: AMI is down, not placed
        clock.now = MORNING + policy.lease + timedelta(minutes=1)
        assert await scheduler.recover() == 1
        async with sessions() as session:
            a = await repo.get_job(session=session, job_id=crashed.id)
            b = await repo.get_job(session=session, job_id=unplaced.id)
        assert a is not None and b is not None
        assert (a.state, a.attempts, a.due_at) == (
            JobState.pending, 1, clock.now + timedelta(minutes=5),
        )  # fmt: skip
        assert (b.state, b.attempts) == (JobState.pending, 0)  # not counted, due again soon
        clock.now += timedelta(minutes=5)
        async with asyncio.TaskGroup() as tg:
            assert await scheduler.tick(tg) == 2
        async with sessions() as session:
            a = await repo.get_job(session=session, job_id=crashed.id)
            tries = await repo.attempts_of(session=session, job_id=crashed.id)
        assert a is not None and (a.state, a.attempts, len(tries)) == (JobState.done, 2, 2)
        assert sorted(placer.placed) == ["1", "2"]
    finally:
        await engine.dispose()
