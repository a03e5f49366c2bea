"""Who is calling, may they, and is the request really theirs.

Three middlewares, outermost first:

1. `access_log_middleware`: one structlog line per request (method, path, status, user,
   ms), including requests that failed.
2. `error_middleware`: turns `ApiError`s and aiohttp HTTP errors on /api/ paths into the
   JSON envelope of `agent_desktop.errors`, a store that cannot be reached into a 503,
   and any other exception into a generic 500 (logged with its traceback, never sent to
   the client).
3. `security_middleware`: finds the matched route's declaration (an undeclared route is
   denied: default deny), identifies the caller, then applies the declaration:

   - `Authorization: Bearer <token>` → an API token user. No cookies are involved, so no
     CSRF check. A bad or revoked token → 401 on a protected route.
   - else the `hotline_session` cookie → a web session and its CSRF token. Every
     POST/PUT/PATCH/DELETE must then carry that token in the `X-CSRF-Token` header or the
     `csrf_token` form field (compared in constant time) → 403 otherwise.
   - nobody → 401: JSON on /api/ paths, a redirect to /login for pages.
   - a role the route does not list → 403.

Public routes run for anyone; the caller is still identified (so /login can send a
signed-in user home). The login form's own CSRF protection is a double-submit token in
a pre-session cookie (see views/auth.py).

`LoginThrottle` counts failed logins per (username, client address) in memory and locks
that pair out for a while after too many: cheap protection against password guessing
that reveals nothing about which usernames exist.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import DBAPIError

from accounts import repo
from accounts.models import UserPublic
from agent_desktop.errors import (
    ApiError,
    Forbidden,
    Unauthenticated,
    error_response,
    status_code_name,
)
from agent_desktop.keys import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRINCIPAL,
    ROUTE_INDEX,
    SESSION_COOKIE,
    SESSIONMAKER,
)
from agent_desktop.render import page

if TYPE_CHECKING:
    from agent_desktop.routes import Route

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages speak Chinese; the API's messages are for developers.
_PAGE_MESSAGES = {
    "forbidden": "您的角色无权访问此页面",
    "csrf_failed": "页面已过期，请刷新后重试",
    "unauthenticated": "请先登录",
}
_PAGE_STATUS = {404: "没有这个页面（地址可能有误，或该页面已不存在）", 405: "此页面不支持这种操作"}
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    user: UserPublic
    via: Literal["session", "token"]
    session_token: str | None = None  # the cookie value, when via == "session"
    csrf_token: str | None = None  # the session's CSRF token, when via == "session"


class LoginThrottle:
    """After `max_failures` failed logins within `window` seconds, lock out for `lockout`."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window = window
        self._lockout = lockout
        self._max_entries = max_entries
        self._clock = clock
        # key → (failure timestamps within the window, locked until)
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}

    @staticmethod
    def key(username: str, address: str) -> tuple[str, str]:
        return (username.strip().casefold(), address)

    def locked(self, key: tuple[str, str]) -> bool:
        until = self._locked_until.get(key)
        if until is None:
            return False
        if self._clock() >= until:
            del self._locked_until[key]
            return False
        return True

    def failed(self, key: tuple[str, str]) -> None:
        now = self._clock()
        if len(self._failures) >= self._max_entries:
            self._prune(now)
        recent = [t for t in self._failures.get(key, []) if now - t < self._window]
        recent.append(now)
        if len(recent) >= self._max_failures:
            self._locked_until[key] = now + self._lockout
            recent = []
        self._failures[key] = recent

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)
        self._locked_until.pop(key, None)

    def _prune(self, now: float) -> None:
        stale = [k for k, ts in self._failures.items() if not ts or now - ts[-1] >= self._window]
        for key in stale:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if now >= until]:
            del self._locked_until[key]
        if len(self._failures) >= self._max_entries:  # still full: forget the oldest half
            for key in list(self._failures)[: self._max_entries // 2]:
                del self._failures[key]


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One log line per request; every line logged while handling it carries request_id."""
    started = time.perf_counter()
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
    status = 500
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        except web.HTTPException as exc:  # redirects raised by a handler and passed through
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
        except BaseException:
            status = 499  # the client went away (or the server is stopping)
            raise
        finally:
            principal = request.get(PRINCIPAL)
            log.info(
                "http.request",
                method=request.method,
                path=request.path,
                status=status,
                user=principal.user.username if principal else None,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    api = is_api_path(request.path)
    try:
        return await handler(request)
    except ApiError as err:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        if api:
            return error_response(err.status, err.code, err.message, headers)
        message = _PAGE_MESSAGES.get(err.code, err.message)
        return page(request, "error.html", title="出错了", status=err.status, message=message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if not api:
            if exc.status not in _PAGE_STATUS:
                raise
            # A person who mistyped an address gets a page in their language, still
            # signed in (the account bar), with the way home.
            response = page(request, "error.html", title="出错了", status=exc.status,
                            message=_PAGE_STATUS[exc.status])  # fmt: skip
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        headers = {
            k: v for k, v in exc.headers.items() if k.lower() in {"allow", "www-authenticate"}
        }
        # aiohttp's default text is "404: Not Found"; a handler's own text says more.
        default = exc.text is None or exc.text.startswith(f"{exc.status}:")
        message = exc.reason if default else (exc.text or exc.reason)
        return error_response(exc.status, status_code_name(exc.status), message, headers)
    except (DBAPIError, OSError) as err:  # the store is down or refused us: say so, briefly
        log.warning("http.store_unavailable", path=request.path, error=repr(err))
        if api:
            return error_response(503, "store_unavailable", "the store is unavailable, retry")
        message = "系统暂时不可用，请稍后再试"
        return page(request, "error.html", title="出错了", status=503, message=message)
    except Exception:
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        if api:
            return error_response(500, "internal_error", "internal server error")
        return page(request, "error.html", title="出错了", status=500, message="服务器内部错误")


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[PRINCIPAL] = None
    match_info = request.match_info
    if match_info.http_exception is not None:  # 404 / 405: let the router say so
        request[PRINCIPAL] = await identify(request, strict=False)  # for the page's account bar
        return await handler(request)
    route = request.app[ROUTE_INDEX].get(match_info.route)
    if route is None:
        log.error("http.undeclared_route", method=request.method, path=request.path)
        raise Forbidden("this route declares no access rule")
    principal = await identify(request, strict=not route.is_public)
    request[PRINCIPAL] = principal
    if route.is_public:
        return await handler(request)
    if principal is None:
        raise _anonymous_error(request, route)
    if not route.allows(principal.user.role):
        raise Forbidden("your role may not use this resource")
    if request.method not in SAFE_METHODS and principal.via == "session":
        await _check_csrf(request, principal)
    return await handler(request)


async def identify(request: web.Request, *, strict: bool) -> Principal | None:
    """The caller, from a bearer token or the session cookie; None when anonymous.

    With `strict`, presenting a bad bearer token is an error (401) rather than anonymity.
    """
    authorization = request.headers.get("Authorization")
    sessionmaker = request.app[SESSIONMAKER]
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        user: UserPublic | None = None
        if scheme.lower() == "bearer" and token:
            async with sessionmaker() as session:
                user = await repo.get_api_token_user(session=session, token=token)
        if user is not None and user.active:
            return Principal(user=user, via="token")
        if strict:
            raise Unauthenticated("invalid or revoked API token", code="invalid_token")
        return None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    async with sessionmaker() as session:
        found = await repo.get_web_session(session=session, token=cookie)
    if found is None or not found[0].active:
        return None
    user, csrf = found
    return Principal(user=user, via="session", session_token=cookie, csrf_token=csrf)


def _anonymous_error(request: web.Request, route: Route) -> Exception:
    if route.is_api or request.method not in SAFE_METHODS:
        return Unauthenticated("sign in or present an API token")
    return web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")


async def _check_csrf(request: web.Request, principal: Principal) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in _FORM_TYPES:
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not tokens_match(principal.csrf_token, given):
        raise Forbidden("missing or wrong CSRF token", code="csrf_failed")
