"""JSON endpoints of the shell: health, the OpenAPI document, the caller, API tokens."""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import text

from accounts import repo
from accounts.models import ApiTokenPublic, UserPublic
from agent_desktop.errors import BadRequest, NotFound, read_json
from agent_desktop.keys import OPENAPI, PRINCIPAL, SESSIONMAKER
from agent_desktop.security import Principal

log = structlog.get_logger(__name__)

STORE_CHECK_TIMEOUT = 2.0


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    store: Literal["ok", "unavailable"]


class Me(UserPublic):
    """The calling user and how they authenticated."""

    via: Literal["session", "token"]


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="what the token is for")
    user_id: int | None = Field(None, description="whose token; default: the caller")


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; store it safely")
    name: str
    user_id: int


class TokenList(BaseModel):
    tokens: list[ApiTokenPublic]


def _principal(request: web.Request) -> Principal:
    principal = request[PRINCIPAL]
    if principal is None:  # the middleware lets only signed-in callers reach these views
        raise web.HTTPUnauthorized
    return principal


async def health(request: web.Request) -> web.StreamResponse:
    store: Literal["ok", "unavailable"] = "ok"
    try:
        async with request.app[SESSIONMAKER]() as session:
            connection = await asyncio.wait_for(session.connection(), STORE_CHECK_TIMEOUT)
            await asyncio.wait_for(connection.execute(text("SELECT 1")), STORE_CHECK_TIMEOUT)
    except Exception as err:  # any failure of the store means "unavailable", not a 500
        log.warning("health.store_unavailable", error=repr(err))
        store = "unavailable"
    body = Health(status="ok" if store == "ok" else "degraded", store=store)
    return web.json_response(body.model_dump(), status=200 if store == "ok" else 503)


async def openapi_document(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[OPENAPI])


async def me(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    body = Me(**principal.user.model_dump(), via=principal.via)
    return web.json_response(text=body.model_dump_json())


async def create_token(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    body = await read_json(request, TokenCreate)
    user_id = principal.user.id if body.user_id is None else body.user_id
    async with request.app[SESSIONMAKER]() as session:
        try:
            token = await repo.create_api_token(session=session, user_id=user_id, name=body.name)
        except repo.UserNotFound as err:
            raise NotFound(f"no active user with id {user_id}") from err
    log.info("auth.api_token_created", user_id=user_id, by=principal.user.username)
    created = TokenCreated(token=token, name=body.name, user_id=user_id)
    return web.json_response(created.model_dump(), status=201)


async def list_tokens(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        tokens = await repo.list_api_tokens(session=session)
    return web.json_response(text=TokenList(tokens=tokens).model_dump_json())


async def revoke_token(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    try:
        token_id = int(request.match_info["token_id"])
    except ValueError as err:
        raise BadRequest("token id must be an integer") from err
    async with request.app[SESSIONMAKER]() as session:
        try:
            await repo.revoke_api_token(session=session, token_id=token_id)
        except repo.TokenNotFound as err:
            raise NotFound(str(err)) from err
    log.info("auth.api_token_revoked", token_id=token_id, by=principal.user.username)
    return web.Response(status=204)
