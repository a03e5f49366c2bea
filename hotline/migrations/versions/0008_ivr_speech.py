"""Callbacks, spoken answers, recorded comments, results kept before they are applied (issue 6)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass  # reserved: filled by the feature that needs it


def downgrade() -> None:
    pass
