"""The web app factory: `create_app(WebDeps) -> web.Application`.

The composition root builds a `WebDeps` (HTTP settings, the store's session factory,
and the route tables of later features) and runs the returned application with an
`AppRunner`. Nothing here runs at import time; everything the handlers share is kept on
the application under the typed keys of `agent_desktop.keys`. Resources that live as
long as the app (the login throttle, and whatever the extra route tables bring) are
opened and closed by `cleanup_ctx`.

Only declared routes are registered (`agent_desktop.routes`), plus /static/, which is
declared public here. The OpenAPI document is generated once, from the same table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from agent_desktop.keys import (
    HTTP_SETTINGS,
    OPENAPI,
    ROUTE_INDEX,
    ROUTES,
    SESSIONMAKER,
    TEMPLATES,
    THROTTLE,
    SessionFactory,
)
from agent_desktop.openapi import build_document
from agent_desktop.render import Templates
from agent_desktop.routes import PUBLIC, Route, RouteTable, core_routes, merge
from agent_desktop.security import (
    LoginThrottle,
    access_log_middleware,
    error_middleware,
    security_middleware,
)
from config.settings import HttpSettings

_HERE = Path(__file__).resolve().parent
MAX_BODY_BYTES = 1024 * 1024
API_TITLE = "hotline"
API_VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class WebDeps:
    http: HttpSettings
    sessionmaker: SessionFactory  # e.g. hotline.db.session_factory(engine)
    route_tables: tuple[RouteTable, ...] = ()


def create_app(deps: WebDeps) -> web.Application:
    app = web.Application(
        middlewares=[access_log_middleware, error_middleware, security_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[HTTP_SETTINGS] = deps.http
    app[SESSIONMAKER] = deps.sessionmaker
    app[TEMPLATES] = Templates(_HERE / "templates")
    tables = (core_routes(), *deps.route_tables)
    routes = merge(tables)
    index: dict[AbstractRoute, Route] = {}
    for route in routes:
        registered = app.router.add_route(route.method, route.path, route.handler, name=route.name)
        index[registered] = route
    static = app.router.add_static("/static", _HERE / "static", name="static")
    for registered in static:
        index[registered] = Route(
            method="GET",
            path="/static/{filename}",
            handler=registered.handler,
            roles=PUBLIC,
            summary="Static files (stylesheet)",
        )
    app[ROUTES] = routes
    app[ROUTE_INDEX] = MappingProxyType(index)
    app[OPENAPI] = build_document(routes, title=API_TITLE, version=API_VERSION)
    app.on_response_prepare.append(_common_headers)
    app.cleanup_ctx.append(_login_throttle)
    for table in tables:
        app.cleanup_ctx.extend(table.cleanup_ctx)
    return app


async def _login_throttle(app: web.Application) -> AsyncIterator[None]:
    app[THROTTLE] = LoginThrottle()
    yield


async def _common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
