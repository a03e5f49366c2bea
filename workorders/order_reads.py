"""The read side of the work-order service: who acts, and what they may see.

`Actor` is who acts (a user's name, role and unit). `OrderReads` holds what every
service call needs (the store's sessionmaker, the city's SLA policy, the clock) and the
visibility rule: a unit handler sees only orders dispatched to their own unit; another
unit's order is `OrderNotFound`, as if it did not exist. `workorders.service.OrderService`
builds its steps on this class, so `svc.get`, `svc.list_orders` and `svc.history` are
methods of the one service object::

    await svc.get(number, actor=) -> WorkOrderPublic
    await svc.list_orders(actor=, statuses=(), light=None, operator=None,
                          caller_number=None, limit=100, offset=0)
    await svc.history(number, actor=) -> list[OrderEventPublic]

Errors come from `workorders.errors` (OrderNotFound, NotAllowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.models import UserPublic
from accounts.roles import Role
from hotline.feature import Clock, utc_now
from workorders import repo
from workorders.errors import NotAllowed, OrderNotFound
from workorders.models import Light, OrderEventPublic, WorkOrder, WorkOrderPublic
from workorders.sla import SlaPolicy


@dataclass(frozen=True, slots=True)
class Actor:
    username: str
    role: Role
    unit_id: str | None = None

    @classmethod
    def of(cls, user: UserPublic) -> Actor:
        return cls(username=user.username, role=Role(user.role), unit_id=user.unit_id)


def require(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise NotAllowed(f"{actor.username} ({actor.role}) may not {what.replace('_', ' ')}")


def unit_of(actor: Actor) -> str:
    """The unit a unit handler acts for; `NotAllowed` for anyone else."""
    if actor.role is not Role.unit_handler or not actor.unit_id:
        raise NotAllowed(f"{actor.username}: only a unit handler acts for a unit")
    return actor.unit_id


class OrderReads:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: SlaPolicy,
        clock: Clock = utc_now,
    ) -> None:
        self.sessions = sessionmaker
        self.policy = policy
        self._clock = clock

    async def get(self, number: str, *, actor: Actor) -> WorkOrderPublic:
        async with self.sessions() as session:
            order = await self._visible(session, number, actor)
            return await repo.public(session=session, order=order)

    async def list_orders(
        self,
        *,
        actor: Actor,
        statuses: Sequence[str] = (),
        light: Light | None = None,
        operator: str | None = None,
        caller_number: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[WorkOrderPublic]:
        unit = unit_of(actor) if actor.role is Role.unit_handler else None
        async with self.sessions() as session:
            orders = await repo.list_orders(
                session=session,
                unit_id=unit,
                statuses=statuses,
                light=light,
                operator=operator,
                caller_number=caller_number,
                limit=limit,
                offset=offset,
            )
            return await repo.publics(session=session, orders=orders)

    async def history(self, number: str, *, actor: Actor) -> list[OrderEventPublic]:
        async with self.sessions() as session:
            order = await self._visible(session, number, actor)
            assert order.id is not None
            return await repo.history(session=session, order_id=order.id)

    async def _visible(
        self, session: AsyncSession, number: str, actor: Actor, *, lock: bool = False
    ) -> WorkOrder:
        order = await repo.load_order(session=session, number=number, for_update=lock)
        if order is not None and order.id is not None and actor.role is Role.unit_handler:
            unit = unit_of(actor)
            if not await repo.visible_to_unit(session=session, order_id=order.id, unit_id=unit):
                order = None  # another unit's order: as if it did not exist
        if order is None:
            raise OrderNotFound(f"no order {number}")
        return order
