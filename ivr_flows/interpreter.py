"""Runs a flow on a real call: AMI Originate into the generic [hotline-ivr] dialplan.

Theory of operation
-------------------
`FlowInterpreter.place()` is one attempt. It registers the call's ChannelId with the
`CallTracker` (the feature's AMI handler, which routes that channel's events into a
queue and returns at once), then originates `trunk(number)` into [hotline-ivr] with the
first command in IVR_CMD (config/asterisk/extensions_ivr.conf.tmpl). The dialplan runs
one command (read a key, or say the prompts and hang up), reports with a UserEvent
``HotlineIvr`` (Seq, Step, Digits, Status) and idles; the pure `FlowRun` turns the
report into the next command, sent as Setvar IVR_CMD + Redirect back to ``cmd``.

Spoken answers and comments (`speech` given): a ``listen`` or ``record`` command
carries a recording path; its report goes to `ivr_flows.recordings.Recordings`, which
recognizes the file off the loop and feeds the run (comments in the call's `comments`
task group, which the attempt's report waits for).

The attempt ends with the channel's Hangup. A failed Originate is classified by that
Hangup's cause and the DialEnd status (`ivr_flows.outcomes`), never by its Reason. When
the AMI link drops mid-call, the resync after the reconnect tells whether the channel
is still there; if not, the call is over with what was answered so far.

Errors::

    CallNotPlaced   the call was certainly not placed (AMI not connected); retry later
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from config.settings import IvrSettings
from hotline.feature import Clock
from ivr_flows.flows import Flow
from ivr_flows.machine import Command, FlowRun
from ivr_flows.outcomes import AttemptFacts, Verdict, classify
from ivr_flows.recordings import KeyLedger, Recordings, SpeechToText, late_key
from telephony import ami_actions
from telephony.ami import AmiClient
from telephony.ami_errors import AmiError, AmiNotConnectedError
from telephony.ami_events import (
    AmiDisconnected,
    AmiEvent,
    ChannelSnapshot,
    DialEnd,
    DTMFEnd,
    Hangup,
    Newstate,
    ResyncCompleted,
    ResyncStarted,
    UserEvent,
)

log = structlog.get_logger(__name__)
RINGING = 5
HANGUP_GRACE = 5.0  # seconds to wait for the Hangup after a failed Originate


class CallNotPlaced(Exception):
    """Nothing was dialled (e.g. AMI is not connected): the attempt does not count."""


@dataclass(frozen=True)
class ChannelGone(AmiEvent):
    """The resync after a reconnect did not list the channel: it ended unseen."""


@dataclass
class CallReport:
    """How one attempt went."""

    channel_id: str
    verdict: Verdict
    facts: AttemptFacts
    result: dict[str, str] = field(default_factory=dict)
    answers: list[dict[str, str]] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    comment: str | None = None  # the recorded comment's transcript


class CallTracker:
    """The AMI handler: routes each tracked channel's events to its attempt's queue."""

    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Queue[AmiEvent]] = {}
        self._seen: set[str] | None = None

    def open(self, channel_id: str) -> asyncio.Queue[AmiEvent]:
        queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._calls[channel_id] = queue
        return queue

    def close(self, channel_id: str) -> None:
        self._calls.pop(channel_id, None)

    @property
    def active(self) -> int:
        return len(self._calls)

    async def on_ami_event(self, event: AmiEvent) -> None:
        if isinstance(event, Hangup | UserEvent | Newstate | ChannelSnapshot | DTMFEnd):
            uid = event.uniqueid
            if isinstance(event, ChannelSnapshot):
                if self._seen is not None:
                    self._seen.add(uid)
                return
        elif isinstance(event, DialEnd):
            uid = event.dest.uniqueid if event.dest is not None else event.uniqueid
        elif isinstance(event, AmiDisconnected):
            for queue in self._calls.values():
                queue.put_nowait(event)
            return
        elif isinstance(event, ResyncStarted):
            self._seen = set()
            return
        elif isinstance(event, ResyncCompleted):
            seen, self._seen = self._seen or set(), None
            if event.complete:
                for channel_id, queue in self._calls.items():
                    if channel_id not in seen:
                        queue.put_nowait(ChannelGone())
            return
        else:
            return
        target = self._calls.get(uid)
        if target is not None:
            target.put_nowait(event)


class FlowInterpreter:
    """Places one call that runs a flow (the scheduler's `CallPlacer`)."""

    def __init__(
        self, ami: AmiClient, tracker: CallTracker, settings: IvrSettings, clock: Clock,
        speech: SpeechToText | None = None,
    ) -> None:  # fmt: skip
        for name in ("prompt_dir", "record_dir"):
            if any(c in getattr(settings, name) for c in "|&,"):
                raise ValueError(f"ivr.{name} {getattr(settings, name)!r} may not hold | & or ,")
        self._ami = ami
        self._tracker = tracker
        self._settings = settings
        self._clock = clock
        self._recordings = Recordings(settings, speech)

    def encode(self, cmd: Command, channel_id: str = "") -> str:
        base = self._settings.prompt_dir.rstrip("/")
        prompts = "&".join(f"{base}/{name}" for name in cmd.prompts)
        text = f"{cmd.op}|{cmd.step}|{cmd.seq}|{cmd.max_digits}|{cmd.timeout:g}|{prompts}"
        if cmd.op in ("listen", "record"):
            # Record() takes whole seconds.
            text += f"|{self._recordings.path(channel_id, cmd.seq)}|{math.ceil(cmd.silence)}"
            text += f"|{math.ceil(cmd.max_seconds)}"
        return text

    async def place(
        self, *, flow: Flow, number: str, channel_id: str, variables: Mapping[str, str],
        job_ref: str = "",
    ) -> CallReport:  # fmt: skip
        s = self._settings
        run = FlowRun(flow, dict(variables), speech=self._recordings.speech is not None)
        first = run.start()
        queue = self._tracker.open(channel_id)
        started = self._clock()
        bound = log.bind(call_id=channel_id, flow=flow.name, job=job_ref)
        try:
            try:
                result = await self._ami.originate(
                    channel=s.trunk.format(number=number), context=s.context, exten="s",
                    channel_id=channel_id, timeout_ms=int(s.ring_seconds * 1000),
                    caller_id=s.caller_id,
                    variables={
                        "IVR_CMD": self.encode(first, channel_id), "IVR_FLOW": flow.name,
                        "IVR_JOB": job_ref or "-", "IVR_IDLE": str(s.idle_seconds),
                        "IVR_MAX_SECONDS": str(s.max_call_seconds),
                    },
                )  # fmt: skip
            except AmiNotConnectedError as err:
                raise CallNotPlaced(str(err)) from err
            except AmiError as err:  # e.g. no OriginateResponse in time: it may have rung
                bound.warning("ivr.originate_failed", error=str(err))
                facts = AttemptFacts(answered=False)
                return self._report(channel_id, facts, run, started)
            if not result.success:
                facts = await self._failed(queue, result.reason)
                bound.info("ivr.not_answered", reason=result.reason, cause=facts.hangup_cause,
                           dial_status=facts.dial_status)  # fmt: skip
                return self._report(channel_id, facts, run, started)
            bound.info("ivr.answered", channel=result.channel)
            # Comments are transcribed in this group while the call goes on; the report
            # waits for them.
            async with asyncio.TaskGroup() as comments:
                cause = await self._converse(
                    run, queue, result.channel, channel_id, bound=bound, comments=comments
                )
            facts = AttemptFacts(
                answered=True, hangup_cause=cause, dial_status="ANSWER", rang=True,
                result_complete=run.complete,
            )  # fmt: skip
            return self._report(channel_id, facts, run, started)
        finally:
            self._tracker.close(channel_id)

    def _report(
        self, channel_id: str, facts: AttemptFacts, run: FlowRun, started: datetime
    ) -> CallReport:
        return CallReport(
            channel_id=channel_id, verdict=classify(facts), facts=facts, result=dict(run.result),
            answers=[
                {"step": a.step, "digits": a.digits, **({"words": a.words} if a.words else {})}
                for a in run.answers
            ],
            started_at=started, ended_at=self._clock(), comment=run.comment,
        )  # fmt: skip

    async def _failed(self, queue: asyncio.Queue[AmiEvent], reason: int) -> AttemptFacts:
        dial_status, rang, cause = "", False, None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HANGUP_GRACE):
                while cause is None:
                    event = await queue.get()
                    if isinstance(event, DialEnd):
                        dial_status = event.dial_status
                    elif isinstance(event, Newstate) and event.channel_state == RINGING:
                        rang = True
                    elif isinstance(event, Hangup):
                        cause = event.cause
                        rang = rang or event.channel_state == RINGING
                    elif isinstance(event, ChannelGone):
                        break
        return AttemptFacts(answered=False, hangup_cause=cause, dial_status=dial_status, rang=rang)

    async def _converse(
        self, run: FlowRun, queue: asyncio.Queue[AmiEvent], channel: str, channel_id: str, *,
        bound: structlog.typing.FilteringBoundLogger, comments: asyncio.TaskGroup,
    ) -> int | None:  # fmt: skip
        """Drive the flow until the channel hangs up; its hangup cause."""
        limit = self._settings.max_call_seconds + self._settings.idle_seconds + 10
        keys = KeyLedger()
        held: deque[AmiEvent] = deque()  # read ahead while waiting for a late DTMFEnd
        try:
            async with asyncio.timeout(limit):
                while True:
                    event = held.popleft() if held else await queue.get()
                    if isinstance(event, DTMFEnd):
                        if event.direction != "Sent":
                            keys.pressed(event.digit)
                        continue
                    if isinstance(event, Hangup):
                        self._recordings.cut_short(run, channel_id, bound, comments)
                        run.hung_up()
                        return event.cause
                    if isinstance(event, ChannelGone):
                        return None
                    if not isinstance(event, UserEvent):
                        continue
                    if event.user_event == "HotlineIvrIdle":
                        await self._send(ami_actions.hangup(channel, 16), bound)
                        continue
                    if event.user_event != "HotlineIvr":
                        continue
                    seq = _int(event.headers.get("Seq", ""))
                    digits = event.headers.get("Digits", "")
                    status = event.headers.get("Status", "")
                    if "Recording" in event.headers:
                        key = await late_key(queue, held, keys) if status == "DTMF" else ""
                        cmd = await self._recordings.reported(
                            run, seq, status=status, key=key, channel_id=channel_id,
                            bound=bound, comments=comments,
                        )  # fmt: skip
                    else:
                        keys.read(digits)
                        cmd = run.answer(seq, digits)
                        bound.info("ivr.answer", step=event.headers.get("Step"), digits=digits,
                                   status=status)  # fmt: skip
                    keys.next_command()
                    if cmd is None:
                        continue
                    if cmd.op == "hangup":
                        await self._send(ami_actions.hangup(channel, 16), bound)
                        continue
                    await self._command(channel, channel_id, cmd, bound)
        except TimeoutError:
            bound.warning("ivr.call_too_long", seconds=limit)
            await self._send(ami_actions.hangup(channel, 16), bound)
            return None

    async def _command(
        self, channel: str, channel_id: str, cmd: Command,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:  # fmt: skip
        await self._send(ami_actions.setvar(channel, "IVR_CMD", self.encode(cmd, channel_id)),
                         bound)  # fmt: skip
        await self._send(ami_actions.redirect(channel, self._settings.context, "cmd"), bound)

    async def _send(
        self, action: ami_actions.AmiAction, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        try:
            await self._ami.send(action)
        except AmiError as err:  # the channel may have hung up meanwhile: its Hangup follows
            bound.info("ivr.action_failed", action=action.name, error=str(err))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1
