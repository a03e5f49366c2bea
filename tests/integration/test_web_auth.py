"""The web shell against a real store: login, sessions, roles, CSRF, API tokens.

A real aiohttp server on 127.0.0.1 (aiohttp's TestServer), real HTTP clients with their
own cookie jars, and the store fixtures (`engine`), so every test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs
from yarl import URL

from accounts import repo
from accounts.models import UserPublic
from accounts.passwords import cheap_hasher, use_hasher
from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from agent_desktop.keys import ROUTES, SESSION_COOKIE
from config.settings import HttpSettings
from hotline.db import session_factory

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_names = itertools.count()


@dataclass
class Lab:
    server: TestServer
    engine: AsyncEngine
    sessions: list[ClientSession] = field(default_factory=list)

    def http(self, cookies: dict[str, str] | None = None) -> ClientSession:
        """A new browser: its own cookie jar."""
        jar = CookieJar(unsafe=True)  # unsafe: accept cookies from an IP address host
        session = ClientSession(base_url=self.server.make_url(""), cookie_jar=jar)
        if cookies:
            jar.update_cookies(cookies, self.server.make_url("/"))
        self.sessions.append(session)
        return session

    async def user(self, role: Role, display_name: str = "") -> UserPublic:
        name = f"{role.value}-{next(_names)}"
        with use_hasher(cheap_hasher()):
            async with session_factory(self.engine)() as session:
                return await repo.create_user(
                    session=session,
                    username=name,
                    password=PASSWORD,
                    role=role,
                    display_name=display_name,
                    unit_id="unit-1" if role is Role.unit_handler else None,
                )


@pytest.fixture
async def lab(engine: AsyncEngine) -> AsyncIterator[Lab]:
    app = create_app(WebDeps(http=HttpSettings(port=0), sessionmaker=session_factory(engine)))
    server = TestServer(app, host="127.0.0.1", port=0)
    # Request handlers inherit this context: cheap password hashing for the tests.
    with use_hasher(cheap_hasher()):
        await server.start_server()
    lab = Lab(server=server, engine=engine)
    try:
        yield lab
    finally:
        for session in lab.sessions:
            await session.close()
        await server.close()


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


async def login(http: ClientSession, username: str, password: str = PASSWORD) -> Any:
    async with http.get("/login") as page:
        assert page.status == 200
        token = csrf_of(await page.text())
    form = {"username": username, "password": password, "csrf_token": token}
    async with http.post("/login", data=form, allow_redirects=False) as response:
        await response.read()
        return response


async def signed_in(lab: Lab, role: Role) -> tuple[ClientSession, UserPublic, str]:
    """A browser signed in as a new user of `role`, and the session's CSRF token."""
    user = await lab.user(role)
    http = lab.http()
    response = await login(http, user.username)
    assert response.status == 303
    async with http.get(response.headers["Location"]) as home:
        assert home.status == 200
        return http, user, csrf_of(await home.text())


def session_cookie_header(response: Any) -> str:
    for header in response.headers.getall("Set-Cookie", []):
        if header.startswith(f"{SESSION_COOKIE}="):
            return str(header)
    raise AssertionError("no session cookie set")


async def test_login_sets_hardened_cookie_and_lands_on_role_home(lab: Lab) -> None:
    user = await lab.user(Role.operator, display_name="张伟")
    http = lab.http()
    response = await login(http, user.username)
    assert response.status == 303
    assert response.headers["Location"] == "/desk"
    cookie = session_cookie_header(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # cookie_secure is off in this lab
    assert "Max-Age=43200" in cookie  # session_hours: 12
    async with http.get("/desk") as page:
        assert page.status == 200
        html = await page.text()
    assert "话务员工作台" in html
    assert "张伟" in html
    assert "退出" in html
    async with http.get("/", allow_redirects=False) as root:
        assert root.status == 303
        assert root.headers["Location"] == "/desk"
    async with http.get("/login", allow_redirects=False) as again:  # already signed in
        assert again.headers["Location"] == "/desk"


async def test_login_returns_to_the_page_asked_for_but_never_offsite(lab: Lab) -> None:
    user = await lab.user(Role.operator)
    for asked, landed in (("/desk?tab=1", "/desk?tab=1"), ("//evil.example/x", "/desk")):
        http = lab.http()
        async with http.get("/login", params={"next": asked}) as page:
            token = csrf_of(await page.text())
        form = {"username": user.username, "password": PASSWORD, "csrf_token": token, "next": asked}
        async with http.post("/login", data=form, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == landed


async def test_each_role_lands_on_its_own_home(lab: Lab) -> None:
    homes = {
        Role.supervisor: ("/wallboard", "班长监控"),
        Role.admin: ("/admin", "管理"),
    }
    unit = await lab.user(Role.unit_handler)
    http = lab.http()
    response = await login(http, unit.username)
    assert response.headers["Location"] == "/portal"
    async with http.get("/portal", allow_redirects=False) as home:  # on to the portal's inbox
        assert (home.status, home.headers["Location"]) == (303, "/portal/orders")
    for role, (path, heading) in homes.items():
        user = await lab.user(role)
        http = lab.http()
        response = await login(http, user.username)
        assert response.headers["Location"] == path
        async with http.get(path) as page:
            assert heading in await page.text()


async def test_wrong_password_and_unknown_user_get_the_same_401(lab: Lab) -> None:
    user = await lab.user(Role.operator)
    http = lab.http()
    for username, password in ((user.username, "wrong password!"), ("nobody-here", PASSWORD)):
        async with http.get("/login") as page:
            token = csrf_of(await page.text())
        form = {"username": username, "password": password, "csrf_token": token}
        async with http.post("/login", data=form, allow_redirects=False) as response:
            assert response.status == 401
            assert "用户名或密码错误" in await response.text()
            assert not any(
                h.startswith(SESSION_COOKIE) for h in response.headers.getall("Set-Cookie", [])
            )


async def test_login_form_needs_its_double_submit_token(lab: Lab) -> None:
    user = await lab.user(Role.operator)
    http = lab.http()
    form = {"username": user.username, "password": PASSWORD, "csrf_token": "forged"}
    async with http.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 403
        assert SESSION_COOKIE not in {c.key for c in http.cookie_jar}


async def test_repeated_failures_lock_out_that_username_from_that_address(lab: Lab) -> None:
    user = await lab.user(Role.operator)
    http = lab.http()
    for _ in range(5):
        assert (await login(http, user.username, "wrong password!")).status == 401
    assert (await login(http, user.username)).status == 429  # even the right password


async def test_logout_ends_the_session_for_good(lab: Lab) -> None:
    http, _user, csrf = await signed_in(lab, Role.operator)
    old = {c.key: c.value for c in http.cookie_jar}[SESSION_COOKIE]
    async with http.post("/logout", allow_redirects=False) as refused:  # no CSRF token
        assert refused.status == 403
        assert "页面已过期" in await refused.text()
    async with http.post("/logout", data={"csrf_token": csrf}, allow_redirects=False) as out:
        assert out.status == 303
        assert out.headers["Location"] == "/login"
    replay = lab.http(cookies={SESSION_COOKIE: old})
    async with replay.get("/api/me") as me:
        assert me.status == 401
    async with replay.get("/desk", allow_redirects=False) as page:
        assert page.status == 303
        assert page.headers["Location"].startswith("/login")


async def test_operator_cannot_reach_admin_routes(lab: Lab) -> None:
    http, _user, _csrf = await signed_in(lab, Role.operator)
    async with http.get("/admin") as page:
        assert page.status == 403
        assert "无权访问" in await page.text()
    async with http.get("/api/tokens") as api:
        assert api.status == 403
        assert (await api.json())["error"]["code"] == "forbidden"


async def test_a_mistyped_page_address_gets_a_chinese_page_and_keeps_the_account_bar(
    lab: Lab,
) -> None:
    http, _user, csrf = await signed_in(lab, Role.operator)
    async with http.get("/dsek") as missing:
        assert missing.status == 404
        assert missing.content_type == "text/html"
        text = await missing.text()
        assert "没有这个页面" in text and "返回首页" in text
        assert csrf_of(text) == csrf and "退出" in text
    async with lab.http().get("/dsek") as anonymous:
        assert anonymous.status == 404 and "退出" not in await anonymous.text()


async def test_anonymous_gets_401_json_on_api_and_a_redirect_on_pages(lab: Lab) -> None:
    http = lab.http()
    async with http.get("/api/me") as api:
        assert api.status == 401
        assert api.content_type == "application/json"
        assert (await api.json())["error"]["code"] == "unauthenticated"
    async with http.get("/desk?tab=1", allow_redirects=False) as page:
        assert page.status == 303
        location = URL(page.headers["Location"])
        assert (location.path, location.query["next"]) == ("/login", "/desk?tab=1")
    http.cookie_jar.update_cookies({SESSION_COOKIE: "garbage"}, lab.server.make_url("/"))
    async with http.get("/api/me") as stale:
        assert stale.status == 401


async def test_state_change_with_a_cookie_needs_the_csrf_token(lab: Lab) -> None:
    http, _admin, csrf = await signed_in(lab, Role.admin)
    async with http.post("/api/tokens", json={"name": "crm"}) as refused:
        assert refused.status == 403
        assert (await refused.json())["error"]["code"] == "csrf_failed"
    wrong = {"X-CSRF-Token": csrf[:-2] + "xx"}
    async with http.post("/api/tokens", json={"name": "crm"}, headers=wrong) as refused:
        assert refused.status == 403
    good = {"X-CSRF-Token": csrf}
    async with http.post("/api/tokens", json={"name": "crm"}, headers=good) as created:
        assert created.status == 201
        assert (await created.json())["token"].startswith("hl_")


async def test_bearer_token_works_until_revoked(lab: Lab) -> None:
    http, _admin, csrf = await signed_in(lab, Role.admin)
    operator = await lab.user(Role.operator)
    body = {"name": "wallboard feed", "user_id": operator.id}
    async with http.post("/api/tokens", json=body, headers={"X-CSRF-Token": csrf}) as created:
        assert created.status == 201
        token = (await created.json())["token"]
    api = lab.http()
    bearer = {"Authorization": f"Bearer {token}"}
    async with api.get("/api/me", headers=bearer) as me:
        assert me.status == 200
        data = await me.json()
        assert (data["username"], data["role"], data["via"]) == (
            operator.username,
            "operator",
            "token",
        )
    async with api.get("/api/tokens", headers=bearer) as forbidden:  # still an operator
        assert forbidden.status == 403
    async with http.get("/api/tokens") as listing:
        ids = [t["id"] for t in (await listing.json())["tokens"] if t["user_id"] == operator.id]
    async with http.delete(f"/api/tokens/{ids[0]}", headers={"X-CSRF-Token": csrf}) as revoked:
        assert revoked.status == 204
    async with api.get("/api/me", headers=bearer) as me:
        assert me.status == 401
        assert (await me.json())["error"]["code"] == "invalid_token"
        assert me.headers["WWW-Authenticate"].startswith("Bearer")


async def test_bearer_requests_need_no_csrf_and_bad_json_is_a_clear_400(lab: Lab) -> None:
    http, _admin, csrf = await signed_in(lab, Role.admin)
    async with http.post("/api/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf}) as r:
        token = (await r.json())["token"]
    api = lab.http()
    bearer = {"Authorization": f"Bearer {token}"}
    async with api.post("/api/tokens", json={"name": "second"}, headers=bearer) as created:
        assert created.status == 201
    raw = {**bearer, "Content-Type": "application/json"}
    async with api.post("/api/tokens", data=b"{not json", headers=raw) as bad:
        assert bad.status == 400
        error = (await bad.json())["error"]
        assert error["code"] == "invalid_json"
        assert "not valid JSON" in error["message"]
    async with api.post("/api/tokens", json={"name": ""}, headers=bearer) as invalid:
        assert invalid.status == 400
        assert (await invalid.json())["error"]["code"] == "invalid_body"
    async with api.post("/api/tokens", json={"name": "x", "user_id": 10**9}, headers=bearer) as nf:
        assert nf.status == 404
    async with api.get("/api/nowhere", headers=bearer) as missing:
        assert missing.status == 404
        assert (await missing.json())["error"]["code"] == "not_found"
    async with api.put("/api/me", headers=bearer) as wrong_method:
        assert wrong_method.status == 405
        assert "Allow" in wrong_method.headers
        assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"


async def test_each_request_is_logged_with_user_status_and_time(lab: Lab) -> None:
    http, user, _csrf = await signed_in(lab, Role.operator)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with http.get("/api/me", headers={"X-Request-Id": "req-42"}) as response:
            assert response.status == 200
            assert response.headers["X-Request-Id"] == "req-42"
    lines = [e for e in logs if e["event"] == "http.request"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["method"], line["path"], line["status"], line["user"], line["request_id"]) == (
        "GET",
        "/api/me",
        200,
        user.username,
        "req-42",
    )
    assert isinstance(line["ms"], float)


async def test_pages_escape_what_users_typed(lab: Lab) -> None:
    user = await lab.user(Role.supervisor, display_name="<script>alert(1)</script>")
    http = lab.http()
    await login(http, user.username)
    async with http.get("/wallboard") as page:
        html = await page.text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_health_and_openapi_are_public(lab: Lab) -> None:
    http = lab.http()
    async with http.get("/healthz") as health:
        assert health.status == 200
        assert await health.json() == {"status": "ok", "store": "ok"}
    async with http.get("/static/hotline.css") as css:
        assert css.status == 200
    async with http.get("/api/openapi.json") as response:
        assert response.status == 200
        doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["components"]["securitySchemes"]) == {"sessionCookie", "bearerToken"}
    app = lab.server.app
    assert app is not None
    for route in app[ROUTES]:
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.path)
        operation = doc["paths"][path][route.method.lower()]
        assert operation["x-roles"] == route.role_names
        assert (operation["security"] == []) == route.is_public
    assert doc["paths"]["/api/me"]["get"]["x-roles"] == sorted(r.value for r in Role)
    assert doc["paths"]["/admin"]["get"]["x-roles"] == ["admin"]


async def test_cookies_are_secure_when_configured(engine: AsyncEngine) -> None:
    http_settings = HttpSettings(cookie_secure=True, session_hours=0.5)
    app = create_app(WebDeps(http=http_settings, sessionmaker=session_factory(engine)))
    server = TestServer(app, host="127.0.0.1", port=0)
    with use_hasher(cheap_hasher()):
        await server.start_server()
    lab = Lab(server=server, engine=engine)
    try:
        user = await lab.user(Role.admin)
        http = lab.http()
        async with http.get("/login") as page:
            token = csrf_of(await page.text())
            assert "Secure" in page.headers["Set-Cookie"]
        # A Secure cookie is not sent back over plain HTTP: hand it over as a browser on
        # HTTPS would.
        form = {"username": user.username, "password": PASSWORD, "csrf_token": token}
        headers = {"Cookie": f"hotline_login_csrf={token}"}
        async with http.post("/login", data=form, headers=headers, allow_redirects=False) as r:
            assert r.status == 303
            cookie = session_cookie_header(r)
        assert "Secure" in cookie
        assert "Max-Age=1800" in cookie
    finally:
        for session in lab.sessions:
            await session.close()
        await server.close()


async def test_undeclared_route_is_denied(engine: AsyncEngine) -> None:
    app = create_app(WebDeps(http=HttpSettings(), sessionmaker=session_factory(engine)))

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response(text="should never run")

    app.router.add_get("/api/sneaky", sneaky)  # bypasses the route table
    async with (
        TestServer(app, host="127.0.0.1", port=0) as server,
        ClientSession() as http,
        http.get(server.make_url("/api/sneaky")) as response,
    ):
        assert response.status == 403


async def test_an_unavailable_store_is_a_503_not_a_crash() -> None:
    broken = create_async_engine("sqlite+aiosqlite:////nonexistent-dir/hotline.db")
    app = create_app(WebDeps(http=HttpSettings(), sessionmaker=session_factory(broken)))
    try:
        async with (
            TestServer(app, host="127.0.0.1", port=0) as server,
            ClientSession() as http,
            http.get(server.make_url("/healthz")) as response,
        ):
            assert response.status == 503
            assert await response.json() == {"status": "degraded", "store": "unavailable"}
            bearer = {"Authorization": "Bearer hl_whatever"}
            async with http.get(server.make_url("/api/me"), headers=bearer) as me:
                assert me.status == 503
                assert (await me.json())["error"]["code"] == "store_unavailable"
    finally:
        await broken.dispose()


async def test_pages_link_the_pages_of_the_role_that_this_server_serves(lab: Lab) -> None:
    http, _user, _csrf = await signed_in(lab, Role.supervisor)
    async with http.get("/wallboard") as wallboard:
        text = await wallboard.text()
    nav = text[text.index('<nav class="pages"') : text.index("</nav>")]
    assert '<a href="/wallboard" aria-current="page">监控大屏</a>' in nav
    assert '<a href="/desk">坐席</a>' in nav
    assert "/reports" not in nav  # the reports feature does not run in this app
    operator, _user, _csrf = await signed_in(lab, Role.operator)
    async with operator.get("/desk") as desk:
        text = await desk.text()
    assert "/wallboard" not in text[text.index('<nav class="pages"') : text.index("</nav>")]
