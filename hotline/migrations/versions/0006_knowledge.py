"""Knowledge base: articles and their search index (issue 5)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_unit", sa.String(64), nullable=True),
        sa.Column("use_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_articles"),
    )
    op.create_index(
        "ix_knowledge_articles_owner_unit", "knowledge_articles", ["owner_unit"], unique=False
    )
    op.create_table(
        "knowledge_terms",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(32), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name="fk_knowledge_terms_article_id_knowledge_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "term", name="pk_knowledge_terms"),
    )
    op.create_index("ix_knowledge_terms_term", "knowledge_terms", ["term"], unique=False)


def downgrade() -> None:
    op.drop_table("knowledge_terms")
    op.drop_table("knowledge_articles")
