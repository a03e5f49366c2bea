"""The work-order service: every action on an order, with its permission, in one place.

Public API (part B, the views and other channels build on this; all methods async, all
keyword arguments after the first positional ones; every result is a Public model)::

    svc = OrderService(sessionmaker=..., publisher=bus, policy=sla_policy, clock=utc_now)
    actor = Actor.of(user)                       # UserPublic → who acts (role, unit)

    # 接交一体: accept and dispatch in one transaction (plan=None → 即办, resolved on call)
    await svc.take(draft: WorkOrderCreate, plan: Sequence[Assignment] | None,
                   actor=, note="", another_for_call=False) -> WorkOrderPublic
    await svc.create(draft, actor=, another_for_call=False)  # accept only, dispatch later
    await svc.dispatch(number, plan, actor=)     # direct / joint / parallel (lifecycle.plan_mode)
    await svc.resolve_on_call(number, actor=, note=)
    # the unit's actions (unit handlers, on their own unit's part)
    await svc.acknowledge(number, actor=)                       # 签收
    await svc.reply(number, text, actor=)                       # 回复/办结
    await svc.return_order(number, reason, actor=)              # 退单
    await svc.ask_extension(number, until, reason, actor=)      # 延期申请
    # the centre's actions (supervisors, admins; operators may redispatch and merge)
    await svc.redispatch(number, plan, actor=, withdraw=())     # 转派/改派
    await svc.grant_extension(number, actor=, until=None, note="")
    await svc.refuse_extension(number, actor=, note="")
    await svc.review(number, actor=, note="")                   # 审核通过
    await svc.send_back(number, reason, actor=)                 # 审核退回 to the units
    await svc.survey(number, satisfied, actor=, note="")        # 回访结果
    await svc.reopen(number, reason, actor=)                    # 重办 after "dissatisfied"
    await svc.archive(number, actor=)
    await svc.merge(number, into, actor=)                       # 并单
    # reading: get, list_orders, history (workorders.order_reads, the base class;
    # a unit handler sees only orders dispatched to their unit)

Theory of operation: each action is one store transaction: load the order (row-locked
on PostgreSQL), check who may act, build the `lifecycle.OrderState`, `advance` it (a
refused step raises before anything is written), write the changed rows and one
`order_events` row per step, commit, then publish an `OrderStep` per step on the bus
(after the commit: the store is the truth, a subscriber never hears of a step that was
rolled back). Deadlines come from the city's `SlaPolicy`, counted from acceptance;
`dispatch_seconds` is call end → dispatch (or → resolution for 即办).

One order per call: a take whose draft names a call (`call_linkedid`) that already has
an order is refused with `OrderExistsForCall` (carrying that order's number) unless the
caller asks for another (`another_for_call`: two unrelated requests in one call). Two
takes at once (two desk tabs) give one order: the check runs inside the taking
transaction after the order's INSERT, which on SQLite holds the single writer lock (the
other take's INSERT waits, then sees this order), and on PostgreSQL after an advisory
lock per call taken first (`repo.lock_call`).

Exceptions: the `WorkOrderError` hierarchy in `workorders.errors` (the API maps them to
404, 403, 400, 409). `Actor` lives in `workorders.order_reads` and is re-exported here:
most callers build an `OrderService` and its `Actor` together.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.roles import Role
from hotline.feature import Clock, utc_now
from workorders import lifecycle as lc
from workorders import repo
from workorders.errors import (
    InvalidRequest,
    OrderExistsForCall,
    StepRefused,
    WorkOrderError,
)
from workorders.models import Channel, WorkOrder, WorkOrderCreate, WorkOrderPublic
from workorders.notify import Publisher, publish_steps
from workorders.order_reads import Actor, OrderReads, require, unit_of
from workorders.sla import SlaError, SlaPolicy
from workorders.writer import StepWriter

# Actor is re-exported: callers build the service and its actors together.
__all__ = ["CENTRE", "DISPATCHERS", "TAKERS", "Actor", "OrderService"]

log = structlog.get_logger(__name__)

TAKERS = frozenset({Role.operator, Role.supervisor, Role.admin})
CENTRE = frozenset({Role.supervisor, Role.admin})
DISPATCHERS = TAKERS
_NUMBER_RETRIES = 20


async def _back_off(attempt: int) -> None:
    """SQLite: concurrent takes read the same last number and all but one lose the insert;
    a short random pause spreads the retries so each round lets several through."""
    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))


class OrderService(OrderReads):
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        policy: SlaPolicy,
        clock: Clock = utc_now,
        number_prefix: str = "12345",
    ) -> None:
        super().__init__(sessionmaker=sessionmaker, policy=policy, clock=clock)
        self._publisher = publisher
        self._prefix = number_prefix

    # ------------------------------------------------------------------ take

    async def take(
        self,
        draft: WorkOrderCreate,
        plan: Sequence[lc.Assignment] | None,
        *,
        actor: Actor,
        note: str = "",
        another_for_call: bool = False,
    ) -> WorkOrderPublic:
        """Accept the order and, in the same transaction, dispatch it (or resolve it)."""
        require(actor, TAKERS, "take an order")
        steps: list[lc.Step] = [lc.ResolveOnCall()] if plan is None else [lc.Dispatch(tuple(plan))]
        return await self._create(draft, actor, steps, note, another_for_call)

    async def create(
        self, draft: WorkOrderCreate, *, actor: Actor, another_for_call: bool = False
    ) -> WorkOrderPublic:
        require(actor, TAKERS, "create an order")
        return await self._create(draft, actor, [], "", another_for_call)

    async def _create(
        self,
        draft: WorkOrderCreate,
        actor: Actor,
        steps: list[lc.Step],
        note: str,
        another_for_call: bool,
    ) -> WorkOrderPublic:
        draft = self._checked_draft(draft)
        if steps and isinstance(steps[0], lc.ResolveOnCall) and not note.strip():
            raise InvalidRequest("an order resolved on the call (即办) needs a note of the answer")
        call = None if another_for_call else (draft.call_linkedid or None)
        for attempt in range(_NUMBER_RETRIES):
            now = self._clock()
            async with self.sessions() as session:
                if call is not None:
                    await repo.lock_call(session=session, linkedid=call)
                day = now.astimezone(self.policy.tz).strftime("%Y%m%d")
                number = await repo.next_number(session=session, prefix=self._prefix, day=day)
                order = WorkOrder.model_validate(
                    draft.model_dump()
                    | {
                        "number": number,
                        "status": lc.Status.accepted,
                        "operator": actor.username,
                        "created_at": now,
                        "accepted_at": now,
                    }
                )
                session.add(order)
                try:
                    await session.flush()
                except IntegrityError:
                    await session.rollback()
                    log.debug("workorders.number_taken", number=number, attempt=attempt)
                    await _back_off(attempt)
                    continue
                if call is not None:
                    first = await repo.order_for_call(
                        session=session, linkedid=call, excluding=order.id
                    )
                    if first is not None:
                        await session.rollback()
                        log.info("workorders.exists_for_call", call_id=call, order_id=first)
                        raise OrderExistsForCall(call, first)
                writer = StepWriter(session, order, [], None, self.policy, now)
                writer.record("accept", actor.username, note=f"{draft.kind.label} {draft.title}")
                for step in steps:
                    await self._guarded(writer, step, actor, note)
                try:
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                    await _back_off(attempt)
                    continue
                result = await repo.public(session=session, order=order)
            publish_steps(self._publisher, number, writer.events)
            log.info("workorders.created", order_id=number, steps=[e.step for e in writer.events])
            return result
        raise WorkOrderError("could not allocate an order number; try again")

    def _checked_draft(self, draft: WorkOrderCreate) -> WorkOrderCreate:
        if not draft.title.strip():
            raise InvalidRequest("an order needs a title")
        if draft.channel is Channel.phone and not draft.caller_number.strip():
            raise InvalidRequest("a phone order needs the caller's number")
        key = draft.time_limit_class or self.policy.default_class
        try:
            self.policy.limit(key)
        except SlaError as err:
            raise InvalidRequest(str(err)) from err
        return draft.model_copy(update={"time_limit_class": key})

    # ------------------------------------------------------------------ steps

    async def dispatch(
        self, number: str, plan: Sequence[lc.Assignment], *, actor: Actor
    ) -> WorkOrderPublic:
        return await self._step(number, actor, DISPATCHERS, lc.Dispatch(tuple(plan)))

    async def resolve_on_call(self, number: str, *, actor: Actor, note: str) -> WorkOrderPublic:
        if not note.strip():
            raise InvalidRequest("an order resolved on the call (即办) needs a note of the answer")
        return await self._step(number, actor, TAKERS, lc.ResolveOnCall(), note=note)

    async def acknowledge(self, number: str, *, actor: Actor) -> WorkOrderPublic:
        return await self._unit_step(number, actor, lc.Acknowledge(unit_of(actor)))

    async def reply(self, number: str, text: str, *, actor: Actor) -> WorkOrderPublic:
        return await self._unit_step(number, actor, lc.Reply(unit_of(actor), text), text)

    async def return_order(self, number: str, reason: str, *, actor: Actor) -> WorkOrderPublic:
        step = lc.Return(unit_of(actor), reason)
        return await self._unit_step(number, actor, step, reason)

    async def ask_extension(
        self, number: str, until: datetime, reason: str, *, actor: Actor
    ) -> WorkOrderPublic:
        step = lc.AskExtension(unit_of(actor), reason)
        return await self._unit_step(number, actor, step, reason, until=until)

    async def redispatch(
        self,
        number: str,
        plan: Sequence[lc.Assignment],
        *,
        actor: Actor,
        withdraw: Sequence[str] = (),
    ) -> WorkOrderPublic:
        step = lc.Redispatch(tuple(plan), tuple(withdraw))
        return await self._step(number, actor, DISPATCHERS, step)

    async def grant_extension(
        self, number: str, *, actor: Actor, until: datetime | None = None, note: str = ""
    ) -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.GrantExtension(), note=note, until=until)

    async def refuse_extension(
        self, number: str, *, actor: Actor, note: str = ""
    ) -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.RefuseExtension(), note=note)

    async def review(self, number: str, *, actor: Actor, note: str = "") -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.Review(), note=note)

    async def send_back(self, number: str, reason: str, *, actor: Actor) -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.SendBack(reason), note=reason)

    async def survey(
        self, number: str, satisfied: bool, *, actor: Actor, note: str = ""
    ) -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.Survey(satisfied), note=note)

    async def reopen(self, number: str, reason: str, *, actor: Actor) -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.Reopen(reason), note=reason)

    async def archive(self, number: str, *, actor: Actor, note: str = "") -> WorkOrderPublic:
        return await self._step(number, actor, CENTRE, lc.Archive(), note=note)

    async def merge(self, number: str, into: str, *, actor: Actor) -> WorkOrderPublic:
        return await self._step(number, actor, DISPATCHERS, lc.Merge(into), note=into)

    # ------------------------------------------------------------------ machinery

    async def _unit_step(
        self,
        number: str,
        actor: Actor,
        step: lc.Step,
        note: str = "",
        until: datetime | None = None,
    ) -> WorkOrderPublic:
        return await self._step(
            number, actor, frozenset({Role.unit_handler}), step, note=note, until=until
        )

    async def _step(
        self,
        number: str,
        actor: Actor,
        roles: frozenset[Role],
        step: lc.Step,
        *,
        note: str = "",
        until: datetime | None = None,
    ) -> WorkOrderPublic:
        async with self.sessions() as session:
            order = await self._visible(session, number, actor, lock=True)
            require(actor, roles, step.name)
            assert order.id is not None
            dispatches = await repo.load_dispatches(session=session, order_id=order.id)
            pending = await repo.pending_extension(session=session, order_id=order.id)
            writer = StepWriter(session, order, dispatches, pending, self.policy, self._clock())
            await self._guarded(writer, step, actor, note, until=until)
            await session.commit()
            result = await repo.public(session=session, order=order)
        publish_steps(self._publisher, number, writer.events)
        log.info("workorders.step", order_id=number, step=step.name, actor=actor.username)
        return result

    async def _guarded(
        self,
        writer: StepWriter,
        step: lc.Step,
        actor: Actor,
        note: str,
        *,
        until: datetime | None = None,
    ) -> None:
        """Check what the lifecycle cannot (units exist, targets exist), then write."""
        session = writer.session
        plan = getattr(step, "assignments", ())
        if plan:
            ids = [a.unit_id for a in plan]
            known = await repo.active_unit_ids(session=session, ids=ids)
            unknown = sorted(set(ids) - known)
            if unknown:
                raise InvalidRequest(f"unknown or inactive unit(s): {', '.join(unknown)}")
        if isinstance(step, lc.Merge):
            target = await repo.load_order(session=session, number=step.into)
            if target is None or lc.Status(target.status) in lc.CLOSED_STATUSES:
                raise InvalidRequest(f"cannot merge into {step.into!r}: no such open order")
        try:
            writer.apply(step, actor.username, note=note, until=until)
        except lc.IllegalStep as err:
            raise StepRefused(str(err)) from err
        except (lc.InvalidStep, ValueError) as err:
            raise InvalidRequest(str(err)) from err
        if isinstance(step, lc.Merge):
            target = await repo.load_order(session=session, number=step.into)
            assert target is not None and target.id is not None
            repo.add_event(
                session=session,
                order_id=target.id,
                at=writer.now,
                actor=actor.username,
                step="merged_in",
                note=writer.order.number,
            )
