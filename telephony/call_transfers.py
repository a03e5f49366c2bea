"""Transfers, as the operators feature announces them, kept on the call record.

The operators feature transfers the call and publishes `CallTransferred`; this loop (a
task of the calls feature) appends each one to its call's record. The two features meet
only on the bus.
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.bus import Bus
from hotline.bus_events import CallTransferred
from hotline.bus_topics import Domain
from telephony import call_repo

log = structlog.get_logger("telephony.transfers")


async def record_transfers(bus: Bus, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with bus.subscribe(bus.filter(Domain.CALL, None, "transferred")) as messages:
        async for message in messages:
            event = message.event
            if not isinstance(event, CallTransferred):
                continue
            entry = {
                "kind": event.kind,
                "mode": event.mode,
                "target": event.target,
                "by": event.extension,
                "ok": event.ok,
                "detail": event.detail,
                "at": message.envelope.time.isoformat(),
            }
            try:
                async with sessionmaker() as session:
                    await call_repo.add_transfer(
                        session=session, linkedid=event.linkedid, entry=entry
                    )
            except (call_repo.CallNotFound, SQLAlchemyError, OSError) as err:
                log.error("transfer not recorded", call_id=event.linkedid, error=str(err))  # noqa: TRY400
            else:
                log.info("transfer recorded", call_id=event.linkedid, target=event.target)
