"""Missed-call callbacks dialled automatically: the decisions, pure (values in, values out).

Theory of operation
-------------------
Three questions, each a function of plain values, so the dialer shell
(telephony.callback_dialer) only gathers facts and carries decisions out:

1. **Which tasks to dial now** (`plan_dials`). A task is eligible when it is open and
   waiting, its next dial time has come, its last miss is younger than `max_age`, and
   calling hours (the IVR settings' hours, reused) are open. Oldest first miss first:
   whoever has waited longest is called back first. A dial starts only when a *ready
   operator of the task's queue* is free: every dial in flight holds one ready
   operator (matched greedily, in-flight dials first), so the centre never rings more
   citizens than it has operators to talk to them; and never more than `cap` at once.
2. **What an attempt came to** (`observe` folds the AMI events of the attempt's channel
   into `DialProgress`; `verdict` turns it into a `Verdict`). Not answered: the
   Hangup cause and DialEnd status decide busy / no answer / unreachable
   (ivr_flows.outcomes.classify, reused). Answered: connected to the operator whose
   AgentConnect names our channel, else "not connected" (no operator within the queue
   wait, or the citizen hung up first).
3. **What becomes of the task** (`next_step`, built on ivr_flows.jobs.after_attempt):
   connected closes it; busy and no answer are retried after `retry.delay(n)` inside
   calling hours until `max_attempts`; anything else, or the last attempt, hands the
   task back to the operators (`DialState.manual`) with the reason shown. A dial found
   unfinished after a restart (`interrupted_step`) also goes to manual: the citizen may
   already have talked to someone, so they are never dialled twice automatically; so
   does a task whose last miss is older than `max_age` (`too_old_reason`). A dial the
   server itself stops while the phone still rings (`stopped_step`) is hung up and, the
   citizen not having answered, goes back to waiting, due at once (the next start dials
   it again) unless it was the last attempt (then manual); answered, it is `interrupted`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ivr_flows.jobs import CallingHours, RetryPolicy, after_attempt
from ivr_flows.models import JobState
from ivr_flows.outcomes import AttemptFacts, Outcome, Verdict, classify
from telephony.ami_events import (
    AgentConnect,
    AmiDisconnected,
    AmiEvent,
    DialEnd,
    Hangup,
    Newstate,
    UserEvent,
)
from telephony.call_models import DialState
from telephony.catalogue import Catalogue

RINGING = 5  # Asterisk channel state "Ringing"
STAGE_EVENT = "HotlineCallback"  # the dialplan's UserEvent (extensions_callbacks.conf)


class DialOutcome(StrEnum):
    connected = "connected"
    not_connected = "not_connected"  # answered, but no operator talked to them
    busy = "busy"
    no_answer = "no_answer"
    unreachable = "unreachable"
    interrupted = "interrupted"  # the server stopped during the dial
    taken = "taken"  # an operator took it to call by hand (call_models.TAKEN_BY_HAND)


# What the desk shows (zh-CN): outcomes and dial states.
OUTCOME_LABELS: Mapping[str, str] = {
    DialOutcome.connected: "已接通话务员",
    DialOutcome.not_connected: "已接听未转接",
    DialOutcome.busy: "占线",
    DialOutcome.no_answer: "无人接听",
    DialOutcome.unreachable: "无法接通",
    DialOutcome.interrupted: "拨打中断",
    DialOutcome.taken: "人工认领",
}

DIAL_STATE_LABELS: Mapping[str, str] = {
    DialState.waiting: "等待自动回拨",
    DialState.dialing: "正在回拨",
    DialState.connected: "已接通",
    DialState.manual: "转人工回拨",
}

_FROM_IVR = {
    Outcome.answered_result: DialOutcome.connected,
    Outcome.answered_no_result: DialOutcome.not_connected,
    Outcome.busy: DialOutcome.busy,
    Outcome.no_answer: DialOutcome.no_answer,
    Outcome.unreachable: DialOutcome.unreachable,
}


def dial_outcome(verdict: Verdict) -> DialOutcome:
    return _FROM_IVR[verdict.outcome]


@dataclass(frozen=True)
class DialerPolicy:
    hours: CallingHours
    retry: RetryPolicy
    cap: int = 2
    max_age: timedelta = timedelta(hours=24)
    ring_seconds: float = 30.0
    queue_seconds: int = 60

    @property
    def call_limit(self) -> float:
        """Seconds one dial may take at most: ringing, the prompt, the queue wait."""
        return self.ring_seconds + self.queue_seconds + 45

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: past it, the claiming server is taken for dead."""
        return timedelta(seconds=self.call_limit + 60)


# -- 1. which tasks to dial ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An open, waiting task as the planner sees it."""

    task_id: int
    queue: str
    first_missed_at: datetime
    last_missed_at: datetime
    next_dial_at: datetime | None = None


@dataclass(frozen=True)
class Pick:
    task_id: int
    queue: str
    operator: str  # the ready operator this dial counts on (the queue may ring another)


def queue_for(line: str | None, catalogue: Catalogue) -> str:
    """The queue a callback joins: its line's skill queue, else the default group."""
    found = catalogue.line_by_id(line) if line else None
    return catalogue.skill_of(found).queue if found is not None else catalogue.default_queue


def _take(free: dict[str, frozenset[str]], queue: str) -> str | None:
    for ext in sorted(free):
        if queue in free[ext]:
            del free[ext]
            return ext
    return None


def eligible(c: Candidate, now: datetime, policy: DialerPolicy) -> bool:
    due = c.next_dial_at is None or c.next_dial_at <= now
    return due and c.last_missed_at >= now - policy.max_age


def plan_dials(
    candidates: Iterable[Candidate],
    *,
    now: datetime,
    policy: DialerPolicy,
    ready: Mapping[str, frozenset[str]],
    in_flight: Sequence[str],
) -> list[Pick]:
    """The tasks to dial now, each with the ready operator it counts on.

    `ready`: extension -> the queues of each ready operator (Core.presence);
    `in_flight`: the queue of every dial already under way.
    """
    if not policy.hours.is_open(now):
        return []
    free = dict(ready)
    for queue in in_flight:
        _take(free, queue)
    slots = policy.cap - len(in_flight)
    picks: list[Pick] = []
    ordered = sorted(candidates, key=lambda c: (c.first_missed_at, c.task_id))
    for c in ordered:
        if len(picks) >= slots or not free:
            break
        if not eligible(c, now, policy):
            continue
        operator = _take(free, c.queue)
        if operator is not None:
            picks.append(Pick(c.task_id, c.queue, operator))
    return picks


# -- 2. what an attempt came to ------------------------------------------------------------


@dataclass(frozen=True)
class DialProgress:
    """What AMI said so far about one dial's channel (the citizen's leg)."""

    answered: bool = False
    rang: bool = False
    dial_status: str = ""
    hangup_cause: int | None = None
    ended: bool = False
    operator: str | None = None
    queue_status: str = ""  # the dialplan's QUEUESTATUS when Queue() returned

    @property
    def settled(self) -> bool:
        return self.ended or self.operator is not None


def observe(
    progress: DialProgress, event: AmiEvent, extension_of: Callable[[str], str | None]
) -> DialProgress:
    """Fold one event of the dial's channel into its progress.

    `extension_of` turns a queue member interface into an operator extension
    (telephony.operator_interfaces.OperatorInterfaces.extension).
    """
    match event:
        case AgentConnect():
            ext = extension_of(event.interface) or event.member_name
            return replace(progress, answered=True, operator=ext or event.interface)
        case DialEnd():
            return replace(progress, dial_status=event.dial_status or progress.dial_status)
        case Newstate() if event.channel_state == RINGING:
            return replace(progress, rang=True)
        case UserEvent() if event.user_event == STAGE_EVENT:
            stage = event.headers.get("Stage", "")
            if stage == "answered":
                return replace(progress, answered=True)
            if stage.startswith("queue_"):
                return replace(progress, queue_status=stage.removeprefix("queue_"))
            return progress
        case Hangup():
            rang = progress.rang or event.channel_state == RINGING
            return replace(progress, ended=True, hangup_cause=event.cause, rang=rang)
        case AmiDisconnected():
            return progress  # the resync tells whether the channel is still there
    return progress


def verdict(progress: DialProgress, *, queue_seconds: int) -> Verdict:
    if progress.operator is not None:
        return Verdict(Outcome.answered_result, f"connected to operator {progress.operator}")
    if progress.answered:
        if progress.queue_status == "TIMEOUT":
            why = f"answered, no operator free within {queue_seconds} s"
        elif progress.queue_status:
            why = f"answered, queue ended {progress.queue_status}"
        else:
            why = "answered, hung up before an operator answered"
        return Verdict(Outcome.answered_no_result, why)
    return classify(
        AttemptFacts(answered=False, hangup_cause=progress.hangup_cause,
                     dial_status=progress.dial_status, rang=progress.rang)
    )  # fmt: skip


# -- 3. what becomes of the task -----------------------------------------------------------


@dataclass(frozen=True)
class TaskStep:
    state: DialState
    next_dial_at: datetime | None
    outcome: DialOutcome
    reason: str


_STATES = {
    JobState.done: DialState.connected,
    JobState.pending: DialState.waiting,
    JobState.failed: DialState.manual,
}


def next_step(
    v: Verdict, *, attempts_made: int, max_attempts: int, now: datetime, policy: DialerPolicy
) -> TaskStep:
    step = after_attempt(
        v, attempts_made=attempts_made, max_attempts=max_attempts, now=now,
        policy=policy.retry, hours=policy.hours,
    )  # fmt: skip
    outcome = dial_outcome(v)
    reason = step.reason.replace(str(v.outcome), outcome.value, 1)
    return TaskStep(_STATES[step.state], step.due_at, outcome, reason)


def too_old_reason(max_age: timedelta) -> str:
    hours = max_age.total_seconds() / 3600
    return f"missed more than {hours:g} h ago: too old to call back automatically"


def interrupted_step(attempts_made: int) -> TaskStep:
    return TaskStep(
        DialState.manual, None, DialOutcome.interrupted,
        f"interrupted at attempt {attempts_made}: the server stopped during the dial; "
        "not dialled again automatically",
    )  # fmt: skip


def stopped_step(
    progress: DialProgress, *, attempts_made: int, max_attempts: int, now: datetime,
    policy: DialerPolicy,
) -> TaskStep:  # fmt: skip
    """This server stops during the dial (the dialer hangs up a ringing phone first).

    Not answered: nobody talked to the citizen, so the next start may dial again at once
    (the attempt still counts towards `max_attempts`). Answered: as `interrupted_step`
    (the queue may still connect them to an operator: a person checks).
    """
    if progress.answered or progress.operator is not None:
        return interrupted_step(attempts_made)
    if attempts_made >= max_attempts:
        return TaskStep(
            DialState.manual, None, DialOutcome.interrupted,
            f"server stopped while ringing at attempt {attempts_made} of {max_attempts}: "
            "hung up; no attempt left",
        )  # fmt: skip
    return TaskStep(
        DialState.waiting, policy.hours.next_open(now), DialOutcome.interrupted,
        f"server stopped while ringing at attempt {attempts_made}: hung up; "
        "dialled again at the next start",
    )  # fmt: skip
