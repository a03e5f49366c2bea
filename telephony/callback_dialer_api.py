"""REST endpoints of the callback dialer: attempts of a task, take it by hand, redial it.

Mounted by the callback_dialer feature in both modes (the list and "done" stay in
telephony.call_api). Operators and supervisors may:
- GET  /api/callbacks/dialer       the mode (manual / auto), the limits, dials in flight;
- GET  /api/callbacks/{id}/dials   every automatic dial of the task (outcome, operator);
- POST /api/callbacks/{id}/take    "I call this one back myself": the dialer leaves it;
- POST /api/callbacks/{id}/redial  give a task the dialer handed back to it again.
A task being dialled cannot be taken or redialled (409). Changes go on the bus as
`CallbackTaskChanged`, like the dialer's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from agent_desktop.errors import ApiError, NotFound
from agent_desktop.keys import PRINCIPAL, SESSIONMAKER
from agent_desktop.routes import Route, RouteTable
from hotline.bus import Bus
from hotline.feature import Clock
from telephony import callback_dialer_repo as repo
from telephony.call_api import CALLBACK_WORKERS
from telephony.call_models import CallbackDialPublic, CallbackTaskPublic
from telephony.call_repo import CallbackNotFound
from telephony.callback_events import task_changed


class Conflict(ApiError):
    status = 409
    code = "conflict"


class DialList(BaseModel):
    dials: list[CallbackDialPublic]


class DialerStatus(BaseModel):
    """How missed-call callbacks are worked on this server (the desk shows the mode)."""

    mode: Literal["manual", "auto"]
    max_dials: int
    max_attempts: int
    calling_hours: str  # e.g. "09:00-20:00 Asia/Shanghai"
    dialing: int = 0  # dials in flight on this server now


def routes(*, bus: Bus, clock: Clock, status: Callable[[], DialerStatus]) -> RouteTable:
    def task_id(request: web.Request) -> int:
        return int(request.match_info["task_id"])

    async def dialer(request: web.Request) -> web.StreamResponse:
        return web.json_response(text=status().model_dump_json())

    async def dials(request: web.Request) -> web.StreamResponse:
        async with request.app[SESSIONMAKER]() as session:
            found = await repo.dials_of(session=session, task_id=task_id(request))
        return web.json_response(text=DialList(dials=list(found)).model_dump_json())

    async def moved(
        request: web.Request,
        move: Callable[[AsyncSession, int], Awaitable[CallbackTaskPublic]],
    ) -> web.StreamResponse:
        async with request.app[SESSIONMAKER]() as session:
            try:
                task = await move(session, task_id(request))
            except CallbackNotFound as err:
                raise NotFound(str(err)) from err
            except repo.CallbackBusy as err:
                raise Conflict(str(err)) from err
        bus.publish(task_changed(task))
        return web.json_response(text=task.model_dump_json())

    async def take(request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL]
        by = principal.user.username if principal is not None else "?"
        return await moved(request, lambda session, task: repo.take(
            session=session, task_id=task, by=by, now=clock()))  # fmt: skip

    async def redial(request: web.Request) -> web.StreamResponse:
        return await moved(request, lambda session, task: repo.redial(
            session=session, task_id=task))  # fmt: skip

    tags = ("calls",)
    return RouteTable(
        (
            Route(method="GET", path="/api/callbacks/dialer", handler=dialer,
                  roles=CALLBACK_WORKERS, summary="Callback mode (manual or auto) and the dialer",
                  name="callback_dialer", tags=tags, response=DialerStatus),
            Route(method="GET", path=r"/api/callbacks/{task_id:\d+}/dials", handler=dials,
                  roles=CALLBACK_WORKERS, summary="Automatic dials of a callback task",
                  name="callback_dials", tags=tags, response=DialList),
            Route(method="POST", path=r"/api/callbacks/{task_id:\d+}/take", handler=take,
                  roles=CALLBACK_WORKERS,
                  summary="Call this task back by hand: the dialer leaves it (409 if dialling)",
                  name="callback_take", tags=tags, response=CallbackTaskPublic),
            Route(method="POST", path=r"/api/callbacks/{task_id:\d+}/redial", handler=redial,
                  roles=CALLBACK_WORKERS,
                  summary="Give a task handed back to operators to the dialer again",
                  name="callback_redial", tags=tags, response=CallbackTaskPublic),
        )
    )  # fmt: skip
