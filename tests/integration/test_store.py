"""The store adapter on SQLite and a real PostgreSQL: migrations, pragmas, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.models import User, WebSession
from accounts.roles import Role
from config.settings import DatabaseSettings
from hotline.db import (
    MigrationFailed,
    StoreError,
    StoreUnavailable,
    alembic_config,
    check,
    create_engine,
    migrate,
    session_factory,
)
from hotline.migrations import target_metadata
from hotline.migrations.draft import draft
from lab.postgres import PostgresServer, free_port

pytestmark = pytest.mark.integration


def _diffs(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, target_metadata()))


def _schema(conn: Connection) -> dict[str, Any]:
    insp = inspect(conn)
    return {
        t: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
            sorted((i["name"] or "", i["unique"]) for i in insp.get_indexes(t)),
            insp.get_foreign_keys(t),
        )
        for t in sorted(insp.get_table_names())
    }


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def test_migrated_schema_equals_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diffs) == []
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"users", "web_sessions", "api_tokens", "alembic_version"} <= tables


async def test_migrations_reach_head_and_twice_is_a_no_op(engine: AsyncEngine) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as conn:
        before = await conn.run_sync(_schema)
        assert await conn.run_sync(_revision) == head
    async with session_factory(engine)() as s:
        s.add(User(username="keep", role=Role.operator, password_hash="x"))
        await s.commit()
    await migrate(engine)
    await migrate(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_schema) == before
        assert await conn.run_sync(_revision) == head
        assert (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1


async def test_every_migration_file_is_in_one_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    assert len(script.get_heads()) == 1
    assert revisions[-1].down_revision is None
    for rev in revisions:
        assert Path(rev.path).name.startswith(rev.revision + "_")


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with session_factory(engine)() as s:
        s.add(WebSession(token_hash="a" * 64, user_id=4242, csrf_token="c", expires_at=now))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_datetimes_come_back_aware_utc(engine: AsyncEngine) -> None:
    beijing = timezone(timedelta(hours=8))
    created = datetime(2026, 3, 1, 9, 30, tzinfo=beijing)
    async with session_factory(engine)() as s:
        user = User(username="tz", role=Role.operator, password_hash="x", created_at=created)
        s.add(user)
        await s.commit()
        user_id = user.id
    async with session_factory(engine)() as s:
        loaded = await s.get(User, user_id)
        assert loaded is not None
        assert loaded.created_at == created
        assert loaded.created_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        s.add(
            User(
                username="naive",
                role=Role.operator,
                password_hash="x",
                created_at=datetime(2026, 3, 1, 9, 30),
            )
        )
        with pytest.raises(StatementError, match="timezone"):
            await s.commit()


async def test_check_passes_on_a_live_database(engine: AsyncEngine) -> None:
    await check(engine)


async def test_sqlite_pragmas_and_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "hotline.db"
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}", busy_timeout=7))
    try:
        await check(engine)
        assert path.parent.is_dir()
        async with engine.connect() as conn:
            got = {
                p: (await conn.execute(text(f"PRAGMA {p}"))).scalar_one()
                for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert got == {
            "journal_mode": "wal",
            "synchronous": 1,
            "foreign_keys": 1,
            "busy_timeout": 7000,
        }
    finally:
        await engine.dispose()


async def test_unreachable_postgresql_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://hotline:Sup3rSecret@127.0.0.1:{port}/hotline"
    engine = create_engine(DatabaseSettings(url=url, connect_timeout=2))
    try:
        for attempt in (check, migrate):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt(engine)
            message = str(caught.value)
            assert f"127.0.0.1:{port}/hotline" in message
            assert "unavailable" in message
            assert "Sup3rSecret" not in message
            assert "hotline:***@" in message
    finally:
        await engine.dispose()


async def test_stopped_postgresql_is_a_clear_error() -> None:
    server = PostgresServer()
    server.start()
    try:
        engine = create_engine(DatabaseSettings(url=server.url(), connect_timeout=2))
        try:
            await migrate(engine)
            await check(engine)  # a pooled connection now exists
            server.stop()
            with pytest.raises(StoreUnavailable) as caught:
                await check(engine)
            assert server.password not in str(caught.value)
            assert "postgres:***@127.0.0.1" in str(caught.value)
        finally:
            await engine.dispose()
    finally:
        server.stop()


async def test_sqlite_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="a-file"):
        create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{blocker}/sub/hotline.db"))
    (tmp_path / "a-folder").mkdir()  # the database path names a folder: cannot open
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/a-folder"))
    try:
        with pytest.raises(StoreUnavailable, match="a-folder is unavailable"):
            await check(engine)
    finally:
        await engine.dispose()


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported backend"):
        create_engine(DatabaseSettings(url="mysql://u:pw@127.0.0.1/x"))
    with pytest.raises(StoreError, match="not a valid URL"):
        create_engine(DatabaseSettings(url="::nonsense::"))


async def test_draft_of_next_migration_is_empty_when_models_match(db_url: str) -> None:
    assert "nothing to add" in await draft(db_url)


async def test_unknown_revision_in_the_database_fails_clearly(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(MigrationFailed, match=r"9999.*newer hotline"):
        await migrate(engine)


async def test_wrong_postgresql_password_is_a_clear_error(postgres: PostgresServer) -> None:
    url = postgres.url().replace(postgres.password, "not-the-password")
    engine = create_engine(DatabaseSettings(url=url))
    try:
        with pytest.raises(StoreUnavailable, match="password authentication failed") as caught:
            await check(engine)
        assert "not-the-password" not in str(caught.value)
    finally:
        await engine.dispose()
