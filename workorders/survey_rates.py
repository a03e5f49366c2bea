"""Survey rates (回访) from stored data, for any period [start, end), per unit and per line.

What counts: every survey callback that *finished* in the period (the callbacks
feature's ``callback_jobs`` rows of kind ``survey``, state ``done`` or ``failed``, by
``finished_at``); one still pending or being called is not counted yet. A re-surveyed
order (reopened, then surveyed again) counts once per survey.

* attempted: finished survey callbacks;
* answered: those that got an answer (outcome ``answered_result``);
* response rate (响应率) = answered ÷ attempted;
* satisfaction rate (满意率) = (满意 + 基本满意) ÷ answered;
* resolution rate (解决率) = solved ("yes" to "was it solved") ÷ answered.

A survey belongs to its order's lead unit (主办; "" when the order has none, e.g. a
parallel dispatch) and to the line the citizen dialled (``work_orders.line``). The jobs
table is read through a lightweight table clause, read-only: workorders does not import
the callbacks feature (the tables are the contract, as the callbacks side reads ours).
A rate with nothing to count is None. `summarise` is pure; `survey_rates` queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from workorders.models import WorkOrder

SATISFIED = frozenset({"满意", "基本满意"})
ANSWERED = "answered_result"

_jobs = sa.table(
    "callback_jobs",
    sa.column("kind", sa.String),
    sa.column("order_id", sa.String),
    sa.column("state", sa.String),
    sa.column("outcome", sa.String),
    sa.column("result", sa.JSON),
    sa.column("finished_at", sa.DateTime(timezone=True)),
)


@dataclass(frozen=True, slots=True)
class SurveyRow:
    """One finished survey callback, with its order's unit and line."""

    unit_id: str
    line: str
    answered: bool
    satisfied: bool
    solved: bool


class SurveyCounts(BaseModel):
    attempted: int = 0
    answered: int = 0
    satisfied: int = 0  # 满意 + 基本满意
    solved: int = 0
    response_rate: float | None = None  # 响应率
    satisfaction_rate: float | None = None  # 满意率
    resolution_rate: float | None = None  # 解决率


class UnitSurvey(SurveyCounts):
    unit_id: str


class LineSurvey(SurveyCounts):
    line: str


class SurveyRates(SurveyCounts):
    units: list[UnitSurvey] = []
    lines: list[LineSurvey] = []


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _counts(rows: list[SurveyRow]) -> dict[str, Any]:
    attempted = len(rows)
    answered = sum(r.answered for r in rows)
    satisfied = sum(r.answered and r.satisfied for r in rows)
    solved = sum(r.answered and r.solved for r in rows)
    return {
        "attempted": attempted,
        "answered": answered,
        "satisfied": satisfied,
        "solved": solved,
        "response_rate": _ratio(answered, attempted),
        "satisfaction_rate": _ratio(satisfied, answered),
        "resolution_rate": _ratio(solved, answered),
    }


def summarise(rows: Iterable[SurveyRow]) -> SurveyRates:
    every = list(rows)
    by_unit: dict[str, list[SurveyRow]] = defaultdict(list)
    by_line: dict[str, list[SurveyRow]] = defaultdict(list)
    for row in every:
        by_unit[row.unit_id].append(row)
        by_line[row.line].append(row)
    return SurveyRates(
        **_counts(every),
        units=[UnitSurvey(unit_id=u, **_counts(r)) for u, r in sorted(by_unit.items())],
        lines=[LineSurvey(line=n, **_counts(r)) for n, r in sorted(by_line.items())],
    )


def _row(unit_id: str | None, line: str | None, outcome: str | None, result: Any) -> SurveyRow:
    answers = result if isinstance(result, dict) else {}
    return SurveyRow(
        unit_id=unit_id or "",
        line=line or "",
        answered=outcome == ANSWERED,
        satisfied=answers.get("satisfaction") in SATISFIED,
        solved=answers.get("solved") == "yes",
    )


async def survey_rates(*, session: AsyncSession, start: datetime, end: datetime) -> SurveyRates:
    query = (
        sa.select(col(WorkOrder.lead_unit_id), col(WorkOrder.line), _jobs.c.outcome, _jobs.c.result)
        .select_from(_jobs.outerjoin(WorkOrder, col(WorkOrder.number) == _jobs.c.order_id))
        .where(
            _jobs.c.kind == "survey",
            _jobs.c.state.in_(("done", "failed")),
            _jobs.c.finished_at >= start,
            _jobs.c.finished_at < end,
        )
    )
    rows = (await session.execute(query)).all()
    return summarise(_row(*r) for r in rows)
