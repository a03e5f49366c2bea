"""`hotline create-admin / create-token / db upgrade` against the real store."""

from __future__ import annotations

import argparse
import io

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import admin_cli, repo
from accounts.roles import Role
from config.settings import DatabaseSettings, Settings
from hotline.db import create_engine, session_factory

pytestmark = pytest.mark.integration


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hotline")
    admin_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def _run(
    monkeypatch: pytest.MonkeyPatch, url: str, argv: list[str], stdin: str = ""
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = _parse(*argv)
    assert admin_cli.handles(args)
    return await admin_cli.run(args, Settings(database=DatabaseSettings(url=url)))


async def test_create_admin_then_token(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await _run(monkeypatch, db_url, ["create-admin", "Root", "--password-stdin"],
                      "a long passphrase\n")
    out, err = capsys.readouterr()
    assert code == 0 and "created admin 'root'" in err
    assert "a long passphrase" not in out + err

    assert await _run(monkeypatch, db_url, ["create-token", "root", "crm-sync"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]  # logs may precede it
    assert token.startswith("hl_")

    engine: AsyncEngine = create_engine(DatabaseSettings(url=db_url))
    try:
        async with session_factory(engine)() as session:
            user = await repo.authenticate(session=session, username="root",
                                           password="a long passphrase")
            assert user is not None and user.role is Role.admin
            assert await repo.get_api_token_user(session=session, token=token) == user
    finally:
        await engine.dispose()


async def test_refusals_are_one_line_and_exit_1(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # no terminal and no --password-stdin: never fall back to argv or an empty password
    assert await _run(monkeypatch, db_url, ["create-admin", "root"]) == 1
    assert "--password-stdin" in capsys.readouterr().err
    assert await _run(monkeypatch, db_url, ["create-admin", "root", "--password-stdin"],
                      "short\n") == 1
    assert "at least 8" in capsys.readouterr().err
    assert await _run(monkeypatch, db_url, ["create-admin", "root", "--password-stdin"],
                      "a long passphrase\n") == 0
    assert await _run(monkeypatch, db_url, ["create-admin", "root", "--password-stdin"],
                      "a long passphrase\n") == 1
    assert "taken" in capsys.readouterr().err
    assert await _run(monkeypatch, db_url, ["create-token", "ghost", "x"]) == 1
    assert "no user named 'ghost'" in capsys.readouterr().err


async def test_db_upgrade(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _run(monkeypatch, db_url, ["db", "upgrade"]) == 0
    assert "newest schema" in capsys.readouterr().out
    assert await _run(monkeypatch, db_url, ["db", "upgrade"]) == 0


async def test_unreachable_store_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.postgres import free_port  # noqa: PLC0415

    url = f"postgresql+asyncpg://u:pw-secret@127.0.0.1:{free_port()}/x"
    assert await _run(monkeypatch, url, ["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unavailable" in err and "pw-secret" not in err
