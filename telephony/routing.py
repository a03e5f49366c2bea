"""Where a new call goes: a pure decision from the call, the caller's past and the catalogue.

Theory of operation
-------------------
`decide(call, caller, catalogue, policy, is_ready)` returns a `RouteDecision`: the line
the dialled number (DNIS) stands for, the skill queue and its overflow (queue and
seconds), the queue priority (Asterisk QUEUE_PRIO: higher is answered first), at most one
preferred operator to try first, flags about the caller, and every reason that shaped
the decision as data (`Reason(code, detail)`), in the order they applied. Nothing here
waits, reads a clock or touches Asterisk: the call service gathers the facts
(`CallerFacts` from the store, `is_ready` from presence) and sends the actions.

Rules, in order:
1. DNIS in the catalogue -> its line, skill queue and priority (`line`). Unknown DNIS
   -> the default queue at the base priority, flag `unknown_dnis`.
2. Enterprise line (营商环境专线) -> flag `enterprise` (its priority comes from the line).
3. No caller number -> flag `no_caller_id`; a withheld one (anonymous, ...) -> flag
   `withheld`. Neither has a history: no preferred operator, no key-caller check.
4. Key caller: `caller.recent_calls` (within `policy.key_caller_days`) at or above
   `policy.key_caller_threshold` -> flag `key_caller`, priority + `key_caller_boost`.
5. Unstaffed skill: when the skill queue has no members at all (`staffed(queue)` is
   False: nobody of that skill is logged in), the call goes straight to the skill's
   overflow queue (reason `skill_unstaffed`) instead of waiting out the overflow time.
6. Preferred operator: the operator who answered this caller last, within
   `policy.preferred_days`, if presence says they are ready now (`preferred`), else a
   reason `preferred_not_ready` and plain queueing.
Priority is capped at `MAX_QUEUE_PRIORITY`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telephony.catalogue import Catalogue

MAX_QUEUE_PRIORITY = 20
BASE_PRIORITY = 1
WITHHELD_NUMBERS = frozenset({"", "anonymous", "unknown", "withheld", "private", "restricted"})


def is_withheld(number: str | None) -> bool:
    """No usable caller number: empty, or one of the words carriers send instead."""
    return number is None or number.strip().lower() in WITHHELD_NUMBERS


@dataclass(frozen=True)
class IncomingCall:
    dnis: str
    caller_number: str | None
    caller_name: str | None = None


@dataclass(frozen=True)
class CallerFacts:
    """What the store knows about the caller number (empty for a first call)."""

    recent_calls: int = 0  # calls within policy.key_caller_days, this one excluded
    last_operator: str | None = None  # answered them last, within policy.preferred_days


@dataclass(frozen=True)
class RoutingPolicy:
    preferred_days: int = 30
    key_caller_threshold: int = 5
    key_caller_days: int = 30
    key_caller_boost: int = 1
    preferred_ring_seconds: int = 10


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str = ""


@dataclass(frozen=True)
class RouteDecision:
    line: str | None  # the line id (its first DNIS), None for an unknown number
    line_name: str | None
    skill: str | None
    queue: str
    priority: int
    overflow_queue: str
    overflow_seconds: int
    preferred_operator: str | None = None
    preferred_ring_seconds: int = 0
    flags: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The decision as stored with the call and logged."""
        return {
            "line": self.line,
            "line_name": self.line_name,
            "skill": self.skill,
            "queue": self.queue,
            "priority": self.priority,
            "overflow_queue": self.overflow_queue,
            "overflow_seconds": self.overflow_seconds,
            "preferred_operator": self.preferred_operator,
            "flags": list(self.flags),
            "reasons": [{"code": r.code, "detail": r.detail} for r in self.reasons],
        }

    def summary(self) -> str:
        return "; ".join(f"{r.code}: {r.detail}" if r.detail else r.code for r in self.reasons)


def decide(
    call: IncomingCall,
    caller: CallerFacts,
    catalogue: Catalogue,
    policy: RoutingPolicy,
    is_ready: Callable[[str], bool],
    *,
    staffed: Callable[[str], bool] = lambda _queue: True,
) -> RouteDecision:
    reasons: list[Reason] = []
    flags: list[str] = []
    line = catalogue.line_for(call.dnis)
    if line is None:
        queue = overflow_queue = catalogue.default_queue
        priority, overflow_seconds, skill = BASE_PRIORITY, 0, None
        flags.append("unknown_dnis")
        reasons.append(Reason("unknown_dnis", f"{call.dnis or '(none)'} -> {queue}"))
    else:
        sk = catalogue.skill_of(line)
        queue, priority, skill = sk.queue, line.priority, sk.name
        overflow_queue, overflow_seconds = sk.overflow_to, sk.overflow_seconds
        reasons.append(Reason("line", f"{call.dnis} {line.name} -> {sk.name} ({queue})"))
        if line.enterprise:
            flags.append("enterprise")
            reasons.append(Reason("enterprise", f"enterprise line, priority {priority}"))
        if not staffed(queue) and overflow_queue != queue:
            reasons.append(Reason("skill_unstaffed", f"nobody in {queue} -> {overflow_queue}"))
            queue, overflow_seconds = overflow_queue, 0

    number = (call.caller_number or "").strip()
    preferred: str | None = None
    if not number:
        flags.append("no_caller_id")
        reasons.append(Reason("no_caller_id", "no history, no callback possible"))
    elif is_withheld(number):
        flags.append("withheld")
        reasons.append(Reason("withheld", f"number withheld ({number})"))
    else:
        if caller.recent_calls >= policy.key_caller_threshold:
            flags.append("key_caller")
            priority += policy.key_caller_boost
            reasons.append(
                Reason(
                    "key_caller",
                    f"{caller.recent_calls} calls in {policy.key_caller_days} days "
                    f"(threshold {policy.key_caller_threshold}), "
                    f"priority +{policy.key_caller_boost}",
                )
            )
        if caller.last_operator is not None:
            if is_ready(caller.last_operator):
                preferred = caller.last_operator
                reasons.append(
                    Reason(
                        "preferred",
                        f"operator {preferred} answered them within {policy.preferred_days} days",
                    )
                )
            else:
                reasons.append(Reason("preferred_not_ready", f"operator {caller.last_operator}"))
    return RouteDecision(
        line=line.id if line else None,
        line_name=line.name if line else None,
        skill=skill,
        queue=queue,
        priority=min(priority, MAX_QUEUE_PRIORITY),
        overflow_queue=overflow_queue,
        overflow_seconds=overflow_seconds,
        preferred_operator=preferred,
        preferred_ring_seconds=policy.preferred_ring_seconds if preferred else 0,
        flags=tuple(flags),
        reasons=tuple(reasons),
    )
