"""Hot topics (热点): the most frequent categories and words, rising ones first. Pure.

Theory of operation
-------------------
Categories are the orders' 诉求分类 (the responsibility catalogue's categories), counted
per order. Words are the Chinese character bigrams of `knowledge.tokens` (no segmenter,
no dictionary: the same terms the knowledge search uses) taken from each order's title
and content and from what the caller said on calls of the period (caller transcripts);
a word counts once per order or call (document frequency), so one long complaint cannot
make a topic on its own. Talk and order boilerplate (你好, 市民来电反映, 要求, 处理 ...) and
single characters or digits are not topics.

`hot(current, previous, limit)` takes the `limit` most frequent keys of the period, then
puts the rising ones first (more than in the previous period of the same length, the
biggest rise first), then the others by count. A key new this period is rising.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from knowledge.tokens import STOP_TERMS, terms
from reports.model import OrderRow, Topic, TranscriptRow

HOT_LIMIT = 10

# Bigrams every order or call has: the way orders are written, not what they are about.
_BOILERPLATE = """
市民 来电 反映 诉求 要求 希望 表示 问题 处理 情况 相关 部门 咨询 投诉 举报 建议 求助
协调 解决 尽快 帮忙 帮助 核实 回复 联系 电话 工作 人员 目前 单位 进行 导致 造成 存在
民来 电反 电咨 电投 电举 电要 电求 映称 映的 询关 询如 关于 如何 是否 能否 哪里 办理
"""
REPORT_STOP = STOP_TERMS | frozenset(_BOILERPLATE.split())


def words_of(text: str) -> set[str]:
    """The distinct topic words of one text."""
    return {t for t in terms(text) if len(t) == 2 and not t.isascii() and t not in REPORT_STOP}


def word_counts(orders: Iterable[OrderRow], transcripts: Iterable[TranscriptRow]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for o in orders:
        counts.update(words_of(f"{o.title} {o.content}"))
    for t in transcripts:
        counts.update(words_of(t.text))
    return counts


def category_counts(orders: Iterable[OrderRow]) -> Counter[str]:
    return Counter(o.category for o in orders if o.category)


def hot(current: Counter[str], previous: Counter[str], limit: int = HOT_LIMIT) -> list[Topic]:
    top = sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    topics = [Topic(key=k, count=n, previous=previous.get(k, 0)) for k, n in top]
    rising = sorted((t for t in topics if t.rising), key=lambda t: (-t.change, -t.count, t.key))
    steady = [t for t in topics if not t.rising]
    return rising + steady
