"""Character error rate (pure), for accuracy tests and benches.

Text is compared as characters with spaces and punctuation removed (Korean and Chinese
references differ from recognizer output in word spacing, which is not an error a
reader sees). The aggregate over a set is total edits / total reference characters,
not a mean of per-clip rates (short clips would weigh as much as long ones).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def normalize(text: str) -> str:
    return "".join(
        ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def edit_distance(ref: str, hyp: str) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def cer(ref: str, hyp: str) -> float:
    r, h = normalize(ref), normalize(hyp)
    return edit_distance(r, h) / max(len(r), 1)


def aggregate_cer(pairs: Iterable[tuple[str, str]]) -> float:
    """Total edits over total reference characters for (reference, hypothesis) pairs."""
    edits = chars = 0
    for ref, hyp in pairs:
        r, h = normalize(ref), normalize(hyp)
        edits += edit_distance(r, h)
        chars += len(r)
    return edits / max(chars, 1)
