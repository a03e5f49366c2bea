"""One-shot recognition of short recordings: IVR spoken answers (a grammar) and comments.

The callbacks feature records what the citizen says into a WAV file (Asterisk's Record)
and asks `SpeechRecognizer.recognize_file(path, phrases)` for its text: with `phrases`,
a grammar recognizer that can only hear those phrases, plus "[unk]" when the model has
it (created in about 0.2 ms); without, the full model (about 70 ms to create). Both run
in a worker thread, never on the loop.
The model is loaded once by `load()` (seconds: at start, before calls are placed), and
`knows(word)` checks a grammar word against the model's vocabulary: a grammar silently
drops words the model does not know (shared/notes/vosk.md).

Only asr.pool imports vosk; this module drives the objects it returns.

Errors::

    SpeechError         a recording could not be read or recognized
    asr.pool.ModelLoadError   no usable model at the path
"""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from asr.model_files import check_model_dir
from asr.pool import ModelLoadError, load_model, make_recognizer
from asr.segments import NumberStyle, clean_text

log = structlog.get_logger("asr.speech")
_PIECE_SECONDS = 0.1
UNK = "[unk]"


class SpeechError(Exception):
    """A recording could not be read or recognized."""


class SpeechRecognizer:
    def __init__(self, model_path: Path, number_style: NumberStyle = "digits") -> None:
        self.model_path = model_path
        self.number_style: NumberStyle = number_style  # how [N] number tokens are written
        self._model: Any = None

    def load(self) -> None:
        """Load the model (blocking, seconds)."""
        try:
            check_model_dir(self.model_path)
            self._model = load_model(self.model_path)
        except Exception as err:  # ModelFileError, or whatever vosk raises
            raise ModelLoadError(f"Vosk could not load {self.model_path}: {err}") from err

    def knows(self, word: str) -> bool:
        """Is `word` in the model's vocabulary (usable in a grammar)?"""
        return bool(self._loaded().vosk_model_find_word(word) >= 0)

    def recognize(self, pcm: bytes, sample_rate: int, phrases: Sequence[str] | None = None) -> str:
        """The text of 16-bit mono PCM (blocking)."""
        grammar = None
        if phrases is not None:
            # With [unk] in the grammar, off-topic speech comes out as [unk] instead of
            # being forced onto a phrase; only models whose vocabulary has it can.
            grammar = [*phrases, *((UNK,) if self.knows(UNK) else ())]
        rec = make_recognizer(self._loaded(), sample_rate, grammar)
        piece = int(_PIECE_SECONDS * sample_rate) * 2
        texts: list[str] = []
        for i in range(0, len(pcm), piece):
            if rec.AcceptWaveform(pcm[i : i + piece]):
                texts.append(json.loads(rec.Result()).get("text", ""))
        texts.append(json.loads(rec.FinalResult()).get("text", ""))
        return clean_text(" ".join(t for t in texts if t), self.number_style)

    def recognize_wav(self, path: Path, phrases: Sequence[str] | None = None) -> str:
        try:
            with wave.open(str(path), "rb") as wav:
                if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                    raise SpeechError(f"{path}: not 16-bit mono PCM")
                rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
        except (OSError, EOFError, wave.Error) as err:
            raise SpeechError(f"cannot read {path}: {err}") from err
        return self.recognize(pcm, rate, phrases)

    async def recognize_file(self, path: Path, phrases: Sequence[str] | None = None) -> str:
        """`recognize_wav` in a worker thread."""
        return await asyncio.to_thread(self.recognize_wav, path, phrases)

    def _loaded(self) -> Any:
        if self._model is None:
            raise SpeechError("the speech model is not loaded")
        return self._model
