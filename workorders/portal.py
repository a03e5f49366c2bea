"""The unit portal (承办单位): a handling unit's inbox and its actions on an order.

Server-rendered pages for unit handlers (every route: `Role.unit_handler` only), thin
over `workorders.service.OrderService`, which enforces that a unit sees and acts on
only the orders dispatched to it (another unit's order is "not found": 404, it does not
reveal that the number exists).

    GET  /portal/orders                     inbox: open orders, most urgent first
                                            (?all=1: finished ones too)
    GET  /portal/orders/{number}            the order, this unit's part, its history,
                                            and the forms for what the unit may do now
    POST /portal/orders/{number}/acknowledge    签收
    POST /portal/orders/{number}/reply          回复 (text)
    POST /portal/orders/{number}/return         退单 (reason)
    POST /portal/orders/{number}/extension      延期申请 (until, reason)

Forms are plain HTML posts carrying the session's CSRF token (the security middleware
checks it); after an action the browser is redirected back to the order (post/redirect/
get) with a one-word notice. A refused action re-renders the order with the reason and
a 4xx status. Urgency and the markup pieces are in `workorders.portal_html` (pure).
portal.js only counts the time left down and asks before a return.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web

from accounts.roles import Role
from agent_desktop.keys import PRINCIPAL, SESSIONMAKER
from agent_desktop.render import Markup, escape, page
from agent_desktop.routes import Route, RouteTable, only
from hotline.feature import Clock, Core, Feature, utc_now
from workorders import errors, repo
from workorders.feature import make_service
from workorders.models import Light
from workorders.portal_html import (
    LIGHT_LABEL,
    WORKING,
    action_forms,
    awaiting_ack,
    current_light,
    history_rows,
    inbox_row,
    kind_label,
    local,
    my_dispatch,
    sort_inbox,
    status_label,
    still_mine,
    time_left,
    unit_label,
)
from workorders.service import Actor, OrderService
from workorders.sla import CHINA

_SERVICE: web.AppKey[OrderService] = web.AppKey("portal_service", OrderService)
_CLOCK: web.AppKey[Clock] = web.AppKey("portal_clock")
INBOX_LIMIT = 1000  # newest first from the store: the cap must not hide old (red) orders
TEXT_MAX = 4000

NOTICES = {
    "acknowledged": "已签收。",
    "replied": "已回复，等待中心审核。",
    "returned": "已退单，工单退回中心重新派单。",
    "extension": "延期申请已提交，等待中心审批。",
}
_STATUS_CODE = {
    errors.OrderNotFound: 404,
    errors.NotAllowed: 403,
    errors.InvalidRequest: 400,
    errors.StepRefused: 409,
}


def _actor(request: web.Request) -> Actor:
    principal = request[PRINCIPAL]
    if principal is None:  # the middleware lets only signed-in unit handlers reach this
        raise web.HTTPUnauthorized
    return Actor.of(principal.user)


# ------------------------------------------------------------------------------- pages
async def _unit_name(request: web.Request, unit_id: str) -> str:
    async with request.app[SESSIONMAKER]() as session:
        unit = await repo.get_unit(session=session, unit_id=unit_id)
    return unit.name if unit is not None else unit_id


async def _unit_names(request: web.Request, ids: set[str | None]) -> dict[str, str]:
    """Short names of the units in an order's history (a handful per order)."""
    names: dict[str, str] = {}
    async with request.app[SESSIONMAKER]() as session:
        for unit_id in sorted(i for i in ids if i):
            unit = await repo.get_unit(session=session, unit_id=unit_id)
            if unit is not None:
                names[unit_id] = unit.short_name or unit.name
    return names


async def inbox(request: web.Request) -> web.StreamResponse:
    actor = _actor(request)
    now = request.app[_CLOCK]()
    show_all = request.query.get("all") == "1"
    unit_id = actor.unit_id or ""
    statuses = () if show_all else tuple(s.value for s in WORKING)
    orders = await request.app[_SERVICE].list_orders(
        actor=actor, statuses=statuses, limit=INBOX_LIMIT
    )
    capped = len(orders) >= INBOX_LIMIT
    if not show_all:
        # A returned order is back at the centre: list it only while this unit holds a part.
        orders = [o for o in orders if still_mine(my_dispatch(o, unit_id))]
    ordered = sort_inbox(orders, now)
    principal = request[PRINCIPAL]
    csrf = principal.csrf_token if principal and principal.csrf_token else ""
    rows = Markup("".join(inbox_row(o, unit_id, now, csrf) for o in ordered))
    counts = {lamp: sum(current_light(o, now) is lamp for o in ordered) for lamp in Light}
    waiting = sum(awaiting_ack(my_dispatch(o, unit_id)) for o in ordered)
    notice = NOTICES.get(request.query.get("done", ""), "")
    number = request.query.get("n", "")
    if notice and number:
        notice = f"{number}：{notice}"
    if capped:
        notice = f"{notice} 只列出最近的 {INBOX_LIMIT} 件工单，请用接口查询更早的工单。".strip()
    return page(
        request,
        "portal_inbox.html",
        title="承办单位工单",
        unit=await _unit_name(request, unit_id),
        rows=rows or Markup('<tr><td colspan="8" class="empty">暂无工单</td></tr>'),
        message=Markup(f'<p class="notice ok" role="status">{escape(notice)}</p>')
        if notice
        else Markup(""),
        red=counts[Light.red],
        yellow=counts[Light.yellow],
        waiting=waiting,
        total=len(ordered),
        toggle_href="/portal/orders" if show_all else "/portal/orders?all=1",
        toggle_label="只看待办" if show_all else "显示全部（含已办结）",
    )


async def _order_page(
    request: web.Request, number: str, *, notice: str = "", error: str = "", status: int = 200
) -> web.Response:
    actor = _actor(request)
    service = request.app[_SERVICE]
    now = request.app[_CLOCK]()
    try:
        order = await service.get(number, actor=actor)
        events = await service.history(number, actor=actor)
    except errors.OrderNotFound:
        return page(
            request,
            "error.html",
            title="出错了",
            status=404,
            message=f"没有工单 {number}，或它不属于本单位",
        )
    principal = request[PRINCIPAL]
    csrf = principal.csrf_token if principal and principal.csrf_token else ""
    mine = my_dispatch(order, actor.unit_id or "")
    lamp = current_light(order, now)
    ext = order.pending_extension
    message = Markup("")
    if notice:
        message = Markup(f'<p class="notice ok" role="status">{escape(notice)}</p>')
    if error:
        message = Markup(f'<p class="notice" role="alert">{escape(error)}</p>')
    return page(
        request,
        "portal_order.html",
        title=f"工单 {order.number}",
        status=status,
        message=message,
        number=order.number,
        title_text=order.title,
        lamp=lamp.value,
        lamp_label=LIGHT_LABEL[lamp],
        kind=kind_label(order.kind),
        category=order.category or "—",
        status_label=status_label(order.status),
        my_status=unit_label(mine),
        my_role=mine.role.label if mine else "—",
        part=(mine.part if mine else "") or "—",
        content=order.content or "—",
        address=order.address or "—",
        caller=order.caller_name or "市民",
        deadline=local(order.deadline),
        deadline_iso=order.deadline.isoformat() if order.deadline else "",
        left=time_left(order.deadline, now),
        extension=(
            f"已申请延期至 {local(ext.until)}（{ext.reason}），等待中心审批" if ext else "无"
        ),
        forms=action_forms(order, mine, csrf),
        history=history_rows(events, await _unit_names(request, {e.unit_id for e in events})),
    )


async def order_detail(request: web.Request) -> web.StreamResponse:
    done = request.query.get("done", "")
    return await _order_page(request, request.match_info["number"], notice=NOTICES.get(done, ""))


async def _form_text(request: web.Request, name: str) -> str:
    form = await request.post()
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _until(value: str, now: datetime) -> datetime:
    """A datetime-local field (city time) → an aware datetime; ValueError if unusable."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise ValueError("延期时间格式不正确") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    if moment <= now:
        raise ValueError("延期时间必须晚于现在")
    if moment > now + timedelta(days=366):
        raise ValueError("延期时间不能超过一年")
    return moment


async def _act(request: web.Request, done: str, action: str) -> web.StreamResponse:
    number = request.match_info["number"]
    actor = _actor(request)
    service = request.app[_SERVICE]
    now = request.app[_CLOCK]()
    try:
        if action == "acknowledge":
            await service.acknowledge(number, actor=actor)
        elif action == "reply":
            text = await _form_text(request, "text")
            if not text:
                raise errors.InvalidRequest("请填写办理结果")
            await service.reply(number, text[:TEXT_MAX], actor=actor)
        elif action == "return":
            reason = await _form_text(request, "reason")
            if not reason:
                raise errors.InvalidRequest("退单必须填写理由")
            await service.return_order(number, reason[:TEXT_MAX], actor=actor)
        else:
            reason = await _form_text(request, "reason")
            if not reason:
                raise errors.InvalidRequest("延期申请必须填写理由")
            try:
                until = _until(await _form_text(request, "until"), now)
            except ValueError as err:
                raise errors.InvalidRequest(str(err)) from err
            await service.ask_extension(number, until, reason[:TEXT_MAX], actor=actor)
    except errors.WorkOrderError as err:
        status = next((code for cls, code in _STATUS_CODE.items() if isinstance(err, cls)), 400)
        return await _order_page(request, number, error=str(err), status=status)
    if await _form_text(request, "back") == "inbox":  # the inbox's quick 签收
        raise web.HTTPSeeOther(f"/portal/orders?done={done}&n={number}")
    raise web.HTTPSeeOther(f"/portal/orders/{number}?done={done}")


async def acknowledge(request: web.Request) -> web.StreamResponse:
    return await _act(request, "acknowledged", "acknowledge")


async def reply(request: web.Request) -> web.StreamResponse:
    return await _act(request, "replied", "reply")


async def return_order(request: web.Request) -> web.StreamResponse:
    return await _act(request, "returned", "return")


async def extension(request: web.Request) -> web.StreamResponse:
    return await _act(request, "extension", "extension")


def routes(service: OrderService, *, clock: Clock = utc_now) -> RouteTable:
    """The portal's pages and form posts, all for unit handlers."""

    async def provide(app: web.Application) -> AsyncIterator[None]:
        app[_SERVICE] = service
        app[_CLOCK] = clock
        yield

    unit = only(Role.unit_handler)
    one = r"/portal/orders/{number:[0-9A-Za-z-]{1,40}}"
    return RouteTable(
        (
            Route(method="GET", path="/portal/orders", handler=inbox, roles=unit,
                  summary="Unit inbox: open orders with lights, most urgent first",
                  name="portal_inbox", tags=("portal",)),
            Route(method="GET", path=one, handler=order_detail, roles=unit,
                  summary="One order of this unit: facts, history, actions",
                  name="portal_order", tags=("portal",)),
            Route(method="POST", path=one + "/acknowledge", handler=acknowledge, roles=unit,
                  summary="Acknowledge (签收) an order (form)", tags=("portal",)),
            Route(method="POST", path=one + "/reply", handler=reply, roles=unit,
                  summary="Reply (回复) to an order with the result (form)", tags=("portal",)),
            Route(method="POST", path=one + "/return", handler=return_order, roles=unit,
                  summary="Return (退单) an order with a reason (form)", tags=("portal",)),
            Route(method="POST", path=one + "/extension", handler=extension, roles=unit,
                  summary="Ask for an extension (延期申请) (form)", tags=("portal",)),
        ),
        cleanup_ctx=(provide,),
    )  # fmt: skip


def build(core: Core) -> Feature:
    """The portal as a server feature, over the same work-order service as the API."""
    return Feature(name="unit-portal", routes=routes(make_service(core), clock=core.clock))
