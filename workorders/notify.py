"""Outgoing bus events for work orders, built in one place (the feature's notifier).

Every recorded step becomes one `OrderStep` on `hotline/v1/order/<number>/<step>`;
the SLA clock's light changes are steps too (`light_yellow`, `light_red`), and so is
`supervision_requested` (the default `SupervisionRequester` of `workorders.clock`).
Publishing happens after the store committed; a bus that refuses an event is logged,
never allowed to undo or fail a step that is already stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from hotline.bus_events import BusEvent, OrderStep

log = structlog.get_logger(__name__)
NOTE_MAX = 500  # bus notes are a summary; the history keeps the whole text


class Publisher(Protocol):
    def publish(self, event: BusEvent) -> object: ...


@dataclass(frozen=True, slots=True)
class RecordedStep:
    step: str
    actor: str
    unit: str | None = None
    note: str = ""


def publish_steps(publisher: Publisher, number: str, steps: Iterable[RecordedStep]) -> None:
    for s in steps:
        event = OrderStep(
            order_id=number, step=s.step, actor=s.actor, unit=s.unit, note=s.note[:NOTE_MAX]
        )
        try:
            publisher.publish(event)
        except Exception as err:  # the step is stored; a lost notification must not undo it
            log.warning("workorders.publish_failed", order_id=number, step=s.step, error=repr(err))
