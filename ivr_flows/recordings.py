"""Spoken answers and comments on a call: recordings in, text into the run.

For a ``listen`` or ``record`` command the dialplan records into
``<record_dir>/<channel id>-<seq>.wav`` (`Recordings.path`, as Asterisk sees it) and
reports it; the server reads the same file at `record_read_dir`, has it recognized off
the loop (`SpeechToText`, e.g. asr.speech.SpeechRecognizer: the step's phrases as a
grammar for an answer, the full model for a comment) and deletes it.

- An answer is recognized at once: the next step depends on it. A key that ended the
  recording comes from AMI's DTMFEnd on the channel (`late_key` waits briefly for it:
  AMI does not order channel events and user events strictly).
- A comment is transcribed in a task of the call's `comments` TaskGroup while the flow
  goes on to its thanks; the run holds a placeholder that the task fills, and the
  attempt's report waits for the group. A comment cut short by the citizen hanging up
  is kept (Record's k option) and transcribed the same way (`cut_short`).

Recognition never fails the call: an unreadable or missing recording counts as silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import structlog

from config.settings import IvrSettings
from ivr_flows.machine import Command, FlowRun
from telephony.ami_events import AmiEvent, DTMFEnd

LATE_KEY_SECONDS = 1.0  # how long a key-ended recording's report waits for its DTMFEnd
Log = structlog.typing.FilteringBoundLogger


class SpeechToText(Protocol):
    """Recognizes a recording; raises on unreadable audio."""

    async def recognize_file(self, path: Path, phrases: Sequence[str] | None = None) -> str: ...


class Recordings:
    def __init__(self, settings: IvrSettings, speech: SpeechToText | None) -> None:
        self._settings = settings
        self.speech = speech

    def path(self, channel_id: str, seq: int, *, as_server: bool = False) -> str:
        """Where the recording of command `seq` goes (without .wav), as Asterisk or the
        server sees it."""
        s = self._settings
        base = str(s.record_read_dir or s.record_dir) if as_server else s.record_dir
        return f"{base.rstrip('/')}/{channel_id}-{seq}"

    async def reported(
        self, run: FlowRun, seq: int, *, status: str, key: str, channel_id: str, bound: Log,
        comments: asyncio.TaskGroup,
    ) -> Command | None:  # fmt: skip
        """A spoken answer or a comment was recorded: feed the run; the next command."""
        current = run.current
        if current is None or current.seq != seq:
            return None
        wav = Path(self.path(channel_id, seq, as_server=True) + ".wav")
        bound.info("ivr.recorded", step=current.step, op=current.op, status=status, key=key)
        if current.op == "record":
            self._transcribe_later(run, wav, bound, comments)
            return run.recorded(seq, "")
        if status == "DTMF":
            await asyncio.to_thread(_remove, wav)
            return run.answer(seq, key)
        text = await self._recognize(wav, current.phrases, bound)
        bound.info("ivr.heard", step=current.step, text=text)
        return run.answer(seq, "", text)

    def cut_short(
        self, run: FlowRun, channel_id: str, bound: Log, comments: asyncio.TaskGroup
    ) -> None:
        """The citizen hung up while a comment was recorded: keep what was said (citizens
        often hang up instead of waiting for the silence that ends a comment)."""
        current = run.current
        if run.finished or current is None or current.op != "record":
            return
        wav = Path(self.path(channel_id, current.seq, as_server=True) + ".wav")
        self._transcribe_later(run, wav, bound, comments)
        run.recorded(current.seq, "")

    def _transcribe_later(
        self, run: FlowRun, wav: Path, bound: Log, comments: asyncio.TaskGroup
    ) -> None:
        index = len(run.comments)  # run.recorded() appends the placeholder at this index

        async def transcribe() -> None:
            text = await self._recognize(wav, None, bound)
            run.comments[index] = " ".join(text.split())
            bound.info("ivr.comment", text=text)

        comments.create_task(transcribe(), name=f"comment-{wav.name}")

    async def _recognize(self, wav: Path, phrases: Sequence[str] | None, bound: Log) -> str:
        """The recording's text ('' if it cannot be read or there is no recognizer); the
        file is deleted either way."""
        try:
            if self.speech is not None:
                return await self.speech.recognize_file(wav, phrases)
        except Exception as err:  # unreadable or missing audio: as if nothing was said
            bound.warning("ivr.recognition_failed", path=str(wav), error=str(err))
        finally:
            await asyncio.to_thread(_remove, wav)
        return ""


class KeyLedger:
    """Which key ended a recording, from DTMFEnd events that may come before or after
    the dialplan's report (AMI does not order channel and user events strictly). Pure.

    Each key pressed is one DTMFEnd. A report that read keys itself (Read) owns as many
    DTMFEnds; if they have not come yet they are owed and dropped when they do, so a late
    one is never taken for the next recording's key. A new command drops keys not taken.
    """

    def __init__(self) -> None:
        self._keys: deque[str] = deque()
        self._owed = 0

    def pressed(self, digit: str) -> None:
        if self._owed:
            self._owed -= 1
        else:
            self._keys.append(digit)

    def read(self, digits: str) -> None:
        """A report that read `digits` itself."""
        for _ in digits:
            if self._keys:
                self._keys.popleft()
            else:
                self._owed += 1

    def take(self) -> str | None:
        """The key that ended a recording, if its DTMFEnd has come."""
        return self._keys.popleft() if self._keys else None

    def next_command(self) -> None:
        self._keys.clear()


async def late_key(queue: asyncio.Queue[AmiEvent], held: deque[AmiEvent], ledger: KeyLedger) -> str:
    """The key that ended a recording: from the ledger, or the next DTMFEnd within
    LATE_KEY_SECONDS; other events read meanwhile go to `held` (handled next)."""
    key = ledger.take()
    if key is not None:
        return key
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LATE_KEY_SECONDS):
            while True:
                event = await queue.get()
                if isinstance(event, DTMFEnd) and event.direction != "Sent":
                    ledger.pressed(event.digit)
                    if (key := ledger.take()) is not None:
                        return key
                else:
                    held.append(event)
    return ""


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
