"""Search terms for Chinese (and Korean) text without a word segmenter. Pure: no I/O.

Theory of operation
-------------------
Chinese is written without spaces, and a dictionary segmenter (jieba and friends) is a
large dependency whose dictionary misses the local names a hotline hears every day
(小区, 路, 单位名). Character bigrams need no dictionary and work the same in SQLite and
PostgreSQL (they are stored in an ordinary index table, see `knowledge.models`): a
query "社保卡补办" becomes 社保 保卡 卡补 补办, and an article about 社保卡补办 shares all
four, an article about 社保缴费 only one.

`terms(text)`:

1. NFKC-normalises (full-width letters and digits become ASCII) and lower-cases;
2. joins Han characters separated only by whitespace (a recogniser writes
   "我 想 办 社保卡": the words belong together);
3. splits into runs of Han characters, runs of Hangul syllables and runs of ASCII
   letters/digits; everything else (punctuation, symbols, other scripts) separates runs;
4. a Han run of one character yields that character, a longer run yields its bigrams;
   a Hangul run of two or more syllables yields its bigrams (a one-syllable Korean word
   is nearly always a particle or a filler: no term); an ASCII run yields itself, cut to
   `MAX_TERM_LENGTH`.

Hangul is indexed like Han because the recogniser the tests can run offline is the
Korean Vosk model: its transcripts then find Korean articles through the same index, so
the automatic suggestions are exercised end to end. Unlike Han, Korean separates words
with spaces, so Hangul runs are not joined across whitespace (no bigrams across words).

Terms keep their repeats (the index counts them); `query_terms` gives the distinct terms
of a query in first-seen order, without the conversational bigrams (你好, 请问, 一下 ...)
that every call contains and no article is about.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MAX_TERM_LENGTH = 32

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_HAN_GAP = re.compile(rf"(?<=[{_HAN}])\s+(?=[{_HAN}])")
_HANGUL = r"\uac00-\ud7a3"  # precomposed syllables (NFKC keeps them composed)
_RUN = re.compile(rf"[{_HAN}]+|[{_HANGUL}]+|[a-z0-9]+")
_HAN_RUN = re.compile(rf"[{_HAN}]+")
_HANGUL_RUN = re.compile(rf"[{_HANGUL}]+")

# Bigrams of talk, not of topic: they would make every transcript match every article.
_STOP_TEXT = """
你好 您好 请问 一下 我想 我们 你们 他们 什么 怎么 这个 那个 就是 然后 还是 可以
没有 现在 知道 问问 谢谢 麻烦 好的 是的 对的 那么 因为 所以 如果 但是 的话 一个
这样 那样 还有 已经 一直 时候 我是 我家 家里 嗯嗯 啊啊 喂喂 那边 这边 不是 不知
的时 我要 要办 想问 问一 下我 我的 你的 的是 是不 了我 们的 里的
"""
STOP_TERMS = frozenset(_STOP_TEXT.split())


def normalize(text: str) -> str:
    """NFKC, lower case, Han characters split by whitespace joined."""
    return _HAN_GAP.sub("", unicodedata.normalize("NFKC", text).lower())


def terms(text: str) -> list[str]:
    """Every term of `text`, in order, with repeats."""
    found: list[str] = []
    for run in _RUN.findall(normalize(text)):
        if _HAN_RUN.fullmatch(run):
            if len(run) == 1:
                found.append(run)
            else:
                found.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif _HANGUL_RUN.fullmatch(run):
            found.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            found.append(run[:MAX_TERM_LENGTH])
    return found


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))


def query_terms(text: str, *, limit: int = 400) -> tuple[str, ...]:
    """The distinct, meaningful terms of a query (at most `limit`), first seen first."""
    seen: dict[str, None] = {}
    for term in terms(text):
        if term in STOP_TERMS or term in seen:
            continue
        seen[term] = None
        if len(seen) >= limit:
            break
    return tuple(seen)
