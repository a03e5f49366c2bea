"""The calls feature: AMI events -> call state -> routing actions, records, bus events.

Theory of operation
-------------------
The dialplan answers a citizen's call into `hotline-hold` and announces it with
`UserEvent(HotlineIncoming, DNIS, Hold)`. `CallService` is the feature's one AMI handler
and the owner of its three tasks; the work is done by three parts:

- `telephony.call_tracker.CallTracker` (the AMI side, fast: nothing waits on the
  network): AMI events -> the call's pure state (`telephony.calls`) -> bus events
  (CallOffered/CallRouted/CallAnswered/CallEnded) and queued store writes; a held call
  becomes a routing job. Resync after an AMI reconnect ends unconfirmed calls.
- `telephony.call_router.CallRouter` (`route_loop`, `lease_loop`): per job, the pure
  routing decision, `Setvar HOTLINE_ROUTE` + `Redirect` to `hotline-route`, its latency;
  and the router lease (HOTLINE_ROUTER_UNTIL) that lets the dialplan hold calls only
  while a server is alive.
- `telephony.call_store.CallStore` (`store_loop`): writes call records and missed-call
  callback tasks in order, one at a time; a failed write is logged and skipped.

`OperatorInterfaces` (extension <-> "PJSIP/op{extension}") lives in
`telephony.operator_interfaces` (the callback dialer uses it too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CallsSettings
from hotline.bus import Bus
from hotline.feature import Core, Feature
from telephony import call_api
from telephony.ami import AmiClient
from telephony.ami_events import AmiEvent
from telephony.call_router import CallRouter
from telephony.call_store import CallStore
from telephony.call_tracker import CallTracker
from telephony.call_transfers import record_transfers
from telephony.calls import Call
from telephony.catalogue import Catalogue, CatalogueError, load_catalogue
from telephony.operator_interfaces import OperatorInterfaces
from telephony.presence import Presence
from telephony.queue_roster import QueueRoster

__all__ = ["CallService", "build"]


class CallService:
    def __init__(
        self,
        *,
        settings: CallsSettings,
        catalogue: Catalogue,
        ami: AmiClient,
        bus: Bus,
        sessionmaker: async_sessionmaker[AsyncSession],
        presence: Presence,
        clock: Callable[[], datetime],
    ) -> None:
        self.interfaces = OperatorInterfaces(settings.operator_interface)
        self._store = CallStore(sessionmaker, clock, bus.publish)
        self._tracker = CallTracker(
            catalogue=catalogue, publish=bus.publish, store=self._store,
            interfaces=self.interfaces, clock=clock,
        )  # fmt: skip
        self._router = CallRouter(
            settings=settings, catalogue=catalogue, ami=ami, sessionmaker=sessionmaker,
            presence=presence, tracker=self._tracker, clock=clock,
        )  # fmt: skip

    @property
    def live_calls(self) -> dict[str, Call]:
        return self._tracker.live_calls

    @property
    def roster(self) -> QueueRoster:
        return self._tracker.roster

    @property
    def latencies(self) -> deque[float]:
        """Seconds from the AMI event to the Redirect's answer, per routed call."""
        return self._router.latencies

    @property
    def routed(self) -> int:
        return self._router.routed

    @property
    def route_failures(self) -> int:
        return self._router.route_failures

    async def on_ami_event(self, event: AmiEvent) -> None:
        self._tracker.on_event(event)

    async def store_loop(self) -> None:
        await self._store.run()

    async def route_loop(self) -> None:
        await self._router.route_loop()

    async def lease_loop(self) -> None:
        await self._router.lease_loop()


def build(core: Core) -> Feature:
    """The calls feature; a bad hotline catalogue stops the server at start."""
    from hotline.app import StartupError  # noqa: PLC0415  (hotline.app imports the builders)

    settings = core.settings.calls
    try:
        catalogue = load_catalogue(settings.catalogue)
    except CatalogueError as err:
        raise StartupError(str(err)) from err
    service = CallService(
        settings=settings, catalogue=catalogue, ami=core.ami, bus=core.bus,
        sessionmaker=core.sessionmaker, presence=core.presence, clock=core.clock,
    )  # fmt: skip
    return Feature(
        name="calls",
        routes=call_api.routes(
            clock=core.clock,
            target_seconds=settings.answered_within_seconds,
            publish=core.bus.publish,
        ),
        ami_handlers=(service,),
        tasks=(
            service.route_loop,
            service.store_loop,
            service.lease_loop,
            partial(record_transfers, core.bus, core.sessionmaker),
        ),
    )
