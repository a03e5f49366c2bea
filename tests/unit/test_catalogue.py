"""The hotline catalogue: the shipped file loads; every kind of bad entry is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.catalogue import CatalogueError, load_catalogue, parse_catalogue

GOOD = """
[defaults]
default_queue = "hotline-default"

[[skill]]
name = "general"
queue = "hotline-general"

[[skill]]
name = "transport"
queue = "hotline-transport"
overflow_seconds = 20

[[line]]
dnis = ["12345"]
name = "12345 政务服务便民热线"
skill = "general"
priority = 2

[[line]]
dnis = ["12328"]
name = "12328 交通运输"
skill = "transport"

[[partner]]
number = "110"
name = "110 公安"
"""


def test_shipped_catalogue_covers_the_merged_lines() -> None:
    cat = load_catalogue()
    for dnis, queue in (
        ("12345", "hotline-general"),
        ("12343", "hotline-general"),
        ("12328", "hotline-transport"),
        ("12315", "hotline-market"),
        ("12333", "hotline-social"),
    ):
        line = cat.line_for(dnis)
        assert line is not None and cat.skill_of(line).queue == queue
    enterprise = [line for line in cat.lines if line.enterprise]
    assert [line.name for line in enterprise] == ["营商环境专线"]
    assert enterprise[0].priority > cat.line_for("12345").priority  # type: ignore[union-attr]
    assert {p.number for p in cat.partners} == {"110", "119", "120", "122"}
    assert all(cat.line_for(p.number) is None for p in cat.partners)
    assert cat.queues()[0] == "hotline-default"


def test_good_catalogue_parses_with_defaults() -> None:
    cat = parse_catalogue(GOOD)
    assert cat.skills["general"].overflow_seconds == 60
    assert cat.skills["transport"].overflow_seconds == 20
    assert cat.skills["general"].overflow_to == "hotline-default"
    assert cat.line_for("12328").priority == 1  # type: ignore[union-attr]
    assert cat.line_for("99999") is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'skill = "transport"',
            'skill = "trains"',
            r"\[\[line\]\] #2 '12328 交通运输' \(file line 20\): unknown skill 'trains'",
        ),
        ('dnis = ["12328"]', 'dnis = ["12345"]', r"#2 .*dnis 12345 is already line"),
        ('dnis = ["12328"]', "dnis = [12328]", r"#2 .*must be 3-20 digits, quoted"),
        ("priority = 2", "priority = 99", r"#1 .*priority 99 must be 0-10"),
        ("priority = 2", "priorty = 2", r"#1 .*unknown key\(s\) \['priorty'\]"),
        ('number = "110"', 'number = "12345"', r"\[\[partner\]\] #1 .*is a line too"),
        (
            'queue = "hotline-transport"',
            'queue = "hotline-general"',
            r"\[\[skill\]\] #2 .*used twice",
        ),
        ('queue = "hotline-general"', 'queue = "Hotline General"', r"queue name 'Hotline General'"),
        ("overflow_seconds = 20", "overflow_seconds = 0", r"overflow_seconds 0"),
        ("overflow_seconds = 20", 'overflow_to = "nowhere"', r"overflow_to 'nowhere'"),
        ('name = "12345 政务服务便民热线"', 'name = ""', r"#1 .*name is missing"),
        ("[[partner]]", "[[partner]\n", r"not valid TOML"),
    ],
)
def test_bad_entries_are_refused_naming_the_entry(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(GOOD.replace(old, new, 1), "hotlines.toml")


def test_no_lines_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no lines"):
        parse_catalogue('[[skill]]\nname = "a"\nqueue = "q-a"\n')
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.toml")
