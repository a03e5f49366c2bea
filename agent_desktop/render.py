"""Server-rendered HTML with the standard library, every dynamic value escaped.

Templates are `string.Template` files in agent_desktop/templates/ (`$name` placeholders).
`Templates.render` HTML-escapes every value unless it is `Markup` (already-safe HTML that
this code built itself, such as another rendered template). A missing placeholder value
raises `KeyError` at render time rather than leaving `$name` on a page.

`page()` renders a body template inside base.html with the signed-in user's name, the
logout form and its CSRF token, and the pages their role may open (`NAV_BY_ROLE`; only
those this server actually serves, so a test app with a few features links nothing dead).
"""

from __future__ import annotations

import html
from importlib.resources.abc import Traversable
from string import Template

from aiohttp import web

from accounts.roles import Role
from agent_desktop.keys import CSRF_FIELD, PRINCIPAL, TEMPLATES

# The pages each role works in, in the order people use them.
NAV_BY_ROLE: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.operator: (("/desk", "坐席"),),
    Role.supervisor: (("/wallboard", "监控大屏"), ("/desk", "坐席"), ("/reports", "报表")),
    Role.unit_handler: (("/portal/orders", "工单"),),
    Role.admin: (("/wallboard", "监控大屏"), ("/reports", "报表"), ("/admin", "管理")),
}


class Markup(str):
    """A string of HTML that is safe to insert as is."""

    __slots__ = ()


def escape(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


class Templates:
    """Loads each template file once (on first use) from `directory`."""

    def __init__(self, directory: Traversable) -> None:
        self._directory = directory
        self._cache: dict[str, Template] = {}

    def _template(self, name: str) -> Template:
        template = self._cache.get(name)
        if template is None:
            template = Template(self._directory.joinpath(name).read_text(encoding="utf-8"))
            self._cache[name] = template
        return template

    def render(self, name: str, **values: object) -> Markup:
        escaped = {key: escape(value) for key, value in values.items()}
        return Markup(self._template(name).substitute(escaped))


def page(
    request: web.Request,
    template: str,
    *,
    title: str,
    status: int = 200,
    **values: object,
) -> web.Response:
    """A full HTML page: `template` rendered into the base layout."""
    templates = request.app[TEMPLATES]
    principal = request.get(PRINCIPAL)
    if principal is not None and principal.csrf_token is not None:
        user = principal.user
        account = templates.render(
            "account.html",
            nav=_nav(request, user.role),
            display_name=user.display_name or user.username,
            csrf_field=CSRF_FIELD,
            csrf_token=principal.csrf_token,
        )
    else:
        account = Markup("")
    body = templates.render(template, **values)
    text = templates.render("base.html", title=title, account=account, body=body)
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    # Pages show personal data and carry CSRF tokens: never cache them, never frame them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _served(app: web.Application) -> set[str]:
    return {resource.canonical for resource in app.router.resources()}


def _nav(request: web.Request, role: Role) -> Markup:
    served = _served(request.app)
    links = []
    for path, label in NAV_BY_ROLE.get(role, ()):
        if path not in served:
            continue
        current = ' aria-current="page"' if request.path == path else ""
        links.append(f'<a href="{escape(path)}"{current}>{escape(label)}</a>')
    if not links:
        return Markup("")
    return Markup('<nav class="pages" aria-label="页面">' + "".join(links) + "</nav>")
