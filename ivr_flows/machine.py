"""One run of a flow: answers in, the next thing the channel must do out. Pure.

`FlowRun.start()` gives the first `Command`; after the channel reports what happened
(`answer(seq, digits, words)` for a question, `recorded(seq, text)` for a comment), the
run gives the next one, or None once the call is over. Steps that only say something
are merged into the prompts of the next question or end step, so the channel gets one
command per question (and the citizen may answer while the greeting plays). A report
for an older command (`seq`) is ignored.

Commands: ``read`` (say the prompts, read one key within `timeout`), ``listen`` (the
same, then record a spoken answer that ends after `silence` seconds of silence; a key
still answers), ``record`` (say the prompts, record a comment of at most `max_seconds`),
``end`` (say the prompts, hang up) and ``hangup`` (hang up now).

Spoken answers (`speech=True` only; otherwise a listening step reads keys and comment
steps are skipped): the recognizer's text is matched against the step's phrases
(`match_phrase`); exactly one choice must match, and nothing else may be heard. Nothing
recognized or no single match counts like a wrong key, and the question is asked again
for the keypad only: a grammar forces any speech onto some phrase, so a second guess by
voice is not worth much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ivr_flows.flows import Flow, Step

Op = Literal["read", "listen", "record", "end", "hangup"]


@dataclass(frozen=True)
class Command:
    op: Op
    step: str
    seq: int
    prompts: tuple[str, ...] = ()
    max_digits: int = 1
    timeout: float = 5.0
    silence: float = 2.0
    max_seconds: float = 10.0
    phrases: tuple[str, ...] = ()  # the grammar of a `listen`


@dataclass(frozen=True)
class Answer:
    step: str
    digits: str
    accepted: bool
    words: str = ""  # what the recognizer heard ('' for a key)


UNK = "[unk]"


def match_phrase(step: Step, text: str) -> str | None:
    """The key of the one choice whose phrases make up `text`, or None.

    Longer phrases are taken first and cut out, so "不 满意" is not also heard as "满意".
    Anything else heard but `[unk]` (a grammar word outside a whole phrase, a second
    choice) rejects the answer: a grammar recognizer forces off-topic speech onto its
    words, and such a jumble must not count as an answer.
    """
    heard = f" {' '.join(text.split())} "
    keys: set[str] = set()
    for phrase, key in sorted(step.phrases().items(), key=lambda pk: -len(pk[0].split())):
        if f" {phrase} " in heard:
            keys.add(key)
            while f" {phrase} " in heard:
                heard = heard.replace(f" {phrase} ", " | ")
    stray = [w for w in heard.split() if w not in ("|", UNK)]
    return keys.pop() if len(keys) == 1 and not stray else None


@dataclass
class FlowRun:
    flow: Flow
    variables: Mapping[str, str] = field(default_factory=dict)
    speech: bool = False
    result: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    current: Command | None = None
    finished: bool = False
    _seq: int = 0
    _tries: int = 0

    @property
    def complete(self) -> bool:
        """Were all the answers the flow requires given?"""
        return all(key in self.result for key in self.flow.required)

    @property
    def comment(self) -> str | None:
        text = " ".join(c for c in self.comments if c)
        return text or None

    def start(self) -> Command:
        return self._enter(self.flow.start, ())

    def answer(self, seq: int, digits: str, words: str = "") -> Command | None:
        """The channel's report for command `seq`: the keys read ('' = none), or the
        text recognized from a spoken answer."""
        cmd = self.current
        if self.finished or cmd is None or seq != cmd.seq or cmd.op not in ("read", "listen"):
            return None
        step = self.flow.step(cmd.step)
        key = digits[:1]
        if key:
            choice_key: str | None = key if key in step.choices else None
        elif cmd.op == "listen" and words.strip():
            choice_key = match_phrase(step, words)
        else:
            choice_key = None
        self.answers.append(Answer(cmd.step, digits, choice_key is not None, words.strip()))
        if choice_key is not None:
            choice = step.choices[choice_key]
            self.result.update(choice.set)
            assert choice.next is not None  # validated
            return self._enter(choice.next, choice.say)
        self._tries += 1
        if self._tries > step.retries:
            if step.exhausted is None:
                return self._issue("hangup", cmd.step, ())
            return self._enter(step.exhausted, ())
        lead = step.invalid if key or words.strip() else step.no_input
        return self._issue("read", cmd.step, (*lead, *self._say(step)), step)

    def recorded(self, seq: int, text: str) -> Command | None:
        """The channel's report for a `record` command: the comment's transcript."""
        cmd = self.current
        if self.finished or cmd is None or seq != cmd.seq or cmd.op != "record":
            return None
        self.comments.append(" ".join(text.split()))
        step = self.flow.step(cmd.step)
        assert step.next is not None  # validated
        return self._enter(step.next, ())

    def hung_up(self) -> None:
        self.finished = True

    def _enter(self, name: str, lead: tuple[str, ...]) -> Command:
        prompts = list(lead)
        for _ in range(len(self.flow.steps) + 1):
            step = self.flow.step(name)
            if step.kind == "record" and not self.speech:
                assert step.next is not None  # validated
                name = step.next  # no comment without speech: not even its prompts
                continue
            self.result.update(step.set)
            prompts.extend(self._say(step))
            if step.kind == "play":
                assert step.next is not None  # validated
                name = step.next
                continue
            self._tries = 0
            if step.kind == "end":
                return self._issue("end", name, tuple(prompts))
            if step.kind == "record":
                return self._issue("record", name, tuple(prompts), step)
            op: Op = "listen" if step.listen and self.speech else "read"
            return self._issue(op, name, tuple(prompts), step)
        return self._issue("hangup", name, ())  # only play steps in a loop: stop

    def _issue(
        self, op: Op, name: str, prompts: tuple[str, ...], step: Step | None = None
    ) -> Command:
        self._seq += 1
        if step is None:
            self.current = Command(op, name, self._seq, prompts)
        else:
            phrases = tuple(step.phrases()) if op == "listen" else ()
            self.current = Command(
                op, name, self._seq, prompts, 1, step.timeout, step.silence, step.max_seconds,
                phrases,
            )  # fmt: skip
        if op in ("end", "hangup"):
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
