"""Transcripts: transcript segments and keyword alerts (issue 4)

Revision ID: 0004
Revises: 0003

Reserved in the chain so features can land in any order; filled by the feature's owner.
"""

from __future__ import annotations

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
