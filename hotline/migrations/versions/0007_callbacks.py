"""Callbacks: survey and supervision call jobs and their attempts (issue 6)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "callback_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("number", sa.String(128), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_callback_jobs"),
        sa.UniqueConstraint("dedupe_key", name="uq_callback_jobs_dedupe_key"),
    )
    op.create_index("ix_callback_jobs_kind", "callback_jobs", ["kind"], unique=False)
    op.create_index("ix_callback_jobs_order_id", "callback_jobs", ["order_id"], unique=False)
    op.create_index("ix_callback_jobs_state", "callback_jobs", ["state"], unique=False)
    op.create_index("ix_callback_jobs_due_at", "callback_jobs", ["due_at"], unique=False)

    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("dial_status", sa.String(24), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["callback_jobs.id"],
            name="fk_callback_attempts_job_id_callback_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_callback_attempts"),
        sa.UniqueConstraint("channel_id", name="uq_callback_attempts_channel_id"),
    )
    op.create_index("ix_callback_attempts_job_id", "callback_attempts", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_table("callback_attempts")
    op.drop_table("callback_jobs")
