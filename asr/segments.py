"""From recognizer output to what the desktop shows and the store keeps (pure).

Theory of operation
-------------------
The recognizer pool hands over Vosk's JSON (a partial: the words so far in the current
utterance; a final: one finished utterance with per-word times and confidences).
`parse_partial` / `parse_final` turn it into typed values; `SegmentTracker` (one per
stream) turns those into what goes out:

- a `PartialText` only when the cleaned text changed and at least `min_interval`
  seconds of audio passed since the last one (a few per second at most: partials are
  ephemeral and cost a bus message each);
- a `Segment` for every non-empty final: speaker (channel), its number within the
  stream, start and end in seconds from the start of the call, text and confidence.

Word times from Vosk count from the recognizer's creation; the tracker adds the
stream's offset in the call and the audio consumed by earlier recognizers (renewed on
long calls), which the pool passes as `base_seconds`.

Some models emit numbers as tokens, `[3]` or `[80]`, and some words as `(천)`;
`clean_text` maps them to words in the configured style before anyone sees them.

Exceptions: `ResultError` (the recognizer's JSON is not what Vosk produces).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

Channel = Literal["caller", "operator"]
NumberStyle = Literal["digits", "ko", "zh"]


class ResultError(ValueError):
    """Recognizer output that cannot be read."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class RecognizedPartial:
    text: str
    audio_seconds: float  # stream audio decoded so far


@dataclass(frozen=True, slots=True)
class RecognizedFinal:
    text: str
    words: tuple[Word, ...]
    base_seconds: float  # where the recognizer's time zero is in the stream
    audio_seconds: float  # stream audio decoded so far


@dataclass(frozen=True, slots=True)
class PartialText:
    channel: Channel
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class Segment:
    channel: Channel
    index: int
    text: str
    start_seconds: float
    end_seconds: float
    confidence: float | None


def _load(raw: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ResultError(f"recognizer output is not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise ResultError("recognizer output is not a JSON object")
    return doc


def parse_partial(raw: str, audio_seconds: float) -> RecognizedPartial:
    text = _load(raw).get("partial", "")
    if not isinstance(text, str):
        raise ResultError("partial text is not a string")
    return RecognizedPartial(text=text, audio_seconds=audio_seconds)


def parse_final(raw: str, base_seconds: float, audio_seconds: float) -> RecognizedFinal:
    doc = _load(raw)
    text = doc.get("text", "")
    if not isinstance(text, str):
        raise ResultError("final text is not a string")
    words: list[Word] = []
    for item in doc.get("result", []) or []:
        try:
            words.append(
                Word(
                    word=str(item["word"]),
                    start=float(item["start"]),
                    end=float(item["end"]),
                    conf=float(item.get("conf", 1.0)),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ResultError(f"bad word in recognizer output: {item!r}") from err
    return RecognizedFinal(
        text=text, words=tuple(words), base_seconds=base_seconds, audio_seconds=audio_seconds
    )


# ----------------------------------------------------------------- number tokens
_TOKEN = re.compile(r"\[(\d+)\]|\(([^()\s]+)\)")
_SPACES = re.compile(r"\s+")
_KO_DIGITS = "영일이삼사오육칠팔구"
_ZH_DIGITS = "零一二三四五六七八九"
_KO_UNITS = ("", "십", "백", "천")
_ZH_UNITS = ("", "十", "百", "千")
_KO_MYRIADS = ("", "만", "억", "조")
_ZH_MYRIADS = ("", "万", "亿", "兆")


def read_number(n: int, style: NumberStyle) -> str:
    """How a number is said: digits as is, Sino-Korean or Chinese words."""
    if style == "digits" or n >= 10**16:
        return str(n)
    if style == "ko":
        digits, units, myriads = _KO_DIGITS, _KO_UNITS, _KO_MYRIADS
    else:
        digits, units, myriads = _ZH_DIGITS, _ZH_UNITS, _ZH_MYRIADS
    if n == 0:
        return digits[0]
    groups: list[str] = []
    rank = 0
    while n:
        n, group = divmod(n, 10_000)
        if group:
            # Korean says 만, not 일만, for ten thousand.
            head = "" if style == "ko" and group == 1 and rank == 1 else _read_group(
                group, style, digits, units)
            groups.append(head + myriads[rank])
        rank += 1
    sep = " " if style == "ko" else ""
    return sep.join(reversed(groups))


def _read_group(n: int, style: NumberStyle, digits: str, units: tuple[str, ...]) -> str:
    out: list[str] = []
    zero_pending = False
    for rank in (3, 2, 1, 0):
        d = (n // 10**rank) % 10
        if d == 0:
            zero_pending = bool(out)
            continue
        if zero_pending and style == "zh":
            out.append(digits[0])
        zero_pending = False
        # Korean drops 일 before 십/백/천; Chinese drops 一 only in a leading 十.
        omit_one = d == 1 and rank > 0 and (style == "ko" or (rank == 1 and not out and n < 20))
        out.append(("" if omit_one else digits[d]) + units[rank])
    return "".join(out)


def clean_text(text: str, style: NumberStyle = "digits") -> str:
    """Map `[N]` number tokens and `(word)` tokens to plain words; tidy spaces."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return read_number(int(m.group(1)), style)
        return m.group(2)

    return _SPACES.sub(" ", _TOKEN.sub(sub, text)).strip()


# ----------------------------------------------------------------- tracker
class SegmentTracker:
    """One stream's partial throttling and segment numbering."""

    def __init__(
        self,
        channel: Channel,
        *,
        offset_seconds: float = 0.0,
        min_interval: float = 0.25,
        number_style: NumberStyle = "digits",
    ) -> None:
        self.channel: Channel = channel
        self.offset_seconds = offset_seconds
        self.min_interval = min_interval
        self.number_style: NumberStyle = number_style
        self._index = 0
        self._last_text = ""
        self._last_at: float | None = None

    @property
    def next_index(self) -> int:
        return self._index

    def on_partial(self, partial: RecognizedPartial) -> PartialText | None:
        text = clean_text(partial.text, self.number_style)
        if not text or text == self._last_text:
            return None
        if self._last_at is not None and partial.audio_seconds - self._last_at < self.min_interval:
            return None
        self._last_text = text
        self._last_at = partial.audio_seconds
        return PartialText(channel=self.channel, index=self._index, text=text)

    def on_final(self, final: RecognizedFinal) -> Segment | None:
        self._last_text = ""
        self._last_at = None
        text = clean_text(final.text, self.number_style)
        if not text:
            return None
        base = self.offset_seconds + final.base_seconds
        if final.words:
            start = base + final.words[0].start
            end = base + final.words[-1].end
            confidence: float | None = sum(w.conf for w in final.words) / len(final.words)
        else:
            start = end = self.offset_seconds + final.audio_seconds
            confidence = None
        segment = Segment(
            channel=self.channel,
            index=self._index,
            text=text,
            start_seconds=round(start, 3),
            end_seconds=round(end, 3),
            confidence=None if confidence is None else round(confidence, 3),
        )
        self._index += 1
        return segment
