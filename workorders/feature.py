"""The work-orders feature: REST routes, the responsibility catalogue, the SLA clock.

`build(core)` reads the city's SLA preset and the catalogue file (settings section
`[workorders]`), and returns the routes of `workorders.api` plus one task: the SLA
clock (`workorders.clock`). The catalogue is upserted into the store when the web app
starts (a cleanup context, so units exist before the first request is served).

Other features that need the service (the unit portal, the desktop) call
`make_service(core)`: the service keeps no state of its own beyond its settings, so
several instances over one store agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from agent_desktop.routes import RouteTable
from hotline.feature import Core, Feature
from workorders import api, repo
from workorders.catalogue import DEFAULT_CATALOGUE, load_catalogue
from workorders.clock import BusSupervision, SlaClock, SupervisionRequester
from workorders.service import OrderService
from workorders.sla import CHINA, DEFAULT_PRESETS, SlaError, SlaPolicy, load_presets

log = structlog.get_logger(__name__)


def city_policy(core: Core) -> SlaPolicy:
    settings = core.settings.workorders
    presets = load_presets(settings.sla_presets_path or DEFAULT_PRESETS)
    try:
        policy = presets[settings.sla_preset]
    except KeyError as err:
        raise SlaError(
            f"workorders.sla_preset {settings.sla_preset!r} is not a preset "
            f"(the presets file has: {', '.join(presets)})"
        ) from err
    missing = policy.calendar.missing_years(core.clock().astimezone(CHINA).date())
    if missing:
        log.warning("sla.calendar_missing_years", years=missing,
                    hint="add the State Council holiday notice for these years to the presets")
    return policy


def make_service(core: Core, policy: SlaPolicy | None = None) -> OrderService:
    return OrderService(
        sessionmaker=core.sessionmaker,
        publisher=core.bus,
        policy=policy or city_policy(core),
        clock=core.clock,
        number_prefix=core.settings.workorders.number_prefix,
    )


def build(core: Core, supervision: SupervisionRequester | None = None) -> Feature:
    settings = core.settings.workorders
    service = make_service(core)
    catalogue = load_catalogue(settings.catalogue_path or DEFAULT_CATALOGUE)
    clock = SlaClock(
        sessionmaker=core.sessionmaker,
        publisher=core.bus,
        supervision=supervision or BusSupervision(core.bus),
        clock=core.clock,
        interval=settings.clock_interval,
    )

    async def sync_catalogue(_app: web.Application) -> AsyncIterator[None]:
        if settings.load_catalogue:
            async with core.sessionmaker() as session:
                units, added = await repo.sync_catalogue(session=session, catalogue=catalogue)
            log.info("workorders.catalogue_loaded", units=units, entries_added=added)
        yield

    table = api.routes(service)
    routes = RouteTable(table.routes, cleanup_ctx=(*table.cleanup_ctx, sync_catalogue))
    return Feature(name="workorders", routes=routes, tasks=(clock.run,))
