"""Work orders: units, responsibility catalogue, orders, dispatches, history, extensions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("short_name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("contact_phone", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
    )
    op.create_table(
        "work_orders",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(128), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.String(20000), nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("call_linkedid", sa.String(64), nullable=True),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("time_limit_class", sa.String(32), nullable=False),
        sa.Column("petition", sa.Boolean(), nullable=False),
        sa.Column("enterprise", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("lead_unit_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("call_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_seconds", sa.Float(), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yellow_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("light", sa.String(8), nullable=False),
        sa.Column("light_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supervision_due", sa.Boolean(), nullable=False),
        sa.Column("supervision_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("survey_satisfied", sa.Boolean(), nullable=True),
        sa.Column("merged_into", sa.String(32), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_work_orders"),
    )
    op.create_index("ix_work_orders_call_linkedid", "work_orders", ["call_linkedid"], unique=False)
    op.create_index("ix_work_orders_caller_number", "work_orders", ["caller_number"], unique=False)
    op.create_index("ix_work_orders_category", "work_orders", ["category"], unique=False)
    op.create_index("ix_work_orders_closed_at", "work_orders", ["closed_at"], unique=False)
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"], unique=False)
    op.create_index("ix_work_orders_deadline", "work_orders", ["deadline"], unique=False)
    op.create_index("ix_work_orders_lead_unit_id", "work_orders", ["lead_unit_id"], unique=False)
    op.create_index("ix_work_orders_light", "work_orders", ["light"], unique=False)
    op.create_index("ix_work_orders_number", "work_orders", ["number"], unique=True)
    op.create_index("ix_work_orders_status", "work_orders", ["status"], unique=False)
    op.create_index(
        "ix_work_orders_supervision_due", "work_orders", ["supervision_due"], unique=False
    )
    op.create_index("ix_work_orders_yellow_at", "work_orders", ["yellow_at"], unique=False)
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("part", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.String(20000), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_reason", sa.String(2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.id"],
            name="fk_dispatches_order_id_work_orders",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_dispatches_unit_id_units"),
        sa.PrimaryKeyConstraint("id", name="pk_dispatches"),
    )
    op.create_index("ix_dispatches_dispatched_at", "dispatches", ["dispatched_at"], unique=False)
    op.create_index("ix_dispatches_order_id", "dispatches", ["order_id"], unique=False)
    op.create_index("ix_dispatches_returned_at", "dispatches", ["returned_at"], unique=False)
    op.create_index("ix_dispatches_status", "dispatches", ["status"], unique=False)
    op.create_index("ix_dispatches_unit_id", "dispatches", ["unit_id"], unique=False)
    op.create_table(
        "extension_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("asked_by", sa.String(64), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.id"],
            name="fk_extension_requests_order_id_work_orders",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name="fk_extension_requests_unit_id_units"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_extension_requests"),
    )
    op.create_index(
        "ix_extension_requests_order_id", "extension_requests", ["order_id"], unique=False
    )
    op.create_index(
        "ix_extension_requests_unit_id", "extension_requests", ["unit_id"], unique=False
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("note", sa.String(4000), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.id"],
            name="fk_order_events_order_id_work_orders",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
    )
    op.create_index("ix_order_events_at", "order_events", ["at"], unique=False)
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"], unique=False)
    op.create_index("ix_order_events_step", "order_events", ["step"], unique=False)
    op.create_table(
        "responsibility_entries",
        sa.Column("category", sa.String(128), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("keywords", sa.String(512), nullable=False),
        sa.Column("time_limit_class", sa.String(32), nullable=True),
        sa.Column("note", sa.String(512), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name="fk_responsibility_entries_unit_id_units"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_responsibility_entries"),
    )
    op.create_index(
        "ix_responsibility_entries_category", "responsibility_entries", ["category"], unique=False
    )
    op.create_index(
        "ix_responsibility_entries_unit_id", "responsibility_entries", ["unit_id"], unique=False
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table("responsibility_entries")
    op.drop_table("order_events")
    op.drop_table("extension_requests")
    op.drop_table("dispatches")
    op.drop_table("work_orders")
    op.drop_table("units")
