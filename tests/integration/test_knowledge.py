"""The knowledge base on SQLite and PostgreSQL: index on write, ranked Chinese search,
validity windows, the seed file, and the REST API with its roles (real aiohttp server)."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from accounts import repo as accounts
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from config.settings import HttpSettings
from hotline.db import AsyncSession, session_factory
from knowledge import api, repo
from knowledge.models import ArticleCreate, ArticleKind, ArticleTerm, ArticleUpdate

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parents[2] / "config" / "knowledge_seed.toml"
NOW = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_names = itertools.count()


def article(title: str, body: str, **kw: Any) -> ArticleCreate:
    data: dict[str, Any] = {
        "title": title,
        "body": body,
        "kind": "guide",
        "valid_from": NOW - timedelta(days=30),
        **kw,
    }
    return ArticleCreate.model_validate(data)


async def test_search_ranks_the_specific_article_first(session: AsyncSession) -> None:
    assert await repo.seed_if_empty(session=session, path=SEED) >= 8
    cases = {
        "社保卡丢了怎么补办": "社会保障卡",
        "我想把公积金取出来付房租，公积金提取要什么材料": "住房公积金",
        "我们想开个公司，营业执照怎么办理": "营业执照",
        "城东区怎么又停水了": "停水通知",
        "老板拖欠工资三个月了": "欠薪",
        "买房有什么补贴": "购房补贴",
    }
    for query, expected in cases.items():
        hits = await repo.search(session=session, query=query)
        assert hits, query
        assert expected in hits[0].title, (query, [h.title for h in hits])
    assert await repo.search(session=session, query="火星移民签证") == []
    # Repeating the seed does nothing: the knowledge base is no longer empty.
    assert await repo.seed_if_empty(session=session, path=SEED) == 0


async def test_only_valid_articles_are_found(session: AsyncSession) -> None:
    await repo.create_article(
        session=session,
        data=article("停水通知 旧", "和平路停水", valid_until=NOW - timedelta(days=1)),
        by="t",
    )
    await repo.create_article(
        session=session,
        data=article("停水通知 未来", "和平路停水", valid_from=NOW + timedelta(days=1)),
        by="t",
    )
    current = await repo.create_article(
        session=session,
        data=article("停水通知 当前", "和平路停水", valid_until=NOW + timedelta(days=1)),
        by="t",
    )
    hits = await repo.search(session=session, query="和平路停水", now=NOW)
    assert [h.id for h in hits] == [current.id]
    got = await repo.get_article(session=session, article_id=current.id)
    assert got.valid is (got.valid_until is not None and got.valid_until > datetime.now(UTC))


async def test_the_index_follows_every_write(session: AsyncSession) -> None:
    created = await repo.create_article(
        session=session, data=article("营业执照办理", "带身份证"), by="t", now=NOW
    )
    assert await repo.search(session=session, query="执照", now=NOW)
    await repo.update_article(
        session=session,
        article_id=created.id,
        by="u",
        now=NOW,
        data=ArticleUpdate(title="食品经营许可证", body="带营业执照复印件"),
    )
    hits = await repo.search(session=session, query="许可证", now=NOW)
    assert [h.id for h in hits] == [created.id]
    rows = await session.execute(
        select(func.count()).select_from(ArticleTerm).where(col(ArticleTerm.term) == "办理")
    )
    assert rows.scalar_one() == 0  # the old title's terms are gone
    one_char = await repo.search(session=session, query="证", now=NOW)
    assert [h.id for h in one_char] == [created.id]
    with pytest.raises(ValueError, match="valid_until"):
        await repo.update_article(
            session=session,
            article_id=created.id,
            by="u",
            now=NOW,
            data=ArticleUpdate(valid_until=NOW - timedelta(days=365)),
        )
    with pytest.raises(repo.ArticleNotFound):
        await repo.get_article(session=session, article_id=999_999)


async def test_use_count_is_atomic(session: AsyncSession) -> None:
    created = await repo.create_article(session=session, data=article("a 标题", "正文"), by="t")
    assert await repo.mark_used(session=session, article_id=created.id) == 1
    assert await repo.mark_used(session=session, article_id=created.id) == 2
    with pytest.raises(repo.ArticleNotFound):
        await repo.mark_used(session=session, article_id=999_999)


def test_a_bad_seed_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "seed.toml"
    bad.write_text('[[article]]\ntitle = "x"\n', encoding="utf-8")
    with pytest.raises(repo.SeedError, match="article 1"):
        repo.read_seed(bad)
    bad.write_text("not toml [", encoding="utf-8")
    with pytest.raises(repo.SeedError):
        repo.read_seed(bad)


# ------------------------------------------------------------------------------ REST API
class Browser:
    def __init__(self, http: ClientSession, csrf: str) -> None:
        self.http = http
        self.csrf = csrf

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf}
        async with self.http.request(method, path, json=body, headers=headers) as r:
            return r.status, await r.json()


@pytest.fixture
async def web(engine: AsyncEngine) -> AsyncIterator[tuple[TestServer, AsyncEngine]]:
    app = create_app(
        WebDeps(
            http=HttpSettings(port=0),
            sessionmaker=session_factory(engine),
            route_tables=(api.routes(),),
        )
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server, engine
    finally:
        await server.close()


async def sign_in(
    server: TestServer, engine: AsyncEngine, role: Role, unit: str | None = None
) -> Browser:
    name = f"{role.value}-{next(_names)}"
    async with session_factory(engine)() as s:
        await accounts.create_user(
            session=s, username=name, password=PASSWORD, role=role, unit_id=unit
        )
    http = ClientSession(base_url=server.make_url(""), cookie_jar=CookieJar(unsafe=True))
    async with http.get("/login") as page:
        token = _CSRF.search(await page.text())
    assert token
    form = {"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
    async with http.post("/login", data=form) as home:
        found = _CSRF.search(await home.text())
    assert found
    return Browser(http, found.group(1))


async def test_api_roles_ownership_and_counting(
    web: tuple[TestServer, AsyncEngine],
) -> None:
    server, engine = web
    water = await sign_in(server, engine, Role.unit_handler, unit="city.water")
    market = await sign_in(server, engine, Role.unit_handler, unit="city.market")
    operator = await sign_in(server, engine, Role.operator)
    supervisor = await sign_in(server, engine, Role.supervisor)
    try:
        body = {
            "title": "停水通知：和平路",
            "body": "管网维修，和平路今日停水至18时",
            "kind": "hot",
            "tags": ["停水", " 停水 ", "供水"],
        }
        status, created = await water.call("POST", "/api/knowledge", body)
        assert status == 201, created
        assert created["owner_unit"] == "city.water"  # a unit writes for itself
        assert created["tags"] == ["停水", "供水"]
        status, err = await water.call("POST", "/api/knowledge", {**body, "owner_unit": "x"})
        assert status == 403 and err["error"]["code"] == "forbidden"
        status, _ = await operator.call("POST", "/api/knowledge", body)
        assert status == 403
        aid = created["id"]
        status, err = await market.call("PATCH", f"/api/knowledge/{aid}", {"title": "改"})
        assert status == 403
        status, changed = await water.call(
            "PATCH", f"/api/knowledge/{aid}", {"body": "和平路今日停水至20时"}
        )
        assert status == 200 and "20时" in changed["body"]
        status, _ = await supervisor.call(
            "PATCH", f"/api/knowledge/{aid}", {"owner_unit": "city.market"}
        )
        assert status == 200
        status, found = await operator.call("GET", "/api/knowledge?q=和平路停水了吗")
        assert status == 200 and found["hits"][0]["id"] == aid
        assert found["hits"][0]["matched"]
        status, _ = await operator.call("GET", "/api/knowledge?q=停水&kind=hot&limit=5")
        assert status == 200
        for bad in (
            "/api/knowledge",
            "/api/knowledge?q=x&kind=nope",
            "/api/knowledge?q=x&limit=0",
            "/api/knowledge?q=x&limit=a",
        ):
            status, err = await operator.call("GET", bad)
            assert status == 400, bad
        status, err = await water.call("POST", "/api/knowledge", {"title": "", "kind": "hot"})
        assert status == 400 and err["error"]["code"] == "invalid_body"
        status, err = await water.call(
            "POST", "/api/knowledge", {**body, "valid_from": "2025-01-01T00:00:00"}
        )
        assert status == 400 and "time zone" in err["error"]["message"]
        status, used = await operator.call("POST", f"/api/knowledge/{aid}/used")
        assert status == 200 and used == {"id": aid, "use_count": 1}
        status, _ = await water.call("POST", f"/api/knowledge/{aid}/used")
        assert status == 403
        status, got = await water.call("GET", f"/api/knowledge/{aid}")
        assert status == 200 and got["use_count"] == 1 and got["valid"] is True
        status, _ = await operator.call("GET", "/api/knowledge/999999")
        assert status == 404
        status, _ = await operator.call("POST", "/api/knowledge/999999/used")
        assert status == 404
    finally:
        for b in (water, market, operator, supervisor):
            await b.http.close()
    assert ArticleKind.hot.label == "热点"
