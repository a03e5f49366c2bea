"""The OpenAPI 3.1 document, generated from the route table.

Each operation carries `x-roles`: the roles that may call it, or `["public"]`, straight
from its `Route` declaration, and a `security` list naming the two ways to authenticate
(the session cookie and a bearer API token); public operations have an empty one. JSON
bodies and responses declared as pydantic models become component schemas (pydantic's
JSON Schema is the dialect OpenAPI 3.1 uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from agent_desktop.keys import SESSION_COOKIE
from agent_desktop.routes import Route

OPENAPI_VERSION = "3.1.0"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}")
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_path(path: str) -> tuple[str, list[str]]:
    """aiohttp's `/orders/{id:\\d+}` → (`/orders/{id}`, ["id"])."""
    names = [m.group(1) for m in _PARAM.finditer(path)]
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path), names


def build_document(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path, params = openapi_path(route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, params, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Every operation lists the roles that may call it in x-roles.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "bearerToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _operation(route: Route, params: list[str], schemas: dict[str, Any]) -> dict[str, Any]:
    media = "application/json" if route.is_api or route.response else "text/html"
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {media: {"schema": _schema_ref(route.response, schemas)}}
    else:
        ok["content"] = {media: {}}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.name or _operation_id(route),
        "tags": list(route.tags),
        "x-roles": route.role_names,
        "responses": {"200": ok},
    }
    if params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in params
        ]
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(route.body, schemas)}},
        }
        operation["responses"]["400"] = _error_response("Malformed or invalid body")
    if route.is_public:
        operation["security"] = []
    else:
        operation["security"] = [{"sessionCookie": []}, {"bearerToken": []}]
        operation["responses"]["401"] = _error_response("Not signed in / bad API token")
        operation["responses"]["403"] = _error_response("Role not allowed, or CSRF check failed")
    return operation


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in schema.pop("$defs", {}).items():
        schemas.setdefault(name, nested)
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation_id(route: Route) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_") or "root"
    return f"{route.method.lower()}_{slug}"
