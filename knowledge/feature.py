"""The knowledge base as a server feature: its REST routes and a one-off seeding task.

On start, an empty knowledge base is filled from config/knowledge_seed.toml (a demo
city's articles), so a fresh install answers the common questions at once; a knowledge
base that has any article is never touched. A broken seed file is logged, not fatal:
the server runs without the examples.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from importlib.resources import as_file, files
from typing import Any

import structlog

from hotline.feature import Core, Feature
from knowledge import api, repo

log = structlog.get_logger(__name__)

SEED_RESOURCE = "knowledge_seed.toml"


def seeder(core: Core) -> Callable[[], Coroutine[Any, Any, None]]:
    async def seed() -> None:
        with as_file(files("config") / SEED_RESOURCE) as path:
            try:
                async with core.sessionmaker() as session:
                    await repo.seed_if_empty(session=session, path=path)
            except repo.SeedError as err:
                log.warning("knowledge.seed_failed", error=str(err))

    return seed


def build(core: Core) -> Feature:
    return Feature(name="knowledge", routes=api.routes(), tasks=(seeder(core),))
