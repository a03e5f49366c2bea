"""Calls: call records, route decisions, missed-call callback tasks (issue 3)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("dnis", sa.String(32), nullable=True),
        sa.Column("line", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("caller_name", sa.String(128), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operator_extension", sa.String(32), nullable=True),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("transfers", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_records"),
    )
    for column, unique in (
        ("uniqueid", True),
        ("linkedid", False),
        ("line", False),
        ("caller_number", False),
        ("entered_at", False),
        ("operator_extension", False),
    ):
        op.create_index(f"ix_call_records_{column}", "call_records", [column], unique=unique)

    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=True),
        sa.Column("first_missed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_missed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("missed_count", sa.Integer(), nullable=False),
        sa.Column("last_linkedid", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_callback_tasks"),
    )
    op.create_index("ix_callback_tasks_number", "callback_tasks", ["number"], unique=False)
    op.create_index("ix_callback_tasks_status", "callback_tasks", ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("callback_tasks")
    op.drop_table("call_records")
