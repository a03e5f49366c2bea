"""What the operator sees while the phone rings: caller, number dialled, history.

`build_pop` makes the `ScreenPop` bus event for one AgentCalled: the caller's number and
name from the event, the number dialled (DNIS, tracked by the operator desk from the
call's HOTLINE_DNIS variable) and its line in the hotline catalogue, and the caller's
history from the calls store (`telephony.call_repo.caller_history`: earlier calls,
counts, flags). The receipt time of the AMI event travels with it so the page (and the
tests) can measure the latency.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.bus_events import ScreenPop
from telephony import call_repo
from telephony.ami_events import AgentCalled

log = structlog.get_logger("telephony.screen_pop")
LineLookup = Callable[[str], dict[str, Any] | None]


@dataclasses.dataclass(frozen=True)
class PopSource:
    sessionmaker: async_sessionmaker[AsyncSession]
    history_days: int = 365
    history_limit: int = 10
    line_for: LineLookup | None = None


def catalogue_lines() -> LineLookup | None:
    """DNIS -> the catalogue's line as data, if the catalogue is there and loads."""
    try:
        catalogue = importlib.import_module("telephony.catalogue").load_catalogue()
    except Exception as err:  # no catalogue: the pop shows the number dialled alone
        log.warning("screen_pop.no_catalogue", error=str(err))
        return None

    def line_for(dnis: str) -> dict[str, Any] | None:
        line = catalogue.line_for(dnis)
        if line is None:
            return None
        data = dataclasses.asdict(line)
        data["id"] = line.id
        skill = catalogue.skills.get(line.skill)
        if skill is not None:
            data["skill_title"] = skill.title
        return data

    return line_for


async def build_pop(
    source: PopSource,
    extension: str,
    event: AgentCalled,
    *,
    dnis: str | None,
    received_at: float,
) -> ScreenPop:
    async with source.sessionmaker() as session:
        history = await call_repo.caller_history(
            session=session,
            number=event.caller_id_num,
            within_days=source.history_days,
            limit=source.history_limit,
            exclude_linkedid=event.call_id,
        )
    line = source.line_for(dnis) if dnis and source.line_for is not None else None
    return ScreenPop(
        extension=extension,
        call_id=event.call_id,
        caller_number=event.caller_id_num,
        caller_name=event.caller_id_name or None,
        dnis=dnis,
        line=line,
        queue=event.queue or None,
        history=history.model_dump(mode="json"),
        ami_received_at=received_at,
    )
