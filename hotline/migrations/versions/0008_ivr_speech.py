"""Callbacks, spoken answers, recorded comments, results kept before they are applied (issue 6)

Revision ID: 0008
Revises: 0007

callback_jobs.applied_at: when the job's result was applied to its order (NULL: not yet;
the scheduler re-applies those at start). Jobs that ended before this revision are
marked applied at their finish time, so an upgrade applies nothing twice.
callback_jobs.comment: the transcript of the citizen's recorded comment (survey).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_jobs") as batch:
        batch.add_column(sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("comment", sa.Text(), nullable=True))
    op.execute(
        "UPDATE callback_jobs SET applied_at = finished_at"
        " WHERE state IN ('done', 'failed') AND applied_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("callback_jobs") as batch:
        batch.drop_column("comment")
        batch.drop_column("applied_at")
