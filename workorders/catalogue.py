"""The responsibility catalogue (职责清单): units and who owns what; a file, then the store.

The file (config/units.toml) is parsed here into the models' Base shapes (pure); a
malformed file raises `CatalogueError` naming the entry. `workorders.repo.sync_catalogue`
puts it in the store when the server starts: units are upserted by id (the file is
their truth), entries are only ADDED when their (category, unit) pair is missing, so an
entry edited in the app keeps its keywords, time-limit class and note across restarts.

Editing in the app (`routes`, supervisors and admins; everyone may read): list, add,
change and delete entries in the store. The sync remembers which (category, unit) pairs
the file has contributed (`catalogue_seeds`), so an entry changed or deleted in the app is
not added again at the next start; a pair new to the file is.

Store errors for the views: `EntryNotFound` (404), `EntryRefused` (400: unknown or
inactive unit, unknown time-limit class) and `EntryExists` (409: same category and unit).
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from accounts.roles import Role
from agent_desktop.errors import ApiError, BadRequest, NotFound, read_json
from agent_desktop.routes import ALL_ROLES, Route, RouteTable, only
from workorders.models import (
    ResponsibilityBase,
    ResponsibilityEntry,
    ResponsibilityPublic,
    Unit,
    UnitBase,
)
from workorders.schemas import ResponsibilityIn, ResponsibilityList, ResponsibilityPatch
from workorders.sla import SlaError, SlaPolicy

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Model = type[BaseModel]

DEFAULT_CATALOGUE = Path(__file__).resolve().parent.parent / "config" / "units.toml"


class CatalogueError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Catalogue:
    units: tuple[UnitBase, ...]
    responsibilities: tuple[ResponsibilityBase, ...]


def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> Catalogue:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CatalogueError(f"responsibility catalogue {path}: {err}") from err
    return parse_catalogue(data, where=str(path))


def parse_catalogue(data: dict[str, Any], *, where: str = "catalogue") -> Catalogue:
    units: list[UnitBase] = []
    entries: list[ResponsibilityBase] = []
    for n, raw in enumerate(data.get("unit", []), 1):
        try:
            units.append(
                UnitBase.model_validate(
                    {
                        "id": raw["id"],
                        "name": raw["name"],
                        "short_name": raw.get("short", raw["name"]),
                        "kind": raw.get("kind", "department"),
                        "contact_phone": str(raw.get("contact", "")),
                    }
                )
            )
        except (KeyError, TypeError, ValidationError) as err:
            raise CatalogueError(f"{where}: unit #{n}: {err}") from err
    known = {u.id for u in units}
    if len(known) != len(units):
        raise CatalogueError(f"{where}: a unit id appears twice")
    for n, raw in enumerate(data.get("responsibility", []), 1):
        try:
            entry = ResponsibilityBase.model_validate(
                {
                    "category": raw["category"],
                    "unit_id": raw["unit"],
                    "keywords": raw.get("keywords", ""),
                    "time_limit_class": raw.get("limit"),
                    "note": raw.get("note", ""),
                }
            )
        except (KeyError, TypeError, ValidationError) as err:
            raise CatalogueError(f"{where}: responsibility #{n}: {err}") from err
        if entry.unit_id not in known:
            raise CatalogueError(
                f"{where}: responsibility #{n} ({entry.category}) names unknown unit "
                f"{entry.unit_id!r}"
            )
        entries.append(entry)
    return Catalogue(units=tuple(units), responsibilities=tuple(entries))


# --------------------------------------------------------------------------- the store


class EntryNotFound(LookupError):
    pass


class EntryRefused(ValueError):
    pass


class EntryExists(ValueError):
    pass


async def _checked(
    session: AsyncSession, values: ResponsibilityBase, policy: SlaPolicy, entry_id: int | None
) -> None:
    unit = await session.get(Unit, values.unit_id)
    if unit is None or not unit.active:
        raise EntryRefused(f"unknown or inactive unit {values.unit_id!r}")
    if values.time_limit_class:
        try:
            policy.limit(values.time_limit_class)
        except SlaError as err:
            raise EntryRefused(str(err)) from err
    same = await session.execute(
        select(col(ResponsibilityEntry.id)).where(
            col(ResponsibilityEntry.category) == values.category,
            col(ResponsibilityEntry.unit_id) == values.unit_id,
        )
    )
    if any(i != entry_id for i in same.scalars()):
        raise EntryExists(f"{values.category} → {values.unit_id} is already in the catalogue")


async def add_entry(
    *, session: AsyncSession, entry: ResponsibilityIn, policy: SlaPolicy
) -> ResponsibilityPublic:
    values = ResponsibilityBase.model_validate(entry.model_dump())
    await _checked(session, values, policy, None)
    row = ResponsibilityEntry.model_validate(values.model_dump())
    session.add(row)
    await session.commit()
    return ResponsibilityPublic.model_validate(row, from_attributes=True)


async def update_entry(
    *, session: AsyncSession, entry_id: int, patch: ResponsibilityPatch, policy: SlaPolicy
) -> ResponsibilityPublic:
    row = await session.get(ResponsibilityEntry, entry_id)
    if row is None:
        raise EntryNotFound(f"no catalogue entry {entry_id}")
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("category") is None:
        changes.pop("category", None)
    if changes.get("unit_id") is None:
        changes.pop("unit_id", None)
    values = ResponsibilityBase.model_validate(row.model_dump(exclude={"id"}) | changes)
    await _checked(session, values, policy, entry_id)
    row.sqlmodel_update(values.model_dump())
    session.add(row)
    await session.commit()
    return ResponsibilityPublic.model_validate(row, from_attributes=True)


async def delete_entry(*, session: AsyncSession, entry_id: int) -> None:
    row = await session.get(ResponsibilityEntry, entry_id)
    if row is None:
        raise EntryNotFound(f"no catalogue entry {entry_id}")
    await session.delete(row)
    await session.commit()


# --------------------------------------------------------------------------- the views


class Conflict(ApiError):
    status = 409
    code = "entry_exists"


def routes(sessions: async_sessionmaker[AsyncSession], policy: SlaPolicy) -> RouteTable:
    """The catalogue's REST routes: read by all, edited by supervisors and admins."""
    centre = only(Role.supervisor, Role.admin)

    def _id(request: web.Request) -> int:
        return int(request.match_info["entry_id"])

    async def guarded(action: Any) -> Any:
        try:
            return await action
        except EntryNotFound as err:
            raise NotFound(str(err)) from err
        except EntryRefused as err:
            raise BadRequest(str(err), code="invalid_entry") from err
        except EntryExists as err:
            raise Conflict(str(err)) from err

    def _json(model: ResponsibilityPublic | ResponsibilityList, status: int = 200) -> web.Response:
        return web.json_response(text=model.model_dump_json(), status=status)

    async def list_entries(request: web.Request) -> web.StreamResponse:
        async with sessions() as session:
            query = select(ResponsibilityEntry).order_by(
                col(ResponsibilityEntry.category), col(ResponsibilityEntry.id)
            )
            rows = (await session.execute(query)).scalars().all()
            entries = [ResponsibilityPublic.model_validate(r, from_attributes=True) for r in rows]
        return _json(ResponsibilityList(entries=entries))

    async def add(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ResponsibilityIn)
        async with sessions() as session:
            entry = await guarded(add_entry(session=session, entry=body, policy=policy))
        log.info("workorders.catalogue_added", entry=entry.id, category=entry.category)
        return _json(entry, 201)

    async def change(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ResponsibilityPatch)
        async with sessions() as session:
            entry = await guarded(
                update_entry(session=session, entry_id=_id(request), patch=body, policy=policy)
            )
        log.info("workorders.catalogue_changed", entry=entry.id, category=entry.category)
        return _json(entry)

    async def delete(request: web.Request) -> web.StreamResponse:
        entry_id = _id(request)
        async with sessions() as session:
            await guarded(delete_entry(session=session, entry_id=entry_id))
        log.info("workorders.catalogue_deleted", entry=entry_id)
        return web.Response(status=204)

    one = "/api/catalogue/{entry_id:[0-9]{1,12}}"
    spec: list[tuple[str, str, Handler, frozenset[Role], str, Model | None, Model | None]] = [
        ("GET", "/api/catalogue", list_entries, ALL_ROLES, "The responsibility catalogue", None,
         ResponsibilityList),
        ("POST", "/api/catalogue", add, centre, "Add a catalogue entry (category → unit)",
         ResponsibilityIn, ResponsibilityPublic),
        ("PATCH", one, change, centre, "Change a catalogue entry", ResponsibilityPatch,
         ResponsibilityPublic),
        ("DELETE", one, delete, centre, "Delete a catalogue entry", None, None),
    ]  # fmt: skip
    return RouteTable(
        tuple(
            Route(
                method=m,
                path=p,
                handler=h,
                roles=r,
                summary=s,
                body=b,
                response=o,
                name=f"catalogue_{m.lower()}{'_one' if p == one else ''}",
                tags=("catalogue",),
            )
            for m, p, h, r, s, b, o in spec
        )
    )
