"""Home pages per role, and `/` sending each user to theirs.

The unit handler's home `/portal` sends on to the unit portal's inbox (`/portal/orders`,
workorders.portal). `/wallboard` is declared here (core routes) but drawn by the
wallboard feature (agent_desktop.wallboard), which installs its page handler under
`WALLBOARD_PAGE` when the server runs it; without that feature it is a placeholder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from accounts.roles import Role
from agent_desktop.keys import PRINCIPAL
from agent_desktop.render import page

HOME_BY_ROLE: dict[Role, str] = {
    Role.operator: "/desk",
    Role.supervisor: "/wallboard",
    Role.unit_handler: "/portal",  # a core route: sends on to the portal's inbox
    Role.admin: "/admin",
}
PORTAL_INBOX = "/portal/orders"  # workorders.portal
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WALLBOARD_PAGE: web.AppKey[PageHandler] = web.AppKey("wallboard_page")
ROLE_LABEL: dict[Role, str] = {
    Role.operator: "话务员",
    Role.supervisor: "班长",
    Role.unit_handler: "承办单位",
    Role.admin: "管理员",
}


def home_for(role: Role) -> str:
    return HOME_BY_ROLE[role]


async def root(request: web.Request) -> web.StreamResponse:
    principal = request[PRINCIPAL]
    if principal is None:  # the middleware lets only signed-in users reach this
        raise web.HTTPSeeOther("/login")
    raise web.HTTPSeeOther(home_for(principal.user.role))


def _home(request: web.Request, heading: str, placeholder: str) -> web.Response:
    principal = request[PRINCIPAL]
    user = principal.user if principal else None
    return page(
        request,
        "home.html",
        title=heading,
        heading=heading,
        role_label=ROLE_LABEL[user.role] if user else "",
        username=(user.display_name or user.username) if user else "",
        placeholder=placeholder,
    )


async def desk(request: web.Request) -> web.StreamResponse:
    # Seat controls and the screen pop (issue 3: templates/desk.html, static/operator.js).
    principal = request[PRINCIPAL]
    user = principal.user if principal else None
    return page(
        request,
        "desk.html",
        title="话务员工作台",
        heading="话务员工作台",
        role_label=ROLE_LABEL[user.role] if user else "",
        username=(user.display_name or user.username) if user else "",
        extension=(user.sip_extension or "") if user else "",
        placeholder="工单受理将在这里显示。",
    )


async def wallboard(request: web.Request) -> web.StreamResponse:
    draw = request.app.get(WALLBOARD_PAGE)
    if draw is not None:
        return await draw(request)
    return _home(request, "班长监控", "队列、坐席状态与接通率将在这里显示。")


async def portal(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(PORTAL_INBOX)


async def admin(request: web.Request) -> web.StreamResponse:
    return _home(request, "管理", "用户、角色、承办单位与 API 令牌的管理将在这里显示。")
