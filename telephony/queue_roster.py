"""Which queues have members right now, kept from AMI events. Pure: events in, answers out.

Routing asks `staffed(queue)`: does the queue have any member at all (paused or not)? A
skill nobody of which is logged in sends its calls straight to the wider group. Until
the first resync after login completes we know nothing, and every queue counts as
staffed (the call waits in its skill queue and overflows as usual).

The resync snapshot (`QueueMemberSnapshot` items between `ResyncStarted` and
`ResyncCompleted`) replaces the whole roster; live `QueueMemberAdded` / `Removed` /
`Status` events during a resync apply to the roster being built as well.
"""

from __future__ import annotations

from telephony.ami_events import (
    AmiEvent,
    QueueMemberAdded,
    QueueMemberRemoved,
    QueueMemberSnapshot,
    QueueMemberStatus,
    ResyncCompleted,
    ResyncStarted,
)


class QueueRoster:
    def __init__(self) -> None:
        self._members: dict[str, set[str]] = {}
        self._building: dict[str, set[str]] | None = None
        self._known = False

    def on_event(self, event: AmiEvent) -> None:
        if isinstance(event, ResyncStarted):
            self._building = {}
        elif isinstance(event, ResyncCompleted):
            if self._building is not None and event.complete:
                self._members, self._known = self._building, True
            self._building = None
        elif isinstance(event, QueueMemberSnapshot | QueueMemberAdded | QueueMemberStatus):
            for roster in self._rosters():
                roster.setdefault(event.queue, set()).add(event.interface)
        elif isinstance(event, QueueMemberRemoved):
            for roster in self._rosters():
                roster.get(event.queue, set()).discard(event.interface)

    def _rosters(self) -> list[dict[str, set[str]]]:
        return [self._members] if self._building is None else [self._members, self._building]

    def staffed(self, queue: str) -> bool:
        return not self._known or bool(self._members.get(queue))

    def members(self, queue: str) -> frozenset[str]:
        return frozenset(self._members.get(queue, ()))
