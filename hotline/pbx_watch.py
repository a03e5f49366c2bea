"""The PBX connection as the rest of the centre sees it: on the bus, and in the log."""

from __future__ import annotations

import structlog

from hotline.bus import Bus
from hotline.bus_events import PbxConnection
from hotline.feature import Core, Feature
from telephony.ami_events import AmiConnected, AmiDisconnected, AmiEvent, ResyncCompleted

log = structlog.get_logger("hotline.pbx")


class PbxConnectionReporter:
    def __init__(self, bus: Bus, instance: str = "asterisk") -> None:
        self._bus = bus
        self._instance = instance

    async def on_ami_event(self, event: AmiEvent) -> None:
        if isinstance(event, AmiConnected):
            log.info("pbx connected", host=event.host, port=event.port, version=event.version)
            self._bus.publish(
                PbxConnection(instance=self._instance, connected=True, detail=event.version)
            )
        elif isinstance(event, AmiDisconnected):
            log.warning("pbx disconnected", reason=event.reason)
            self._bus.publish(
                PbxConnection(instance=self._instance, connected=False, detail=event.reason)
            )
        elif isinstance(event, ResyncCompleted):
            log.info(
                "pbx resynced",
                channels=event.channels,
                queue_members=event.queue_members,
                queue_entries=event.queue_entries,
                complete=event.complete,
            )


def build(core: Core) -> Feature:
    return Feature(name="pbx-connection", ami_handlers=(PbxConnectionReporter(core.bus),))
