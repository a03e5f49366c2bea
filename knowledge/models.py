"""Knowledge base tables and API shapes (sqlmodel families: Base, Create, Update, table, Public).

`Article` is one answer an operator can read out or a unit keeps up to date: a service
guide (办事指南), a business policy (惠企政策) or a hot topic (热点, e.g. a water cut
notice). `owner_unit` is the handling unit that maintains it (None: the centre).
An article is *valid* from `valid_from` until `valid_until` (open-ended when None);
search finds valid articles only.

`ArticleTerm` is the search index: one row per (article, term) with the term's weight
(occurrences, title and tags counting extra), rewritten by `knowledge.repo` on every
write of the article. See `knowledge.tokens` for what a term is.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

import hotline.db  # noqa: F401  (constraint naming convention before the tables)

TITLE_MAX = 200
BODY_MAX = 20_000
TAG_MAX = 32
TAGS_MAX = 20


def utcnow() -> datetime:
    return datetime.now(UTC)


class ArticleKind(enum.StrEnum):
    guide = "guide"  # 办事指南
    policy = "policy"  # 惠企政策
    hot = "hot"  # 热点 (notices, seasonal topics)

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    ArticleKind.guide: "办事指南",
    ArticleKind.policy: "惠企政策",
    ArticleKind.hot: "热点",
}


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in tags:
        tag = raw.strip()
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise ValueError(f"tag {tag[:TAG_MAX]!r}…: at most {TAG_MAX} characters")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > TAGS_MAX:
        raise ValueError(f"at most {TAGS_MAX} tags")
    return cleaned


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("a time needs a time zone (e.g. 2025-01-01T00:00:00+08:00)")
    return value


class ArticleBase(SQLModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX, sa_type=sa.Text)
    kind: ArticleKind = Field(sa_type=sa.String(16))
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    valid_from: datetime = Field(default_factory=utcnow)
    valid_until: datetime | None = None


class ArticleCreate(ArticleBase):
    # Unit handlers always write for their own unit; the centre may name any unit.
    owner_unit: str | None = Field(default=None, max_length=64)

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @model_validator(mode="after")
    def _window(self) -> ArticleCreate:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class ArticleUpdate(SQLModel):
    """A partial update: only the fields given change."""

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    kind: ArticleKind | None = None
    tags: list[str] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    owner_unit: str | None = Field(default=None, max_length=64)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class Article(ArticleBase, table=True):
    __tablename__ = "knowledge_articles"

    id: int | None = Field(default=None, primary_key=True)
    owner_unit: str | None = Field(default=None, max_length=64, index=True)
    use_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=64)


class ArticleTerm(SQLModel, table=True):
    __tablename__ = "knowledge_terms"

    article_id: int = Field(
        foreign_key="knowledge_articles.id", ondelete="CASCADE", primary_key=True
    )
    term: str = Field(max_length=32, primary_key=True, index=True)
    weight: int = Field(ge=1)


class ArticlePublic(ArticleBase):
    id: int
    owner_unit: str | None
    use_count: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    valid: bool = Field(description="valid now (search finds only valid articles)")


class ArticleHit(SQLModel):
    """One search result: enough to list it, and why it ranked where it did."""

    id: int
    title: str
    kind: ArticleKind
    owner_unit: str | None
    tags: list[str]
    score: float
    matched: list[str] = Field(description="the query terms the article contains")
    snippet: str
    use_count: int
