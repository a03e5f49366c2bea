"""REST endpoints for calls: records, missed-call callback tasks, live figures.

Who may call what (also in the OpenAPI document, generated from the route table):
- operators, supervisors, admins: list and read call records;
- operators and supervisors: list callback tasks (漏接回拨) and mark one done;
- supervisors and admins: live figures per line and per queue (the wallboard's data).
Handlers are thin: parse the query, call the repository, shape the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel

from accounts.roles import Role
from agent_desktop.errors import BadRequest, NotFound
from agent_desktop.keys import PRINCIPAL, SESSIONMAKER
from agent_desktop.routes import Route, RouteTable, only
from hotline.bus_events import BusEvent
from telephony import call_repo
from telephony.call_figures import LiveFigures, live_figures
from telephony.call_models import CallbackStatus, CallbackTaskPublic, CallRecordPublic
from telephony.callback_events import task_changed
from telephony.callback_labels import CallbackRow, row

CALL_READERS = only(Role.operator, Role.supervisor, Role.admin)
CALLBACK_WORKERS = only(Role.operator, Role.supervisor)
WATCHERS = only(Role.supervisor, Role.admin)
MAX_LIMIT = 500
FIGURES_RECORDS = 100_000


class CallList(BaseModel):
    calls: list[CallRecordPublic]


class CallbackList(BaseModel):
    """Each task with its dial state, outcome and reason in zh-CN (telephony.callback_labels)."""

    callbacks: list[CallbackRow]


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise BadRequest(f"{name} must be a whole number") from err
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as err:
        raise BadRequest(f"{name} must be an ISO 8601 time") from err
    if value.tzinfo is None:
        raise BadRequest(f"{name} must include a UTC offset")
    return value


def routes(
    *,
    clock: Callable[[], datetime],
    target_seconds: int = 15,
    publish: Callable[[BusEvent], object] | None = None,
) -> RouteTable:
    async def list_calls(request: web.Request) -> web.StreamResponse:
        async with request.app[SESSIONMAKER]() as session:
            calls = await call_repo.list_calls(
                session=session,
                limit=_int(request, "limit", 50, 1, MAX_LIMIT),
                offset=_int(request, "offset", 0, 0, 10_000_000),
                line=request.query.get("line"),
                number=request.query.get("number"),
                since=_time(request, "since"),
                operator_extension=request.query.get("operator_extension") or None,
            )
        return web.json_response(text=CallList(calls=calls).model_dump_json())

    async def get_call(request: web.Request) -> web.StreamResponse:
        async with request.app[SESSIONMAKER]() as session:
            try:
                call = await call_repo.get_call(
                    session=session, call_id=int(request.match_info["call_id"])
                )
            except call_repo.CallNotFound as err:
                raise NotFound(str(err)) from err
        return web.json_response(text=call.model_dump_json())

    async def list_callbacks(request: web.Request) -> web.StreamResponse:
        raw = request.query.get("status", "open")
        if raw not in ("open", "done", "all"):
            raise BadRequest("status must be open, done or all")
        status = None if raw == "all" else CallbackStatus(raw)
        async with request.app[SESSIONMAKER]() as session:
            tasks = await call_repo.list_callbacks(
                session=session, status=status, limit=_int(request, "limit", 100, 1, MAX_LIMIT)
            )
        body = CallbackList(callbacks=[row(t) for t in tasks])
        return web.json_response(text=body.model_dump_json())

    async def callback_done(request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL]
        by = principal.user.username if principal is not None else "?"
        async with request.app[SESSIONMAKER]() as session:
            try:
                task = await call_repo.mark_callback_done(
                    session=session, task_id=int(request.match_info["task_id"]), by=by,
                    at=clock(),
                )  # fmt: skip
            except call_repo.CallbackNotFound as err:
                raise NotFound(str(err)) from err
        if publish is not None:
            publish(task_changed(task))
        return web.json_response(text=task.model_dump_json())

    async def figures(request: web.Request) -> web.StreamResponse:
        now = clock()
        since = _time(request, "since") or now - timedelta(hours=24)
        async with request.app[SESSIONMAKER]() as session:
            records = await call_repo.list_calls(session=session, since=since,
                                                 limit=FIGURES_RECORDS)  # fmt: skip
        body = live_figures(records, since=since, now=now, target_seconds=target_seconds)
        return web.json_response(text=body.model_dump_json())

    tags = ("calls",)
    return RouteTable(
        (
            Route(method="GET", path="/api/calls", handler=list_calls, roles=CALL_READERS,
                  summary="Call records, newest first "
                  "(?line=&number=&since=&operator_extension=&limit=&offset=)",
                  name="list_calls", tags=tags, response=CallList),
            Route(method="GET", path="/api/calls/figures", handler=figures, roles=WATCHERS,
                  summary="Live figures per line and per queue (?since=, default 24 h)",
                  name="call_figures", tags=tags, response=LiveFigures),
            Route(method="GET", path=r"/api/calls/{call_id:\d+}", handler=get_call,
                  roles=CALL_READERS, summary="One call record with its route decision",
                  name="get_call", tags=tags, response=CallRecordPublic),
            Route(method="GET", path="/api/callbacks", handler=list_callbacks,
                  roles=CALLBACK_WORKERS,
                  summary="Missed-call callback tasks (漏接回拨), ?status=open|done|all",
                  name="list_callbacks", tags=tags, response=CallbackList),
            Route(method="POST", path=r"/api/callbacks/{task_id:\d+}/done",
                  handler=callback_done, roles=CALLBACK_WORKERS,
                  summary="Mark a callback task done", name="callback_done", tags=tags,
                  response=CallbackTaskPublic),
        )
    )  # fmt: skip
