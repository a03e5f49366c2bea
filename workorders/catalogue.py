"""The responsibility catalogue file (config/units.toml): units and who owns what.

Parsed here into the models' Base shapes (pure); `workorders.repo.sync_catalogue` puts
them in the store. A malformed file raises `CatalogueError` naming the entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workorders.models import ResponsibilityBase, UnitBase

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
