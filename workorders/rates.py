"""Rates from stored data, for any period [start, end): what a centre is judged by.

* acknowledgement rate (签收率): dispatches made in the period that the unit acknowledged;
* on-time resolution rate (按期办结率): orders accepted in the period and replied, whose
  reply came by their deadline (as it stood, extensions included);
* returns (退单) per unit: dispatches returned in the period;
* dispatch time: call end → dispatch for phone orders accepted in the period, median
  and 90th percentile (nearest rank), the 接交一体 measure;
* satisfaction (满意率): surveyed orders accepted in the period that were satisfied;
* ``survey``: the survey callbacks finished in the period (`workorders.survey_rates`):
  response (响应率), satisfaction (满意率) and resolution (解决率) rates, per unit and line.

A rate with nothing to count is None, never 0 (an empty week is not a bad week).
Pure arithmetic (`summarise`) is separate from the queries (`compute_rates`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from workorders.models import Dispatch, WorkOrder
from workorders.survey_rates import SurveyRates, survey_rates


class UnitRates(BaseModel):
    unit_id: str
    dispatched: int
    acknowledged: int
    replied: int
    returns: int
    acknowledgement_rate: float | None


class Rates(BaseModel):
    start: datetime
    end: datetime
    orders: int
    dispatched: int
    resolved_on_call: int
    acknowledgement_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    dispatch_seconds_median: float | None
    dispatch_seconds_p90: float | None
    units: list[UnitRates]
    survey: SurveyRates


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


async def compute_rates(
    sessionmaker: async_sessionmaker[AsyncSession], start: datetime, end: datetime
) -> Rates:
    if end <= start:
        raise ValueError("the period's end must be after its start")
    async with sessionmaker() as session:
        orders = (
            await session.execute(
                select(
                    col(WorkOrder.mode),
                    col(WorkOrder.dispatched_at),
                    col(WorkOrder.dispatch_seconds),
                    col(WorkOrder.replied_at),
                    col(WorkOrder.deadline),
                    col(WorkOrder.survey_satisfied),
                ).where(col(WorkOrder.created_at) >= start, col(WorkOrder.created_at) < end)
            )
        ).all()
        made = (
            await session.execute(
                select(
                    col(Dispatch.unit_id), col(Dispatch.acknowledged_at), col(Dispatch.replied_at)
                ).where(col(Dispatch.dispatched_at) >= start, col(Dispatch.dispatched_at) < end)
            )
        ).all()
        returned = (
            await session.execute(
                select(col(Dispatch.unit_id)).where(
                    col(Dispatch.returned_at) >= start, col(Dispatch.returned_at) < end
                )
            )
        ).all()
        surveys = await survey_rates(session=session, start=start, end=end)
    per_unit: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for unit_id, acknowledged_at, replied_at in made:
        counts = per_unit[unit_id]
        counts[0] += 1
        counts[1] += acknowledged_at is not None
        counts[2] += replied_at is not None
    for (unit_id,) in returned:
        per_unit[unit_id][3] += 1
    units = [
        UnitRates(
            unit_id=u,
            dispatched=c[0],
            acknowledged=c[1],
            replied=c[2],
            returns=c[3],
            acknowledgement_rate=ratio(c[1], c[0]),
        )
        for u, c in sorted(per_unit.items())
    ]
    resolved = [(r, d) for _, _, _, r, d, _ in orders if r is not None and d is not None]
    surveyed = [s for *_, s in orders if s is not None]
    seconds = [s for _, dispatched, s, *_ in orders if dispatched is not None and s is not None]
    return Rates(
        start=start,
        end=end,
        orders=len(orders),
        dispatched=sum(1 for o in orders if o[1] is not None),
        resolved_on_call=sum(1 for o in orders if o[0] == "on_call"),
        acknowledgement_rate=ratio(
            sum(u.acknowledged for u in units), sum(u.dispatched for u in units)
        ),
        on_time_rate=ratio(sum(1 for r, d in resolved if r <= d), len(resolved)),
        satisfaction_rate=ratio(sum(surveyed), len(surveyed)),
        dispatch_seconds_median=percentile(seconds, 0.5),
        dispatch_seconds_p90=percentile(seconds, 0.9),
        units=units,
        survey=surveys,
    )
