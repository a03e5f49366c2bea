"""Vosk model folders and archives (pure file work, no vosk import).

The official models are zip archives holding one top folder named like the model
(`vosk-model-small-cn-0.22/am/final.mdl`, ...). `unpack()` checks the archive before it
writes anything: every member inside that top folder, no absolute paths or `..`, no
links; it unpacks into a scratch folder beside the target and renames it into place, so
a failed or interrupted unpack never leaves a half model where the server looks.

Exceptions::

    ModelFileError         not a usable model or archive
     ├── ChecksumMismatch   the download is not the file we pinned
     └── BadArchive         not a zip, or members outside the model folder
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

KALDI_MODEL_HEAD = b"\0B<TransitionModel>"


class ModelFileError(Exception):
    pass


class ChecksumMismatch(ModelFileError):
    pass


class BadArchive(ModelFileError):
    pass


@dataclass(frozen=True)
class OfficialModel:
    name: str
    url: str
    sha256: str | None  # None: not pinned here; the caller must give one
    size: int | None = None


OFFICIAL_MODELS = {
    m.name: m
    for m in (
        OfficialModel(
            name="vosk-model-small-cn-0.22",
            url="https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
            sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
            size=43_898_754,
        ),
        OfficialModel(
            name="vosk-model-cn-0.22",
            url="https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip",
            sha256=None,
        ),
    )
}


def check_model_dir(path: Path) -> None:
    """Raise ModelFileError unless `path` looks like a Vosk (Kaldi) model folder."""
    mdl = path / "am" / "final.mdl"
    try:
        with mdl.open("rb") as f:
            head = f.read(len(KALDI_MODEL_HEAD))
    except OSError as err:
        raise ModelFileError(f"no Vosk model at {path}: cannot read {mdl} ({err})") from err
    if head != KALDI_MODEL_HEAD:
        raise ModelFileError(f"{mdl} is not a Kaldi model (a Git LFS pointer, or truncated?)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, sha256: str) -> None:
    got = sha256_of(path)
    if got != sha256.lower():
        raise ChecksumMismatch(f"{path.name}: SHA-256 is {got}, expected {sha256.lower()}")


def _check_member(archive: Path, name: str, info: zipfile.ZipInfo) -> None:
    member = PurePosixPath(info.filename)
    if member.is_absolute() or ".." in member.parts or member.parts[:1] != (name,):
        raise BadArchive(
            f"{archive.name}: member {info.filename!r} is outside the folder {name}/")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise BadArchive(f"{archive.name}: member {info.filename!r} is a link")


def unpack(archive: Path, name: str, models_dir: Path) -> Path:
    """Unpack the model archive `archive` (top folder `name`) to models_dir/name."""
    target = models_dir / name
    scratch = models_dir / f".{name}.{uuid.uuid4().hex}"
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(archive, name, info)
            scratch.mkdir(parents=True)
            zf.extractall(scratch)
    except zipfile.BadZipFile as err:
        shutil.rmtree(scratch, ignore_errors=True)
        raise BadArchive(f"{archive.name} is not a zip archive: {err}") from err
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        check_model_dir(scratch / name)
        if target.exists():
            shutil.rmtree(target)
        (scratch / name).rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
