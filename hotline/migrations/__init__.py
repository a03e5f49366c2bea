"""Schema migrations (alembic), run by `hotline.db.migrate()`: no alembic.ini needed.

Every table the store holds is created and changed only by a migration, from the first
table on. `target_metadata()` below imports every model module and returns the metadata
they fill; `env.py` and the schema test compare the migrated database against it.

How a later issue adds or changes a table
-----------------------------------------
1. Write or change the sqlmodel classes in your package's `models.py`. A new models
   module must be imported in `target_metadata()` below.
2. Add ONE file per change in `hotline/migrations/versions/`, named
   `NNNN_what_it_does.py` (next number), with `revision = "NNNN"` and
   `down_revision = "<previous NNNN>"`. Either write `upgrade()` by hand, or draft it
   with alembic's autogenerate and review every line::

       .venv/bin/python -m hotline.migrations.draft "add work orders"

   (prints the operations for the current models against a scratch database migrated to
   head). Use plain `sa.` types in migrations (`sa.String(64)`, `sa.DateTime(timezone=True)`)
   and name constraints explicitly (the naming convention in `hotline.db` gives the names).
   For SQLite, column changes must go through `op.batch_alter_table()`.
3. `tests/integration/test_store.py` fails until the migrated schema equals the metadata,
   on SQLite and on PostgreSQL alike. Never edit a migration that has been released:
   add another one.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel


def target_metadata() -> MetaData:
    """The metadata of every table model, after importing all model modules."""
    import accounts.models  # noqa: F401, PLC0415  (each models module, in order)
    import asr.models  # noqa: F401, PLC0415
    import ivr_flows.models  # noqa: F401, PLC0415
    import knowledge.models  # noqa: F401, PLC0415
    import telephony.call_models  # noqa: PLC0415
    import telephony.operator_models  # noqa: F401, PLC0415
    import workorders.models  # noqa: F401, PLC0415

    return SQLModel.metadata
