"""Prompt sound files: synthesize the shipped Mandarin prompts, install them for Asterisk.

Each prompt in the catalogue (config/ivr/prompts.toml) becomes `<name>.wav`, 8 kHz mono
16-bit PCM, the format Asterisk plays without transcoding. A recorded file in
config/ivr/prompts/<name>.wav (any WAV: sox converts it) wins over the synthesized one;
otherwise espeak-ng speaks the text (`espeak-ng -v cmn`, Debian's espeak-ng package).

`install_prompts(target)` fills a folder Asterisk can read (for the lab Asterisk: inside
its chroot, e.g. the instance folder; `IvrSettings.prompt_dir` is the same folder as
Asterisk sees it). Files already there and newer than their source are kept.

    python -m ivr_flows.prompts TARGET_DIR     # e.g. at setup time

Errors::

    PromptError     a prompt could not be made (espeak-ng or sox missing or failing)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ivr_flows.flows import PROMPTS_FILE, load_prompt_catalogue

FLOWS_DIR = Path(__file__).resolve().parent.parent / "config" / "ivr"
RECORDED_DIR = FLOWS_DIR / "prompts"
VOICE = "cmn"
SPEED = 190  # words per minute: espeak-ng's default Mandarin is slow for a phone prompt


class PromptError(RuntimeError):
    """A prompt sound file could not be made."""


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    except FileNotFoundError as err:
        raise PromptError(f"{argv[0]} is not installed (Debian package espeak-ng / sox)") from err
    except subprocess.CalledProcessError as err:
        detail = err.stderr.decode("utf-8", "replace").strip()
        raise PromptError(f"{argv[0]} failed: {detail}") from err
    except subprocess.TimeoutExpired as err:
        raise PromptError(f"{argv[0]} did not finish in 30 s") from err


def _to_asterisk_wav(source: Path, target: Path) -> None:
    _run(["sox", "-V1", str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
          str(target), "norm", "-3"])  # fmt: skip


def synthesize(text: str, target: Path) -> None:
    """Speak `text` in Mandarin into an 8 kHz mono WAV at `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        _run(["espeak-ng", "-v", VOICE, "-s", str(SPEED), "-w", str(raw), text])
        _to_asterisk_wav(raw, target)


def install_prompts(
    target: Path, *, flows_dir: Path = FLOWS_DIR, recorded_dir: Path | None = None
) -> list[Path]:
    """Make every catalogue prompt in `target`; return the files written."""
    catalogue_path = flows_dir / PROMPTS_FILE
    catalogue = load_prompt_catalogue(catalogue_path)
    recorded = recorded_dir or flows_dir / "prompts"
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in catalogue.items():
        out = target / f"{name}.wav"
        source = recorded / f"{name}.wav"
        origin = source if source.exists() else catalogue_path
        if out.exists() and out.stat().st_mtime >= origin.stat().st_mtime:
            continue
        partial = target / f".{name}.wav.part.wav"
        if source.exists():
            _to_asterisk_wav(source, partial)
        else:
            synthesize(text, partial)
        partial.replace(out)  # atomic: Asterisk never plays half a file
        written.append(out)
    return written


def copy_prompts(source: Path, target: Path) -> None:
    """Copy an installed prompt folder (e.g. a cache) into another (e.g. a chroot)."""
    target.mkdir(parents=True, exist_ok=True)
    for wav in source.glob("*.wav"):
        shutil.copy2(wav, target / wav.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="make the IVR prompt sound files")
    parser.add_argument("target", type=Path, help="folder to fill (Asterisk must read it)")
    parser.add_argument("--flows", type=Path, default=FLOWS_DIR, help="flows folder")
    args = parser.parse_args(argv)
    try:
        written = install_prompts(args.target, flows_dir=args.flows)
    except PromptError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(written)} prompt(s) written to {args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
