"""Keyword alerts (pure): watched words heard on a call, each raised once per call.

Rules come from settings (`asr.keywords`): a keyword and an action, e.g. 着火 or
煤气泄漏 -> `transfer_119` (the desktop suggests a transfer to the fire service),
自杀 -> `alert_supervisor`. Chinese models write words separated by spaces ("煤气 泄漏"),
so text and keywords are compared with all whitespace removed. A partial can already
raise the alert (it comes seconds before the final); `KeywordWatcher` remembers what it
raised for each call so the same word raises one alert, not one per partial.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class KeywordRule:
    keyword: str
    action: str


@dataclass(frozen=True, slots=True)
class Hit:
    call_id: str
    keyword: str
    action: str
    text: str


def squeeze(text: str) -> str:
    return _WS.sub("", text)


def find(rules: Iterable[KeywordRule], text: str) -> list[KeywordRule]:
    """The rules whose keyword occurs in `text` (whitespace ignored), in rule order."""
    flat = squeeze(text)
    return [r for r in rules if squeeze(r.keyword) and squeeze(r.keyword) in flat]


class KeywordWatcher:
    def __init__(self, rules: Iterable[KeywordRule]) -> None:
        self.rules = tuple(rules)
        self._raised: dict[str, set[str]] = {}

    def check(self, call_id: str, text: str) -> list[Hit]:
        """New alerts for this call raised by `text` (each keyword once per call)."""
        raised = self._raised.setdefault(call_id, set())
        hits = []
        for rule in find(self.rules, text):
            if rule.keyword not in raised:
                raised.add(rule.keyword)
                hits.append(Hit(call_id=call_id, keyword=rule.keyword, action=rule.action,
                                text=text))
        return hits

    def forget(self, call_id: str) -> None:
        """The call ended."""
        self._raised.pop(call_id, None)
