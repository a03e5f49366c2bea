"""A missed-call callback task as the bus announces it (pure).

Every writer of a task (the call store on a miss, the desk marking one done, the
dialer) publishes the same `CallbackTaskChanged`, so the desk and the wallboard can
follow the list without polling.
"""

from __future__ import annotations

from hotline.bus_events import CallbackTaskChanged
from telephony.call_models import CallbackTaskPublic


def task_changed(task: CallbackTaskPublic) -> CallbackTaskChanged:
    return CallbackTaskChanged(
        task_id=task.id, number=task.number, line=task.line, status=task.status.value,
        dial_state=task.dial_state.value, attempts=task.dial_attempts,
        outcome=task.dial_outcome, reason=task.dial_reason, connected_to=task.connected_to,
        next_dial_at=task.next_dial_at, missed_count=task.missed_count,
    )  # fmt: skip
