from __future__ import annotations

from asr.keywords import KeywordRule, KeywordWatcher, find

RULES = (
    KeywordRule("着火", "transfer_119"),
    KeywordRule("煤气泄漏", "transfer_119"),
    KeywordRule("自杀", "alert_supervisor"),
)


def test_keywords_match_across_word_spaces() -> None:
    assert [r.keyword for r in find(RULES, "我 家 煤气 泄漏 了")] == ["煤气泄漏"]
    assert find(RULES, "一切 正常") == []


def test_each_keyword_alerts_once_per_call() -> None:
    w = KeywordWatcher(RULES)
    first = w.check("call-1", "楼下 着火 了")
    assert [(h.keyword, h.action) for h in first] == [("着火", "transfer_119")]
    assert w.check("call-1", "楼下 着火 了 快 来") == []
    assert [h.keyword for h in w.check("call-2", "着火")] == ["着火"]
    w.forget("call-1")
    assert [h.keyword for h in w.check("call-1", "着火")] == ["着火"]
