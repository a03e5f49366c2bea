"""The unit portal's pure rules: urgency order, lights at the moment of asking, time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workorders.models import Light, WorkOrderPublic
from workorders.portal_html import current_light, local, sort_inbox, time_left

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def order(number: str, status: str, deadline_in_hours: float | None) -> WorkOrderPublic:
    deadline = None if deadline_in_hours is None else NOW + timedelta(hours=deadline_in_hours)
    yellow = None if deadline is None else deadline - timedelta(hours=4)
    fields: dict[str, Any] = {"number": number, "status": status, "deadline": deadline,
                              "yellow_at": yellow, "light": Light.green}  # fmt: skip
    return WorkOrderPublic.model_construct(**fields)  # only what the rules read


def test_open_work_first_then_red_yellow_green_then_nearest_deadline() -> None:
    orders = [
        order("green-late", "acknowledged", 48),
        order("done", "replied", -10),
        order("yellow", "dispatched", 2),
        order("green-soon", "dispatched", 10),
        order("red-older", "dispatched", -5),
        order("red", "acknowledged", -1),
        order("no-deadline", "dispatched", None),
    ]
    assert [o.number for o in sort_inbox(orders, NOW)] == [
        "red-older", "red", "yellow", "green-soon", "green-late", "no-deadline", "done",
    ]  # fmt: skip


def test_the_light_is_computed_now_and_only_while_the_order_is_worked() -> None:
    assert current_light(order("a", "dispatched", -1), NOW) is Light.red
    assert current_light(order("a", "dispatched", 3), NOW) is Light.yellow
    assert current_light(order("a", "replied", -1), NOW) is Light.green


def test_time_left_and_local_time() -> None:
    assert time_left(NOW + timedelta(days=2, hours=3), NOW) == "剩 2天3小时"
    assert time_left(NOW + timedelta(minutes=90), NOW) == "剩 1小时30分"
    assert time_left(NOW - timedelta(minutes=5), NOW) == "超时 5分"
    assert time_left(None, NOW) == "—"
    assert local(NOW) == "2026-11-23 09:00"  # Beijing time
