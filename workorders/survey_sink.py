"""What a survey callback's result does to the order: the `SurveyResultSink` for workorders.

The callbacks feature (ivr_flows) calls one of three methods when a survey job ends
(`ivr_flows.orders.ResultPublisher`); `OrderSurveySink` turns it into lifecycle steps
taken by a system actor with the centre's rights (`SURVEY_ACTOR`):

* satisfied (满意) or fairly satisfied (基本满意): `survey` (satisfied) then `archive`;
* dissatisfied (不满意): `survey` (dissatisfied) then `reopen` (重办): the order goes back
  to its units as dispatched, and its history says why;
* no result after all attempts (busy, no answer, unreachable, answered without a
  result): one `survey_unanswered` row in the order's history with the reason and the
  job number (so the same job's result delivered again adds nothing), and nothing else.
  The rule: an unanswered survey neither archives nor reopens; the order stays
  `reviewed` for the centre, who may survey by hand or archive it.

The survey step's note says the level and whether the problem was solved
(e.g. "基本满意；已解决"), then "；留言：" and the transcript of a recorded comment, if
any. Each method is resumable: it looks at the order first, so a result delivered again,
or after a crash between the two steps, finishes the work instead of failing (an order
already surveyed is not surveyed twice). A step the order cannot take now (a centre user
archived it by hand meanwhile) is logged and dropped: the sink never raises into the
scheduler.

`survey_callbacks(core)` is the composition: the callbacks feature built with this
sink over `make_service(core)`; it is the one place that knows both features.
"""

from __future__ import annotations

from typing import Final

import structlog

from accounts.roles import Role
from hotline.bus_events import SurveyResult
from hotline.feature import Clock, Core, Feature, utc_now
from ivr_flows.feature import build_with
from workorders import lifecycle as lc
from workorders import repo
from workorders.errors import WorkOrderError
from workorders.feature import make_service
from workorders.models import WorkOrderPublic
from workorders.service import Actor, OrderService

log = structlog.get_logger(__name__)

SURVEY_ACTOR: Final = Actor("ivr-survey", Role.supervisor)
UNANSWERED_STEP: Final = "survey_unanswered"
COMMENT_CHARS: Final = 1000  # of a recorded comment's transcript, in the history note
JOB_TAG: Final = "回访任务 #"  # ends an unanswered note: the same job's result is added once


def describe(result: SurveyResult) -> str:
    """The survey step's note: level; solved; the recorded comment if any (回访结果)."""
    level = result.satisfaction or "未评价"
    solved = {True: "已解决", False: "未解决", None: "未答是否解决"}[result.solved]
    comment = f"；留言：{result.comment[:COMMENT_CHARS]}" if result.comment else ""
    return f"{level}；{solved}{comment}"


class OrderSurveySink:
    def __init__(
        self, service: OrderService, *, clock: Clock = utc_now, actor: Actor = SURVEY_ACTOR
    ) -> None:
        self._svc = service
        self._clock = clock
        self._actor = actor

    async def survey_satisfied(self, result: SurveyResult) -> None:
        await self._settle(result, satisfied=True)

    async def survey_dissatisfied(self, result: SurveyResult) -> None:
        await self._settle(result, satisfied=False)

    async def survey_unanswered(self, result: SurveyResult) -> None:
        note = f"回访未接通或未作答（{result.outcome or 'no outcome'}, "
        note += f"{result.attempts} 次）: {result.reason}"
        if result.job_id is not None:
            note += f" [{JOB_TAG}{result.job_id}]"
        async with self._svc.sessions() as session:
            order = await repo.load_order(session=session, number=result.order_id)
            if order is None or order.id is None:
                log.warning("workorders.survey_unknown_order", order_id=result.order_id)
                return
            if result.job_id is not None and any(
                e.step == UNANSWERED_STEP and e.note.endswith(f" [{JOB_TAG}{result.job_id}]")
                for e in await repo.history(session=session, order_id=order.id)
            ):
                return  # this job's result was applied already (delivered again)
            repo.add_event(
                session=session, order_id=order.id, at=self._clock(), actor=self._actor.username,
                step=UNANSWERED_STEP, note=note,
            )  # fmt: skip
            await session.commit()
        log.info("workorders.survey_unanswered", order_id=result.order_id, reason=result.reason)

    async def _settle(self, result: SurveyResult, *, satisfied: bool) -> None:
        number, actor = result.order_id, self._actor
        try:
            order = await self._svc.get(number, actor=actor)
            if order.status == lc.Status.reviewed:
                order = await self._svc.survey(
                    number, satisfied, actor=actor, note=describe(result)
                )
            if not _surveyed_as(order, satisfied):
                log.warning("workorders.survey_result_dropped", order_id=number,
                            status=order.status, satisfied=satisfied)  # fmt: skip
                return
            if satisfied:
                await self._svc.archive(number, actor=actor, note="回访满意，归档")
            else:
                await self._svc.reopen(
                    number, f"回访不满意，重办（{describe(result)}）", actor=actor
                )
        except WorkOrderError as err:
            log.warning("workorders.survey_step_refused", order_id=number, error=str(err))
            return
        log.info("workorders.survey_applied", order_id=number, satisfied=satisfied)


def _surveyed_as(order: WorkOrderPublic, satisfied: bool) -> bool:
    return order.status == lc.Status.surveyed and order.survey_satisfied is satisfied


def survey_callbacks(core: Core) -> Feature:
    """The callbacks feature, its survey results applied to the orders."""
    return build_with(core, sink=OrderSurveySink(make_service(core), clock=core.clock))
