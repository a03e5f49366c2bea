"""The reports feature: `build(core)` hands the root the report routes (`reports.web`).

Line names come from the hotline catalogue (`[calls] catalogue`), the service-level
target and the key-caller threshold from the calls settings, so a report counts the
way the wallboard and the screen pop do. No task, no AMI handler: a report is read
from the store when someone asks for it.
"""

from __future__ import annotations

from hotline.feature import Core, Feature
from reports.web import ReportService, routes
from telephony.catalogue import load_catalogue


def build(core: Core) -> Feature:
    calls = core.settings.calls
    catalogue = load_catalogue(calls.catalogue)
    service = ReportService(
        sessionmaker=core.sessionmaker,
        clock=core.clock,
        line_names={line.id: line.name for line in catalogue.lines},
        answered_within_seconds=calls.answered_within_seconds,
        key_caller_threshold=calls.key_caller_threshold,
    )
    return Feature(name="reports", routes=routes(service))
