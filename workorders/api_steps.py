"""The work-order step routes: POST /api/orders/{number}/{action}, one per lifecycle step.

Each route reads its body model (if any), calls the one `OrderService` method of its
step as the signed-in actor, and answers the order (`workorders.api_calls.call` maps the
service's errors). The table below is the whole list: action, roles, body, summary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from accounts.roles import Role
from agent_desktop.errors import read_json
from agent_desktop.routes import Route
from workorders import lifecycle as lc
from workorders.api_calls import CENTRE, NUMBER, TAKERS, UNITS, View, actor_of, b, call
from workorders.models import WorkOrderPublic
from workorders.schemas import (
    DispatchIn,
    ExtensionIn,
    GrantIn,
    MergeIn,
    NoteIn,
    ReasonIn,
    SurveyIn,
    TextIn,
)
from workorders.service import Actor, OrderService


def step_routes(svc: OrderService) -> list[Route]:
    def step(
        model: type[BaseModel] | None,
        act: Callable[[str, Actor, BaseModel | None], Awaitable[WorkOrderPublic]],
    ) -> View:
        async def view(request: web.Request) -> web.StreamResponse:
            body = await read_json(request, model) if model is not None else None
            return await call(act(request.match_info["number"], actor_of(request), body))

        return view

    def plan(body: BaseModel | None) -> list[lc.Assignment]:
        return [a.value() for a in b(body, DispatchIn).dispatch]

    actions: list[tuple[str, frozenset[Role], type[BaseModel] | None, str, View]] = [
        (
            "dispatch",
            TAKERS,
            DispatchIn,
            "Dispatch an accepted order (直派/双派/并行)",
            step(DispatchIn, lambda n, a, x: svc.dispatch(n, plan(x), actor=a)),
        ),
        (
            "resolve",
            TAKERS,
            NoteIn,
            "Resolve an accepted order on the call (即办)",
            step(NoteIn, lambda n, a, x: svc.resolve_on_call(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "acknowledge",
            UNITS,
            None,
            "The unit acknowledges its part (签收)",
            step(None, lambda n, a, x: svc.acknowledge(n, actor=a)),
        ),
        (
            "reply",
            UNITS,
            TextIn,
            "The unit replies: what it did (回复/办结)",
            step(TextIn, lambda n, a, x: svc.reply(n, b(x, TextIn).text, actor=a)),
        ),
        (
            "return",
            UNITS,
            ReasonIn,
            "The unit returns its part to the centre (退单)",
            step(ReasonIn, lambda n, a, x: svc.return_order(n, b(x, ReasonIn).reason, actor=a)),
        ),
        (
            "extension",
            UNITS,
            ExtensionIn,
            "The unit asks for an extension (延期申请)",
            step(
                ExtensionIn,
                lambda n, a, x: svc.ask_extension(
                    n, b(x, ExtensionIn).until, b(x, ExtensionIn).reason, actor=a
                ),
            ),
        ),
        (
            "extension/grant",
            CENTRE,
            GrantIn,
            "Grant the pending extension: moves the deadline",
            step(
                GrantIn,
                lambda n, a, x: svc.grant_extension(
                    n, actor=a, until=b(x, GrantIn).until, note=b(x, GrantIn).note
                ),
            ),
        ),
        (
            "extension/refuse",
            CENTRE,
            NoteIn,
            "Refuse the pending extension",
            step(NoteIn, lambda n, a, x: svc.refuse_extension(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "redispatch",
            TAKERS,
            DispatchIn,
            "Re-dispatch a returned order (转派/改派)",
            step(
                DispatchIn,
                lambda n, a, x: svc.redispatch(
                    n, plan(x), actor=a, withdraw=b(x, DispatchIn).withdraw
                ),
            ),
        ),
        (
            "review",
            CENTRE,
            NoteIn,
            "Approve the units' reply (审核)",
            step(NoteIn, lambda n, a, x: svc.review(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "send-back",
            CENTRE,
            ReasonIn,
            "Send the reply back to the units (审核退回)",
            step(ReasonIn, lambda n, a, x: svc.send_back(n, b(x, ReasonIn).reason, actor=a)),
        ),
        (
            "survey",
            CENTRE,
            SurveyIn,
            "Record the caller's survey (回访)",
            step(
                SurveyIn,
                lambda n, a, x: svc.survey(
                    n, b(x, SurveyIn).satisfied, actor=a, note=b(x, SurveyIn).note
                ),
            ),
        ),
        (
            "reopen",
            CENTRE,
            ReasonIn,
            "Reopen after a dissatisfied survey (重办)",
            step(ReasonIn, lambda n, a, x: svc.reopen(n, b(x, ReasonIn).reason, actor=a)),
        ),
        (
            "archive",
            CENTRE,
            NoteIn,
            "Archive a reviewed or surveyed order (归档)",
            step(NoteIn, lambda n, a, x: svc.archive(n, actor=a, note=b(x, NoteIn).note)),
        ),
        (
            "merge",
            TAKERS,
            MergeIn,
            "Merge a repeat request into another order (并单)",
            step(MergeIn, lambda n, a, x: svc.merge(n, b(x, MergeIn).into, actor=a)),
        ),
    ]
    table: list[Route] = []
    for action, roles, body, summary, view in actions:
        table.append(
            Route(
                method="POST",
                path=f"/api/orders/{NUMBER}/{action}",
                handler=view,
                roles=roles,
                summary=summary,
                name="orders_" + action.replace("/", "_").replace("-", "_"),
                tags=("orders",),
                body=body,
                response=WorkOrderPublic,
            )
        )
    return table
