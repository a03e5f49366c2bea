"""Follow the AMI event stream: report the PBX connection on the bus, log the rest.

The call state and routing (telephony) will consume the same stream; until then this is
the one consumer, so the adapter's queue never fills while the server runs.
"""

from __future__ import annotations

import structlog

from hotline.bus import Bus
from hotline.bus_events import PbxConnection
from telephony.ami import AmiClient
from telephony.ami_events import AmiConnected, AmiDisconnected, ResyncCompleted

log = structlog.get_logger("hotline.pbx")


async def watch_pbx(ami: AmiClient, bus: Bus, *, instance: str = "asterisk") -> None:
    async for event in ami.events():
        if isinstance(event, AmiConnected):
            log.info("pbx connected", host=event.host, port=event.port, version=event.version)
            bus.publish(PbxConnection(instance=instance, connected=True, detail=event.version))
        elif isinstance(event, AmiDisconnected):
            log.warning("pbx disconnected", reason=event.reason)
            bus.publish(PbxConnection(instance=instance, connected=False, detail=event.reason))
        elif isinstance(event, ResyncCompleted):
            log.info(
                "pbx resynced",
                channels=event.channels,
                queue_members=event.queue_members,
                queue_entries=event.queue_entries,
                complete=event.complete,
            )
        else:
            log.debug("ami event", kind=type(event).__name__)
