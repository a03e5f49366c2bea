"""IVR flows as data: TOML files in config/ivr/, validated once at start. Pure apart from
reading the files.

A flow is a small graph of steps. Every step says some prompts (`say`); then it either
asks for a key (`choices`), goes on (`next`), or ends the call (`end = true`)::

    name = "survey"
    start = "satisfaction"
    required = ["satisfaction"]        # the answers that make the call a result
    variables = ["order_ref"]          # values a job supplies ("$order_ref" in `say`)

    [steps.satisfaction]
    say = ["greeting", "ask_satisfaction"]
    timeout = 6                        # seconds to wait for a key after the prompts
    retries = 2                        # ask again this often after silence or a wrong key
    invalid = ["invalid_choice"]       # said before asking again after a wrong key
    exhausted = "goodbye"              # where to go when the retries run out

    listen = true                      # also take the answer spoken (a Vosk grammar)
    silence = 2                        # seconds of silence that end the spoken answer

    [steps.satisfaction.choices.1]     # keypad 1 (one of 0-9 * #)
    words = ["满意", "非常 满意"]        # the same answer spoken: vocabulary words,
    set = { satisfaction = "满意" }     #   space-separated; what the answer records
    next = "solved"

    [steps.comment]                    # a recorded comment, transcribed (full Vosk)
    say = ["ask_comment"]
    record = true
    max_seconds = 30                   # the longest comment kept
    silence = 3                        # seconds of silence that end it
    next = "thanks"

Spoken answers and comments need `ivr.speech = true` and a model in the flows' language
(`ivr.speech_model`, default `asr.model_path`); every word of every `words` phrase must be
in that model's vocabulary, or the server refuses to start naming the flow, the step and
the word (`check_vocabulary`). With `ivr.speech = false` a `listen` step takes keys only
and `record` steps are skipped.

Prompts are names from the catalogue (config/ivr/prompts.toml: name = the text a
synthesizer speaks; the sound file is prompts/<name>.wav). "$var" in `say` speaks the
job's value of `var` character by character with the prompts `d0`..`d9`.

Loading refuses, with the file and line at fault (`FlowError`): a TOML syntax error, a
field of the wrong shape or unknown, a reference to an unknown step or prompt, a step no
path reaches, a variable not declared. `load_flows(dir)` loads every *.toml but
prompts.toml.

Errors::

    FlowError       a flow file is wrong (path, line, message), or speaks a word the
                    speech model does not know
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROMPTS_FILE = "prompts.toml"
KEYS = "0123456789*#"
DIGIT_PROMPTS = tuple(f"d{n}" for n in range(10))
_NAME = r"^[a-z][a-z0-9_]*$"


class FlowError(Exception):
    """A flow (or the prompt catalogue) is wrong; says which file and line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    set: dict[str, str] = Field(default_factory=dict)
    words: tuple[str, ...] = ()
    say: tuple[str, ...] = ()
    next: str | None = None


class Step(_Strict):
    say: tuple[str, ...] = ()
    next: str | None = None
    end: bool = False
    listen: bool = False
    record: bool = False
    silence: float = Field(2.0, gt=0, le=10)
    max_seconds: float = Field(10.0, gt=0, le=120)
    choices: dict[str, Choice] = Field(default_factory=dict)
    timeout: float = Field(5.0, gt=0, le=60)
    retries: int = Field(1, ge=0, le=5)
    invalid: tuple[str, ...] = ()
    no_input: tuple[str, ...] = ()
    exhausted: str | None = None
    set: dict[str, str] = Field(default_factory=dict)

    @property
    def kind(self) -> Literal["ask", "record", "play", "end"]:
        if self.choices:
            return "ask"
        if self.record:
            return "record"
        return "end" if self.end else "play"

    def phrases(self) -> dict[str, str]:
        """Spoken phrase (words joined by one space) -> the key of its choice."""
        return {
            " ".join(words.split()): key
            for key, choice in self.choices.items()
            for words in choice.words
        }


class _FlowDoc(_Strict):
    name: str = Field(pattern=_NAME)
    start: str
    description: str = ""
    required: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    steps: dict[str, Step]


@dataclass(frozen=True)
class Flow:
    """A validated flow: every reference resolves."""

    name: str
    start: str
    steps: Mapping[str, Step]
    required: tuple[str, ...]
    variables: tuple[str, ...]
    path: Path

    def step(self, name: str) -> Step:
        return self.steps[name]

    @property
    def uses_speech(self) -> bool:
        return any(s.listen or s.record for s in self.steps.values())

    def spoken_words(self) -> list[tuple[str, str]]:
        """(step, word) for every vocabulary word a listening step's grammar holds."""
        return [
            (name, word)
            for name, step in self.steps.items()
            if step.listen
            for phrase in step.phrases()
            for word in phrase.split()
        ]

    def prompts(self) -> set[str]:
        """Every prompt name the flow may say (digits included when it spells values)."""
        names: set[str] = set()
        for step in self.steps.values():
            for seq in (step.say, step.invalid, step.no_input):
                names.update(p for p in seq if not p.startswith("$"))
            for choice in step.choices.values():
                names.update(choice.say)
            if any(p.startswith("$") for p in step.say):
                names.update(DIGIT_PROMPTS)
        return names


# ----------------------------------------------------------------------------- loading


def load_prompt_catalogue(path: Path) -> dict[str, str]:
    """Prompt name -> the text it says (what a synthesizer speaks)."""
    data, text = _read(path)
    lines = _Locator(text)
    catalogue: dict[str, str] = {}
    for name, value in data.items():
        if not re.match(_NAME, name):
            raise FlowError(path, lines.find((name,)), f"prompt name {name!r}: use a-z 0-9 _")
        if not isinstance(value, str) or not value.strip():
            raise FlowError(path, lines.find((name,)), f"prompt {name!r}: needs its text")
        catalogue[name] = value
    return catalogue


def load_flow(path: Path, prompts: Mapping[str, str]) -> Flow:
    data, text = _read(path)
    lines = _Locator(text)
    try:
        doc = _FlowDoc.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        raise FlowError(
            path, lines.find(loc), f"{'.'.join(loc) or '(file)'}: {first['msg']}"
        ) from err
    flow = Flow(
        name=doc.name, start=doc.start, steps=doc.steps, required=doc.required,
        variables=doc.variables, path=path,
    )  # fmt: skip
    for problem, loc in _problems(doc, prompts):
        raise FlowError(path, lines.find(loc), problem)
    return flow


def load_flows(directory: Path) -> dict[str, Flow]:
    """Every flow in `directory` (*.toml but prompts.toml) by name; raise FlowError."""
    catalogue_path = directory / PROMPTS_FILE
    prompts = load_prompt_catalogue(catalogue_path)
    flows: dict[str, Flow] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.name == PROMPTS_FILE:
            continue
        flow = load_flow(path, prompts)
        if flow.name in flows:
            other = flows[flow.name].path
            raise FlowError(path, 1, f"flow {flow.name!r} is also defined in {other}")
        flows[flow.name] = flow
    return flows


def check_vocabulary(
    flows: Mapping[str, Flow], known: Callable[[str], bool], model: str = "the speech model"
) -> None:
    """Refuse a spoken word the model cannot recognize (a grammar would drop it silently):
    FlowError naming the flow's file and line, the flow, the step and the word."""
    for flow in flows.values():
        unknown = [(step, word) for step, word in flow.spoken_words() if not known(word)]
        if unknown:
            step, word = unknown[0]
            others = sorted({w for _, w in unknown[1:]} - {word})
            more = f" (also: {', '.join(others)})" if others else ""
            line = _Locator(flow.path.read_text(encoding="utf-8")).find(("steps", step))
            raise FlowError(flow.path, line, f"flow {flow.name!r}, step {step!r}: spoken word "
                            f"{word!r} is not in the vocabulary of {model}{more}")  # fmt: skip


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FlowError(path, None, f"cannot read: {err}") from err
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"at line (\d+)", str(err))
        raise FlowError(path, int(match.group(1)) if match else None, str(err)) from err


Loc = tuple[str, ...]


def _problems(doc: _FlowDoc, prompts: Mapping[str, str]) -> list[tuple[str, Loc]]:
    """What is wrong with the references of a well-shaped flow, each with where."""
    out: list[tuple[str, Loc]] = []
    steps = doc.steps

    def step_ref(name: str | None, loc: Loc, what: str) -> None:
        if name is not None and name not in steps:
            known = ", ".join(sorted(steps))
            out.append((f"{what}: unknown step {name!r} (steps: {known})", loc))

    def prompt_refs(names: Sequence[str], loc: Loc) -> None:
        for p in names:
            if p.startswith("$"):
                if p[1:] not in doc.variables:
                    out.append((f"{'.'.join(loc)}: variable {p!r} is not in `variables`", loc))
            elif p not in prompts:
                out.append((f"{'.'.join(loc)}: unknown prompt {p!r} (not in {PROMPTS_FILE})", loc))

    if doc.start not in steps:
        step_ref(doc.start, ("start",), "start")
    if any(p.startswith("$") for s in steps.values() for p in s.say):
        missing = [d for d in DIGIT_PROMPTS if d not in prompts]
        if missing:
            out.append((f"spelling a value needs the prompts {missing}", ("variables",)))
    for name, step in steps.items():
        base: Loc = ("steps", name)
        if not re.match(_NAME, name):
            out.append((f"step name {name!r}: use a-z 0-9 _", base))
        prompt_refs(step.say, (*base, "say"))
        prompt_refs(step.invalid, (*base, "invalid"))
        prompt_refs(step.no_input, (*base, "no_input"))
        step_ref(step.next, (*base, "next"), f"steps.{name}.next")
        step_ref(step.exhausted, (*base, "exhausted"), f"steps.{name}.exhausted")
        kind = step.kind
        if kind in ("play", "record") and step.next is None:
            out.append((f"steps.{name}: needs `next`, `choices` or `end = true`", base))
        if kind in ("ask", "end") and step.next is not None:
            out.append((f"steps.{name}: `next` only belongs to a step without choices", base))
        out.extend(_speech_problems(name, step))
        if kind == "end" and not step.say:
            out.append((f"steps.{name}: an end step says something first", base))
        for key, choice in step.choices.items():
            cloc: Loc = (*base, "choices", key)
            if len(key) != 1 or key not in KEYS:
                out.append((f"steps.{name}.choices: {key!r} is not one keypad key", cloc))
            prompt_refs(choice.say, (*cloc, "say"))
            step_ref(choice.next, (*cloc, "next"), f"steps.{name}.choices.{key}.next")
            if choice.next is None:
                out.append((f"steps.{name}.choices.{key}: needs `next`", cloc))
    if out:
        return out
    for name in sorted(set(steps) - _reachable(doc)):
        out.append((f"steps.{name}: no path from `start` reaches it", ("steps", name)))
    return out


def _speech_problems(name: str, step: Step) -> list[tuple[str, Loc]]:
    out: list[tuple[str, Loc]] = []
    base: Loc = ("steps", name)
    if step.record and (step.choices or step.end):
        out.append((f"steps.{name}: a `record` step has no choices and is not the end",
                    (*base, "record")))  # fmt: skip
    if step.listen and not step.phrases():
        out.append((f"steps.{name}: `listen` needs `words` on its choices", (*base, "listen")))
    seen: dict[str, str] = {}
    for key, choice in step.choices.items():
        for words in choice.words:
            phrase = " ".join(words.split())
            loc: Loc = (*base, "choices", key, "words")
            if not phrase:
                out.append((f"steps.{name}.choices.{key}.words: an empty phrase", loc))
            elif seen.setdefault(phrase, key) != key:
                out.append((f"steps.{name}.choices.{key}.words: {phrase!r} is also a word "
                            f"of choice {seen[phrase]}", loc))  # fmt: skip
    return out


def _reachable(doc: _FlowDoc) -> set[str]:
    seen: set[str] = set()
    todo = [doc.start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        step = doc.steps[name]
        targets = [step.next, step.exhausted, *(c.next for c in step.choices.values())]
        todo.extend(t for t in targets if t is not None)
    return seen


# ----------------------------------------------------------------------------- lines

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _split_key(key: str) -> Loc:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", key)
    return tuple(p.strip("\"'") for p in parts)


class _Locator:
    """Finds the line a dotted path was written on (tomllib keeps no positions).

    Each table header and key line gets its full path; the line whose path is the longest
    prefix of the wanted path wins (an inline table's line holds everything inside it).
    """

    def __init__(self, text: str) -> None:
        self._paths: list[tuple[int, Loc]] = []
        table: Loc = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if header := _HEADER.match(line):
                table = _split_key(header.group(1))
                self._paths.append((number, table))
            elif key := _KEY.match(line):
                self._paths.append((number, table + _split_key(key.group(1))))

    def find(self, loc: Loc) -> int | None:
        best: tuple[int, int] | None = None  # (prefix length, line)
        for number, path in self._paths:
            n = len(path)
            if n and path == loc[:n] and (best is None or n > best[0]):
                best = (n, number)
        return best[1] if best else None
