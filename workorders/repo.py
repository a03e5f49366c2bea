"""Work orders in the store: reads, and the writes a service step is made of.

Every function takes the session keyword-only. The load/add helpers never commit: a
service step (`workorders.service`) is one transaction that it commits itself, so a
refused or failed step leaves nothing half written. `sync_catalogue` is a whole
operation and commits. Results meant for callers are the models' Public shapes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from workorders.catalogue import Catalogue
from workorders.models import (
    CatalogueSeed,
    Dispatch,
    DispatchPublic,
    ExtensionPublic,
    ExtensionRequest,
    ExtensionStatus,
    Light,
    OrderEvent,
    OrderEventPublic,
    ResponsibilityEntry,
    ResponsibilityPublic,
    Unit,
    UnitPublic,
    WorkOrder,
    WorkOrderPublic,
)

# --------------------------------------------------------------------------- catalogue


async def sync_catalogue(*, session: AsyncSession, catalogue: Catalogue) -> tuple[int, int]:
    """Upsert the units (by id) and add the file's new entries; commit.

    An entry is added only the first time the file names its (category, unit) pair
    (`CatalogueSeed` remembers the pairs), so entries edited, moved to another unit or
    deleted in the app stay that way across restarts. Returns (units written, entries
    added).
    """
    for unit in catalogue.units:
        row = await session.get(Unit, unit.id)
        if row is None:
            session.add(Unit.model_validate(unit.model_dump()))
        else:
            row.sqlmodel_update(unit.model_dump(exclude={"id"}))
            session.add(row)
    await session.flush()
    existing = {
        (e.category, e.unit_id)
        for e in (await session.execute(select(ResponsibilityEntry))).scalars()
    }
    seeded = {
        (s.category, s.unit_id) for s in (await session.execute(select(CatalogueSeed))).scalars()
    }
    added = 0
    for entry in catalogue.responsibilities:
        pair = (entry.category, entry.unit_id)
        if pair in seeded:
            continue
        session.add(CatalogueSeed(category=entry.category, unit_id=entry.unit_id))
        seeded.add(pair)
        if pair not in existing:
            session.add(ResponsibilityEntry.model_validate(entry.model_dump()))
            existing.add(pair)
            added += 1
    await session.commit()
    return len(catalogue.units), added


async def list_units(*, session: AsyncSession, active_only: bool = True) -> list[UnitPublic]:
    query = select(Unit).order_by(col(Unit.id))
    if active_only:
        query = query.where(col(Unit.active).is_(True))
    rows = (await session.execute(query)).scalars().all()
    return [UnitPublic.model_validate(r, from_attributes=True) for r in rows]


async def get_unit(*, session: AsyncSession, unit_id: str) -> Unit | None:
    return await session.get(Unit, unit_id)


async def active_unit_ids(*, session: AsyncSession, ids: Sequence[str]) -> set[str]:
    query = select(col(Unit.id)).where(col(Unit.id).in_(list(ids)), col(Unit.active).is_(True))
    return set((await session.execute(query)).scalars().all())


async def list_responsibilities(*, session: AsyncSession) -> list[ResponsibilityPublic]:
    query = select(ResponsibilityEntry).order_by(
        col(ResponsibilityEntry.category), col(ResponsibilityEntry.id)
    )
    rows = (await session.execute(query)).scalars().all()
    return [ResponsibilityPublic.model_validate(r, from_attributes=True) for r in rows]


# --------------------------------------------------------------------------- orders


async def next_number(*, session: AsyncSession, prefix: str, day: str) -> str:
    """The next free `PREFIX-YYYYMMDD-NNNN`, reserved for this transaction on PostgreSQL
    (an advisory lock per day); the unique index refuses any duplicate and the service
    retries."""
    stem = f"{prefix}-{day}-"
    if session.get_bind().dialect.name == "postgresql":
        # Takes of one day queue here until the holder commits: no duplicate numbers, no
        # retries. (SQLite serialises writers itself; the unique index backs both up.)
        key = _advisory_key(stem)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    query = select(func.max(WorkOrder.number)).where(col(WorkOrder.number).startswith(stem))
    last = (await session.execute(query)).scalar_one_or_none()
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{stem}{n:04d}"


def _advisory_key(text_: str) -> int:
    return int.from_bytes(hashlib.sha256(text_.encode()).digest()[:8], "big", signed=True)


async def lock_call(*, session: AsyncSession, linkedid: str) -> None:
    """PostgreSQL: takes for one call queue here until the holder commits, so the one
    that follows sees the first one's order (`order_for_call`). SQLite needs no lock: the
    order's INSERT already holds the single writer lock when `order_for_call` reads."""
    if session.get_bind().dialect.name == "postgresql":
        key = _advisory_key(f"call:{linkedid}")
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def order_for_call(
    *, session: AsyncSession, linkedid: str, excluding: int | None = None
) -> str | None:
    """The number of the first order taken on call `linkedid` (other than `excluding`)."""
    query = select(col(WorkOrder.number)).where(col(WorkOrder.call_linkedid) == linkedid)
    if excluding is not None:
        query = query.where(col(WorkOrder.id) != excluding)
    query = query.order_by(col(WorkOrder.id)).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def load_order(
    *, session: AsyncSession, number: str, for_update: bool = False
) -> WorkOrder | None:
    query = select(WorkOrder).where(col(WorkOrder.number) == number)
    if for_update:  # PostgreSQL: concurrent steps on one order queue; SQLite ignores it
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


async def load_dispatches(*, session: AsyncSession, order_id: int) -> list[Dispatch]:
    query = select(Dispatch).where(col(Dispatch.order_id) == order_id).order_by(col(Dispatch.id))
    return list((await session.execute(query)).scalars().all())


async def pending_extension(*, session: AsyncSession, order_id: int) -> ExtensionRequest | None:
    query = select(ExtensionRequest).where(
        col(ExtensionRequest.order_id) == order_id,
        col(ExtensionRequest.status) == ExtensionStatus.pending,
    )
    return (await session.execute(query)).scalars().first()


def add_event(
    *,
    session: AsyncSession,
    order_id: int,
    at: datetime,
    actor: str,
    step: str,
    unit_id: str | None = None,
    note: str = "",
) -> OrderEvent:
    event = OrderEvent(
        order_id=order_id, at=at, actor=actor, step=step, unit_id=unit_id, note=note[:4000]
    )
    session.add(event)
    return event


async def history(*, session: AsyncSession, order_id: int) -> list[OrderEventPublic]:
    query = (
        select(OrderEvent)
        .where(col(OrderEvent.order_id) == order_id)
        .order_by(col(OrderEvent.at), col(OrderEvent.id))
    )
    rows = (await session.execute(query)).scalars().all()
    return [OrderEventPublic.model_validate(r, from_attributes=True) for r in rows]


async def visible_to_unit(*, session: AsyncSession, order_id: int, unit_id: str) -> bool:
    query = select(col(Dispatch.id)).where(
        col(Dispatch.order_id) == order_id, col(Dispatch.unit_id) == unit_id
    )
    return (await session.execute(query.limit(1))).first() is not None


async def list_orders(
    *,
    session: AsyncSession,
    unit_id: str | None = None,
    statuses: Sequence[str] = (),
    light: Light | None = None,
    operator: str | None = None,
    caller_number: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[WorkOrder]:
    """Newest first. `unit_id`: only orders dispatched to that unit (any dispatch);
    `operator`: taken by that user; `caller_number`: that caller's."""
    query = select(WorkOrder)
    if operator is not None:
        query = query.where(col(WorkOrder.operator) == operator)
    if caller_number is not None:
        query = query.where(col(WorkOrder.caller_number) == caller_number)
    if unit_id is not None:
        mine = select(col(Dispatch.order_id)).where(col(Dispatch.unit_id) == unit_id)
        query = query.where(col(WorkOrder.id).in_(mine))
    if statuses:
        query = query.where(col(WorkOrder.status).in_(list(statuses)))
    if light is not None:
        query = query.where(col(WorkOrder.light) == light)
    query = query.order_by(col(WorkOrder.created_at).desc(), col(WorkOrder.id).desc())
    return list((await session.execute(query.limit(limit).offset(offset))).scalars().all())


async def public(*, session: AsyncSession, order: WorkOrder) -> WorkOrderPublic:
    return (await publics(session=session, orders=[order]))[0]


async def publics(*, session: AsyncSession, orders: Sequence[WorkOrder]) -> list[WorkOrderPublic]:
    """The orders with their dispatches and pending extension: three queries in all."""
    ids = [o.id for o in orders if o.id is not None]
    if not ids:
        return []
    dispatches: dict[int, list[Dispatch]] = {i: [] for i in ids}
    query = select(Dispatch).where(col(Dispatch.order_id).in_(ids)).order_by(col(Dispatch.id))
    for d in (await session.execute(query)).scalars():
        dispatches[d.order_id].append(d)
    pending_query = select(ExtensionRequest).where(
        col(ExtensionRequest.order_id).in_(ids),
        col(ExtensionRequest.status) == ExtensionStatus.pending,
    )
    pending = {e.order_id: e for e in (await session.execute(pending_query)).scalars()}
    return [to_public(o, dispatches[o.id], pending.get(o.id)) for o in orders if o.id is not None]


def to_public(
    order: WorkOrder, dispatches: Sequence[Dispatch], pending: ExtensionRequest | None
) -> WorkOrderPublic:
    # attributes, not model_dump(): enum columns come back from the store as plain str
    data = {
        name: getattr(order, name) for name in WorkOrderPublic.model_fields if hasattr(order, name)
    }
    data["dispatches"] = [
        DispatchPublic.model_validate(d, from_attributes=True) for d in dispatches
    ]
    data["pending_extension"] = (
        None if pending is None else ExtensionPublic.model_validate(pending, from_attributes=True)
    )
    return WorkOrderPublic.model_validate(data)


# --------------------------------------------------------------------------- clock


class LightRow(NamedTuple):
    id: int
    number: str
    light: str
    yellow_at: datetime | None
    deadline: datetime | None


async def due_for_light(
    *, session: AsyncSession, statuses: Sequence[str], now: datetime, limit: int
) -> list[LightRow]:
    """Open orders whose stored light is behind `now` (green past yellow_at, or not yet
    red past the deadline): only the columns the clock needs, one indexed query."""
    query = (
        select(
            col(WorkOrder.id),
            col(WorkOrder.number),
            col(WorkOrder.light),
            col(WorkOrder.yellow_at),
            col(WorkOrder.deadline),
        )
        .where(
            col(WorkOrder.status).in_(list(statuses)),
            or_(
                (col(WorkOrder.light) == Light.green) & (col(WorkOrder.yellow_at) <= now),
                (col(WorkOrder.light) != Light.red) & (col(WorkOrder.deadline) <= now),
            ),
        )
        .order_by(col(WorkOrder.deadline))
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [LightRow(i, n, lt, y, d) for i, n, lt, y, d in rows if i is not None]


async def due_for_supervision(*, session: AsyncSession, limit: int) -> list[WorkOrder]:
    query = (
        select(WorkOrder)
        .where(col(WorkOrder.supervision_due).is_(True))
        .order_by(col(WorkOrder.deadline))
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())
