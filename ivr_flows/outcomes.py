"""How an outbound call attempt ended. Pure: facts in, a verdict out.

Asterisk's OriginateResponse Reason is not a reliable outcome (a busy callee reports
Reason 0, like a failure to create the channel), so failures are classified by the
Hangup cause (Q.850) of the outbound channel and the DialEnd DialStatus, as measured on
Asterisk 22 (shared/notes/asterisk.md, "Outbound callbacks"):

    answered (OriginateResponse Success)   -> answered_result if the flow's required
                                              answers were given, else answered_no_result
    DialStatus BUSY, cause 17 (486), 21    -> busy
    DialStatus NOANSWER, cause 18, 19      -> no_answer if it rang (channel state 5,
                                              Ringing, at the Hangup), else unreachable:
                                              a number that never answers the INVITE
                                              times out with cause 19 too
    DialStatus CHANUNAVAIL / CONGESTION,
      cause 1, 3, 20, 27, 34, 38, 41, ...  -> unreachable
    no Hangup at all (no channel created)  -> unreachable
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    answered_result = "answered_result"
    answered_no_result = "answered_no_result"
    busy = "busy"
    no_answer = "no_answer"
    unreachable = "unreachable"


RETRYABLE = frozenset({Outcome.busy, Outcome.no_answer})

_BUSY_CAUSES = frozenset({17, 21})
_NO_ANSWER_CAUSES = frozenset({18, 19})
_UNREACHABLE_CAUSES = frozenset({1, 2, 3, 20, 22, 27, 28, 34, 38, 41, 42, 44, 58, 88, 102, 127})
_STATUS = {
    "BUSY": Outcome.busy,
    "NOANSWER": Outcome.no_answer,
    "CHANUNAVAIL": Outcome.unreachable,
    "CONGESTION": Outcome.unreachable,
}


@dataclass(frozen=True)
class AttemptFacts:
    """What AMI told us about one attempt."""

    answered: bool
    hangup_cause: int | None = None
    dial_status: str = ""
    result_complete: bool = False
    rang: bool = False  # the callee's phone reported ringing (180/183)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str

    @property
    def retryable(self) -> bool:
        return self.outcome in RETRYABLE


def classify(facts: AttemptFacts) -> Verdict:
    cause = facts.hangup_cause
    cause_text = f"cause {cause}" if cause is not None else "no hangup cause"
    if facts.answered:
        if facts.result_complete:
            return Verdict(Outcome.answered_result, "answered")
        return Verdict(Outcome.answered_no_result, f"answered without a result ({cause_text})")
    status = facts.dial_status.upper()
    detail = f"{cause_text}, dial status {status or 'none'}"
    if status in _STATUS and not (status == "NOANSWER" and not facts.rang):
        return Verdict(_STATUS[status], detail)
    if cause in _BUSY_CAUSES:
        return Verdict(Outcome.busy, detail)
    if cause in _NO_ANSWER_CAUSES:
        if facts.rang:
            return Verdict(Outcome.no_answer, detail)
        return Verdict(Outcome.unreachable, f"never rang ({detail})")
    if cause in _UNREACHABLE_CAUSES or cause is None or cause == 0:
        return Verdict(Outcome.unreachable, detail)
    return Verdict(Outcome.unreachable, f"unexpected {detail}")
