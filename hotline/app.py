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
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from agent_desktop.app import WebDeps, create_app
from config.settings import Settings
from hotline import db
from hotline.bus import Bus
from hotline.pbx_watch import watch_pbx
from telephony.ami import AmiClient, AmiConnectionError, AmiLoginError


class StartupError(Exception):
    """The server cannot start; str() is one line that names the problem."""


@dataclass(frozen=True)
class Running:
    """What a running server listens on (ports may have been chosen by the OS)."""

    http_url: str


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[Running], None] | None = None,
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
            app = create_app(WebDeps(http=settings.http, sessionmaker=db.session_factory(engine)))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, settings.http.host, settings.http.port)
            await site.start()
            running = Running(http_url=_site_url(runner, settings.http.host))
            async with asyncio.TaskGroup() as tg:
                watcher = tg.create_task(watch_pbx(ami, bus))
                log.info("hotline ready", http=running.http_url, ami=settings.ami.host)
                if on_ready is not None:
                    on_ready(running)
                await stop.wait()
                watcher.cancel()
            log.info("hotline stopping")
    finally:
        await engine.dispose()


def _site_url(runner: web.AppRunner, host: str) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return f"http://{host}:{address[1]}"
    raise StartupError("the web server did not report a listening address")
