"""REST endpoints of the knowledge base (/api/knowledge...), thin over `knowledge.repo`.

Who may do what:

- search and read: every signed-in role (operators read answers out; units check theirs);
- create and update: the centre (supervisor, admin) for any unit, a unit handler only
  articles owned by their own unit (a unit handler's new article is always their unit's);
- "answered a call" (POST .../used, counted for 即办): operators and supervisors.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from accounts.roles import Role
from agent_desktop.errors import BadRequest, Forbidden, NotFound, read_json
from agent_desktop.keys import PRINCIPAL, SESSIONMAKER
from agent_desktop.routes import ALL_ROLES, Route, RouteTable, only
from agent_desktop.security import Principal
from knowledge import repo
from knowledge.models import ArticleCreate, ArticleHit, ArticleKind, ArticlePublic, ArticleUpdate

MAX_LIMIT = 50
_EDITORS = only(Role.unit_handler, Role.supervisor, Role.admin)
_TAGS = ("knowledge",)


class SearchResult(BaseModel):
    query: str
    hits: list[ArticleHit]


class UseCount(BaseModel):
    id: int
    use_count: int = Field(description="calls this article answered (即办)")


def _principal(request: web.Request) -> Principal:
    principal = request[PRINCIPAL]
    if principal is None:  # the middleware lets only signed-in callers reach these views
        raise web.HTTPUnauthorized
    return principal


def _article_id(request: web.Request) -> int:
    return int(request.match_info["article_id"])


def _kind(value: str | None) -> ArticleKind | None:
    if not value:
        return None
    try:
        return ArticleKind(value)
    except ValueError as err:
        kinds = ", ".join(k.value for k in ArticleKind)
        raise BadRequest(f"kind must be one of {kinds}", code="invalid_query") from err


def _limit(value: str | None) -> int:
    if value is None:
        return 10
    try:
        limit = int(value)
    except ValueError as err:
        raise BadRequest("limit must be an integer", code="invalid_query") from err
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_query")
    return limit


async def search(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "").strip()
    if not query:
        raise BadRequest("give the words to search for in ?q=", code="invalid_query")
    if len(query) > 2000:
        raise BadRequest("the query is longer than 2000 characters", code="invalid_query")
    kind = _kind(request.query.get("kind"))
    unit = request.query.get("unit") or None
    limit = _limit(request.query.get("limit"))
    async with request.app[SESSIONMAKER]() as session:
        hits = await repo.search(
            session=session, query=query, kind=kind, owner_unit=unit, limit=limit
        )
    return web.json_response(text=SearchResult(query=query, hits=hits).model_dump_json())


async def get(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        try:
            article = await repo.get_article(session=session, article_id=_article_id(request))
        except repo.ArticleNotFound as err:
            raise NotFound(str(err)) from err
    return web.json_response(text=article.model_dump_json())


def _check_owner(principal: Principal, owner_unit: str | None) -> None:
    user = principal.user
    if user.role is Role.unit_handler and owner_unit != user.unit_id:
        raise Forbidden("a unit may only maintain its own unit's articles")


async def create(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    body = await read_json(request, ArticleCreate)
    if principal.user.role is Role.unit_handler:
        if body.owner_unit not in (None, principal.user.unit_id):
            raise Forbidden("a unit may only create articles for its own unit")
        body = body.model_copy(update={"owner_unit": principal.user.unit_id})
    async with request.app[SESSIONMAKER]() as session:
        article = await repo.create_article(session=session, data=body, by=principal.user.username)
    return web.json_response(text=article.model_dump_json(), status=201)


async def update(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    body = await read_json(request, ArticleUpdate)
    article_id = _article_id(request)
    async with request.app[SESSIONMAKER]() as session:
        try:
            current = await repo.get_article(session=session, article_id=article_id)
        except repo.ArticleNotFound as err:
            raise NotFound(str(err)) from err
        _check_owner(principal, current.owner_unit)
        if "owner_unit" in body.model_fields_set:
            _check_owner(principal, body.owner_unit)
        try:
            article = await repo.update_article(
                session=session, article_id=article_id, data=body, by=principal.user.username
            )
        except ValueError as err:
            raise BadRequest(f"invalid request body: {err}", code="invalid_body") from err
    return web.json_response(text=article.model_dump_json())


async def used(request: web.Request) -> web.StreamResponse:
    article_id = _article_id(request)
    async with request.app[SESSIONMAKER]() as session:
        try:
            count = await repo.mark_used(session=session, article_id=article_id)
        except repo.ArticleNotFound as err:
            raise NotFound(str(err)) from err
    return web.json_response(UseCount(id=article_id, use_count=count).model_dump())


def routes() -> RouteTable:
    one = r"/api/knowledge/{article_id:\d+}"
    return RouteTable(
        (
            Route(method="GET", path="/api/knowledge", handler=search, roles=ALL_ROLES,
                  summary="Search valid articles by Chinese words (?q=, kind, unit, limit)",
                  name="knowledge_search", tags=_TAGS, response=SearchResult),
            Route(method="POST", path="/api/knowledge", handler=create, roles=_EDITORS,
                  summary="Create an article (a unit: for itself; the centre: for any unit)",
                  name="knowledge_create", tags=_TAGS, body=ArticleCreate,
                  response=ArticlePublic),
            Route(method="GET", path=one, handler=get, roles=ALL_ROLES,
                  summary="One article, valid or not", name="knowledge_get", tags=_TAGS,
                  response=ArticlePublic),
            Route(method="PATCH", path=one, handler=update, roles=_EDITORS,
                  summary="Change an article (a unit: only its own)", name="knowledge_update",
                  tags=_TAGS, body=ArticleUpdate, response=ArticlePublic),
            Route(method="POST", path=one + "/used", handler=used,
                  roles=only(Role.operator, Role.supervisor),
                  summary="Count one call this article answered (即办)", name="knowledge_used",
                  tags=_TAGS, response=UseCount),
        )
    )  # fmt: skip
