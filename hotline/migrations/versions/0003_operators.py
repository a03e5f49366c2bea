"""Operators: operator sessions and state history (issue 3)

Revision ID: 0003
Revises: 0002

Reserved in the chain so features can land in any order; filled by the feature's owner.
"""

from __future__ import annotations

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
