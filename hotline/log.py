"""structlog setup: JSON in production, readable in a terminal.

Call and order ids are bound with `structlog.contextvars.bind_contextvars(call_id=...)`
(or `log.bind(...)`) where the work for one call or order starts; every line logged
under it carries them.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from config.settings import LogSettings


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    use_json = settings.format == "json" or (settings.format == "auto" and not out.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    level = logging.getLevelNamesMapping()[settings.level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: keep their warnings, route to stderr.
    logging.basicConfig(level=max(level, logging.WARNING), stream=out, force=True)
