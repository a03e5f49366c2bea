"""The unit portal's HTML pieces and urgency rules (pure: values in, markup out).

`sort_inbox` orders a unit's inbox: open work first; red (over the deadline) before
yellow (near it) before green; then the nearest deadline. `current_light` computes the
light from the stored deadline and yellow time at `now`, so a page is never behind the
SLA clock loop. Every value put into markup goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from agent_desktop.keys import CSRF_FIELD
from agent_desktop.render import Markup, escape
from workorders.lifecycle import CLOSED_STATUSES, Status, UnitStatus
from workorders.models import (
    DispatchPublic,
    Light,
    OrderEventPublic,
    OrderKind,
    WorkOrderPublic,
)
from workorders.sla import CHINA, light

# The statuses in which the order is being worked (and its SLA clock runs).
WORKING = frozenset({Status.dispatched, Status.acknowledged, Status.returned})
LIGHT_LABEL = {Light.red: "超时", Light.yellow: "临近", Light.green: "正常"}
_LIGHT_RANK = {Light.red: 0, Light.yellow: 1, Light.green: 2}
UNIT_STATUS_LABEL = {
    UnitStatus.dispatched: "待签收",
    UnitStatus.acknowledged: "办理中",
    UnitStatus.replied: "已回复",
    UnitStatus.returned: "已退单",
    UnitStatus.withdrawn: "已撤回",
}
STEP_LABEL = {
    "accept": "受理",
    "dispatch": "派单",
    "acknowledge": "签收",
    "reply": "回复",
    "return": "退单",
    "ask_extension": "申请延期",
    "grant_extension": "同意延期",
    "refuse_extension": "不同意延期",
    "redispatch": "改派",
    "review": "审核",
    "send_back": "审核退回",
    "survey": "回访",
    "reopen": "重办",
    "archive": "归档",
    "merge": "并单",
    "resolve_on_call": "即办",
    "light": "亮灯",
    "supervision": "督办",
}


def current_light(order: WorkOrderPublic, now: datetime) -> Light:
    if Status(order.status) not in WORKING:
        return Light.green
    return light(now, order.yellow_at, order.deadline)


def my_dispatch(order: WorkOrderPublic, unit_id: str) -> DispatchPublic | None:
    live = [d for d in order.dispatches if d.unit_id == unit_id]
    current = [d for d in live if d.status != UnitStatus.withdrawn] or live
    return current[-1] if current else None


def still_mine(d: DispatchPublic | None) -> bool:
    return d is not None and d.status in (UnitStatus.dispatched, UnitStatus.acknowledged)


def awaiting_ack(d: DispatchPublic | None) -> bool:
    return d is not None and d.status == UnitStatus.dispatched


def urgency_key(order: WorkOrderPublic, now: datetime) -> tuple[int, int, datetime, str]:
    """Open orders first; among them red, yellow, green; then the nearest deadline."""
    finished = Status(order.status) not in WORKING
    far = datetime.max.replace(tzinfo=UTC)
    return (
        int(finished),
        _LIGHT_RANK[current_light(order, now)],
        order.deadline or far,
        order.number,
    )


def sort_inbox(orders: Sequence[WorkOrderPublic], now: datetime) -> list[WorkOrderPublic]:
    return sorted(orders, key=lambda o: urgency_key(o, now))


def local(moment: datetime | None) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else "—"


def time_left(deadline: datetime | None, now: datetime) -> str:
    if deadline is None:
        return "—"
    seconds = int((deadline - now).total_seconds())
    sign = "超时 " if seconds < 0 else "剩 "
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = f"{days}天{hours}小时" if days else (f"{hours}小时{mins}分" if hours else f"{mins}分")
    return sign + parts


def kind_label(kind: str) -> str:
    try:
        return OrderKind(kind).label
    except ValueError:
        return kind


def status_label(status: str) -> str:
    try:
        return Status(status).label
    except ValueError:
        return status


def unit_label(d: DispatchPublic | None) -> str:
    if d is None:
        return "—"
    try:
        return UNIT_STATUS_LABEL[UnitStatus(d.status)]
    except ValueError:
        return d.status


# ------------------------------------------------------------------------------- pages
def inbox_row(order: WorkOrderPublic, unit_id: str, now: datetime, csrf: str = "") -> Markup:
    """One inbox row; its data-* keys let portal.js sort and filter without the server."""
    lamp = current_light(order, now)
    mine = my_dispatch(order, unit_id)
    deadline = order.deadline.isoformat() if order.deadline else ""
    number = escape(order.number)
    state = mine.status if mine else ""
    act = ""
    if mine is not None and state == UnitStatus.dispatched and csrf:
        act = (
            f'<form method="post" action="/portal/orders/{number}/acknowledge" class="quick">'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">'
            '<input type="hidden" name="back" value="inbox">'
            f'<button type="submit" aria-label="签收 {number}">签收</button></form>'
        )
    search = " ".join((order.number, order.title, order.category or "", kind_label(order.kind)))
    pending = ' <span class="badge">延期待批</span>' if order.pending_extension else ""
    return Markup(
        f'<tr class="light-{lamp.value}" data-number="{number}" '
        f'data-rank="{_LIGHT_RANK[lamp]}" data-light="{lamp.value}" '
        f'data-due="{escape(deadline)}" data-state="{escape(state)}" '
        f'data-search="{escape(search)}">'
        f'<td><span class="lamp {lamp.value}" title="{escape(LIGHT_LABEL[lamp])}"></span>'
        f"{escape(LIGHT_LABEL[lamp])}</td>"
        f'<td><a href="/portal/orders/{number}">{number}</a></td>'
        f"<td>{escape(order.title)}</td>"
        f"<td>{escape(kind_label(order.kind))}</td>"
        f'<td class="state">{escape(unit_label(mine))}{pending}</td>'
        f"<td>{escape(local(order.deadline))}</td>"
        f'<td class="left" data-deadline="{escape(deadline)}">'
        f"{escape(time_left(order.deadline, now))}</td>"
        f"<td>{act}</td></tr>"
    )


def action_forms(order: WorkOrderPublic, mine: DispatchPublic | None, csrf: str) -> Markup:
    if mine is None or Status(order.status) in CLOSED_STATUSES:
        return Markup("")
    state = UnitStatus(mine.status)
    base = f"/portal/orders/{escape(order.number)}"
    token = f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">'
    parts: list[str] = []
    if state is UnitStatus.dispatched:
        parts.append(
            f'<form method="post" action="{base}/acknowledge" class="action">{token}'
            '<button type="submit">签收</button></form>'
        )
    if state is UnitStatus.acknowledged:
        parts.append(
            f'<form method="post" action="{base}/reply" class="action">{token}'
            '<label>办理结果（回复）<textarea name="text" required maxlength="4000" '
            'rows="4"></textarea></label><button type="submit">回复</button></form>'
        )
    if state in (UnitStatus.dispatched, UnitStatus.acknowledged):
        if order.pending_extension is None:
            parts.append(
                f'<form method="post" action="{base}/extension" class="action">{token}'
                '<label>延期至 <input type="datetime-local" name="until" required></label>'
                '<label>延期理由 <textarea name="reason" required maxlength="4000" rows="2">'
                '</textarea></label><button type="submit">申请延期</button></form>'
            )
        parts.append(
            f'<form method="post" action="{base}/return" class="action return">{token}'
            '<label>退单理由（不属于本单位职责等）<textarea name="reason" required '
            'maxlength="4000" rows="2"></textarea></label>'
            '<button type="submit" class="secondary">退单</button></form>'
        )
    return Markup("".join(parts))


def history_rows(
    events: Sequence[OrderEventPublic], unit_names: Mapping[str, str] | None = None
) -> Markup:
    names = unit_names or {}
    return Markup(
        "".join(
            f"<tr><td>{escape(local(e.at))}</td><td>{escape(STEP_LABEL.get(e.step, e.step))}</td>"
            f"<td>{escape(e.actor)}</td>"
            f"<td>{escape(names.get(e.unit_id, e.unit_id) if e.unit_id else '')}</td>"
            f"<td>{escape(e.note)}</td></tr>"
            for e in events
        )
    )
