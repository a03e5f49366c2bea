"""Login and logout.

The login form is protected against CSRF by a double-submit token: GET /login sets a
random token in a pre-session cookie (Path=/login) and repeats it in a hidden field;
POST /login accepts the form only when both match. A failed login answers 401 with one
generic message whether the username exists or not, and counts towards the
`LoginThrottle` for that username and client address. A successful login creates a
server-side web session (its token in the `hotline_session` cookie: HttpOnly,
SameSite=Lax, Secure when configured) and redirects to the user's home, or to a local
`next` path.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta

import structlog
from aiohttp import web

from accounts import repo
from agent_desktop.keys import (
    CSRF_FIELD,
    HTTP_SETTINGS,
    LOGIN_CSRF_COOKIE,
    PRINCIPAL,
    SESSION_COOKIE,
    SESSIONMAKER,
    THROTTLE,
)
from agent_desktop.render import Markup, escape, page
from agent_desktop.security import client_address, tokens_match
from agent_desktop.views.home import home_for

log = structlog.get_logger(__name__)

BAD_CREDENTIALS = "用户名或密码错误"
LOCKED_OUT = "尝试次数过多，请稍后再试"
FORM_EXPIRED = "页面已过期，请重新登录"
_LOGIN_TOKEN_BYTES = 32


def safe_next(value: str) -> str | None:
    """A local path to go to after login, or None (never another site)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    return value


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _login_page(
    request: web.Request, *, status: int, message: str = "", username: str = "", next_path: str = ""
) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if len(token) < _LOGIN_TOKEN_BYTES:
        token = secrets.token_urlsafe(_LOGIN_TOKEN_BYTES)
    notice = (
        Markup(f'<p class="notice" role="alert">{escape(message)}</p>') if message else Markup("")
    )
    response = page(
        request,
        "login.html",
        title="登录",
        status=status,
        notice=notice,
        username=username,
        next=next_path,
        csrf_field=CSRF_FIELD,
        csrf_token=token,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path="/login",
        httponly=True,
        samesite="Lax",
        secure=request.app[HTTP_SETTINGS].cookie_secure,
        max_age=3600,
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    principal = request[PRINCIPAL]
    if principal is not None:
        raise web.HTTPSeeOther(home_for(principal.user.role))
    next_path = safe_next(request.query.get("next", "")) or ""
    return _login_page(request, status=200, next_path=next_path)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = _field(form, "username").strip()
    password = _field(form, "password")
    next_path = safe_next(_field(form, "next")) or ""
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), _field(form, CSRF_FIELD)):
        log.info("auth.login_csrf_failed", address=client_address(request))
        return _login_page(request, status=403, message=FORM_EXPIRED, username=username)
    throttle = request.app[THROTTLE]
    key = throttle.key(username, client_address(request))
    if throttle.locked(key):
        log.warning("auth.login_locked_out", username=username, address=client_address(request))
        return _login_page(
            request, status=429, message=LOCKED_OUT, username=username, next_path=next_path
        )
    sessionmaker = request.app[SESSIONMAKER]
    user = None
    if username and password:
        async with sessionmaker() as session:
            user = await repo.authenticate(session=session, username=username, password=password)
    if user is None or not user.active:
        throttle.failed(key)
        log.info("auth.login_failed", username=username, address=client_address(request))
        return _login_page(
            request, status=401, message=BAD_CREDENTIALS, username=username, next_path=next_path
        )
    throttle.succeeded(key)
    settings = request.app[HTTP_SETTINGS]
    ttl = timedelta(hours=settings.session_hours)
    async with sessionmaker() as session:
        token, _csrf = await repo.create_web_session(session=session, user_id=user.id, ttl=ttl)
    log.info("auth.login", username=user.username, role=str(user.role))
    response = web.Response(status=303, headers={"Location": next_path or home_for(user.role)})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        max_age=int(ttl.total_seconds()),
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    principal = request[PRINCIPAL]
    if principal is not None and principal.session_token is not None:
        async with request.app[SESSIONMAKER]() as session:
            await repo.end_web_session(session=session, token=principal.session_token)
        log.info("auth.logout", username=principal.user.username)
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
