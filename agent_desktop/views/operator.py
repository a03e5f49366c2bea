"""Operator seat API: log in at an extension, change state, see it, transfer a call;
the keyword alerts of a call (the desk reloaded mid-call restores their highlights).

Thin views over `telephony.operator_service.OperatorDesk` (handed in by the operators
feature through `operator_routes`): parse the body, call the desk, answer JSON.
An illegal state change is a 409 with the state machine's message; Asterisk refusing or
not answering is a 503; nothing changes in either case.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, Field

from accounts.roles import Role
from agent_desktop.errors import ApiError, BadRequest, Forbidden, read_json
from agent_desktop.keys import PRINCIPAL
from agent_desktop.routes import Route, RouteTable, only
from asr import repo as transcripts
from hotline.bus_events import CallTransferred
from telephony import operator_repo, transfer
from telephony.operator_commands import OperatorCommandError
from telephony.operators import IllegalTransition, Seat

if TYPE_CHECKING:
    from agent_desktop.ws import Hub
    from telephony.operator_service import OperatorDesk

log = structlog.get_logger("agent_desktop.operator")
_SEATED = only(Role.operator, Role.supervisor)


class Conflict(ApiError):
    status = 409
    code = "illegal_state_change"


class Unavailable(ApiError):
    status = 503
    code = "pbx_unavailable"


class OperatorLogin(BaseModel):
    extension: str | None = Field(default=None, pattern=r"^[0-9]{2,16}$")
    skills: list[str] | None = None


class StateChange(BaseModel):
    action: Literal["ready", "pause", "wrap_up", "logout"]
    reason: str | None = Field(default=None, max_length=32, pattern=r"^[\w\- ]+$")
    seconds: float | None = Field(default=None, ge=0, le=3600)


class TransferRequest(BaseModel):
    target: str = Field(min_length=1, max_length=64)
    mode: Literal["blind", "three_way"] = "blind"


class OperatorMe(BaseModel):
    extension: str | None
    state: str
    reason: str | None = None
    call_id: str | None = None
    since: datetime | None = None
    wrap_up_until: datetime | None = None
    skills: list[str] = []


class TransferDone(BaseModel):
    call_id: str
    target: str
    kind: str
    mode: str


def _me(desk: OperatorDesk, extension: str | None, seat: Seat | None = None) -> web.Response:
    if extension is None:
        body = OperatorMe(extension=None, state="logged_out")
    else:
        seat = seat or desk.seat(extension)
        body = OperatorMe(
            extension=extension, state=seat.state.value, reason=seat.reason,
            call_id=seat.call_id, since=seat.since, wrap_up_until=seat.wrap_up_until,
            skills=list(desk.skills.get(extension, ())),
        )  # fmt: skip
    return web.json_response(text=body.model_dump_json())


class OperatorViews:
    """The handlers, bound to one desk and hub."""

    def __init__(self, desk: OperatorDesk, hub: Hub) -> None:
        self.desk = desk
        self.hub = hub

    @staticmethod
    def user_of(request: web.Request) -> tuple[int, str | None]:
        principal = request[PRINCIPAL]
        assert principal is not None  # the middleware admits only signed-in users here
        return principal.user.id, principal.user.sip_extension

    async def seat_of(self, request: web.Request) -> str:
        user_id, fallback = self.user_of(request)
        extension = await self.open_seat(user_id) or fallback
        if extension is None:
            raise BadRequest("log in at an extension first", code="not_seated")
        return extension

    async def open_seat(self, user_id: int) -> str | None:
        async with self.desk.core.sessionmaker() as session:
            row = await operator_repo.open_session_of_user(session=session, user_id=user_id)
        return row.extension if row is not None else None

    async def login(self, request: web.Request) -> web.StreamResponse:
        desk = self.desk
        user_id, own = self.user_of(request)
        body = await read_json(request, OperatorLogin)
        extension = body.extension or own
        if extension is None:
            raise BadRequest("which extension? give one or set it on the account")
        if own is not None and extension != own:
            raise Forbidden(f"extension {extension} is not yours ({own})")
        skills = tuple(body.skills) if body.skills else desk.default_skills(extension)
        try:
            seat = await desk.commands.login(extension, skills)
        except IllegalTransition as err:
            raise Conflict(str(err)) from err
        except OperatorCommandError as err:
            raise Unavailable(str(err)) from err
        async with desk.core.sessionmaker() as session:
            await operator_repo.open_session(session=session, extension=extension,
                                             user_id=user_id, skills=skills,
                                             now=desk.core.clock())
        self.hub.bind(user_id, extension)
        return _me(desk, extension, seat)

    async def change_state(self, request: web.Request) -> web.StreamResponse:
        desk = self.desk
        extension = await self.seat_of(request)
        body = await read_json(request, StateChange)
        try:
            match body.action:
                case "ready":
                    seat = await desk.commands.ready(extension)
                case "pause":
                    seat = await desk.commands.pause(extension, body.reason or "break")
                case "wrap_up":
                    seat = await desk.commands.wrap_up(extension, body.seconds)
                case "logout":
                    seat = await desk.commands.logout(extension)
                    async with desk.core.sessionmaker() as session:
                        await operator_repo.close_session(session=session, extension=extension,
                                                          now=desk.core.clock())
                    self.hub.bind(self.user_of(request)[0], None)
        except IllegalTransition as err:
            raise Conflict(str(err)) from err
        except OperatorCommandError as err:
            raise Unavailable(str(err)) from err
        return _me(desk, extension, seat)

    async def me(self, request: web.Request) -> web.StreamResponse:
        user_id, fallback = self.user_of(request)
        return _me(self.desk, await self.open_seat(user_id) or fallback)

    async def alerts(self, request: web.Request) -> web.StreamResponse:
        found = await call_alerts(self.desk, request.match_info["linkedid"])
        return web.json_response(text=found.model_dump_json())

    async def transfer(self, request: web.Request) -> web.StreamResponse:
        desk = self.desk
        extension = await self.seat_of(request)
        body = await read_json(request, TransferRequest)
        legs = desk.calls.get(extension)
        if legs is None:
            raise Conflict("no call to transfer", code="not_on_call")
        try:
            plan = transfer.plan_transfer(
                transfer.Legs(legs.call_id, legs.caller_channel, legs.operator_channel),
                target=body.target, mode=body.mode, queues=desk.queues,
                context=desk.settings.transfer_context,
            )  # fmt: skip
        except transfer.UnknownTarget as err:
            raise BadRequest(str(err), code="unknown_target") from err
        ok, detail = True, ""
        try:
            if plan.mode == "blind":
                await desk.commands.before_transfer(extension)
            await transfer.execute(desk.core.ami, plan)
        except (transfer.TransferFailed, OperatorCommandError) as err:
            ok, detail = False, str(err)
        desk.core.bus.publish(CallTransferred(
            linkedid=legs.call_id, extension=extension, target=plan.target, kind=plan.kind,
            mode=plan.mode, ok=ok, detail=detail))  # fmt: skip
        log.info("operator.transfer", extension=extension, call_id=legs.call_id,
                 target=plan.target, mode=plan.mode, ok=ok, detail=detail)
        if not ok:
            raise Unavailable(detail, code="transfer_failed")
        done = TransferDone(call_id=legs.call_id, target=plan.target, kind=plan.kind,
                            mode=plan.mode)
        return web.json_response(done.model_dump())


class CallAlert(BaseModel):
    keyword: str
    channel: str  # caller | operator
    action: str  # e.g. alert_supervisor
    at: datetime


class CallAlerts(BaseModel):
    call_id: str
    alerts: list[CallAlert]


async def call_alerts(desk: OperatorDesk, call_id: str) -> CallAlerts:
    async with desk.core.sessionmaker() as session:
        rows = await transcripts.alerts_for_call(call_id, session=session)
    return CallAlerts(call_id=call_id, alerts=[
        CallAlert(keyword=r.keyword, channel=r.channel, action=r.action, at=r.created_at)
        for r in rows
    ])  # fmt: skip


def operator_routes(desk: OperatorDesk, hub: Hub) -> RouteTable:
    """The seat API and the WebSocket hub's route."""
    views = OperatorViews(desk, hub)
    return RouteTable(
        (
            Route(method="POST", path="/api/operator/login", handler=views.login, roles=_SEATED,
                  summary="Log in at a SIP extension: join the skill queues, ready",
                  name="operator_login", tags=("operators",), body=OperatorLogin,
                  response=OperatorMe),
            Route(method="POST", path="/api/operator/state", handler=views.change_state,
                  roles=_SEATED, summary="Ready, pause (with a reason), wrap-up or log out",
                  name="operator_state", tags=("operators",), body=StateChange,
                  response=OperatorMe),
            Route(method="GET", path="/api/operator/me", handler=views.me, roles=_SEATED,
                  summary="The calling operator's seat and state", name="operator_me",
                  tags=("operators",), response=OperatorMe),
            Route(method="POST", path="/api/operator/transfer", handler=views.transfer,
                  roles=_SEATED,
                  summary="Transfer the current call: to a queue, or 110/119/120/122 "
                  "(blind or three-way)", name="operator_transfer", tags=("operators",),
                  body=TransferRequest, response=TransferDone),
            Route(method="GET", path="/api/calls/{linkedid}/alerts", handler=views.alerts,
                  roles=_SEATED, summary="The keyword alerts of a call, oldest first",
                  name="call_alerts", tags=("operators",), response=CallAlerts),
            Route(method="GET", path="/ws", handler=hub.handle,
                  roles=only(Role.operator, Role.supervisor, Role.admin),
                  summary="WebSocket: screen pop, seat state, live transcript, alerts",
                  name="ws", tags=("operators",)),
        )
    )
