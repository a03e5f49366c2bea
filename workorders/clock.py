"""The SLA clock: ONE loop that turns open orders yellow and red, and asks for supervision.

Theory of operation
-------------------
Deadlines and the instant an order turns yellow (`yellow_at`) are stored with the order
when it is dispatched (or its deadline moves), so the clock needs no calendar and keeps
no timers: every `interval` seconds `tick()` asks the store, in one indexed query, for
the open orders whose stored light is behind `now` (green past `yellow_at`, or not red
past `deadline`). For each it writes the new light with a conditional UPDATE (`WHERE
light = <the light it read>`), so a change is recorded once even if two clocks race or
a clock restarts mid-tick, adds a history row (`light_yellow` / `light_red`), commits,
and then publishes an `OrderStep` for it.

Turning red also sets `supervision_due`. After the lights, the tick hands every order
with `supervision_due` to the `SupervisionRequester` the composition root passed in
(one request per responsible unit still working on it, or one with `unit=None` when the
order is back at the centre), and only when that succeeds clears the flag (again
conditionally, and only if the deadline did not move meanwhile) and records a
`supervision_requested` history row. A request that fails stays due and is retried on
the next tick; a restart picks up what is stored. So in normal operation each red
order gets exactly one request; only a crash between the request and its commit can
repeat it (at least once, never lost).

The default requester (`BusSupervision`) publishes `order/<number>/supervision_requested`
with the unit and its contact number; the IVR feature (issue 6) will place the calls.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from hotline.bus_events import OrderStep
from hotline.feature import Clock, utc_now
from workorders import repo
from workorders.lifecycle import OPEN_STATUSES, UnitStatus
from workorders.models import DispatchRole, Light, UnitPublic, WorkOrder, WorkOrderPublic
from workorders.notify import Publisher, RecordedStep, publish_steps
from workorders.sla import light

log = structlog.get_logger(__name__)
ACTOR = "sla-clock"
_MAX_BATCHES = 1000


class SupervisionRequester(Protocol):
    async def request(self, order: WorkOrderPublic, unit: UnitPublic | None) -> None: ...


class BusSupervision:
    """Asks for a supervision call by publishing `order.supervision_requested`."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    async def request(self, order: WorkOrderPublic, unit: UnitPublic | None) -> None:
        note = f"{unit.short_name or unit.name} {unit.contact_phone}" if unit else "centre"
        self._publisher.publish(
            OrderStep(
                order_id=order.number,
                step="supervision_requested",
                actor=ACTOR,
                unit=unit.id if unit else None,
                note=note,
            )
        )


class SlaClock:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        supervision: SupervisionRequester,
        clock: Clock = utc_now,
        interval: float = 15.0,
        batch: int = 1000,
    ) -> None:
        self._sessions = sessionmaker
        self._publisher = publisher
        self._supervision = supervision
        self._clock = clock
        self.interval = interval
        self._batch = batch

    async def run(self) -> None:
        """Tick forever (until cancelled); a failed tick is logged and retried later."""
        log.info("workorders.clock_started", interval=self.interval)
        while True:
            try:
                await self.tick()
            except Exception as err:  # the store may be down for a while: keep ticking
                log.warning("workorders.clock_tick_failed", error=repr(err))
            await asyncio.sleep(self.interval)

    async def tick(self) -> int:
        """Move every light that is behind; request due supervision. Returns lights moved."""
        now = self._clock()
        moved = 0
        for _ in range(_MAX_BATCHES):  # bounded: a tick always ends
            changed, seen = await self._lights(now)
            moved += changed
            if seen < self._batch:
                break
        await self._supervise(now)
        return moved

    async def _lights(self, now: datetime) -> tuple[int, int]:
        """One batch: group the due orders by (old light, new light) and move each group
        with one conditional UPDATE ... RETURNING, so only rows still at the light we
        read are moved (and told) even if another clock got there first."""
        told: list[tuple[str, RecordedStep]] = []
        async with self._sessions() as session:
            due = await repo.due_for_light(
                session=session, statuses=list(OPEN_STATUSES), now=now, limit=self._batch
            )
            groups: dict[tuple[Light, Light], list[repo.LightRow]] = defaultdict(list)
            for row in due:
                new = light(now, row.yellow_at, row.deadline)
                if new != row.light:
                    groups[(Light(row.light), new)].append(row)
            for (old, new), rows in groups.items():
                values: dict[str, object] = {"light": new, "light_changed_at": now}
                if new is Light.red:
                    values["supervision_due"] = True
                result = await session.execute(
                    update(WorkOrder)
                    .where(col(WorkOrder.id).in_([r.id for r in rows]), col(WorkOrder.light) == old)
                    .values(values)
                    .returning(col(WorkOrder.id))
                    .execution_options(synchronize_session=False)
                )
                moved = set(result.scalars().all())
                for r in rows:
                    if r.id not in moved:
                        continue  # another clock moved it first
                    step = RecordedStep(step=f"light_{new}", actor=ACTOR, note=str(r.deadline))
                    repo.add_event(
                        session=session,
                        order_id=r.id,
                        at=now,
                        actor=ACTOR,
                        step=step.step,
                        note=step.note,
                    )
                    told.append((r.number, step))
            await session.commit()
        for number, step in told:
            publish_steps(self._publisher, number, [step])
            log.info("workorders.light", order_id=number, light=step.step)
        return len(told), len(due)

    async def _supervise(self, now: datetime) -> None:
        async with self._sessions() as session:
            due = await repo.due_for_supervision(session=session, limit=self._batch)
            work = [(o.id, o.number, o.deadline, await self._targets(session, o)) for o in due]
        for order_id, number, deadline, (public, units) in work:
            try:
                for unit in units:
                    await self._supervision.request(public, unit)
            except Exception as err:  # stays due: retried on the next tick
                log.warning("workorders.supervision_failed", order_id=number, error=repr(err))
                continue
            async with self._sessions() as session:
                result = await session.execute(
                    update(WorkOrder)
                    .where(
                        col(WorkOrder.id) == order_id,
                        col(WorkOrder.supervision_due).is_(True),
                        col(WorkOrder.deadline) == deadline,
                    )
                    .values(supervision_due=False, supervision_requested_at=now)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1 and order_id is not None:  # type: ignore[attr-defined]
                    names = ", ".join(u.id if u else "centre" for u in units)
                    repo.add_event(
                        session=session,
                        order_id=order_id,
                        at=now,
                        actor=ACTOR,
                        step="supervision_requested",
                        note=names,
                    )
                await session.commit()
            log.info("workorders.supervision_requested", order_id=number)

    @staticmethod
    async def _targets(
        session: AsyncSession, order: WorkOrder
    ) -> tuple[WorkOrderPublic, Sequence[UnitPublic | None]]:
        public = await repo.public(session=session, order=order)
        working = [
            d.unit_id
            for d in public.dispatches
            if d.role is not DispatchRole.assisting
            and d.status in (UnitStatus.dispatched, UnitStatus.acknowledged)
        ]
        units: list[UnitPublic | None] = []
        for unit_id in working:
            row = await repo.get_unit(session=session, unit_id=unit_id)
            units.append(None if row is None else UnitPublic.model_validate(row.model_dump()))
        return public, units or [None]
