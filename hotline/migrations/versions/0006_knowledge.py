"""Knowledge base and unit portal additions (issue 5)

Revision ID: 0006
Revises: 0005

Reserved in the chain so features can land in any order; filled by the feature's owner.
"""

from __future__ import annotations

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
