"""How a work-order view calls the service: who acts, the body, the errors as HTTP.

Shared by `workorders.api` (take, list, read) and `workorders.api_steps` (one route per
step). `call` runs one service action and turns its result into JSON, and the service's
errors into the JSON error envelope: OrderNotFound → 404, NotAllowed → 403,
InvalidRequest → 400, StepRefused → 409 (code `step_refused`, the message says why),
OrderExistsForCall → 409 (code `order_exists_for_call`, with the existing order's number
in `error.order` so the desk can open it instead of showing an error).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from accounts.roles import Role
from agent_desktop.errors import ApiError, BadRequest, Forbidden, NotFound
from agent_desktop.keys import PRINCIPAL
from agent_desktop.routes import only
from workorders import errors
from workorders.models import WorkOrderPublic
from workorders.service import Actor

NUMBER = r"{number:[0-9A-Za-z]{1,12}-[0-9]{8}-[0-9]{4,6}}"
TAKERS = only(Role.operator, Role.supervisor, Role.admin)
CENTRE = only(Role.supervisor, Role.admin)
UNITS = only(Role.unit_handler)
M = TypeVar("M", bound=BaseModel)
View = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Conflict(ApiError):
    status = 409
    code = "step_refused"


def actor_of(request: web.Request) -> Actor:
    principal = request[PRINCIPAL]
    if principal is None:  # the middleware lets only signed-in callers reach these views
        raise web.HTTPUnauthorized
    return Actor.of(principal.user)


def as_json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)


def _exists(err: errors.OrderExistsForCall) -> web.Response:
    body = {"error": {"code": "order_exists_for_call", "message": str(err), "order": err.number}}
    return web.json_response(body, status=409)


async def call(action: Awaitable[WorkOrderPublic], status: int = 200) -> web.Response:
    try:
        return as_json(await action, status)
    except errors.OrderExistsForCall as err:
        return _exists(err)
    except errors.OrderNotFound as err:
        raise NotFound(str(err)) from err
    except errors.NotAllowed as err:
        raise Forbidden(str(err)) from err
    except errors.InvalidRequest as err:
        raise BadRequest(str(err), code="invalid_order") from err
    except errors.StepRefused as err:
        raise Conflict(str(err)) from err


def b(body: BaseModel | None, kind: type[M]) -> M:
    """The parsed body as its model (the route declared it, `read_json` validated it)."""
    assert isinstance(body, kind)
    return body
