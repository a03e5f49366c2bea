"""Typed keys for what the web app keeps on the application and on each request.

Everything the handlers share lives under one of these keys on the `web.Application`
made by `agent_desktop.app.create_app`; nothing is kept in module globals. The request
keys are filled by the security middleware before any handler runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import HttpSettings

if TYPE_CHECKING:
    from agent_desktop.render import Templates
    from agent_desktop.routes import Route
    from agent_desktop.security import LoginThrottle, Principal

# Cookie names are part of the app's contract with browsers; tests read them too.
SESSION_COOKIE = "hotline_session"
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

HTTP_SETTINGS = web.AppKey("http_settings", HttpSettings)
# A new store session per call (an `async_sessionmaker` from hotline.db.session_factory).
SessionFactory = Callable[[], AsyncSession]
SESSIONMAKER: web.AppKey[SessionFactory] = web.AppKey("sessionmaker")
TEMPLATES: web.AppKey[Templates] = web.AppKey("templates")
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle")
# Every declared route, in registration order, and the aiohttp route each one became.
ROUTES: web.AppKey[tuple[Route, ...]] = web.AppKey("routes")
ROUTE_INDEX: web.AppKey[Mapping[AbstractRoute, Route]] = web.AppKey("route_index")
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi")

# Who is calling: None for an anonymous request. Set on every request by the middleware.
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
