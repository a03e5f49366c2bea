"""REST API for work orders: thin views over `OrderService`, one route per action.

Every route declares its roles (the middleware refuses other roles with 403); the
service checks again what a route cannot: a unit handler acts only on orders dispatched
to their own unit (another unit's order is a 404, as if it did not exist). Other
channels (web form, WeChat, a department's system: 多口归一) create orders with a bearer
API token of an operator or admin account, through the same `POST /api/orders` and the
same validation as the desktop.

This module has the take, the lists and reads, units, SLA classes and rates; the step
routes (POST /api/orders/{number}/{action}) are in `workorders.api_steps`, and how a view
calls the service (who acts, service errors → the JSON error envelope: 404, 403, 400,
409) in `workorders.api_calls`.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from agent_desktop.errors import BadRequest, Forbidden, NotFound, read_json
from agent_desktop.routes import ALL_ROLES, Route, RouteTable
from workorders import catalogue, errors, repo
from workorders import lifecycle as lc
from workorders.api_calls import CENTRE, NUMBER, TAKERS, actor_of, as_json, call
from workorders.api_steps import step_routes
from workorders.models import Light, WorkOrderPublic
from workorders.rates import Rates, compute_rates
from workorders.schemas import History, LimitClass, OrderList, SlaInfo, TakeIn, UnitList
from workorders.service import OrderService

# Still being worked for the citizen (?open=1: the screen pop's repeat-request check).
_DONE = {lc.Status.reviewed, lc.Status.surveyed, *lc.CLOSED_STATUSES}
UNFINISHED = [s for s in lc.Status if s not in _DONE]


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


def routes(svc: OrderService) -> RouteTable:
    async def take(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, TakeIn)
        actor = actor_of(request)
        if body.on_call and body.dispatch:
            raise BadRequest("an order is either dispatched or resolved on the call, not both")
        another = body.another_for_call
        if body.on_call:
            return await call(
                svc.take(body.order, None, actor=actor, note=body.note, another_for_call=another),
                201,
            )
        if not body.dispatch:
            return await call(svc.create(body.order, actor=actor, another_for_call=another), 201)
        plan = [a.value() for a in body.dispatch]
        return await call(svc.take(body.order, plan, actor=actor, another_for_call=another), 201)

    async def list_orders(request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            light = Light(query["light"]) if "light" in query else None
            statuses = [lc.Status(s) for s in query.getall("status", [])]
            if query.get("open", "") in ("1", "true"):
                statuses = [s for s in statuses or UNFINISHED if s in UNFINISHED]
                if not statuses:  # ?status=archived&open=1: nothing can match
                    return as_json(OrderList(orders=[]))
            limit = min(int(query.get("limit", "100")), 500)
            offset = max(int(query.get("offset", "0")), 0)
        except ValueError as err:
            raise BadRequest(f"bad query: {err}") from err
        try:
            orders = await svc.list_orders(
                actor=actor_of(request),
                statuses=statuses,
                light=light,
                operator=query.get("operator") or None,
                caller_number=query.get("caller_number") or None,
                limit=limit,
                offset=offset,
            )
        except errors.NotAllowed as err:
            raise Forbidden(str(err)) from err
        return as_json(OrderList(orders=orders))

    async def get_order(request: web.Request) -> web.StreamResponse:
        return await call(svc.get(request.match_info["number"], actor=actor_of(request)))

    async def history(request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        try:
            events = await svc.history(number, actor=actor_of(request))
        except errors.OrderNotFound as err:
            raise NotFound(str(err)) from err
        return as_json(History(number=number, events=events))

    async def units(request: web.Request) -> web.StreamResponse:
        async with svc.sessions() as session:
            return as_json(UnitList(units=await repo.list_units(session=session)))

    async def sla(request: web.Request) -> web.StreamResponse:
        p = svc.policy
        classes = [
            LimitClass(key=c.key, label=c.label, amount=c.amount, unit=c.unit)
            for c in p.classes.values()
        ]
        return as_json(SlaInfo(preset=p.name, default_class=p.default_class, classes=classes))

    async def rates(request: web.Request) -> web.StreamResponse:
        start, end = _query_datetime(request, "start"), _query_datetime(request, "end")
        if end <= start:
            raise BadRequest("end must be after start")
        return as_json(await compute_rates(svc.sessions, start, end))

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
    table.extend(step_routes(svc))
    return RouteTable((*table, *catalogue.routes(svc.sessions, svc.policy).routes))
