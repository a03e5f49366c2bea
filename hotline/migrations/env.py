"""alembic environment: runs on the connection `hotline.db.migrate()` hands over.

There is no offline (SQL script) mode and no engine built here: `migrate()` opens the
connection (and its transaction), and puts it in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from hotline.migrations import target_metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise TypeError("run migrations through hotline.db.migrate(), not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
