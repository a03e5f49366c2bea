"""Calls: call records, route decisions, missed-call callback tasks (issue 3)

Revision ID: 0002
Revises: 0001

Reserved in the chain so features can land in any order; filled by the feature's owner.
"""

from __future__ import annotations

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
