"""What the wallboard reads from the store: today's calls, seat states, order lights,
survey jobs.

Read-only queries for the wallboard's view model (agent_desktop.wallboard_model). Calls
come through telephony.call_repo; orders and survey jobs are counted in SQL (the
wallboard needs counts, not rows). Errors are the store's own (SQLAlchemyError): the
caller logs them and keeps the last figures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from agent_desktop.wallboard_model import (
    RECENT_LIGHTS,
    LightChange,
    OrderFigures,
    SurveyFigures,
)
from ivr_flows.models import CallbackJob, JobKind, JobState
from telephony import call_repo
from telephony.call_models import CallRecordPublic
from telephony.operator_models import OperatorStateChange, OperatorStateChangePublic
from workorders.lifecycle import OPEN_STATUSES
from workorders.models import Light, Unit, WorkOrder

MAX_CALLS = 200_000  # a day of a very busy centre


async def calls_since(*, session: AsyncSession, since: datetime) -> list[CallRecordPublic]:
    return await call_repo.list_calls(session=session, since=since, limit=MAX_CALLS)


async def seat_states(
    *, session: AsyncSession, before: datetime
) -> list[OperatorStateChangePublic]:
    """Each seat's newest state change stored before `before` (this server's start: the
    rows it writes itself come on the bus too)."""
    newest = (
        select(func.max(OperatorStateChange.id))
        .where(col(OperatorStateChange.at) < before)
        .group_by(col(OperatorStateChange.extension))
    )
    rows = await session.scalars(
        select(OperatorStateChange).where(col(OperatorStateChange.id).in_(newest))
    )
    return [OperatorStateChangePublic.model_validate(r, from_attributes=True) for r in rows]


async def order_lights(*, session: AsyncSession) -> tuple[OrderFigures, list[LightChange]]:
    """Open orders by light, and the latest ones that turned yellow or red (unit by name)."""
    open_ = [s.value for s in OPEN_STATUSES]
    rows = await session.execute(
        select(col(WorkOrder.light), func.count())
        .where(col(WorkOrder.status).in_(open_))
        .group_by(WorkOrder.light)
    )
    counts = {str(light): int(n) for light, n in rows.all()}
    recent = await session.execute(
        select(col(WorkOrder.number), col(WorkOrder.light), col(WorkOrder.light_changed_at),
               col(WorkOrder.lead_unit_id), col(Unit.short_name), col(Unit.name))
        .outerjoin(Unit, col(Unit.id) == col(WorkOrder.lead_unit_id))
        .where(col(WorkOrder.status).in_(open_),
               col(WorkOrder.light).in_([Light.yellow.value, Light.red.value]),
               col(WorkOrder.light_changed_at).is_not(None))
        .order_by(col(WorkOrder.light_changed_at).desc())
        .limit(RECENT_LIGHTS)
    )  # fmt: skip
    lights = [
        LightChange(number=number, light=str(light), at=at, unit=short or name or unit)
        for number, light, at, unit, short, name in recent.all()
    ]
    figures = OrderFigures(
        red=counts.get(Light.red.value, 0),
        yellow=counts.get(Light.yellow.value, 0),
        open=sum(counts.values()),
    )
    return figures, lights


async def surveys(*, session: AsyncSession, now: datetime, midnight: datetime) -> SurveyFigures:
    """Survey callback jobs (回访): due now, calling, scheduled later, finished today."""
    survey = col(CallbackJob.kind) == JobKind.survey.value
    state = col(CallbackJob.state)

    async def count(*where: object) -> int:
        query = select(func.count()).select_from(CallbackJob).where(survey, *where)  # type: ignore[arg-type]
        return int((await session.execute(query)).scalar_one())

    today = col(CallbackJob.finished_at) >= midnight
    return SurveyFigures(
        due=await count(state == JobState.pending.value, col(CallbackJob.due_at) <= now),
        scheduled=await count(state == JobState.pending.value, col(CallbackJob.due_at) > now),
        calling=await count(state == JobState.calling.value),
        done_today=await count(state == JobState.done.value, today),
        failed_today=await count(state == JobState.failed.value, today),
    )
