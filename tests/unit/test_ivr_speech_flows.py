"""Spoken answers and recorded comments in flows: validation, the run, the grammar match."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from config.settings import IvrSettings
from ivr_flows.feature import DEFAULT_FLOWS
from ivr_flows.flows import Flow, FlowError, check_vocabulary, load_flow, load_flows
from ivr_flows.interpreter import CallTracker, FlowInterpreter
from ivr_flows.machine import FlowRun, match_phrase
from ivr_flows.recordings import KeyLedger, Recordings
from telephony.ami import AmiClient

KO_FLOWS = Path(__file__).resolve().parent.parent / "data" / "ivr_ko"


@pytest.fixture(scope="module")
def survey() -> Flow:
    return load_flows(DEFAULT_FLOWS)["survey"]


def test_speech_on_listens_then_records_the_comment(survey: Flow) -> None:
    run = FlowRun(survey, speech=True)
    first = run.start()
    assert (first.op, first.silence) == ("listen", 2.0)
    assert set(first.phrases) >= {"满意", "非常 满意", "基本 满意", "不 满意"}
    second = run.answer(first.seq, "", "[unk] 不 满意")  # longest phrase first: not 满意
    assert second is not None and (second.op, second.step) == ("listen", "solved")
    comment = run.answer(second.seq, "", "没有 解决")
    assert comment is not None and (comment.op, comment.step) == ("record", "comment")
    assert (comment.prompts, comment.silence, comment.max_seconds) == (
        ("ask_comment",), 3.0, 30.0,
    )  # fmt: skip
    last = run.recorded(comment.seq, "  路灯  还是 不亮 ")
    assert last is not None and last.op == "end"
    assert run.result == {"satisfaction": "不满意", "solved": "no"}
    assert run.comment == "路灯 还是 不亮"
    assert [(a.digits, a.words) for a in run.answers] == [
        ("", "[unk] 不 满意"), ("", "没有 解决"),
    ]  # fmt: skip


def test_a_key_still_answers_a_listening_step(survey: Flow) -> None:
    run = FlowRun(survey, speech=True)
    first = run.start()
    nxt = run.answer(first.seq, "2")
    assert nxt is not None and run.result == {"satisfaction": "基本满意"}


def test_no_single_match_asks_again_by_keypad_only(survey: Flow) -> None:
    run = FlowRun(survey, speech=True)
    first = run.start()
    again = run.answer(first.seq, "", "满意 不满意")  # two choices at once: no answer
    assert again is not None and (again.op, again.prompts[0]) == ("read", "invalid_choice")
    silent = FlowRun(survey, speech=True)
    cmd = silent.start()
    retry = silent.answer(cmd.seq, "", "")
    assert retry is not None and (retry.op, retry.prompts[0]) == ("read", "no_input")
    assert run.answer(again.seq, "", "满意") is not None  # a read takes no words...
    assert run.result == {}  # ...so that was a miss, not an answer


def test_speech_off_reads_keys_and_skips_the_comment(survey: Flow) -> None:
    run = FlowRun(survey)
    first = run.start()
    assert first.op == "read" and first.phrases == ()
    second = run.answer(first.seq, "1")
    assert second is not None
    last = run.answer(second.seq, "1")
    assert last is not None and (last.op, last.prompts) == ("end", ("survey_thanks",))
    assert run.comment is None


def test_match_phrase_is_word_aligned(survey: Flow) -> None:
    step = survey.step("solved")
    assert match_phrase(step, "已 解决") == "1"
    assert match_phrase(step, "没 解决") == "2"
    assert match_phrase(step, "解决了") is None  # one word that is no phrase
    assert match_phrase(step, "") is None
    assert match_phrase(step, "[unk] 已 解决 [unk] 已 解决") == "1"  # said twice: fine
    # a grammar's jumble of words from off-topic speech: not an answer
    assert match_phrase(step, "没有 已 解决 了") is None
    sat = survey.step("satisfaction")
    assert match_phrase(sat, "满意 基本") is None


def test_vocabulary_check_names_flow_step_word_and_line() -> None:
    flows = load_flows(KO_FLOWS)
    check_vocabulary(flows, lambda w: True)
    with pytest.raises(FlowError) as info:
        check_vocabulary(flows, lambda w: w not in ("하지는", "실수를"), "the ko model")
    err = info.value
    assert err.path.name == "survey.toml" and err.line is not None
    assert err.path.read_text(encoding="utf-8").splitlines()[err.line - 1] == (
        "[steps.satisfaction]"
    )
    assert "flow 'survey', step 'satisfaction': spoken word '하지는' is not in the " in str(err)
    assert "the ko model (also: 실수를)" in str(err)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("listen = true\n", "listen = true\nrecord = true\n"), "a `record` step has no choices"),
        (
            ('words = ["비슷한 실수를"]', 'words = ["백화점과  영화관"]'),
            "is also a word of choice 1",
        ),
        (('words = ["비슷한 실수를"]', 'words = [" "]'), "an empty phrase"),
        (('next = "thanks"', ""), "steps.comment: needs `next`"),
        (("max_seconds = 20", "max_seconds = 600"), "less than or equal to 120"),
    ],
)
def test_speech_steps_are_validated(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = (KO_FLOWS / "survey.toml").read_text(encoding="utf-8")
    assert edit[0] in text
    (tmp_path / "survey.toml").write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    prompts = {name: "x" for name in ("d1", "d2", "survey_thanks", "goodbye",
                                      "invalid_choice", "no_input")}  # fmt: skip
    with pytest.raises(FlowError, match=message):
        load_flow(tmp_path / "survey.toml", prompts)


def test_listen_without_words_is_refused(tmp_path: Path) -> None:
    text = (DEFAULT_FLOWS / "supervision.toml").read_text(encoding="utf-8")
    text = text.replace('words = ["收到", "确认"]\n', "").replace("retries = 2", "listen = true")
    (tmp_path / "supervision.toml").write_text(text, encoding="utf-8")
    prompts = load_flows(DEFAULT_FLOWS)  # the catalogue, via a loaded flow's prompts
    catalogue = {p: "x" for f in prompts.values() for p in f.prompts()}
    with pytest.raises(FlowError, match="`listen` needs `words`"):
        load_flow(tmp_path / "supervision.toml", catalogue)


def test_listen_and_record_commands_carry_the_recording_for_the_dialplan(survey: Flow) -> None:

    settings = IvrSettings(prompt_dir="/p", record_dir="/ast/rec/", record_read_dir="/srv/rec")
    interp = FlowInterpreter(
        cast(AmiClient, None), CallTracker(), settings, lambda: datetime.now(UTC)
    )
    run = FlowRun(survey, speech=True)
    first = run.start()
    assert interp.encode(first, "c1") == (
        "listen|satisfaction|1|1|6|/p/survey_greeting&/p/ask_satisfaction|/ast/rec/c1-1|2|10"
    )
    assert Recordings(settings, None).path("c1", 1, as_server=True) == "/srv/rec/c1-1"
    second = run.answer(first.seq, "1")
    assert second is not None
    comment = run.answer(second.seq, "1")
    assert comment is not None
    assert interp.encode(comment, "c1") == "record|comment|3|1|5|/p/ask_comment|/ast/rec/c1-3|3|30"
    with pytest.raises(ValueError, match="record_dir"):
        FlowInterpreter(cast(AmiClient, None), CallTracker(), IvrSettings(record_dir="/a|b"),
                        lambda: datetime.now(UTC))  # fmt: skip


def test_the_key_ledger_never_takes_a_late_key_for_the_next_recording() -> None:
    ledger = KeyLedger()
    ledger.pressed("3")  # DTMFEnd before the report of the recording it ended
    assert ledger.take() == "3"
    ledger.read("1")  # a Read reported key 1; its DTMFEnd has not come yet
    ledger.next_command()
    ledger.pressed("1")  # ...now it comes: owed to the Read, not a new key
    assert ledger.take() is None
    ledger.pressed("2")  # the key that ends the next recording
    assert ledger.take() == "2"
    ledger.pressed("9")  # pressed during an `end` prompt: dropped with the next command
    ledger.next_command()
    assert ledger.take() is None
