"""Draft the next migration: what the models have that the migrations do not (yet).

    .venv/bin/python -m hotline.migrations.draft [--url postgresql+asyncpg://...]

Migrates a scratch database (a temporary SQLite file unless --url is given) to head,
compares it with the models' metadata (alembic autogenerate) and prints the upgrade
operations as Python. Paste them into a new `versions/NNNN_*.py` file and review every
line: autogenerate misses renames (it sees drop + add), server defaults and data moves.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from config.settings import DatabaseSettings
from hotline.db import create_engine, migrate
from hotline.migrations import target_metadata


def _render(connection: Connection) -> str:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
    )
    script = produce_migrations(context, target_metadata())
    if script.upgrade_ops is None or script.upgrade_ops.is_empty():
        return "# the migrations already match the models: nothing to add"
    return render_python_code(script.upgrade_ops)


async def draft(url: str) -> str:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            return await conn.run_sync(_render)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline.migrations.draft", description=__doc__)
    parser.add_argument("--url", help="scratch database to migrate (default: a temp SQLite)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotline-draft-") as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'draft.db'}"
        print(asyncio.run(draft(url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
