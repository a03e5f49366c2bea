"""Knowledge base operations on the store: write articles (and their index), search, count.

Every function is async, takes the session keyword-only and commits its own change
(a failed call rolls back and leaves nothing half written). Results are `ArticlePublic`
/ `ArticleHit` values, never table rows.

Search
------
Writing an article rewrites its rows in `knowledge_terms` (term → weight) in the same
transaction, so the index can never disagree with the article. A search turns the query
into terms (`knowledge.tokens.query_terms`), reads the index rows of those terms for
articles valid at `now`, and ranks in Python:

    score = Σ over matched terms  idf(term) × (1 + ln weight)
    idf(term) = ln(1 + N / df(term))        N, df over the valid articles

so a rare, specific bigram (公积, 执照) counts more than a common one (办理), and a term
in the title counts more than in the body. A query term of one Han character matches
index terms that start or end with it. Plain SQL (no FTS extension) keeps SQLite and
PostgreSQL identical.

Exceptions::

    KnowledgeError            a knowledge request that cannot be carried out
     ├── ArticleNotFound       no article with that id
     └── SeedError             the seed file is unreadable or malformed
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from knowledge.models import (
    Article,
    ArticleCreate,
    ArticleHit,
    ArticleKind,
    ArticlePublic,
    ArticleTerm,
    ArticleUpdate,
    utcnow,
)
from knowledge.tokens import query_terms, term_counts

log = structlog.get_logger(__name__)

TITLE_WEIGHT = 3
TAG_WEIGHT = 2
MAX_WEIGHT = 50
SNIPPET_CHARS = 80


class KnowledgeError(Exception):
    """Base of knowledge errors; the message is fit to show to the person asking."""


class ArticleNotFound(KnowledgeError):
    pass


class SeedError(KnowledgeError):
    pass


def index_terms(title: str, body: str, tags: Sequence[str]) -> dict[str, int]:
    """term → weight for one article (pure; the index rows to store)."""
    counts: Counter[str] = Counter()
    for term, n in term_counts(title).items():
        counts[term] += n * TITLE_WEIGHT
    for tag in tags:
        for term, n in term_counts(tag).items():
            counts[term] += n * TAG_WEIGHT
    counts.update(term_counts(body))
    return {term: min(weight, MAX_WEIGHT) for term, weight in counts.items()}


def is_valid(article: Article, now: datetime) -> bool:
    return article.valid_from <= now and (article.valid_until is None or article.valid_until > now)


def public(article: Article, now: datetime | None = None) -> ArticlePublic:
    assert article.id is not None
    return ArticlePublic(
        id=article.id,
        title=article.title,
        body=article.body,
        kind=ArticleKind(article.kind),
        tags=list(article.tags),
        valid_from=article.valid_from,
        valid_until=article.valid_until,
        owner_unit=article.owner_unit,
        use_count=article.use_count,
        created_at=article.created_at,
        updated_at=article.updated_at,
        updated_by=article.updated_by,
        valid=is_valid(article, now or utcnow()),
    )


async def _write_index(session: AsyncSession, article: Article) -> None:
    assert article.id is not None
    await session.execute(delete(ArticleTerm).where(col(ArticleTerm.article_id) == article.id))
    session.add_all(
        ArticleTerm(article_id=article.id, term=term, weight=weight)
        for term, weight in index_terms(article.title, article.body, article.tags).items()
    )


async def create_article(
    *, session: AsyncSession, data: ArticleCreate, by: str, now: datetime | None = None
) -> ArticlePublic:
    now = now or utcnow()
    article = Article(
        **data.model_dump(exclude={"owner_unit"}),
        owner_unit=data.owner_unit,
        created_at=now,
        updated_at=now,
        updated_by=by,
    )
    session.add(article)
    try:
        await session.flush()
        await _write_index(session, article)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    log.info("knowledge.created", article_id=article.id, by=by, kind=str(article.kind))
    return public(article, now)


async def _row(session: AsyncSession, article_id: int) -> Article:
    article = await session.get(Article, article_id)
    if article is None:
        raise ArticleNotFound(f"no knowledge article with id {article_id}")
    return article


async def get_article(*, session: AsyncSession, article_id: int) -> ArticlePublic:
    return public(await _row(session, article_id))


async def update_article(
    *,
    session: AsyncSession,
    article_id: int,
    data: ArticleUpdate,
    by: str,
    now: datetime | None = None,
) -> ArticlePublic:
    """Apply the fields set in `data`; raise ValueError if the validity window breaks."""
    now = now or utcnow()
    article = await _row(session, article_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("title", "body", "kind", "tags", "valid_from"):
        if field in changes and changes[field] is None:
            raise ValueError(f"{field} cannot be cleared")
    for field, value in changes.items():
        setattr(article, field, value.strip() if field in ("title", "body") else value)
    if article.valid_until is not None and article.valid_until <= article.valid_from:
        await session.rollback()
        raise ValueError("valid_until must be after valid_from")
    article.updated_at = now
    article.updated_by = by
    try:
        if {"title", "body", "tags"} & changes.keys():
            await _write_index(session, article)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    log.info("knowledge.updated", article_id=article_id, by=by, fields=sorted(changes))
    return public(article, now)


async def mark_used(*, session: AsyncSession, article_id: int) -> int:
    """Count one call this article answered; the new count (atomic in SQL)."""
    result = await session.execute(
        update(Article)
        .where(col(Article.id) == article_id)
        .values(use_count=col(Article.use_count) + 1)
        .returning(col(Article.use_count))
    )
    count = result.scalar_one_or_none()
    await session.commit()
    if count is None:
        raise ArticleNotFound(f"no knowledge article with id {article_id}")
    return int(count)


def _valid_at(now: datetime) -> Any:
    return (col(Article.valid_from) <= now) & or_(
        col(Article.valid_until).is_(None), col(Article.valid_until) > now
    )


@dataclass(frozen=True, slots=True)
class _Match:
    article_id: int
    term: str  # the query term
    weight: int


async def search(
    *,
    session: AsyncSession,
    query: str,
    kind: ArticleKind | None = None,
    owner_unit: str | None = None,
    limit: int = 10,
    min_terms: int = 1,
    now: datetime | None = None,
) -> list[ArticleHit]:
    """Valid articles matching `query`, best first; at least `min_terms` terms in common."""
    now = now or utcnow()
    wanted = query_terms(query)
    if not wanted:
        return []
    exact = [t for t in wanted if len(t) > 1 or t.isascii()]
    prefixes = [t for t in wanted if len(t) == 1 and not t.isascii()]
    conditions: list[ColumnElement[bool]] = []
    if exact:
        conditions.append(col(ArticleTerm.term).in_(exact))
    for char in prefixes:  # no index helps the suffix; one-character queries are rare
        conditions.append(col(ArticleTerm.term).startswith(char, autoescape=True))
        conditions.append(col(ArticleTerm.term).endswith(char, autoescape=True))
    scope = _valid_at(now)
    if kind is not None:
        scope = scope & (col(Article.kind) == kind.value)
    if owner_unit is not None:
        scope = scope & (col(Article.owner_unit) == owner_unit)
    rows = await session.execute(
        select(col(ArticleTerm.article_id), col(ArticleTerm.term), col(ArticleTerm.weight))
        .join(Article, col(Article.id) == col(ArticleTerm.article_id))
        .where(scope, or_(*conditions))
    )
    chars = set(prefixes)
    matches = [
        _Match(aid, term if term in wanted else (term[0] if term[0] in chars else term[-1]), w)
        for aid, term, w in rows.all()
        if term in wanted or term[0] in chars or term[-1] in chars
    ]
    if not matches:
        return []
    total = await session.execute(select(func.count()).select_from(Article).where(scope))
    n = max(int(total.scalar_one()), 1)
    ranked = _rank(matches, n, min_terms)[:limit]
    if not ranked:
        return []
    ids = [aid for aid, _, _ in ranked]
    articles = {
        a.id: a
        for a in (await session.execute(select(Article).where(col(Article.id).in_(ids)))).scalars()
    }
    return [
        _hit(articles[aid], score, terms, wanted) for aid, score, terms in ranked if aid in articles
    ]


def _rank(matches: Sequence[_Match], n: int, min_terms: int) -> list[tuple[int, float, list[str]]]:
    df: Counter[str] = Counter()
    per_article: dict[int, dict[str, int]] = defaultdict(dict)
    for m in matches:
        terms = per_article[m.article_id]
        if m.term not in terms:
            df[m.term] += 1
        terms[m.term] = max(terms.get(m.term, 0), m.weight)
    ranked: list[tuple[int, float, list[str]]] = []
    for aid, terms in per_article.items():
        if len(terms) < min_terms:
            continue
        score = sum(math.log(1 + n / df[t]) * (1 + math.log(w)) for t, w in terms.items())
        ranked.append((aid, round(score, 4), list(terms)))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    return ranked


def _hit(article: Article, score: float, matched: list[str], wanted: Sequence[str]) -> ArticleHit:
    assert article.id is not None
    order = {t: i for i, t in enumerate(wanted)}
    return ArticleHit(
        id=article.id,
        title=article.title,
        kind=ArticleKind(article.kind),
        owner_unit=article.owner_unit,
        tags=list(article.tags),
        score=score,
        matched=sorted(matched, key=lambda t: order.get(t, len(order))),
        snippet=_snippet(article.body),
        use_count=article.use_count,
    )


def _snippet(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


async def count_articles(*, session: AsyncSession) -> int:
    result = await session.execute(select(func.count()).select_from(Article))
    return int(result.scalar_one())


def read_seed(path: Path) -> list[ArticleCreate]:
    """The articles of a seed TOML file (`[[article]]` tables); SeedError says what is wrong."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise SeedError(f"knowledge seed {path}: {err}") from err
    entries = doc.get("article")
    if not isinstance(entries, list):
        raise SeedError(f"knowledge seed {path}: no [[article]] tables")
    articles: list[ArticleCreate] = []
    for i, entry in enumerate(entries, start=1):
        try:
            articles.append(ArticleCreate.model_validate(entry))
        except ValidationError as err:
            raise SeedError(f"knowledge seed {path}: article {i}: {err}") from err
    return articles


async def seed_if_empty(*, session: AsyncSession, path: Path) -> int:
    """Load the seed articles into an empty knowledge base; how many were added."""
    if await count_articles(session=session) > 0:
        return 0
    articles = read_seed(path)
    for data in articles:
        await create_article(session=session, data=data, by="seed")
    log.info("knowledge.seeded", articles=len(articles), path=str(path))
    return len(articles)
