"""Missed-call callbacks dialled automatically (issue 6)

Revision ID: 0009
Revises: 0008

The dialer's state on each callback task (dial_state, attempts, next dial, lease,
outcome and reason) and one `callback_dials` row per automatic dial.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_TASK_COLUMNS = (
    # Existing tasks are waiting (server defaults fill them; the models set the values).
    ("dial_state", sa.String(16), False, "waiting"),
    ("dial_attempts", sa.Integer(), False, "0"),
    ("next_dial_at", sa.DateTime(timezone=True), True, None),
    ("dial_outcome", sa.String(32), True, None),
    ("dial_reason", sa.String(255), True, None),
    ("connected_to", sa.String(32), True, None),
    ("claimed_by", sa.String(64), True, None),
    ("claimed_until", sa.DateTime(timezone=True), True, None),
    ("channel_id", sa.String(64), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        for name, type_, nullable, default in _TASK_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
    op.create_index("ix_callback_tasks_dial_state", "callback_tasks", ["dial_state"], unique=False)
    op.create_table(
        "callback_dials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("dial_status", sa.String(32), nullable=True),
        sa.Column("operator_extension", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["callback_tasks.id"],
            name="fk_callback_dials_task_id_callback_tasks",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_callback_dials"),
        sa.UniqueConstraint("channel_id", name="uq_callback_dials_channel_id"),
    )
    op.create_index("ix_callback_dials_task_id", "callback_dials", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_table("callback_dials")
    op.drop_index("ix_callback_tasks_dial_state", table_name="callback_tasks")
    with op.batch_alter_table("callback_tasks") as batch:
        for name, *_ in reversed(_TASK_COLUMNS):
            batch.drop_column(name)
