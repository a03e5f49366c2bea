"""Read what a report needs from the store (SQLite or PostgreSQL): the thin I/O shell.

`load_inputs(sessionmaker, period, ...) -> ReportInputs` runs a handful of range queries
on indexed timestamp columns (orders by `created_at`, calls by `entered_at`, extension
requests by `asked_at`, transcripts through their calls) and calls
`workorders.rates.compute_rates` once for the period and once for each red-zone month.
Only the columns a report reads are selected; rows become `reports.model` dataclasses
here, at the boundary, and nothing else in the package touches the store.

Datetimes come back aware (UTC) on both stores: sqlmodel's datetime column type adds
the zone SQLite does not keep.

Exceptions: `ReportStoreError` wraps a store failure (the message names the period).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from asr.models import TranscriptSegment
from reports.model import ExtensionRow, MonthInputs, OrderRow, ReportInputs, TranscriptRow
from reports.periods import Period
from reports.ranking import RED_ZONE_MONTHS
from telephony.call_models import CallRecord, CallRecordPublic
from workorders.models import ExtensionRequest, ResponsibilityEntry, Unit, WorkOrder
from workorders.rates import compute_rates

Sessions = async_sessionmaker[AsyncSession]
TEXT_CHARS = 2000  # hot words read the start of each order's content


class ReportStoreError(Exception):
    """The store could not give what a report needs."""


def _in(column: Any, period: Period) -> Any:
    return sa.and_(column >= period.start_utc, column < period.end_utc)


# What each use of the orders reads: all of it for the period itself, the words and the
# ranking columns for the period before, the ranking columns for a red-zone month.
_RANKING = ("number", "created_at", "kind", "lead_unit_id", "replied_at", "deadline")
PARTS: dict[str, tuple[str, ...]] = {
    "all": (*_RANKING, "category", "title", "content", "line", "caller_number", "mode",
            "call_linkedid"),
    "topics": (*_RANKING, "category", "title", "content"),
    "ranking": _RANKING,
}  # fmt: skip


def _order_column(name: str) -> Any:
    if name == "content":  # hot words read the start of each order's content
        return sa.func.substr(col(WorkOrder.content), 1, TEXT_CHARS)
    return col(getattr(WorkOrder, name))


async def order_rows(session: AsyncSession, period: Period, *, part: str = "all") -> list[OrderRow]:
    """Orders accepted in the period, with the columns `PARTS[part]` names.

    Datetimes come back aware (UTC) from sqlmodel's column type on both stores.
    """
    names = PARTS[part]
    query = sa.select(*(_order_column(n) for n in names)).where(
        _in(col(WorkOrder.created_at), period)
    )
    return [OrderRow(**dict(zip(names, r, strict=True))) for r in await session.execute(query)]


async def call_rows(session: AsyncSession, period: Period) -> list[CallRecordPublic]:
    c = CallRecord
    query = sa.select(
        col(c.id), col(c.uniqueid), col(c.linkedid), col(c.line), col(c.queue),
        col(c.caller_number), col(c.entered_at), col(c.answered_at), col(c.ended_at),
        col(c.outcome),
    ).where(_in(col(c.entered_at), period))  # fmt: skip
    return [_call(r) for r in (await session.execute(query)).all()]


def _call(r: Any) -> CallRecordPublic:
    # Built without validation: the store's own rows, tens of thousands in a month.
    return CallRecordPublic.model_construct(
        id=r[0],
        uniqueid=r[1],
        linkedid=r[2],
        line=r[3],
        queue=r[4],
        caller_number=r[5],
        entered_at=r[6],
        answered_at=r[7],
        ended_at=r[8],
        route={},  # the routing decision: reports count by line, never by queue
        outcome=r[9],
        dnis=None,
        caller_name=None,
        operator_extension=None,
        transfers=[],
    )


async def offered_calls(session: AsyncSession, period: Period) -> int:
    """Calls offered in the period (as `live_figures` counts: not the hold-context ones)."""
    c = CallRecord
    query = sa.select(sa.func.count()).where(
        _in(col(c.entered_at), period), col(c.outcome) != "hung_up_in_hold"
    )
    return int((await session.execute(query)).scalar_one())


async def transcript_rows(session: AsyncSession, period: Period) -> list[TranscriptRow]:
    """What callers said on the period's calls, one row per call."""
    calls = sa.select(col(CallRecord.linkedid)).where(_in(col(CallRecord.entered_at), period))
    seg = TranscriptSegment
    query = (
        sa.select(col(seg.call_id), col(seg.text))
        .where(col(seg.channel) == "caller", col(seg.call_id).in_(calls))
        .order_by(col(seg.call_id), col(seg.segment))
    )
    said: dict[str, list[str]] = defaultdict(list)
    for call_id, text in (await session.execute(query)).all():
        said[call_id].append(text)
    return [TranscriptRow(call_id=k, text=" ".join(v)) for k, v in said.items()]


async def extension_rows(session: AsyncSession, period: Period) -> list[ExtensionRow]:
    e = ExtensionRequest
    query = sa.select(col(e.unit_id), col(e.status), col(e.asked_at)).where(
        _in(col(e.asked_at), period)
    )
    return [
        ExtensionRow(unit_id=u, status=str(s), asked_at=a)
        for u, s, a in (await session.execute(query)).all()
    ]


async def vocabulary(session: AsyncSession) -> frozenset[str]:
    """The responsibility catalogue's cue words: the hotline's own words for problems."""
    rows = (await session.execute(sa.select(col(ResponsibilityEntry.keywords)))).scalars()
    return frozenset(word for keywords in rows for word in keywords.split())


async def unit_names(session: AsyncSession) -> dict[str, str]:
    query = sa.select(col(Unit.id), col(Unit.name), col(Unit.short_name))
    return {i: (short or name or i) for i, name, short in (await session.execute(query)).all()}


async def load_inputs(
    sessionmaker: Sessions,
    period: Period,
    *,
    now: datetime,
    line_names: Mapping[str, str] | None = None,
    answered_within_seconds: int = 15,
    key_caller_threshold: int = 5,
    known_months: Mapping[Period, MonthInputs] | None = None,
) -> ReportInputs:
    """Everything a report on `period` reads; `known_months` are red-zone months the
    caller read recently (they are not read again)."""
    previous = period.previous()
    try:
        async with sessionmaker() as session:
            orders = await order_rows(session, period)
            calls = await call_rows(session, period)
            transcripts = await transcript_rows(session, period)
            extensions = await extension_rows(session, period)
            previous_orders = await order_rows(session, previous, part="topics")
            previous_transcripts = await transcript_rows(session, previous)
            previous_calls = await offered_calls(session, previous)
            names = await unit_names(session)
            words = await vocabulary(session)
        rates = await compute_rates(sessionmaker, period.start_utc, period.end_utc)
        # A monthly bulletin's month and the month before are red-zone months too:
        # what was read for them already is not read again.
        known = {period: (rates, orders), previous: (None, previous_orders)}
        months: list[MonthInputs] = []
        for month in period.months_back(RED_ZONE_MONTHS):
            if known_months and month in known_months:
                months.append(known_months[month])
                continue
            month_rates, month_orders = known.get(month, (None, None))
            if month_rates is None:
                month_rates = await compute_rates(sessionmaker, month.start_utc, month.end_utc)
            if month_orders is None:
                async with sessionmaker() as session:
                    month_orders = await order_rows(session, month, part="ranking")
            months.append(MonthInputs(period=month, rates=month_rates, orders=month_orders))
    except SQLAlchemyError as err:
        raise ReportStoreError(
            f"report {period.first}..{period.last}: the store failed: {err}"
        ) from err
    return ReportInputs(
        period=period,
        generated_at=now,
        orders=orders,
        calls=calls,
        rates=rates,
        extensions=extensions,
        transcripts=transcripts,
        previous_orders=previous_orders,
        previous_transcripts=previous_transcripts,
        previous_calls_offered=previous_calls,
        months=months,
        unit_names=names,
        line_names=dict(line_names or {}),
        vocabulary=words,
        answered_within_seconds=answered_within_seconds,
        key_caller_threshold=key_caller_threshold,
    )
