"""Work orders: orders, dispatches, history, deadlines (issue 5)

Revision ID: 0005
Revises: 0004

Reserved in the chain so features can land in any order; filled by the feature's owner.
"""

from __future__ import annotations

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
