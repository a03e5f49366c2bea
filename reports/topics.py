"""Hot topics (热点): the most frequent categories and words, rising ones first. Pure.

Theory of operation
-------------------
Categories are the orders' 诉求分类 (the responsibility catalogue's categories), counted
per order. Words come from each order's title and content and from what the caller said
on the period's calls (caller transcripts), counted once per text (document frequency:
one long complaint cannot make a topic on its own). Two kinds of word:

1. the hotline's own vocabulary: the cue words of the responsibility catalogue
   (停水, 电梯, 维修基金 ...), found as substrings: clean words, any length;
2. Chinese character bigrams (`knowledge.tokens`, no segmenter, no dictionary), for what
   the vocabulary does not know yet (a new estate's name, a new policy). Bigrams that
   straddle two words (小区停水 gives 区停) are the noise here, so a bigram counts only
   when it is in at least `MIN_BIGRAM_TEXTS` texts and is seen next to at least two
   different characters on one side (a word is used in varied company; a straddle
   always sits inside the same phrase). Bigrams inside a vocabulary word are left to
   the word.

Before counting, the way orders are written is taken out (市民来电反映, 要求, 希望 ...), so
it neither counts nor glues to the topic next to it; talk (你好, 请问) and single
characters or digits are never topics.

`hot(current, previous, limit)` takes the `limit` most frequent keys of the period, then
puts the rising ones first (more than in the previous period of the same length, the
biggest rise first), then the others by count. A key new this period is rising.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable

from knowledge.tokens import STOP_TERMS, normalize
from reports.model import OrderRow, Topic, TranscriptRow

HOT_LIMIT = 10
MIN_BIGRAM_TEXTS = 2

# Phrases of the form, longest first: removed before counting.
_BOILERPLATE_PHRASES = """
市民来电反映 市民来电咨询 市民来电投诉 市民来电举报 市民来电求助 市民来电建议 市民来电
来电反映 来电咨询 来电投诉 来电举报 来电求助 来电建议 市民反映 群众反映 企业反映 反映称
来电人 来电 反映 咨询 投诉 举报 求助 建议 要求 希望 请求 诉求 表示 称 市民 群众
"""
_PHRASES = sorted(_BOILERPLATE_PHRASES.split(), key=len, reverse=True)
_FORM = re.compile("|".join(map(re.escape, _PHRASES)))
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_BOILERPLATE_BIGRAMS = """
问题 处理 情况 相关 部门 协调 解决 尽快 帮忙 帮助 核实 回复 联系 电话 工作 人员 目前
单位 进行 导致 造成 存在 关于 如何 是否 能否 哪里 办理 需要 不能 没人 一直 今天 昨天
"""
REPORT_STOP = STOP_TERMS | frozenset(_BOILERPLATE_BIGRAMS.split())


def clean(text: str) -> str:
    """Normalised text with the order-writing formulas cut out (they separate runs)."""
    return _FORM.sub("，", normalize(text))


def _texts(orders: Iterable[OrderRow], transcripts: Iterable[TranscriptRow]) -> list[str]:
    # Title and content are separate sentences: "。" keeps them from gluing together.
    return [clean(f"{o.title}。{o.content}") for o in orders] + [clean(t.text) for t in transcripts]


def word_counts(
    orders: Iterable[OrderRow],
    transcripts: Iterable[TranscriptRow],
    vocabulary: Collection[str] = (),
) -> Counter[str]:
    texts = _texts(orders, transcripts)
    words = sorted({normalize(w) for w in vocabulary if len(w) >= 2})
    counts: Counter[str] = Counter()
    docs: Counter[str] = Counter()
    left: dict[str, set[str]] = defaultdict(set)
    right: dict[str, set[str]] = defaultdict(set)
    for text in texts:
        counts.update(w for w in words if w in text)
        seen: set[str] = set()
        for run in _HAN_RUN.findall(text):
            for i in range(len(run) - 1):
                gram = run[i : i + 2]
                if gram in REPORT_STOP:
                    continue
                seen.add(gram)
                left[gram].add(run[i - 1] if i > 0 else f"^{len(left[gram])}")
                right[gram].add(run[i + 2] if i + 2 < len(run) else f"${len(right[gram])}")
        docs.update(seen)
    for gram, n in docs.items():
        if n < MIN_BIGRAM_TEXTS or any(gram in w for w in words):
            continue
        if len(left[gram]) >= 2 or len(right[gram]) >= 2:
            counts[gram] = n
    return counts


def category_counts(orders: Iterable[OrderRow]) -> Counter[str]:
    return Counter(o.category for o in orders if o.category)


def hot(current: Counter[str], previous: Counter[str], limit: int = HOT_LIMIT) -> list[Topic]:
    top = sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    topics = [Topic(key=k, count=n, previous=previous.get(k, 0)) for k, n in top]
    rising = sorted((t for t in topics if t.rising), key=lambda t: (-t.change, -t.count, t.key))
    steady = [t for t in topics if not t.rising]
    return rising + steady
