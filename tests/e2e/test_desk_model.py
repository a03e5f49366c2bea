"""The operator desk's pure part (agent_desktop/static/operator.model.js) in Chromium.

No server: the script is loaded into a blank page and its functions are called with
values; what they return is compared here. These are the desk's rules: which key does
what, how partial and final transcript events fold into lines, what the knowledge base
is asked, what an edited draft keeps, and the body of the one action.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

pytestmark = pytest.mark.e2e
MODEL = Path(__file__).resolve().parents[2] / "agent_desktop/static/operator.model.js"
DESK = Path(__file__).resolve().parents[2] / "agent_desktop/templates/desk.html"


@pytest.fixture
async def model(page: Page) -> Page:
    await page.set_content("<!doctype html><html><body></body></html>")
    await page.add_script_tag(path=str(MODEL))
    return page


async def call(page: Page, fn: str, *args: Any) -> Any:
    return await page.evaluate(f"(args) => window.DeskModel.{fn}(...args)", list(args))


def key(code: str = "", key: str = "", alt: bool = False, in_field: bool = False,
        **mods: bool) -> dict[str, Any]:
    return {"code": code, "key": key, "altKey": alt, "ctrlKey": mods.get("ctrl", False),
            "metaKey": False, "shiftKey": mods.get("shift", False), "inField": in_field}


async def test_shortcut_table(model: Page) -> None:
    table = await model.evaluate("window.DeskModel.SHORTCUTS")
    actions = [s["action"] for s in table]
    assert actions[:2] == ["dispatch", "on_call"]
    assert len(set(actions)) == len(actions)
    assert len({s["keys"] for s in table}) == len(table)
    assert {s["keys"] for s in table} >= {"Alt+D", "Alt+J", "/"}
    assert await call(model, "shortcutFor", key("KeyD", "d", alt=True)) == "dispatch"
    assert await call(model, "shortcutFor", key("KeyJ", "∆", alt=True)) == "on_call"
    # Alt shortcuts work from inside a field (the operator is editing the draft).
    assert await call(model, "shortcutFor", key("KeyD", "d", alt=True, in_field=True)) == "dispatch"
    # "/" focuses the search, except while typing (there it is a slash).
    assert await call(model, "shortcutFor", key("Slash", "/")) == "search"
    assert await call(model, "shortcutFor", key("Slash", "/", in_field=True)) is None
    assert await call(model, "shortcutFor", key("Escape", "Escape", in_field=True)) == "leave"
    assert await call(model, "shortcutFor", key("Escape", "Escape")) == "leave"
    assert await call(model, "shortcutFor", key("KeyD", "d")) is None
    assert await call(model, "shortcutFor", key("KeyD", "d", alt=True, ctrl=True)) is None
    assert await call(model, "shortcutFor", key("KeyD", "D", alt=True, shift=True)) is None
    # The buttons name the same keys as the table.
    html = DESK.read_text(encoding="utf-8")
    assert "派发 <kbd>Alt+D</kbd>" in html and "即办 <kbd>Alt+J</kbd>" in html


async def test_partials_replace_in_place_and_finals_fix_the_line(model: Page) -> None:
    steps = [
        ("transcript.partial", {"channel": "caller", "segment": 0, "text": "我家"}),
        ("transcript.partial", {"channel": "operator", "segment": 0, "text": "您好"}),
        ("transcript.partial", {"channel": "caller", "segment": 0, "text": "我家楼下"}),
        ("transcript.final", {"channel": "caller", "segment": 0, "text": "我家楼下太吵"}),
        ("transcript.partial", {"channel": "caller", "segment": 0, "text": "迟到的"}),
        ("transcript.partial", {"channel": "caller", "segment": 1, "text": "晚上"}),
    ]
    lines: list[dict[str, Any]] = await model.evaluate(
        """(steps) => {
            let lines = [];
            for (const [type, data] of steps) {
                lines = DeskModel.applyTranscript(lines, type, data).lines;
            }
            return lines;
        }""",
        steps,
    )
    assert [(x["id"], x["text"], x["final"]) for x in lines] == [
        ("caller-0", "我家楼下太吵", True),  # a late partial does not undo the final
        ("operator-0", "您好", False),
        ("caller-1", "晚上", False),
    ]


async def test_stored_transcript_becomes_final_lines(model: Page) -> None:
    stored = [{"speaker": "operator", "text": "您好"}, {"speaker": "caller", "text": ""},
              {"speaker": "caller", "text": "停水了"}]
    lines = await call(model, "storedLines", stored)
    assert [(x["id"], x["channel"], x["text"], x["final"]) for x in lines] == [
        ("stored-0", "operator", "您好", True), ("stored-1", "caller", "停水了", True)]


async def test_recent_text_prefers_the_caller_and_is_bounded(model: Page) -> None:
    def seg(channel: str, n: int, text: str, final: bool = True) -> dict[str, Any]:
        return {"id": f"{channel}-{n}", "channel": channel, "segment": n, "text": text,
                "final": final}

    lines = [seg("operator", 0, "您好请讲"), seg("caller", 0, "社保卡丢了"),
             seg("caller", 1, "怎么补办"), seg("caller", 2, "还在说", final=False)]
    assert await call(model, "recentText", lines, 100) == "社保卡丢了 怎么补办"
    assert await call(model, "recentText", lines, 4) == "怎么补办"
    assert await call(model, "recentText", lines[:1], 100) == "您好请讲"
    assert await call(model, "recentText", [], 100) == ""


async def test_stored_alerts_restore_the_keywords_after_a_reload(model: Page) -> None:
    # GET /api/calls/{id}/alerts rows, oldest first: each keyword once, the newest for the
    # banner; keywords a live frame brought already stay first.
    stored = [
        {"keyword": "煤气", "channel": "caller", "action": "transfer_119"},
        {"keyword": "着火", "channel": "caller", "action": "transfer_119"},
        {"keyword": "煤气", "channel": "operator", "action": "alert_supervisor"},
    ]
    got = await call(model, "storedAlerts", ["着火"], stored)
    assert got == {"keywords": ["着火", "煤气"], "last": stored[-1]}
    assert await call(model, "storedAlerts", [], []) == {"keywords": [], "last": None}
    # What the reloaded page then draws: the stored lines highlighted with them.
    lines = await call(model, "storedLines", [{"speaker": "caller", "text": "家里煤气着火了"}])
    parts = await call(model, "highlight", lines[0]["text"], got["keywords"])
    assert [p["text"] for p in parts if p["hit"]] == ["煤气", "着火"]


async def test_highlight_marks_every_keyword(model: Page) -> None:
    parts = await call(model, "highlight", "闻到煤气味，煤气灶", ["煤气", "煤气味"])
    assert parts == [
        {"text": "闻到", "hit": False},
        {"text": "煤气味", "hit": True},  # the longer keyword at the same place wins
        {"text": "，", "hit": False},
        {"text": "煤气", "hit": True},
        {"text": "灶", "hit": False},
    ]
    assert await call(model, "highlight", "没有", []) == [{"text": "没有", "hit": False}]


async def test_a_new_draft_keeps_what_the_operator_corrected(model: Page) -> None:
    merged = await model.evaluate(
        """() => DeskModel.mergeDraft({title: "我改的标题", kind: "help"},
                                      {title: "新标题", kind: "complaint", content: "市民：太吵"},
                                      new Set(["title"]))"""
    )
    assert merged == {"title": "我改的标题", "kind": "complaint", "content": "市民：太吵"}


async def test_the_one_action_body_and_what_blocks_it(model: Page) -> None:
    order = {"kind": "complaint", "title": "t", "caller_number": "138", "call_linkedid": "L1"}
    form = {"title": "噪音扰民", "caller_number": "13800138000"}
    body = await call(model, "takeBody", order, form,
                      {"unit": "ecology", "assisting": ["district.a", "ecology"], "onCall": False})
    assert body == {
        "order": {"kind": "complaint", "title": "噪音扰民", "caller_number": "13800138000",
                  "call_linkedid": "L1"},
        "dispatch": [{"unit_id": "ecology", "role": "lead"},
                     {"unit_id": "district.a", "role": "assisting"}],
    }
    on_call = await call(model, "takeBody", order, form, {"onCall": True, "note": "已答复"})
    assert (on_call["on_call"], on_call["note"]) == (True, "已答复")
    assert "dispatch" not in on_call
    assert await call(model, "blocker", form, {"unit": "ecology", "onCall": False}) is None
    assert await call(model, "blocker", form, {"unit": "", "onCall": False}) == {
        "field": "f-unit", "text": "请选择承办单位"}
    on_call_blocked = await call(model, "blocker", form, {"onCall": True, "note": " "})
    assert on_call_blocked["field"] == "f-note" and "即办" in on_call_blocked["text"]
    assert await call(model, "blocker", {"title": " ", "caller_number": "1"},
                      {"unit": "x"}) == {"field": "f-title", "text": "请填写工单标题"}
    for field in ("f-title", "f-unit", "f-note", "f-caller-number"):  # they exist on the page
        assert f'id="{field}"' in DESK.read_text(encoding="utf-8")


async def test_wrap_up_countdown(model: Page) -> None:
    until = "2026-11-22T08:02:05Z"
    now = await model.evaluate("Date.parse('2026-11-22T08:00:00Z')")
    assert await call(model, "countdown", until, now) == "2:05"
    assert await call(model, "countdown", until, now + 124_500) == "0:01"  # rounds up
    assert await call(model, "countdown", until, now + 125_000) == ""
    assert await call(model, "countdown", "not a time", now) == ""


async def test_own_calls_and_orders_are_asked_of_the_server(model: Page) -> None:
    assert await call(model, "myCallsPath", "1001", 8) == (
        "/api/calls?limit=8&operator_extension=1001")
    assert await call(model, "myCallsPath", "", 8) is None  # not seated: nothing to ask
    assert await call(model, "myOrdersPath", "李 四", 8) == (
        "/api/orders?limit=8&operator=%E6%9D%8E%20%E5%9B%9B")
    assert await call(model, "openOrdersPath", "+8613800138000", 5) == (
        "/api/orders?open=1&limit=5&caller_number=%2B8613800138000")
    assert await call(model, "openOrdersPath", "", 5) is None  # withheld number


async def test_a_desk_acts_only_on_its_own_seat(model: Page) -> None:
    """A supervisor's socket carries every seat's state and pops: the desk takes its own."""
    def frame(kind: str, **data: Any) -> dict[str, Any]:
        return {"type": kind, "data": data}

    mine = frame("operator.pop", extension="1001", call_id="c1")
    other = frame("operator.pop", extension="1002", call_id="c2")
    state = frame("operator.state", extension="1002", state="talking", call_id="c2")
    assert await call(model, "forMySeat", mine, "1001") is True
    assert await call(model, "forMySeat", other, "1001") is False
    assert await call(model, "forMySeat", state, "1001") is False
    assert await call(model, "forMySeat", mine, "") is False  # a supervisor with no seat
    assert await call(model, "forMySeat", state, None) is False
    # not seat-bound: transcripts (matched to the desk's call), callback tasks, others
    for kind in ("transcript.final", "call.callback_task", "order.step"):
        assert await call(model, "forMySeat", frame(kind, call_id="c2"), "") is True


async def test_a_take_refused_for_the_call_names_its_order(model: Page) -> None:
    error = {"code": "order_exists_for_call", "message": "…", "order": "12345-20261122-0001"}
    assert await call(model, "existingOrder", error) == "12345-20261122-0001"
    assert await call(model, "existingOrder", {"code": "step_refused", "message": "x"}) is None
    assert await call(model, "existingOrder", None) is None
    order = {"title": "t", "caller_number": "1", "call_linkedid": "L1"}
    body = await call(model, "takeBody", order, {}, {"onCall": True, "note": "n", "another": True})
    assert body["another_for_call"] is True
    plain = await call(model, "takeBody", order, {}, {"onCall": True, "note": "n"})
    assert "another_for_call" not in plain
