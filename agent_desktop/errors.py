"""API errors and JSON bodies at the HTTP boundary.

Every JSON API error leaves the server as one envelope:
`{"error": {"code": "<machine code>", "message": "<for people>"}}`.

Exception hierarchy (what views raise; the error middleware turns each into a response):

    ApiError                    status, code, message
    ├── BadRequest              400 (malformed or invalid body)
    ├── Unauthenticated         401
    ├── Forbidden               403
    └── NotFound                404

aiohttp's own `web.HTTPException`s raised on an /api/ path (404, 405, 413, ...) are
rewritten into the same envelope by the middleware, and any other exception becomes a
500 with a generic message: a stack trace never reaches the client.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def status_code_name(status: int) -> str:
    """`404` → `not_found`: the envelope's code for an aiohttp HTTP exception."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate the request body as `model`; a clear 400 when it is not."""
    if request.content_type != "application/json":
        raise BadRequest("request body must be application/json", code="unsupported_media_type")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"request body is not valid JSON: {err}", code="invalid_json") from err
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
        )
        raise BadRequest(f"invalid request body: {problems}", code="invalid_body") from err
