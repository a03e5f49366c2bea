"""Flows as data: the shipped flows load; a wrong file is refused with its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr_flows.feature import DEFAULT_FLOWS
from ivr_flows.flows import FlowError, load_flows

SMALL = """\
name = "survey"
start = "ask"
required = ["satisfaction"]

[steps.ask]
say = ["ask_satisfaction"]
exhausted = "bye"

[steps.ask.choices.1]
set = { satisfaction = "满意" }
next = "bye"

[steps.bye]
say = ["goodbye"]
end = true
"""


def flows_dir(tmp_path: Path, text: str, name: str = "survey.toml") -> Path:
    shutil.copy(DEFAULT_FLOWS / "prompts.toml", tmp_path / "prompts.toml")
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def refused(tmp_path: Path, text: str) -> FlowError:
    with pytest.raises(FlowError) as info:
        load_flows(flows_dir(tmp_path, text))
    return info.value


def test_the_shipped_flows_load_and_use_only_catalogued_prompts() -> None:
    flows = load_flows(DEFAULT_FLOWS)
    assert set(flows) == {"survey", "supervision"}
    survey = flows["survey"]
    assert survey.required == ("satisfaction",)
    values = {c.set["satisfaction"] for c in survey.step("satisfaction").choices.values()}
    assert values == {"满意", "基本满意", "不满意"}
    assert "d4" in flows["supervision"].prompts()  # it spells the order number


def test_a_small_flow_loads(tmp_path: Path) -> None:
    flow = load_flows(flows_dir(tmp_path, SMALL))["survey"]
    assert flow.step("ask").kind == "ask"
    assert flow.step("bye").kind == "end"


def test_an_unknown_step_is_refused_with_its_line(tmp_path: Path) -> None:
    err = refused(tmp_path, SMALL.replace('next = "bye"', 'next = "farewell"'))
    assert err.line == 11
    assert "unknown step 'farewell'" in str(err)
    assert str(err).startswith(f"{tmp_path / 'survey.toml'}:11:")


def test_an_unknown_prompt_is_refused_with_its_line(tmp_path: Path) -> None:
    err = refused(tmp_path, SMALL.replace('say = ["goodbye"]', 'say = ["see_you"]'))
    assert (err.line, "unknown prompt 'see_you'" in err.message) == (14, True)


def test_a_syntax_error_is_refused_with_its_line(tmp_path: Path) -> None:
    err = refused(tmp_path, SMALL.replace('exhausted = "bye"', 'exhausted = "bye'))
    assert err.line == 7


def test_an_unknown_field_is_refused_with_its_line(tmp_path: Path) -> None:
    err = refused(tmp_path, SMALL.replace("end = true", "end = true\nhangup = true"))
    assert err.line == 16
    assert "hangup" in err.message


def test_a_bad_key_an_unreachable_step_and_a_missing_next(tmp_path: Path) -> None:
    err = refused(tmp_path, SMALL.replace("choices.1]", "choices.12]"))
    assert (err.line, "not one keypad key" in err.message) == (9, True)
    extra = SMALL + '\n[steps.lost]\nsay = ["goodbye"]\nend = true\n'
    err = refused(tmp_path, extra)
    assert (err.line, "no path from `start`" in err.message) == (17, True)
    err = refused(tmp_path, SMALL.replace("end = true", ""))
    assert "needs `next`" in err.message


def test_an_undeclared_variable_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, SMALL.replace('say = ["ask_satisfaction"]', 'say = ["$order_ref"]'))
    assert (err.line, "variable '$order_ref'" in err.message) == (6, True)


def test_a_broken_prompt_catalogue_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prompts.toml").write_text('greeting = ""\n', encoding="utf-8")
    with pytest.raises(FlowError, match=r"prompts.toml:1: prompt 'greeting': needs its text"):
        load_flows(tmp_path)
