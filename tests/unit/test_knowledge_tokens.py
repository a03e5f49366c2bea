"""Search terms for Chinese text: bigrams, ASCII words, normalisation, stop terms."""

from __future__ import annotations

from knowledge.repo import TITLE_WEIGHT, index_terms
from knowledge.tokens import query_terms, term_counts, terms


def test_han_runs_become_bigrams_and_single_characters_stay() -> None:
    assert terms("社保卡补办") == ["社保", "保卡", "卡补", "补办"]
    assert terms("税") == ["税"]
    assert terms("水，电") == ["水", "电"]


def test_punctuation_and_other_scripts_split_runs() -> None:
    assert terms("停水！城东区") == ["停水", "城东", "东区"]
    assert terms("营业执照(个体)") == ["营业", "业执", "执照", "个体"]


def test_ascii_words_are_lower_cased_and_full_width_is_normalised() -> None:
    assert terms("ＡＰＰ 下载 App12333") == ["app", "下载", "app12333"]
    assert terms("１２３４５热线") == ["12345", "热线"]


def test_recogniser_spaces_between_han_characters_are_joined() -> None:
    # Vosk writes words apart; bigrams across them must still exist.
    assert terms("我 想 办 社保卡") == terms("我想办社保卡")


def test_repeats_are_counted_and_long_ascii_words_are_cut() -> None:
    assert term_counts("停水停水")["停水"] == 2
    assert terms("a" * 100) == ["a" * 32]


def test_query_terms_are_distinct_and_drop_talk() -> None:
    got = query_terms("你好，请问一下公积金怎么提取，公积金")
    assert "你好" not in got and "请问" not in got and "一下" not in got
    assert got.count("公积") == 1
    assert {"公积", "积金", "提取"} <= set(got)
    assert query_terms("   ，。！") == ()


def test_query_terms_are_capped() -> None:
    assert len(query_terms("".join(chr(0x4E00 + i) for i in range(1000)), limit=50)) == 50


def test_title_and_tags_weigh_more_than_the_body() -> None:
    weights = index_terms("公积金提取", "办理材料", ["租房"])
    assert weights["公积"] == TITLE_WEIGHT
    assert weights["租房"] == 2
    assert weights["材料"] == 1


def test_hangul_words_become_bigrams_within_each_word() -> None:
    # What the Korean test model hears: words apart, particles often on their own.
    assert terms("소비자 에게 공정을") == ["소비", "비자", "에게", "공정", "정을"]
    assert terms("소비자에게") == ["소비", "비자", "자에", "에게"]
    assert terms("그 소비자") == ["소비", "비자"]  # a one-syllable word is no term
    assert terms("社保卡 소비자 app") == ["社保", "保卡", "소비", "비자", "app"]
    assert terms("社保소비") == ["社保", "소비"]  # scripts never share a bigram
    assert set(query_terms("소비자 보호")) == {"소비", "비자", "보호"}
