"""Orders by operator: the desk's "my orders" (/api/orders?operator=) reads an index

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_work_orders_operator", "work_orders", ["operator"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_work_orders_operator", table_name="work_orders")
