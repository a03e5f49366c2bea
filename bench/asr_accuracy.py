"""Character error rate per clip of a Vosk model: through the telephone path at 8 kHz
(mu-law round trip, as Asterisk delivers AudioSocket audio from a G.711 call) and
directly at 16 kHz, plus the aggregate (total edits / total reference characters;
spaces and punctuation ignored, number tokens mapped as the desktop shows them).

    .venv/bin/python bench/asr_accuracy.py MODEL_DIR CLIPS_DIR [--numbers ko|zh|digits]

CLIPS_DIR holds WAV files and transcripts.tsv (clip<TAB>reference, with a header line).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vosk

from asr.scoring import aggregate_cer, cer
from asr.segments import NumberStyle, clean_text


def pcm(path: Path, rate: int, *, ulaw: bool) -> bytes:
    if not ulaw:
        argv = ["sox", str(path), "-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16",
                "-c", "1", "-L", "-"]
        return subprocess.run(argv, check=True, capture_output=True).stdout
    coded = subprocess.run(["sox", str(path), "-t", "raw", "-r", "8000", "-e", "u-law",
                            "-b", "8", "-c", "1", "-"], check=True, capture_output=True).stdout
    return subprocess.run(["sox", "-t", "raw", "-r", "8000", "-e", "u-law", "-b", "8", "-c",
                           "1", "-", "-t", "raw", "-e", "signed", "-b", "16", "-L", "-"],
                          input=coded, check=True, capture_output=True).stdout


def decode(model: Any, audio: bytes, rate: int, style: NumberStyle) -> str:
    rec = vosk.KaldiRecognizer(model, rate)
    step = rate // 50 * 2  # 20 ms
    texts = []
    for i in range(0, len(audio), step):
        if rec.AcceptWaveform(audio[i : i + step]):
            texts.append(json.loads(rec.Result())["text"])
    texts.append(json.loads(rec.FinalResult())["text"])
    return clean_text(" ".join(t for t in texts if t), style)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("clips", type=Path)
    parser.add_argument("--numbers", choices=["digits", "ko", "zh"], default="digits")
    args = parser.parse_args()
    vosk.SetLogLevel(-2)
    model = vosk.Model(str(args.model))
    lines = (args.clips / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    refs = dict(line.split("\t", 1) for line in lines if line.strip())
    phone: list[tuple[str, str]] = []
    wide: list[tuple[str, str]] = []
    print(f"{'clip':<28} {'8 kHz μ-law':>11} {'16 kHz':>7}")
    for clip, ref in sorted(refs.items()):
        path = args.clips / clip
        p = decode(model, pcm(path, 8000, ulaw=True), 8000, args.numbers)
        w = decode(model, pcm(path, 16000, ulaw=False), 16000, args.numbers)
        phone.append((ref, p))
        wide.append((ref, w))
        print(f"{clip:<28} {cer(ref, p):>11.1%} {cer(ref, w):>7.1%}", flush=True)
    print(f"{'total':<28} {aggregate_cer(phone):>11.1%} {aggregate_cer(wide):>7.1%}")


if __name__ == "__main__":
    main()
