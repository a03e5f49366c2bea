from __future__ import annotations

import json

import pytest

from asr.segments import (
    RecognizedFinal,
    RecognizedPartial,
    ResultError,
    SegmentTracker,
    Word,
    clean_text,
    parse_final,
    parse_partial,
    read_number,
)


@pytest.mark.parametrize(
    ("n", "ko", "zh"),
    [
        (0, "영", "零"),
        (3, "삼", "三"),
        (10, "십", "十"),
        (15, "십오", "十五"),
        (80, "팔십", "八十"),
        (105, "백오", "一百零五"),
        (1000, "천", "一千"),
        (2018, "이천십팔", "二千零一十八"),
        (12345, "만 이천삼백사십오", "一万二千三百四十五"),
    ],
)
def test_numbers_are_read_out(n: int, ko: str, zh: str) -> None:
    assert read_number(n, "ko") == ko
    assert read_number(n, "zh") == zh
    assert read_number(n, "digits") == str(n)


def test_number_and_word_tokens_are_cleaned() -> None:
    raw = "공사는 이 (천) 팔 년  [3] 월"
    assert clean_text(raw, "ko") == "공사는 이 천 팔 년 삼 월"
    assert clean_text(raw) == "공사는 이 천 팔 년 3 월"
    assert clean_text("[80] 번 [unk]") == "80 번 [unk]"


def test_partials_only_when_the_text_changes_and_not_too_often() -> None:
    t = SegmentTracker("caller", min_interval=0.25)
    out = [t.on_partial(RecognizedPartial(text, at)) for text, at in [
        ("", 0.2), ("안녕", 0.4), ("안녕", 0.8), ("안녕 하세요", 0.5), ("안녕 하세요", 1.0),
        ("안녕 하세요 [3]", 1.3)]]
    texts = [p.text if p else None for p in out]
    assert texts == [None, "안녕", None, None, "안녕 하세요", "안녕 하세요 3"]
    assert {p.index for p in out if p} == {0}


def test_finals_carry_times_in_the_call_and_confidence() -> None:
    t = SegmentTracker("operator", offset_seconds=2.0)
    words = (Word("您好", 0.5, 0.9, 1.0), Word("请讲", 1.0, 1.5, 0.5))
    seg = t.on_final(RecognizedFinal("您好 请讲", words, base_seconds=10.0, audio_seconds=12))
    assert seg is not None
    assert (seg.channel, seg.index, seg.text) == ("operator", 0, "您好 请讲")
    assert (seg.start_seconds, seg.end_seconds, seg.confidence) == (12.5, 13.5, 0.75)
    assert t.on_final(RecognizedFinal("", (), 0.0, 13)) is None  # silence: no segment
    nxt = t.on_final(RecognizedFinal("再见", (), 0.0, 14.0))
    assert nxt is not None and nxt.index == 1 and nxt.start_seconds == 16.0


def test_vosk_json_is_parsed_and_bad_json_refused() -> None:
    raw = json.dumps({"text": "a b", "result": [
        {"word": "a", "start": 0.1, "end": 0.2, "conf": 0.9},
        {"word": "b", "start": 0.3, "end": 0.4, "conf": 1}]})
    final = parse_final(raw, 1.0, 2.0)
    assert final.words[1] == Word("b", 0.3, 0.4, 1.0)
    assert parse_partial('{"partial": "a"}', 0.5).text == "a"
    for bad in ("not json", "[]", '{"text": 3}', '{"text": "a", "result": [{"word": "a"}]}'):
        with pytest.raises(ResultError):
            parse_final(bad, 0, 0)
