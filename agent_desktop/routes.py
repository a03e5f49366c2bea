"""The route table: every endpoint states who may call it.

A `Route` declares method, path, handler, a one-line summary and `roles`: either a
non-empty frozenset of `Role`s or `PUBLIC`. `roles` has no default, so a route cannot be
declared without deciding who may call it. The app registers only declared routes (plus
the static files, which are public), keeps an index from each aiohttp route to its
declaration, and the security middleware denies any matched route missing from that
index (default deny). The OpenAPI document is generated from the same declarations.

Later features add their endpoints as another `RouteTable` handed to `create_app`
through `WebDeps.route_tables`, with any background resources as cleanup contexts.

A route whose path starts with /api/ is an API route: JSON errors, 401 instead of a
redirect to the login page. Public routes that change state protect themselves (the
login form has its own double-submit CSRF token); every other state-changing request
made with a session cookie must carry the session's CSRF token.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from pydantic import BaseModel

from accounts.roles import Role
from agent_desktop.views import api, auth, home

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CleanupCtx = Callable[[web.Application], AsyncIterator[None]]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class Public(enum.Enum):
    """The marker for a route anyone may call, signed in or not."""

    PUBLIC = "public"


PUBLIC: Final = Public.PUBLIC
ALL_ROLES: Final[frozenset[Role]] = frozenset(Role)


def only(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


class RouteError(ValueError):
    """A route declaration is malformed (raised when the table is built)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | Public
    summary: str
    name: str | None = None
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None  # JSON request body, for validation docs
    response: type[BaseModel] | None = None  # JSON response body, for docs

    def __post_init__(self) -> None:
        where = f"{self.method} {self.path}"
        if self.method not in _METHODS:
            raise RouteError(f"{where}: method must be one of {sorted(_METHODS)}")
        if not self.path.startswith("/"):
            raise RouteError(f"{where}: path must start with /")
        if not self.summary.strip():
            raise RouteError(f"{where}: summary is empty")
        if self.roles is not PUBLIC:
            if not isinstance(self.roles, frozenset) or not self.roles:
                raise RouteError(f"{where}: roles must be a non-empty frozenset or PUBLIC")
            if not all(isinstance(r, Role) for r in self.roles):
                raise RouteError(f"{where}: roles must all be Role members")

    @property
    def is_public(self) -> bool:
        return self.roles is PUBLIC

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def role_names(self) -> list[str]:
        """`["public"]` or the sorted role names (for docs and logs)."""
        if isinstance(self.roles, Public):
            return [self.roles.value]
        return sorted(r.value for r in self.roles)

    def allows(self, role: Role) -> bool:
        return self.roles is PUBLIC or (isinstance(self.roles, frozenset) and role in self.roles)


@dataclass(frozen=True, slots=True)
class RouteTable:
    routes: tuple[Route, ...]
    cleanup_ctx: tuple[CleanupCtx, ...] = field(default=())


def merge(tables: Iterable[RouteTable]) -> tuple[Route, ...]:
    """All routes of `tables`; a method and path declared twice is an error."""
    seen: set[tuple[str, str]] = set()
    merged: list[Route] = []
    for table in tables:
        for route in table.routes:
            key = (route.method, route.path)
            if key in seen:
                raise RouteError(f"{route.method} {route.path}: declared twice")
            seen.add(key)
            merged.append(route)
    return tuple(merged)


def core_routes() -> RouteTable:
    """The shell's own routes: login, homes per role, health, the API basics."""
    return RouteTable(
        (
            Route(method="GET", path="/login", handler=auth.login_form, roles=PUBLIC,
                  summary="Login page", name="login", tags=("pages",)),
            Route(method="POST", path="/login", handler=auth.login_submit, roles=PUBLIC,
                  summary="Sign in with username and password (form, double-submit CSRF)",
                  tags=("pages",)),
            Route(method="POST", path="/logout", handler=auth.logout, roles=ALL_ROLES,
                  summary="End the signed-in session", name="logout", tags=("pages",)),
            Route(method="GET", path="/", handler=home.root, roles=ALL_ROLES,
                  summary="Redirect to the home page of the user's role", name="root",
                  tags=("pages",)),
            Route(method="GET", path="/desk", handler=home.desk,
                  roles=only(Role.operator, Role.supervisor),
                  summary="Operator desktop (话务员工作台)", name="desk", tags=("pages",)),
            Route(method="GET", path="/wallboard", handler=home.wallboard,
                  roles=only(Role.supervisor, Role.admin),
                  summary="Supervisor wallboard (班长监控)", name="wallboard", tags=("pages",)),
            Route(method="GET", path="/portal", handler=home.portal,
                  roles=only(Role.unit_handler),
                  summary="Handling-unit portal (承办单位)", name="portal", tags=("pages",)),
            Route(method="GET", path="/admin", handler=home.admin, roles=only(Role.admin),
                  summary="Administration (管理)", name="admin", tags=("pages",)),
            Route(method="GET", path="/healthz", handler=api.health, roles=PUBLIC,
                  summary="Liveness and store health", name="health", tags=("system",),
                  response=api.Health),
            Route(method="GET", path="/api/openapi.json", handler=api.openapi_document,
                  roles=PUBLIC, summary="This API's OpenAPI 3.1 document", name="openapi",
                  tags=("system",)),
            Route(method="GET", path="/api/me", handler=api.me, roles=ALL_ROLES,
                  summary="The calling user", name="me", tags=("accounts",),
                  response=api.Me),
            Route(method="POST", path="/api/tokens", handler=api.create_token,
                  roles=only(Role.admin),
                  summary="Create an API token for a user (for another system)",
                  name="create_token", tags=("accounts",), body=api.TokenCreate,
                  response=api.TokenCreated),
            Route(method="GET", path="/api/tokens", handler=api.list_tokens,
                  roles=only(Role.admin), summary="List API tokens (never their secrets)",
                  name="list_tokens", tags=("accounts",), response=api.TokenList),
            Route(method="DELETE", path=r"/api/tokens/{token_id:\d+}", handler=api.revoke_token,
                  roles=only(Role.admin), summary="Revoke an API token", name="revoke_token",
                  tags=("accounts",)),
        )
    )
