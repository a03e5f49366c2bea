from __future__ import annotations

from asr.scoring import aggregate_cer, cer, normalize


def test_cer_ignores_spaces_and_punctuation() -> None:
    assert normalize("가 나, 다.") == "가나다"
    assert cer("가 나 다", "가나다!") == 0.0
    assert cer("가나다라", "가나라") == 0.25
    assert aggregate_cer([("가나", "가나"), ("다라마바", "")]) == 4 / 6
