"""The supervisor wallboard (班长监控), the feature: a live view of the floor, by push.

Theory of operation
-------------------
One `WallboardService` per server keeps the view model (agent_desktop.wallboard_model.
Board). Its task subscribes to every bus event, seeds today's calls from the store once
subscribed (so nothing falls in between; the board ignores what it already has) and
each seat's last state before this start with its time (operators' state history, so the
time in state survives a restart), then applies each event with its envelope time.
Order and survey figures are counts in the store (agent_desktop.wallboard_store): re-read
after any order or survey event, and at least every `REFRESH_SECONDS` (surveys fall due
with time alone). A light event shows at once; the store's list (open orders only, with
their unit's name) replaces the list on the next read.

When the figures may have changed, the service publishes one `system.wallboard` event
(`WallboardFigures`) at most every `PUSH_SECONDS`; the WebSocket hub (agent_desktop.ws)
forwards every bus event to supervisors and admins, so each open wallboard receives it
over the page's one WebSocket and redraws (static/wallboard.js). The page itself is
drawn on the server from the same figures (`GET /wallboard`, installed as
`agent_desktop.views.home.WALLBOARD_PAGE`), and `GET /api/wallboard/figures` (JSON) lets a
page that (re)connects catch up at once.

Nothing here can stop the server: a failing store read is logged and the last figures
stay on the board.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.roles import Role
from agent_desktop import wallboard_store as store
from agent_desktop.render import page
from agent_desktop.routes import Route, RouteTable, only
from agent_desktop.views.home import WALLBOARD_PAGE
from agent_desktop.wallboard_html import board as board_markup
from agent_desktop.wallboard_model import Board, Figures, local_midnight
from hotline.bus import Bus
from hotline.bus_events import (
    OrderStep,
    SupervisionCallResult,
    SurveyResult,
    WallboardFigures,
)
from hotline.feature import Clock, Core, Feature
from telephony.catalogue import Catalogue, CatalogueError, load_catalogue

log = structlog.get_logger("agent_desktop.wallboard")
PUSH_SECONDS = 0.25  # at most four frames a second to every wallboard
REFRESH_SECONDS = 30.0
WATCHERS = only(Role.supervisor, Role.admin)
_SERVICE: web.AppKey[WallboardService] = web.AppKey("wallboard_service")


class WallboardService:
    def __init__(
        self,
        *,
        bus: Bus,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalogue: Catalogue,
        clock: Clock,
        target_seconds: int,
        asr_capacity: int,
    ) -> None:
        self.bus = bus
        self.sessions = sessionmaker
        self.clock = clock
        self.started = clock()
        self.board = Board.start(catalogue, clock(), target_seconds=target_seconds,
                                 asr_capacity=asr_capacity)  # fmt: skip
        self.seeded = asyncio.Event()
        self.pushes = 0
        self._changed = asyncio.Event()
        self._stale = asyncio.Event()

    def figures(self) -> Figures:
        return self.board.figures(self.clock())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._listen())
            tasks.create_task(self._push())
            tasks.create_task(self._refresh())

    async def _listen(self) -> None:
        async with self.bus.subscribe(self.bus.filter()) as sub:
            await self._seed_calls()
            await self._seed_seats()
            self.seeded.set()
            self._changed.set()
            async for message in sub:
                event = message.event
                if isinstance(event, WallboardFigures):
                    continue  # our own (or another server's) output
                try:
                    changed = self.board.apply(event, message.envelope.time)
                except Exception:  # a bug in the board must not stop the server
                    log.exception("wallboard.apply_failed", type=event.type)
                    continue
                if changed:
                    self._changed.set()
                if isinstance(event, OrderStep | SurveyResult | SupervisionCallResult):
                    self._stale.set()

    async def _seed_calls(self) -> None:
        since = local_midnight(self.clock())
        try:
            async with self.sessions() as session:
                records = await store.calls_since(session=session, since=since)
        except (SQLAlchemyError, OSError) as err:
            log.error("wallboard.seed_failed", error=str(err))  # noqa: TRY400
            return
        for record in records:
            self.board.seed_call(record)
        log.info("wallboard.seeded", calls=len(self.board.calls.seen))

    async def _seed_seats(self) -> None:
        try:
            async with self.sessions() as session:
                rows = await store.seat_states(session=session, before=self.started)
        except (SQLAlchemyError, OSError) as err:
            log.error("wallboard.seed_seats_failed", error=str(err))  # noqa: TRY400
            return
        for row in rows:
            self.board.seed_seat(row.extension, row.state, row.at, row.reason)
        log.info("wallboard.seats_seeded", seats=len(rows))

    async def _push(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            figures = self.figures().model_dump(mode="json")
            self.bus.publish(WallboardFigures(figures=figures))
            self.pushes += 1
            await asyncio.sleep(PUSH_SECONDS)  # a rate limit, not a wait for something

    async def _refresh(self) -> None:
        while True:
            self._stale.clear()
            now = self.clock()
            try:
                async with self.sessions() as session:
                    orders, lights = await store.order_lights(session=session)
                    surveys = await store.surveys(session=session, now=now,
                                                  midnight=local_midnight(now))  # fmt: skip
            except (SQLAlchemyError, OSError) as err:
                log.warning("wallboard.store_read_failed", error=str(err))
            else:
                self.board.set_orders(orders, lights)
                self.board.set_surveys(surveys)
                self._changed.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stale.wait(), REFRESH_SECONDS)
            await asyncio.sleep(PUSH_SECONDS)  # a burst of order steps: one read


# ------------------------------------------------------------------------------- web
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    figures = request.app[_SERVICE].figures()
    return page(request, "wallboard.html", title="班长监控", board=board_markup(figures),
                target=figures.target_seconds)  # fmt: skip


async def figures_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(text=request.app[_SERVICE].figures().model_dump_json())


def routes(service: WallboardService) -> RouteTable:
    async def provide(app: web.Application) -> AsyncIterator[None]:
        app[_SERVICE] = service
        app[WALLBOARD_PAGE] = wallboard_page  # /wallboard is declared by the core routes
        yield

    return RouteTable(
        (
            Route(method="GET", path="/api/wallboard/figures", handler=figures_json,
                  roles=WATCHERS, summary="The wallboard's figures now (JSON)",
                  name="wallboard_figures", tags=("wallboard",), response=Figures),
        ),
        cleanup_ctx=(provide,),
    )  # fmt: skip


def asr_capacity(workers: int, max_streams: int) -> int:
    """The recognizer pool's stream capacity as asr.pool reckons it from the settings."""
    return max_streams or 2 * (workers or os.cpu_count() or 1)


def build(core: Core) -> Feature:
    """The wallboard as a server feature (needs the operators feature's /ws to push)."""
    from hotline.app import StartupError  # noqa: PLC0415  (hotline.app imports the builders)

    settings = core.settings
    try:
        catalogue = load_catalogue(settings.calls.catalogue)
    except CatalogueError as err:
        raise StartupError(str(err)) from err
    service = WallboardService(
        bus=core.bus, sessionmaker=core.sessionmaker, catalogue=catalogue, clock=core.clock,
        target_seconds=settings.calls.answered_within_seconds,
        asr_capacity=asr_capacity(settings.asr.workers, settings.asr.max_streams),
    )  # fmt: skip
    return Feature(name="wallboard", routes=routes(service), tasks=(service.run,))
