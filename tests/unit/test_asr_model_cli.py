"""`hotline asr fetch-model` against a loopback HTTP server serving small zips."""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from asr import model_cli
from asr.model_files import KALDI_MODEL_HEAD
from config.settings import Settings

NAME = "vosk-model-small-cn-0.22"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return buf.getvalue()


GOOD = _zip({f"{NAME}/am/final.mdl": KALDI_MODEL_HEAD + b"rest",
             f"{NAME}/conf/mfcc.conf": b"--use-energy=false\n"})
FILES = {
    "good.zip": GOOD,
    "escape.zip": _zip({f"{NAME}/am/final.mdl": KALDI_MODEL_HEAD, "../evil": b"x"}),
    "pointer.zip": _zip({f"{NAME}/am/final.mdl": b"version https://git-lfs.github.com/spec"}),
    "garbage.zip": b"this is not a zip",
}


@pytest.fixture
async def mirror() -> AsyncIterator[tuple[str, list[str]]]:
    requests: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        requests.append(name)
        if name not in FILES:
            raise web.HTTPNotFound()
        return web.Response(body=FILES[name])

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", requests
    await runner.cleanup()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    model_cli.add_parsers(sub)
    return parser.parse_args(argv)


async def _fetch(models: Path, *extra: str) -> int:
    args = _args("asr", "fetch-model", NAME, "--models-dir", str(models), *extra)
    assert model_cli.handles(args)
    return await model_cli.run(args, Settings())


async def test_fetches_checks_and_unpacks(mirror: tuple[str, list[str]], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    base, requests = mirror
    sha = hashlib.sha256(GOOD).hexdigest()
    assert await _fetch(tmp_path, "--url", f"{base}/good.zip", "--sha256", sha) == 0
    assert (tmp_path / NAME / "am" / "final.mdl").read_bytes().startswith(KALDI_MODEL_HEAD)
    assert str(tmp_path / NAME) in capsys.readouterr().out
    # Already there: nothing downloaded again.
    assert await _fetch(tmp_path, "--url", f"{base}/good.zip", "--sha256", sha) == 0
    assert requests == ["good.zip"]
    assert _names(tmp_path) == [NAME]


@pytest.mark.parametrize(
    ("file", "sha", "message"),
    [
        ("good.zip", "0" * 64, "SHA-256 is"),
        ("escape.zip", None, "outside the folder"),
        ("pointer.zip", None, "not a Kaldi model"),
        ("garbage.zip", None, "not a zip archive"),
        ("missing.zip", None, "HTTP 404"),
    ],
)
async def test_bad_downloads_leave_nothing_behind(
    mirror: tuple[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    file: str, sha: str | None, message: str,
) -> None:
    base, _ = mirror
    digest = sha or hashlib.sha256(FILES.get(file, b"")).hexdigest()
    assert await _fetch(tmp_path, "--url", f"{base}/{file}", "--sha256", digest) == 1
    assert message in capsys.readouterr().err
    assert _names(tmp_path) == []


async def test_a_model_without_a_pinned_hash_needs_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args("asr", "fetch-model", "vosk-model-cn-0.22", "--models-dir", str(tmp_path))
    assert await model_cli.run(args, Settings()) == 1
    assert "--sha256" in capsys.readouterr().err


async def test_an_unreachable_mirror_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from lab.ports import free_tcp_port  # noqa: PLC0415

    url = f"http://127.0.0.1:{free_tcp_port()}/x.zip"
    assert await _fetch(tmp_path, "--url", url, "--sha256", "0" * 64) == 1
    assert "x.zip" in capsys.readouterr().err
