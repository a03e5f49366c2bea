"""REST API for work orders: thin views over `OrderService`, one route per action.

Every route declares its roles (the middleware refuses other roles with 403); the
service checks again what a route cannot: a unit handler acts only on orders dispatched
to their own unit (another unit's order is a 404, as if it did not exist). Other
channels (web form, WeChat, a department's system: 多口归一) create orders with a bearer
API token of an operator or admin account, through the same `POST /api/orders` and the
same validation as the desktop.

Service errors become the JSON error envelope: OrderNotFound → 404, NotAllowed → 403,
InvalidRequest → 400, StepRefused → 409 (code `step_refused`, the message says why),
OrderExistsForCall → 409 (code `order_exists_for_call`, with the existing order's number
in `error.order` so the desk can open it instead of showing an error).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from accounts.roles import Role
from agent_desktop.errors import ApiError, BadRequest, Forbidden, NotFound, read_json
from agent_desktop.keys import PRINCIPAL
from agent_desktop.routes import ALL_ROLES, Route, RouteTable, only
from workorders import catalogue, errors, repo
from workorders import lifecycle as lc
from workorders.models import (
    Light,
    WorkOrderPublic,
)
from workorders.rates import Rates, compute_rates
from workorders.schemas import (
    DispatchIn,
    ExtensionIn,
    GrantIn,
    History,
    LimitClass,
    MergeIn,
    NoteIn,
    OrderList,
    ReasonIn,
    SlaInfo,
    SurveyIn,
    TakeIn,
    TextIn,
    UnitList,
)
from workorders.service import Actor, OrderService

NUMBER = r"{number:[0-9A-Za-z]{1,12}-[0-9]{8}-[0-9]{4,6}}"
TAKERS = only(Role.operator, Role.supervisor, Role.admin)
CENTRE = only(Role.supervisor, Role.admin)
UNITS = only(Role.unit_handler)
# Still being worked for the citizen (?open=1: the screen pop's repeat-request check).
_DONE = {lc.Status.reviewed, lc.Status.surveyed, *lc.CLOSED_STATUSES}
UNFINISHED = [s for s in lc.Status if s not in _DONE]
M = TypeVar("M", bound=BaseModel)


class Conflict(ApiError):
    status = 409
    code = "step_refused"


# --------------------------------------------------------------------------- views

View = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _actor(request: web.Request) -> Actor:
    principal = request[PRINCIPAL]
    if principal is None:  # the middleware lets only signed-in callers reach these views
        raise web.HTTPUnauthorized
    return Actor.of(principal.user)


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)


def _exists(err: errors.OrderExistsForCall) -> web.Response:
    body = {"error": {"code": "order_exists_for_call", "message": str(err), "order": err.number}}
    return web.json_response(body, status=409)


async def _call(action: Awaitable[WorkOrderPublic], status: int = 200) -> web.Response:
    try:
        return _json(await action, status)
    except errors.OrderExistsForCall as err:
        return _exists(err)
    except errors.OrderNotFound as err:
        raise NotFound(str(err)) from err
    except errors.NotAllowed as err:
        raise Forbidden(str(err)) from err
    except errors.InvalidRequest as err:
        raise BadRequest(str(err), code="invalid_order") from err
    except errors.StepRefused as err:
        raise Conflict(str(err)) from err


def _query_datetime(request: web.Request, name: str) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        raise BadRequest(f"query parameter {name!r} is required (ISO 8601 with a timezone)")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as err:
        raise BadRequest(f"{name}: {raw!r} is not an ISO 8601 date-time") from err
    if value.tzinfo is None:
        raise BadRequest(f"{name}: give a timezone (e.g. +08:00 or Z)")
    return value


def b(body: BaseModel | None, kind: type[M]) -> M:
    """The parsed body as its model (the route declared it, `read_json` validated it)."""
    assert isinstance(body, kind)
    return body


def routes(svc: OrderService) -> RouteTable:
    async def take(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, TakeIn)
        actor = _actor(request)
        if body.on_call and body.dispatch:
            raise BadRequest("an order is either dispatched or resolved on the call, not both")
        another = body.another_for_call
        if body.on_call:
            return await _call(
                svc.take(body.order, None, actor=actor, note=body.note, another_for_call=another),
                201,
            )
        if not body.dispatch:
            return await _call(svc.create(body.order, actor=actor, another_for_call=another), 201)
        plan = [a.value() for a in body.dispatch]
        return await _call(svc.take(body.order, plan, actor=actor, another_for_call=another), 201)

    async def list_orders(request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            light = Light(query["light"]) if "light" in query else None
            statuses = [lc.Status(s) for s in query.getall("status", [])]
            if query.get("open", "") in ("1", "true"):
                statuses = [s for s in statuses or UNFINISHED if s in UNFINISHED]
                if not statuses:  # ?status=archived&open=1: nothing can match
                    return _json(OrderList(orders=[]))
            limit = min(int(query.get("limit", "100")), 500)
            offset = max(int(query.get("offset", "0")), 0)
        except ValueError as err:
            raise BadRequest(f"bad query: {err}") from err
        try:
            orders = await svc.list_orders(
                actor=_actor(request),
                statuses=statuses,
                light=light,
                operator=query.get("operator") or None,
                caller_number=query.get("caller_number") or None,
                limit=limit,
                offset=offset,
            )
        except errors.NotAllowed as err:
            raise Forbidden(str(err)) from err
        return _json(OrderList(orders=orders))

    async def get_order(request: web.Request) -> web.StreamResponse:
        return await _call(svc.get(request.match_info["number"], actor=_actor(request)))

    async def history(request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        try:
            events = await svc.history(number, actor=_actor(request))
        except errors.OrderNotFound as err:
            raise NotFound(str(err)) from err
        return _json(History(number=number, events=events))

    def step(
        model: type[BaseModel] | None,
        act: Callable[[str, Actor, BaseModel | None], Awaitable[WorkOrderPublic]],
    ) -> View:
        async def view(request: web.Request) -> web.StreamResponse:
            body = await read_json(request, model) if model is not None else None
            return await _call(act(request.match_info["number"], _actor(request), body))

        return view

    async def units(request: web.Request) -> web.StreamResponse:
        async with svc.sessions() as session:
            return _json(UnitList(units=await repo.list_units(session=session)))

    async def sla(request: web.Request) -> web.StreamResponse:
        p = svc.policy
        classes = [
            LimitClass(key=c.key, label=c.label, amount=c.amount, unit=c.unit)
            for c in p.classes.values()
        ]
        return _json(SlaInfo(preset=p.name, default_class=p.default_class, classes=classes))

    async def rates(request: web.Request) -> web.StreamResponse:
        start, end = _query_datetime(request, "start"), _query_datetime(request, "end")
        if end <= start:
            raise BadRequest("end must be after start")
        return _json(await compute_rates(svc.sessions, start, end))

    def plan(body: BaseModel | None) -> list[lc.Assignment]:
        return [a.value() for a in b(body, DispatchIn).dispatch]

    actions: list[tuple[str, frozenset[Role], type[BaseModel] | None, str, View]] = [
        (
            "dispatch",
            TAKERS,
            DispatchIn,
            "Dispatch an accepted order (直派/双派/并行)",
            step(DispatchIn, lambda n, a, x: svc.dispatch(n, plan(x), actor=a)),
        ),
        (
            "resolve",
            TAKERS,
            NoteIn,
            "Resolve an accepted order on the call (即办)",
            step(NoteIn, lambda n, a, x: svc.resolve_on_call(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "acknowledge",
            UNITS,
            None,
            "The unit acknowledges its part (签收)",
            step(None, lambda n, a, x: svc.acknowledge(n, actor=a)),
        ),
        (
            "reply",
            UNITS,
            TextIn,
            "The unit replies: what it did (回复/办结)",
            step(TextIn, lambda n, a, x: svc.reply(n, b(x, TextIn).text, actor=a)),
        ),
        (
            "return",
            UNITS,
            ReasonIn,
            "The unit returns its part to the centre (退单)",
            step(ReasonIn, lambda n, a, x: svc.return_order(n, b(x, ReasonIn).reason, actor=a)),
        ),
        (
            "extension",
            UNITS,
            ExtensionIn,
            "The unit asks for an extension (延期申请)",
            step(
                ExtensionIn,
                lambda n, a, x: svc.ask_extension(
                    n, b(x, ExtensionIn).until, b(x, ExtensionIn).reason, actor=a
                ),
            ),
        ),
        (
            "extension/grant",
            CENTRE,
            GrantIn,
            "Grant the pending extension: moves the deadline",
            step(
                GrantIn,
                lambda n, a, x: svc.grant_extension(
                    n, actor=a, until=b(x, GrantIn).until, note=b(x, GrantIn).note
                ),
            ),
        ),
        (
            "extension/refuse",
            CENTRE,
            NoteIn,
            "Refuse the pending extension",
            step(NoteIn, lambda n, a, x: svc.refuse_extension(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "redispatch",
            TAKERS,
            DispatchIn,
            "Re-dispatch a returned order (转派/改派)",
            step(
                DispatchIn,
                lambda n, a, x: svc.redispatch(
                    n, plan(x), actor=a, withdraw=b(x, DispatchIn).withdraw
                ),
            ),
        ),
        (
            "review",
            CENTRE,
            NoteIn,
            "Approve the units' reply (审核)",
            step(NoteIn, lambda n, a, x: svc.review(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "send-back",
            CENTRE,
            ReasonIn,
            "Send the reply back to the units (审核退回)",
            step(ReasonIn, lambda n, a, x: svc.send_back(n, b(x, ReasonIn).reason, actor=a)),
        ),
        (
            "survey",
            CENTRE,
            SurveyIn,
            "Record the caller's survey (回访)",
            step(
                SurveyIn,
                lambda n, a, x: svc.survey(
                    n, b(x, SurveyIn).satisfied, actor=a, note=b(x, SurveyIn).note
                ),
            ),
        ),
        (
            "reopen",
            CENTRE,
            ReasonIn,
            "Reopen after a dissatisfied survey (重办)",
            step(ReasonIn, lambda n, a, x: svc.reopen(n, b(x, ReasonIn).reason, actor=a)),
        ),
        (
            "archive",
            CENTRE,
            NoteIn,
            "Archive a reviewed or surveyed order (归档)",
            step(NoteIn, lambda n, a, x: svc.archive(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "merge",
            TAKERS,
            MergeIn,
            "Merge a repeat request into another order (并单)",
            step(MergeIn, lambda n, a, x: svc.merge(n, b(x, MergeIn).into, actor=a)),
        ),
    ]
    table = [
        Route(
            method="POST",
            path="/api/orders",
            handler=take,
            roles=TAKERS,
            summary="Take an order: accept and dispatch (接交一体), or resolve on the call",
            name="orders_take",
            tags=("orders",),
            body=TakeIn,
            response=WorkOrderPublic,
        ),
        Route(
            method="GET",
            path="/api/orders",
            handler=list_orders,
            roles=ALL_ROLES,
            summary="Orders, newest first (a unit handler sees its unit's only); "
            "?status=&light=&operator=&caller_number=&open=1&limit=&offset=",
            name="orders_list",
            tags=("orders",),
            response=OrderList,
        ),
        Route(
            method="GET",
            path=f"/api/orders/{NUMBER}",
            handler=get_order,
            roles=ALL_ROLES,
            summary="One order with its dispatches",
            name="orders_get",
            tags=("orders",),
            response=WorkOrderPublic,
        ),
        Route(
            method="GET",
            path=f"/api/orders/{NUMBER}/history",
            handler=history,
            roles=ALL_ROLES,
            summary="The order's history: who did what when",
            name="orders_history",
            tags=("orders",),
            response=History,
        ),
        Route(
            method="GET",
            path="/api/units",
            handler=units,
            roles=ALL_ROLES,
            summary="Handling units (承办单位)",
            name="units_list",
            tags=("orders",),
            response=UnitList,
        ),
        Route(
            method="GET",
            path="/api/sla",
            handler=sla,
            roles=ALL_ROLES,
            summary="The city's time-limit classes",
            name="sla_classes",
            tags=("orders",),
            response=SlaInfo,
        ),
        Route(
            method="GET",
            path="/api/rates",
            handler=rates,
            roles=CENTRE,
            summary="Rates for a period: ?start=&end= (ISO 8601 with timezone)",
            name="orders_rates",
            tags=("orders",),
            response=Rates,
        ),
    ]
    for action, roles, body, summary, view in actions:
        table.append(
            Route(
                method="POST",
                path=f"/api/orders/{NUMBER}/{action}",
                handler=view,
                roles=roles,
                summary=summary,
                name="orders_" + action.replace("/", "_").replace("-", "_"),
                tags=("orders",),
                body=body,
                response=WorkOrderPublic,
            )
        )
    return RouteTable((*table, *catalogue.routes(svc.sessions, svc.policy).routes))
