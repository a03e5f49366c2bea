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
   always sits inside the same phrase; a text edge or punctuation counts as a
   different neighbour every time). Bigrams inside a vocabulary word are left to the
   word. Only the `CANDIDATES` most frequent bigrams are checked (by scanning the
   period's joined text for them): the rest could never reach a hot-topic list.

Before counting, the way orders are written is taken out (市民来电反映, 要求, 希望 ...), so
it neither counts nor glues to the topic next to it; talk (你好, 请问) and single
characters or digits are never topics.

`hot(current, previous, limit)` takes the `limit` most frequent keys of the period, then
puts the rising ones first (more than in the previous period of the same length, the
biggest rise first), then the others by count. A key new this period is rising.
`hot_words` counts the previous period only for the current top words (how many of its
texts contain each): a month's comparison costs ten substring scans, not a second count.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from knowledge.tokens import STOP_TERMS, normalize
from reports.model import OrderRow, Topic, TranscriptRow

HOT_LIMIT = 10
CANDIDATES = 200  # bigrams checked for varied company, most frequent first
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


def texts(orders: Iterable[OrderRow], transcripts: Iterable[TranscriptRow]) -> list[str]:
    """The cleaned texts of a period: one per order, one per call transcript."""
    # Title and content are separate sentences: "。" keeps them from gluing together.
    return [clean(f"{o.title}。{o.content}") for o in orders] + [clean(t.text) for t in transcripts]


def _edges_vary(corpus: str, gram: str) -> bool:
    """Is `gram` seen next to two different characters on one side (an edge is unique)?"""
    at = corpus.find(gram)
    if at <= 0 or at + 2 >= len(corpus):
        return True  # at the very edge of the text (or absent: nothing to check)
    before, after = corpus[at - 1], corpus[at + 2]
    if not _HAN_RUN.fullmatch(before) or not _HAN_RUN.fullmatch(after):
        return True
    # Anywhere else with another neighbour on either side (or an edge: no neighbour).
    other = re.compile(
        f"(?<!{re.escape(before)}){re.escape(gram)}|{re.escape(gram)}(?!{re.escape(after)})"
    )
    return other.search(corpus) is not None


def word_counts(
    found: Sequence[str],
    vocabulary: Collection[str] = (),
    limit: int = HOT_LIMIT,
    candidates: int = CANDIDATES,
) -> Counter[str]:
    """Words of the texts `found`, each counted once per text.

    Vocabulary words always count. Bigrams are checked most frequent first, among the
    `candidates` most frequent, until `limit` varied ones are found: no later one could
    enter a top-`limit` list (ties at the cut aside).
    """
    words = sorted({normalize(w) for w in vocabulary if len(w) >= 2})
    inside_words = {w[i : i + 2] for w in words for i in range(len(w) - 1)}
    vocab = re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))
    counts: Counter[str] = Counter()
    docs: Counter[str] = Counter()
    for text in found:
        if words:
            counts.update(set(vocab.findall(text)))
        docs.update(
            {run[i : i + 2] for run in _HAN_RUN.findall(text) for i in range(len(run) - 1)}
        )
    corpus = "\n".join(found)
    ranked = (
        (gram, n)
        for gram, n in docs.most_common()
        if n >= MIN_BIGRAM_TEXTS and gram not in REPORT_STOP and gram not in inside_words
    )
    found_grams = 0
    for gram, n in itertools.islice(ranked, candidates):
        if _edges_vary(corpus, gram):
            counts[gram] = n
            found_grams += 1
            if found_grams >= limit:
                break
    return counts


def doc_counts(found: Sequence[str], keys: Iterable[str]) -> Counter[str]:
    """How many of the texts contain each key (for the previous period's figures)."""
    return Counter({k: sum(k in text for text in found) for k in keys})


def hot_words(
    current: Sequence[str],
    previous: Sequence[str],
    vocabulary: Collection[str] = (),
    limit: int = HOT_LIMIT,
) -> list[Topic]:
    counts = word_counts(current, vocabulary, limit)
    top = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    return hot(counts, doc_counts(previous, top), limit)


def category_counts(orders: Iterable[OrderRow]) -> Counter[str]:
    return Counter(o.category for o in orders if o.category)


def hot(current: Counter[str], previous: Counter[str], limit: int = HOT_LIMIT) -> list[Topic]:
    top = sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    topics = [Topic(key=k, count=n, previous=previous.get(k, 0)) for k, n in top]
    rising = sorted((t for t in topics if t.rising), key=lambda t: (-t.change, -t.count, t.key))
    steady = [t for t in topics if not t.rising]
    return rising + steady
