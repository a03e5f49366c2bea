"""The desk's Chinese words for a callback task (telephony.callback_labels)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from telephony.call_models import CallbackTaskPublic
from telephony.callback_dialer_plan import too_old_reason
from telephony.callback_labels import row

AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def task(**kw: Any) -> CallbackTaskPublic:
    data: dict[str, Any] = {"id": 1, "number": "13800000001", "first_missed_at": AT,
                            "last_missed_at": AT}  # fmt: skip
    return CallbackTaskPublic.model_validate(data | kw)


@pytest.mark.parametrize(
    ("fields", "state", "outcome", "reason", "takeable"),
    [
        ({}, "等待自动回拨", None, "排队等待自动回拨", True),
        ({"dial_attempts": 1, "dial_outcome": "busy", "dial_reason": "busy: BUSY; retry"},
         "等待自动回拨", "占线", "第 1 次回拨占线，稍后再拨", True),
        ({"dial_state": "dialing", "dial_attempts": 1},
         "正在回拨", None, "第 2 次自动回拨中", False),
        ({"dial_state": "connected", "dial_outcome": "connected", "connected_to": "1001"},
         "已接通", "已接通话务员", "市民已接通话务员 1001", False),
        ({"dial_state": "manual", "dial_attempts": 3, "dial_outcome": "no_answer",
          "dial_reason": "no_answer after 3 attempt(s): ..."},
         "转人工回拨", "无人接听", "自动回拨 3 次未成功（无人接听），请人工回拨", True),
        ({"dial_state": "manual", "dial_reason": too_old_reason(timedelta(hours=24))},
         "转人工回拨", None, "漏接时间过久，不再自动回拨，请人工回拨", True),
        ({"dial_state": "manual", "dial_outcome": "interrupted", "dial_attempts": 1},
         "转人工回拨", "拨打中断", "拨打时服务中断，请人工回拨", True),
        ({"dial_state": "manual", "dial_outcome": "taken",
          "dial_reason": "taken by hand by li at 2026-11-22T09:00:00+00:00"},
         "转人工回拨", "人工认领", "li 已认领，人工回拨", False),
        ({"status": "done", "done_by": "wang"}, "等待自动回拨", None, "wang 已处理", False),
    ],
)  # fmt: skip
def test_every_state_has_its_chinese_words(
    fields: dict[str, Any], state: str, outcome: str | None, reason: str, takeable: bool
) -> None:
    shown = row(task(**fields))
    assert (shown.dial_state_label, shown.outcome_label, shown.reason_label, shown.takeable) == (
        state, outcome, reason, takeable)  # fmt: skip
