"""`hotline asr fetch-model NAME`: download an official Vosk model into the cache.

`hotline.cli` calls `add_parsers(subparsers)` while building its parser and, when
`handles(args)`, `await run(args, settings)`. The command downloads the model's zip
from its official address (streamed to a scratch file in the models folder, hashing as
it goes), checks the size and SHA-256 against the pinned values in
`asr.model_files.OFFICIAL_MODELS` (a model without a pinned hash needs `--sha256`),
unpacks it to `<asr.models_dir>/<NAME>` (atomic rename; see asr.model_files), checks
that `am/final.mdl` is a Kaldi model, and prints the folder to put in `asr.model_path`.
An existing good model is kept unless `--force`. Problems print one line on stderr and
return 1, never a traceback. `--url` fetches from a mirror (the hash still applies).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from asr.model_files import (
    OFFICIAL_MODELS,
    ChecksumMismatch,
    ModelFileError,
    check_model_dir,
    unpack,
)
from config.settings import Settings

COMMANDS = ("asr",)
_CHUNK = 1 << 16


class DownloadFailed(ModelFileError):
    pass


def add_parsers(subparsers: Any) -> None:
    asr = subparsers.add_parser("asr", help="speech recognition models")
    asr_sub = asr.add_subparsers(dest="asr_command", required=True)
    fetch = asr_sub.add_parser("fetch-model", help="download an official Vosk model")
    fetch.add_argument("name", choices=sorted(OFFICIAL_MODELS), help="the model to fetch")
    fetch.add_argument("--models-dir", type=Path, default=None,
                       help="where models live (default: asr.models_dir)")
    fetch.add_argument("--url", default=None, help="download from this address instead")
    fetch.add_argument("--sha256", default=None, help="expected SHA-256 of the zip")
    fetch.add_argument("--force", action="store_true", help="replace an existing model")
    fetch.add_argument("--timeout", type=float, default=3600.0,
                       help="seconds for the whole download")


def handles(args: argparse.Namespace) -> bool:
    return getattr(args, "command", None) in COMMANDS


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "asr_command", None) != "fetch-model":
        return _fail(f"not an asr command: {getattr(args, 'asr_command', None)!r}")
    try:
        path = await fetch_model(
            args.name,
            args.models_dir or settings.asr.models_dir,
            url=args.url,
            sha256=args.sha256,
            force=args.force,
            seconds=args.timeout,
        )
    except (ModelFileError, OSError) as err:
        return _fail(str(err))
    print(f"{args.name} is ready at {path} (set asr.model_path to it)")
    return 0


async def fetch_model(name: str, models_dir: Path, *, url: str | None = None,
                      sha256: str | None = None, force: bool = False,
                      seconds: float = 3600.0) -> Path:
    model = OFFICIAL_MODELS[name]
    expected = sha256 or model.sha256
    if expected is None:
        raise ModelFileError(f"no SHA-256 is pinned for {name}: pass --sha256 with the "
                             "value published next to the download")
    target = models_dir / name
    if not force:
        try:
            check_model_dir(target)
        except ModelFileError:
            pass
        else:
            return target
    await asyncio.to_thread(models_dir.mkdir, parents=True, exist_ok=True)
    scratch = models_dir / f".{name}.{uuid.uuid4().hex}.zip"
    try:
        digest, size = await _download(url or model.url, scratch, seconds)
        if model.size is not None and url is None and size != model.size:
            raise DownloadFailed(f"{name}: got {size} bytes, expected {model.size}")
        if digest != expected.lower():
            raise ChecksumMismatch(f"{name}: SHA-256 is {digest}, expected {expected.lower()}")
        return await asyncio.to_thread(unpack, scratch, name, models_dir)
    finally:
        scratch.unlink(missing_ok=True)


async def _download(url: str, target: Path, seconds: float) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=seconds)
        ) as http, http.get(url) as response:
            if response.status != 200:
                raise DownloadFailed(f"{url}: HTTP {response.status}")
            with target.open("wb") as f:
                async for chunk in response.content.iter_chunked(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    f.write(chunk)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise DownloadFailed(f"{url}: {err or type(err).__name__}") from err
    return digest.hexdigest(), size


def _fail(message: str) -> int:
    print(f"hotline asr: {message}", file=sys.stderr)
    return 1
