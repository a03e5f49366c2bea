"""What the desk shows of a missed-call callback task, in Chinese (pure).

The dialer keeps its state and outcome as codes and its reason as an English sentence for
the log (telephony.callback_dialer_plan). The desk shows the codes through the dialer's own
`DIAL_STATE_LABELS` / `OUTCOME_LABELS` and a short Chinese reason built from the task's
fields, so the words live on the server and the page draws what it is given
(`GET /api/callbacks` rows carry them; a bus change makes the desk read the list again).
"""

from __future__ import annotations

import re

from telephony.call_models import TAKEN_BY_HAND, CallbackStatus, CallbackTaskPublic, DialState
from telephony.callback_dialer_plan import DIAL_STATE_LABELS, OUTCOME_LABELS, DialOutcome

TOO_OLD_PREFIX = "missed more than"  # callback_dialer_plan.too_old_reason
_TAKEN_BY = re.compile(r"taken by hand by (\S+)")  # callback_dialer_repo.take


class CallbackRow(CallbackTaskPublic):
    """A task as the desk lists it: the stored fields and their zh-CN words."""

    dial_state_label: str
    outcome_label: str | None = None
    reason_label: str = ""
    takeable: bool = False  # 我来回拨: the dialer would (or did give up and may) dial it


def reason_label(task: CallbackTaskPublic) -> str:
    """Why the task is where it is, in a few Chinese words ("" when nothing to say)."""
    outcome = OUTCOME_LABELS.get(task.dial_outcome or "", task.dial_outcome or "")
    reason = task.dial_reason or ""
    if task.status is CallbackStatus.done:
        return f"{task.done_by} 已处理" if task.done_by else "已处理"
    match task.dial_state:
        case DialState.waiting:
            if task.dial_attempts:
                return f"第 {task.dial_attempts} 次回拨{outcome}，稍后再拨"
            return "排队等待自动回拨"
        case DialState.dialing:
            return f"第 {task.dial_attempts + 1} 次自动回拨中"
        case DialState.connected:
            return f"市民已接通话务员 {task.connected_to}" if task.connected_to else "市民已接通"
        case DialState.manual:
            if task.dial_outcome == TAKEN_BY_HAND:
                who = _TAKEN_BY.match(reason)
                return f"{who.group(1) if who else '话务员'} 已认领，人工回拨"
            if task.dial_outcome == DialOutcome.interrupted:
                return "拨打时服务中断，请人工回拨"
            if reason.startswith(TOO_OLD_PREFIX):
                return "漏接时间过久，不再自动回拨，请人工回拨"
            if task.dial_attempts:
                return f"自动回拨 {task.dial_attempts} 次未成功（{outcome}），请人工回拨"
            return "请人工回拨"
    return ""


def row(task: CallbackTaskPublic) -> CallbackRow:
    state = task.dial_state.value
    outcome = task.dial_outcome
    return CallbackRow.model_validate(
        task.model_dump()
        | {
            "dial_state_label": DIAL_STATE_LABELS.get(state, state),
            "outcome_label": OUTCOME_LABELS.get(outcome, outcome) if outcome else None,
            "reason_label": reason_label(task),
            "takeable": task.status is CallbackStatus.open
            and (
                task.dial_state is DialState.waiting
                or (task.dial_state is DialState.manual and outcome != TAKEN_BY_HAND)
            ),
        }
    )
