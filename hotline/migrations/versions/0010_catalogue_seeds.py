"""Catalogue seeds: the (category, unit) pairs config/units.toml has contributed

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_seeds",
        sa.Column("category", sa.String(128), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("category", "unit_id", name="pk_catalogue_seeds"),
    )
    # Pairs already in the store came from the file or the app: either way, not re-added.
    op.execute(
        "INSERT INTO catalogue_seeds (category, unit_id, seeded_at) "
        "SELECT DISTINCT category, unit_id, CURRENT_TIMESTAMP FROM responsibility_entries"
    )


def downgrade() -> None:
    op.drop_table("catalogue_seeds")
