"""Operators: operator sessions and state history (issue 3)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.String(512), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operator_sessions"),
    )
    op.create_index("ix_operator_sessions_extension", "operator_sessions", ["extension"])
    op.create_index("ix_operator_sessions_user_id", "operator_sessions", ["user_id"])

    op.create_table(
        "operator_state_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("wrap_up_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_state_changes"),
    )
    op.create_index(
        "ix_operator_state_changes_extension", "operator_state_changes", ["extension"]
    )
    op.create_index("ix_operator_state_changes_at", "operator_state_changes", ["at"])


def downgrade() -> None:
    op.drop_table("operator_state_changes")
    op.drop_table("operator_sessions")
