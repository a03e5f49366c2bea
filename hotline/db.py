"""The store: one async SQLAlchemy engine over SQLite (default) or PostgreSQL.

Theory of operation
-------------------
The composition root calls `create_engine(settings.database)` once at start, then
`await check(engine)` (fail fast with one clear line when the database is down) and
`await migrate(engine)` (alembic upgrade to head; a no-op when already there), and hands
`session_factory(engine)` to whoever needs sessions. Nothing here runs at import time.

* SQLite (`sqlite+aiosqlite:///path`): the parent folder is created; every new
  connection gets WAL journaling, synchronous=NORMAL, foreign_keys=ON and a busy
  timeout, set by a `connect` event listener (pragmas are per connection in SQLite).
* PostgreSQL (`postgresql+asyncpg://user:password@host:port/db`): a pooled engine with
  pre-ping, so a restarted server costs one failed ping instead of an error per request.

Sessions are SQLAlchemy's `AsyncSession` (re-exported here): query in 2.0 style,
`(await session.execute(select(Model).where(col(Model.field) == v))).scalars()`, with
sqlmodel's `col()` for typed column expressions. Models are sqlmodel classes;
`SQLModel.metadata` gets a naming convention here (models import this module first) so
constraints have stable names that migrations can refer to.

Exceptions::

    StoreError                 anything the store adapter reports
     ├── StoreUnavailable       the database cannot be reached or refused us
     └── MigrationFailed        alembic could not bring the schema to head

Both name the database by its URL with the password hidden.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel

from config.settings import DatabaseSettings

__all__ = [
    "AsyncSession",
    "MigrationFailed",
    "StoreError",
    "StoreUnavailable",
    "check",
    "create_engine",
    "migrate",
    "safe_url",
    "session_factory",
]

log = structlog.get_logger(__name__)

# Stable constraint names: alembic (and SQLite batch migrations) need names to alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Arbitrary constant: concurrent `migrate()` calls on PostgreSQL queue on this lock.
_PG_MIGRATION_LOCK = 0x686F746C696E65


class StoreError(Exception):
    """Base of the store adapter's errors."""


class StoreUnavailable(StoreError):
    """The database is down, unreachable, or refused the connection."""


class MigrationFailed(StoreError):
    """The schema could not be migrated to head."""


def safe_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ***."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """Build (not connect) the engine for `settings.url`."""
    try:
        url = make_url(settings.url)
    except ArgumentError as err:
        raise StoreError(f"database url {safe_url(settings.url)!r} is not a valid URL") from err
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, settings)
    if backend == "postgresql":
        if url.get_driver_name() != "asyncpg":
            url = url.set(drivername="postgresql+asyncpg")
        return _create_async_engine(
            url,
            echo=settings.echo,
            pool_pre_ping=True,
            pool_size=settings.pool_size,
            connect_args={"timeout": settings.connect_timeout},
        )
    raise StoreError(
        f"database url {safe_url(url)}: unsupported backend {backend!r} "
        "(use sqlite+aiosqlite:///PATH or postgresql+asyncpg://...)"
    )


def _sqlite_engine(url: URL, settings: DatabaseSettings) -> AsyncEngine:
    if url.get_driver_name() != "aiosqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailable(
                f"database at {safe_url(url)}: cannot create its folder: {err}"
            ) from err
    engine = _create_async_engine(
        url,
        echo=settings.echo,
        connect_args={"timeout": settings.busy_timeout},
    )
    busy_ms = int(settings.busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no lazy reload on access)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@contextlib.asynccontextmanager
async def _connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction; connection failures become `StoreUnavailable`."""
    try:
        conn = await engine.connect()
    except (TimeoutError, DBAPIError, OSError) as err:
        raise StoreUnavailable(_unavailable(engine, err)) from err
    try:
        async with conn.begin():
            yield conn
    finally:
        await conn.close()


def _unavailable(engine: AsyncEngine, err: BaseException) -> str:
    cause: BaseException = err
    if isinstance(err, DBAPIError) and err.orig is not None:
        cause = err.orig
    detail = str(cause).strip() or type(cause).__name__
    password = engine.url.password
    if password:
        detail = detail.replace(str(password), "***")
    return f"database at {safe_url(engine.url)} is unavailable: {detail}"


async def check(engine: AsyncEngine) -> None:
    """Round-trip `SELECT 1`; raise `StoreUnavailable` naming the URL if that fails."""
    try:
        async with _connected(engine) as conn:
            await conn.execute(text("SELECT 1"))
    except StoreUnavailable:
        raise
    except (TimeoutError, DBAPIError, OSError) as err:
        raise StoreUnavailable(_unavailable(engine, err)) from err


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the schema to the newest migration (alembic `upgrade head`)."""
    async with _connected(engine) as conn:
        try:
            await conn.run_sync(_upgrade_to_head)
        except (TimeoutError, DBAPIError, OSError) as err:
            if isinstance(err, DBAPIError) and not err.connection_invalidated:
                raise MigrationFailed(
                    f"database at {safe_url(engine.url)}: migration failed: {err.orig}"
                ) from err
            raise StoreUnavailable(_unavailable(engine, err)) from err
        except CommandError as err:  # e.g. the database is at a revision we do not know
            raise MigrationFailed(
                f"database at {safe_url(engine.url)}: cannot migrate: {err} "
                "(was it migrated by a newer hotline?)"
            ) from err
        except SQLAlchemyError as err:
            raise MigrationFailed(
                f"database at {safe_url(engine.url)}: migration failed: {err}"
            ) from err
    log.info("store.migrated", url=safe_url(engine.url))


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory alembic Config for our migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
    command.upgrade(alembic_config(connection), "head")
