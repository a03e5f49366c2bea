"""Who can take a call right now: written by the operator tracker, read by routing.

A plain in-memory view, rebuilt from AMI after every login (the store keeps the history).
It is the small protocol between the operators feature and the routing feature: neither
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorPresence:
    extension: str
    state: str  # the operators feature's state name: "ready", "paused", "talking", ...
    skills: frozenset[str] = frozenset()


class Presence:
    def __init__(self) -> None:
        self._by_extension: dict[str, OperatorPresence] = {}

    def update(self, presence: OperatorPresence) -> None:
        self._by_extension[presence.extension] = presence

    def remove(self, extension: str) -> None:
        self._by_extension.pop(extension, None)

    def get(self, extension: str) -> OperatorPresence | None:
        return self._by_extension.get(extension)

    def is_ready(self, extension: str) -> bool:
        p = self._by_extension.get(extension)
        return p is not None and p.state == "ready"

    def ready(self, skill: str | None = None) -> frozenset[str]:
        return frozenset(
            p.extension
            for p in self._by_extension.values()
            if p.state == "ready" and (skill is None or skill in p.skills)
        )
