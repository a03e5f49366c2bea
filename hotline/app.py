"""Composition root: the one place that builds the parts and wires them together.

`serve()` runs the hotline server against the Asterisk, broker and store named in the
settings until `stop` is set. Start-up order is chosen so that the failures a person
must fix come first and clearly: the store (it holds the state), then the AMI login
(wrong secret, wrong host), then the bus (a dead broker does not stop the server: the bus
reconnects by itself and keeps state events in its outbox), then the web app.

Errors the operator of the server must act on are `StartupError`s with a one-line
message; `hotline.cli` prints that line and exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiohttp import web

from agent_desktop.app import WebDeps, create_app
from config.settings import Settings
from hotline import db
from hotline.bus import Bus
from hotline.feature import Core, Feature, FeatureBuilder
from hotline.features import BUILDERS
from telephony.ami import AmiClient, AmiConnectionError, AmiLoginError


class StartupError(Exception):
    """The server cannot start; str() is one line that names the problem."""


@dataclass(frozen=True)
class Running:
    """What a running server listens on (ports may have been chosen by the OS)."""

    http_url: str
    core: Core


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[Running], None] | None = None,
    builders: Sequence[FeatureBuilder] = BUILDERS,
) -> None:
    log = structlog.get_logger("hotline")
    engine = db.create_engine(settings.database)
    try:
        try:
            await db.check(engine)
            await db.migrate(engine)
        except db.StoreUnavailable as err:
            raise StartupError(str(err)) from err
        async with contextlib.AsyncExitStack() as stack:
            ami = AmiClient(settings.ami)
            try:
                await ami.connect()
            except (AmiLoginError, AmiConnectionError) as err:
                raise StartupError(str(err)) from err
            stack.push_async_callback(ami.close)
            bus = await stack.enter_async_context(Bus(settings.mqtt))
            core = Core(
                settings=settings, sessionmaker=db.session_factory(engine), ami=ami, bus=bus
            )
            features = [_build(make, core) for make in builders]
            app = create_app(
                WebDeps(
                    http=settings.http,
                    sessionmaker=core.sessionmaker,
                    route_tables=tuple(f.routes for f in features if f.routes is not None),
                )
            )
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, settings.http.host, settings.http.port)
            await site.start()
            running = Running(http_url=_site_url(runner, settings.http.host), core=core)
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(_pump(ami, features), name="ami-pump")]
                for feature in features:
                    for i, make in enumerate(feature.tasks):
                        tasks.append(tg.create_task(make(), name=f"{feature.name}-{i}"))
                log.info("hotline ready", http=running.http_url, ami=settings.ami.host,
                         features=[f.name for f in features])
                if on_ready is not None:
                    on_ready(running)
                await stop.wait()
                log.info("hotline stopping")
                for task in tasks:
                    task.cancel()
    finally:
        await engine.dispose()


def _build(make: FeatureBuilder, core: Core) -> Feature:
    """A feature refusing its configuration (a bad catalogue, flow, preset) stops the start."""
    try:
        return make(core)
    except Exception as err:
        where = getattr(make, "__module__", repr(make))
        raise StartupError(f"{where}: {type(err).__name__}: {err}") from err


async def _pump(ami: AmiClient, features: Sequence[Feature]) -> None:
    """The one consumer of the AMI event stream: each event to each handler, in order."""
    log = structlog.get_logger("hotline.pump")
    handlers = [h for f in features for h in f.ami_handlers]
    async for event in ami.events():
        for handler in handlers:
            try:
                await handler.on_ami_event(event)
            except Exception:  # one handler's bug must not stop the others or the server
                log.exception("ami handler failed", handler=type(handler).__name__,
                              kind=type(event).__name__)


def _site_url(runner: web.AppRunner, host: str) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return f"http://{host}:{address[1]}"
    raise StartupError("the web server did not report a listening address")
