"""The route table and the pure parts of the web shell (no server, no store)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.web_urldispatcher import StaticResource
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.roles import Role
from agent_desktop.app import WebDeps, create_app
from agent_desktop.keys import OPENAPI, ROUTE_INDEX, ROUTES
from agent_desktop.openapi import openapi_path
from agent_desktop.render import Markup, escape
from agent_desktop.routes import (
    ALL_ROLES,
    PUBLIC,
    Public,
    Route,
    RouteError,
    RouteTable,
    core_routes,
    merge,
    only,
)
from agent_desktop.security import LoginThrottle, tokens_match
from agent_desktop.views.auth import safe_next
from agent_desktop.views.home import HOME_BY_ROLE
from config.settings import HttpSettings


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _feature_ctx(app: web.Application) -> AsyncIterator[None]:
    yield


def _feature_table() -> RouteTable:
    return RouteTable(
        (
            Route(
                method="GET",
                path=r"/api/orders/{order_id:\d+}",
                handler=_ok,
                roles=only(Role.operator, Role.supervisor),
                summary="One work order",
            ),
            Route(
                method="POST",
                path="/api/orders",
                handler=_ok,
                roles=only(Role.operator),
                summary="Accept a work order",
            ),
        ),
        cleanup_ctx=(_feature_ctx,),
    )


def _app(*tables: RouteTable) -> web.Application:
    # An unbound session factory: nothing here touches the store.
    deps = WebDeps(
        http=HttpSettings(),
        sessionmaker=async_sessionmaker(class_=AsyncSession),
        route_tables=tables,
    )
    return create_app(deps)


def test_every_registered_route_declares_its_roles() -> None:
    app = _app(_feature_table())
    index = app[ROUTE_INDEX]
    registered = list(app.router.routes())
    assert len(registered) >= len(app[ROUTES])
    for route in registered:
        declaration = index.get(route)
        assert declaration is not None, f"{route.method} {route.resource} has no declaration"
        roles = declaration.roles
        assert roles is PUBLIC or (isinstance(roles, frozenset) and roles), declaration
    public = {(r.method, r.path) for r in app[ROUTES] if r.is_public}
    assert public == {
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/healthz"),
        ("GET", "/api/openapi.json"),
    }
    # The static files are the only public routes outside the table.
    for route in registered:
        if index[route] not in app[ROUTES]:
            assert isinstance(route.resource, StaticResource)
            assert index[route].is_public


def test_extra_tables_are_registered_documented_and_bring_their_cleanup() -> None:
    app = _app(_feature_table())
    paths = app[OPENAPI]["paths"]
    assert paths["/api/orders/{order_id}"]["get"]["x-roles"] == ["operator", "supervisor"]
    assert paths["/api/orders/{order_id}"]["get"]["parameters"][0]["name"] == "order_id"
    assert paths["/api/orders"]["post"]["x-roles"] == ["operator"]
    assert _feature_ctx in app.cleanup_ctx


def test_a_route_cannot_be_declared_without_roles() -> None:
    with pytest.raises(TypeError):
        Route(method="GET", path="/x", handler=_ok, summary="x")  # type: ignore[call-arg]
    with pytest.raises(RouteError, match="non-empty"):
        Route(method="GET", path="/x", handler=_ok, roles=frozenset(), summary="x")
    with pytest.raises(RouteError, match="Role members"):
        Route(
            method="GET",
            path="/x",
            handler=_ok,
            roles=frozenset({"admin"}),  # type: ignore[arg-type]
            summary="x",
        )
    with pytest.raises(RouteError, match="summary"):
        Route(method="GET", path="/x", handler=_ok, roles=PUBLIC, summary=" ")
    with pytest.raises(RouteError, match="method"):
        Route(method="get", path="/x", handler=_ok, roles=PUBLIC, summary="x")


def test_a_route_declared_twice_is_refused() -> None:
    with pytest.raises(RouteError, match="declared twice"):
        merge([core_routes(), core_routes()])


def test_roles_of_the_core_routes() -> None:
    by_key = {(r.method, r.path): r for r in core_routes().routes}
    assert by_key[("GET", "/api/me")].roles == ALL_ROLES
    assert by_key[("GET", "/admin")].roles == only(Role.admin)
    assert not by_key[("GET", "/admin")].allows(Role.operator)
    assert by_key[("POST", "/api/tokens")].roles == only(Role.admin)
    assert isinstance(by_key[("GET", "/healthz")].roles, Public)
    assert by_key[("GET", "/healthz")].role_names == ["public"]
    # every role has a home, and may reach it
    for role, path in HOME_BY_ROLE.items():
        assert by_key[("GET", path)].allows(role)


def test_openapi_document_shape() -> None:
    doc = _app()[OPENAPI]
    assert doc["openapi"] == "3.1.0"
    me = doc["paths"]["/api/me"]["get"]
    assert me["security"] == [{"sessionCookie": []}, {"bearerToken": []}]
    assert set(me["responses"]) == {"200", "401", "403"}
    tokens = doc["paths"]["/api/tokens"]["post"]
    assert tokens["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenCreate"
    }
    assert "TokenCreate" in doc["components"]["schemas"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []


def test_openapi_path_conversion() -> None:
    assert openapi_path(r"/orders/{id:\d+}/units/{unit}") == (
        "/orders/{id}/units/{unit}",
        ["id", "unit"],
    )
    assert openapi_path(r"/x/{code:[0-9]{3}}") == ("/x/{code}", ["code"])
    assert openapi_path("/plain") == ("/plain", [])


def test_login_throttle_locks_then_forgives() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window=60, lockout=30, clock=lambda: now[0])
    key = throttle.key(" Operator ", "127.0.0.1")
    assert key == ("operator", "127.0.0.1")
    for _ in range(2):
        throttle.failed(key)
    assert not throttle.locked(key)
    throttle.failed(key)
    assert throttle.locked(key)
    assert not throttle.locked(throttle.key("operator", "127.0.0.2"))  # per address
    now[0] = 31
    assert not throttle.locked(key)
    throttle.failed(key)  # counting starts again after a lockout
    assert not throttle.locked(key)
    now[0] = 200  # old failures fall out of the window
    throttle.failed(key)
    throttle.failed(key)
    assert not throttle.locked(key)
    throttle.succeeded(key)
    throttle.failed(key)
    assert not throttle.locked(key)


def test_login_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_entries=100, clock=lambda: 0.0)
    for n in range(1000):
        throttle.failed(throttle.key(f"user{n}", "127.0.0.1"))
    assert len(throttle._failures) <= 100


def test_escaping_and_tokens() -> None:
    assert escape('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert escape(Markup("<b>")) == "<b>"
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match("", "")
    assert not tokens_match("abc", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/desk", "/desk"),
        ("/desk?tab=1", "/desk?tab=1"),
        ("//evil.example", None),
        ("https://evil.example", None),
        ("/\\evil.example", None),
        ("/desk\r\nSet-Cookie: x", None),
        ("", None),
    ],
)
def test_safe_next(value: str, expected: str | None) -> None:
    assert safe_next(value) == expected
