"""What a feature hands the composition root, and what the root hands a feature.

A feature (calls, operators, transcription, work orders, ...) is built by one function
`build(core: Core) -> Feature` in its own package. The root (`hotline.app`) calls every
builder listed in `hotline.features.BUILDERS`, then:

- passes every AMI event, in wire order, to each feature's `ami_handlers` (one pump for
  the whole server: the adapter has one consumer). A handler must return quickly: work
  that waits on the network (an AMI action, the store) belongs in the feature's own
  task, fed by a queue, not in the handler;
- mounts each feature's `routes` on the web app (every route declares its roles);
- runs each feature's `tasks` (long-lived loops: an SLA clock, a scheduler, a server)
  in the server's TaskGroup, and cancels them at shutdown.

Features reach each other only through the bus, the store, or a small protocol the root
passes in: never by importing each other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_desktop.routes import RouteTable
from config.settings import Settings
from hotline.bus import Bus
from telephony.ami import AmiClient
from telephony.ami_events import AmiEvent
from telephony.presence import Presence

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AmiHandler(Protocol):
    async def on_ami_event(self, event: AmiEvent) -> None: ...


@dataclass(frozen=True)
class Core:
    """The shared parts every feature may use."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    ami: AmiClient
    bus: Bus
    presence: Presence = field(default_factory=Presence)
    clock: Clock = utc_now


@dataclass(frozen=True)
class Feature:
    name: str
    routes: RouteTable | None = None
    ami_handlers: tuple[AmiHandler, ...] = ()
    tasks: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = field(default=())


FeatureBuilder = Callable[[Core], Feature]
