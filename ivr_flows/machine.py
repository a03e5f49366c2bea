"""One run of a flow: answers in, the next thing the channel must do out. Pure.

`FlowRun.start()` gives the first `Command`; after the channel reports what happened
(`answer(seq, digits)`), the run gives the next one, or None once the call is over.
Steps that only say something are merged into the prompts of the next question or end
step, so the channel gets one command per question (and the citizen may answer while
the greeting plays). A report for an older command (`seq`) is ignored.

Commands: ``read`` (say the prompts, read one key within `timeout`), ``end`` (say the
prompts, hang up) and ``hangup`` (hang up now).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ivr_flows.flows import Flow, Step

Op = Literal["read", "end", "hangup"]


@dataclass(frozen=True)
class Command:
    op: Op
    step: str
    seq: int
    prompts: tuple[str, ...] = ()
    max_digits: int = 1
    timeout: float = 5.0


@dataclass(frozen=True)
class Answer:
    step: str
    digits: str
    accepted: bool


@dataclass
class FlowRun:
    flow: Flow
    variables: Mapping[str, str] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    current: Command | None = None
    finished: bool = False
    _seq: int = 0
    _tries: int = 0

    @property
    def complete(self) -> bool:
        """Were all the answers the flow requires given?"""
        return all(key in self.result for key in self.flow.required)

    def start(self) -> Command:
        return self._enter(self.flow.start, ())

    def answer(self, seq: int, digits: str) -> Command | None:
        """The channel's report for command `seq`: the keys read ('' = none)."""
        cmd = self.current
        if self.finished or cmd is None or seq != cmd.seq or cmd.op != "read":
            return None
        step = self.flow.step(cmd.step)
        key = digits[:1]
        choice = step.choices.get(key) if key else None
        self.answers.append(Answer(cmd.step, digits, choice is not None))
        if choice is not None:
            self.result.update(choice.set)
            assert choice.next is not None  # validated
            return self._enter(choice.next, choice.say)
        self._tries += 1
        if self._tries > step.retries:
            if step.exhausted is None:
                return self._issue("hangup", cmd.step, ())
            return self._enter(step.exhausted, ())
        lead = step.invalid if key else step.no_input
        return self._issue("read", cmd.step, (*lead, *self._say(step)), step.timeout)

    def hung_up(self) -> None:
        self.finished = True

    def _enter(self, name: str, lead: tuple[str, ...]) -> Command:
        prompts = list(lead)
        for _ in range(len(self.flow.steps) + 1):
            step = self.flow.step(name)
            self.result.update(step.set)
            prompts.extend(self._say(step))
            if step.kind == "play":
                assert step.next is not None  # validated
                name = step.next
                continue
            self._tries = 0
            if step.kind == "end":
                return self._issue("end", name, tuple(prompts))
            return self._issue("read", name, tuple(prompts), step.timeout)
        return self._issue("hangup", name, ())  # only play steps in a loop: stop

    def _issue(self, op: Op, step: str, prompts: tuple[str, ...], timeout: float = 5) -> Command:
        self._seq += 1
        self.current = Command(op, step, self._seq, prompts, 1, timeout)
        if op != "read":
            self.finished = True
        return self.current

    def _say(self, step: Step) -> list[str]:
        out: list[str] = []
        for prompt in step.say:
            if prompt.startswith("$"):
                value = self.variables.get(prompt[1:], "")
                out.extend(f"d{c}" for c in value if c.isdigit())
            else:
                out.append(prompt)
        return out
