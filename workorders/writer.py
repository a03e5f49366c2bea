"""Write one lifecycle step into the store's rows (inside the service's transaction).

`StepWriter` holds an order's rows as loaded (the order, its dispatches in id order, a
pending extension request), turns them into a `lifecycle.OrderState`, advances it and
writes back only what changed: the order's status and fields, each dispatch whose unit
status moved, new dispatches, extension requests, the SLA fields (deadline, yellow_at,
light) and one history row per step. Nothing is written when `advance` refuses. It never
commits: the service does. The writer's `events` are what the service publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from workorders import lifecycle as lc
from workorders import repo
from workorders.models import (
    Dispatch,
    DispatchRole,
    ExtensionRequest,
    ExtensionStatus,
    Light,
    WorkOrder,
)
from workorders.notify import RecordedStep
from workorders.sla import SlaPolicy


class StepWriter:
    def __init__(  # noqa: PLR0917  (the rows of one order, as loaded)
        self,
        session: AsyncSession,
        order: WorkOrder,
        dispatches: Sequence[Dispatch],
        pending: ExtensionRequest | None,
        policy: SlaPolicy,
        now: datetime,
    ) -> None:
        self.session = session
        self.order = order
        self.dispatches = list(dispatches)
        self.pending = pending
        self.policy = policy
        self.now = now
        self.events: list[RecordedStep] = []

    def state(self) -> lc.OrderState:
        return lc.OrderState(
            number=self.order.number,
            status=lc.Status(self.order.status),
            units=tuple(
                lc.UnitProgress(d.unit_id, DispatchRole(d.role), lc.UnitStatus(d.status))
                for d in self.dispatches
            ),
            extension_pending=self.pending is not None,
            satisfied=self.order.survey_satisfied,
        )

    def record(self, step: str, actor: str, *, unit: str | None = None, note: str = "") -> None:
        assert self.order.id is not None
        repo.add_event(
            session=self.session,
            order_id=self.order.id,
            at=self.now,
            actor=actor,
            step=step,
            unit_id=unit,
            note=note,
        )
        self.events.append(RecordedStep(step=step, actor=actor, unit=unit, note=note))

    def apply(
        self, step: lc.Step, actor: str, *, note: str = "", until: datetime | None = None
    ) -> None:
        """Advance and write; raises `lifecycle.LifecycleError` or ValueError untouched."""
        before = self.state()
        if isinstance(step, lc.AskExtension):
            self._check_until(until)
        after = lc.advance(before, step)
        self._write_units(before, after, step)
        self._write_order(before, after, step, actor, note, until)
        self.order.status = after.status
        self.session.add(self.order)
        unit = getattr(step, "unit_id", None)
        self.record(step.name, actor, unit=unit, note=note or _describe_plan(step))

    # ------------------------------------------------------------------ units

    def _write_units(self, before: lc.OrderState, after: lc.OrderState, step: lc.Step) -> None:
        assert self.order.id is not None
        for old, new, row in zip(before.units, after.units, self.dispatches, strict=False):
            if old.status is new.status:
                continue
            row.status = new.status
            if new.status is lc.UnitStatus.acknowledged and old.status is lc.UnitStatus.dispatched:
                row.acknowledged_at = self.now
            elif new.status is lc.UnitStatus.replied and isinstance(step, lc.Reply):
                row.replied_at = self.now
                row.reply = step.text
            elif new.status is lc.UnitStatus.returned and isinstance(step, lc.Return):
                row.returned_at = self.now
                row.return_reason = step.reason
            self.session.add(row)
        plan = {a.unit_id: a for a in getattr(step, "assignments", ())}
        for new in after.units[len(before.units) :]:
            part = plan[new.unit_id].part if new.unit_id in plan else ""
            row = Dispatch(
                order_id=self.order.id,
                unit_id=new.unit_id,
                role=new.role,
                part=part,
                status=new.status,
                dispatched_at=self.now,
            )
            self.session.add(row)
            self.dispatches.append(row)

    # ------------------------------------------------------------------ order

    def _write_order(  # noqa: PLR0917
        self,
        before: lc.OrderState,
        after: lc.OrderState,
        step: lc.Step,
        actor: str,
        note: str,
        until: datetime | None,
    ) -> None:
        o = self.order
        match step:
            case lc.Dispatch(assignments=plan):
                o.mode = lc.plan_mode(plan)
                o.lead_unit_id = _lead(plan)
                o.dispatched_at = self.now
                o.dispatch_seconds = self._since_call_end()
                self._start_clock(
                    o.accepted_at, self.policy.deadline(o.time_limit_class, o.accepted_at)
                )
            case lc.ResolveOnCall():
                o.mode = lc.Mode.on_call
                o.closed_at = self.now
                o.dispatch_seconds = self._since_call_end()
            case lc.Redispatch(assignments=plan):
                o.lead_unit_id = _lead(plan) or (
                    o.lead_unit_id if before.unit(o.lead_unit_id or "") else None
                )
                o.dispatched_at = self.now
            case lc.AskExtension(unit_id=unit_id, reason=reason):
                assert until is not None and o.id is not None
                self.pending = ExtensionRequest(
                    order_id=o.id,
                    unit_id=unit_id,
                    asked_by=actor,
                    asked_at=self.now,
                    reason=reason,
                    until=until,
                )
                self.session.add(self.pending)
            case lc.GrantExtension() | lc.RefuseExtension():
                self._decide(isinstance(step, lc.GrantExtension), actor, note, until)
            case lc.Survey(satisfied=satisfied):
                o.survey_satisfied = satisfied
            case lc.SendBack():
                o.replied_at = None
            case lc.Reopen():
                o.reopen_count += 1
                o.closed_at = None
                o.replied_at = None
                self._start_clock(self.now, self.policy.deadline(o.time_limit_class, self.now))
            case lc.Archive():
                o.closed_at = self.now
            case lc.Merge(into=into):
                o.merged_into = into
                o.closed_at = self.now
        if after.status is lc.Status.replied and before.status is not lc.Status.replied:
            o.replied_at = self.now

    def _check_until(self, until: datetime | None) -> None:
        if until is None or until.tzinfo is None:
            raise ValueError("an extension request needs a timezone-aware 'until'")
        floor = max(self.now, self.order.deadline or self.now)
        if until <= floor:
            raise ValueError(f"an extension must end after the current deadline ({floor})")

    def _decide(self, granted: bool, actor: str, note: str, until: datetime | None) -> None:
        request = self.pending
        assert request is not None  # the lifecycle checked one is pending
        request.status = ExtensionStatus.granted if granted else ExtensionStatus.refused
        request.decided_by = actor
        request.decided_at = self.now
        request.note = note
        self.session.add(request)
        if granted:
            new_deadline = until or request.until
            if new_deadline.tzinfo is None:
                raise ValueError("the granted deadline must be timezone-aware")
            self._start_clock(self.order.accepted_at, new_deadline)
        self.pending = None

    def _start_clock(self, start: datetime, deadline: datetime) -> None:
        """Store a (new) deadline and start its light over at green: the clock moves it
        forward on its next tick (and only the clock does, so each change is told once)."""
        o = self.order
        o.deadline = deadline
        o.yellow_at = self.policy.yellow_at(start, deadline)
        if o.light != Light.green:
            o.light = Light.green
            o.light_changed_at = self.now
        o.supervision_due = False
        o.supervision_requested_at = None

    def _since_call_end(self) -> float | None:
        end = self.order.call_ended_at
        return None if end is None else max(0.0, (self.now - end).total_seconds())


def _lead(plan: Sequence[lc.Assignment]) -> str | None:
    for a in plan:
        if a.role is DispatchRole.lead:
            return a.unit_id
    return plan[0].unit_id if plan and plan[0].role is DispatchRole.parallel else None


def _describe_plan(step: lc.Step) -> str:
    plan = getattr(step, "assignments", ())
    return ", ".join(
        f"{a.role.label}:{a.unit_id}" + (f"({a.part})" if a.part else "") for a in plan
    )
