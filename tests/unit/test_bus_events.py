"""Topics and envelopes: pure, no broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from hotline.bus_events import (
    CallAnswered,
    CallOffered,
    Envelope,
    OperatorState,
    OrderStep,
    PbxConnection,
    SystemLag,
    TranscriptFinal,
    TranscriptPartial,
    decode,
    encode,
    event_class,
)
from hotline.bus_topics import (
    Delivery,
    Domain,
    EnvelopeError,
    TopicError,
    TopicParts,
    build_topic,
    parse_topic,
    topic_filter,
)


def _wire(**over: object) -> bytes:
    doc: dict[str, object] = {
        "schema": 1,
        "type": "call.answered",
        "id": str(uuid.uuid4()),
        "time": "2026-01-02T03:04:05Z",
        "source": "test",
        "data": {"linkedid": "1700000000.1", "extension": "8001"},
    }
    doc.update(over)
    return json.dumps(doc).encode()


def test_envelope_round_trip_keeps_chinese_text() -> None:
    event = CallOffered(
        linkedid="1700000000.42", caller_number="13800138000", caller_name="张伟", dnis="12345"
    )
    sent = Envelope(event=event, source="hotline-server")
    payload = encode(sent)
    assert "张伟".encode() in payload  # as UTF-8, not \\u escapes
    back = decode(payload, parse_topic("hotline", event.topic("hotline")))
    assert back == sent
    assert isinstance(back.event, CallOffered)
    assert back.event.caller_name == "张伟"
    assert back.time.tzinfo is not None


def test_envelope_shape() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    env = Envelope(
        event=TranscriptFinal(call_id="c1", channel="caller", segment=3, text="路灯坏了"),
        source="asr",
        time=when,
    )
    doc = json.loads(encode(env))
    assert doc["schema"] == 1
    assert doc["type"] == "transcript.final"
    assert doc["time"] == "2026-03-04T05:06:07Z"
    assert uuid.UUID(doc["id"]) == env.id
    assert doc["source"] == "asr"
    assert doc["data"]["text"] == "路灯坏了"


def test_topics_of_events() -> None:
    assert CallAnswered(linkedid="17.1", extension="8001").topic("hotline") == (
        "hotline/v1/call/17.1/answered"
    )
    assert OperatorState(extension="8001", state="idle").topic("hotline") == (
        "hotline/v1/operator/8001/state"
    )
    order = OrderStep(order_id="GD2026-1", step="dispatched")
    assert order.topic("city/a") == "city/a/v1/order/GD2026-1/dispatched"
    assert order.type == "order.dispatched"


def test_delivery_classes() -> None:
    assert TranscriptPartial.delivery is Delivery.EPHEMERAL
    assert SystemLag.delivery is Delivery.EPHEMERAL
    assert CallAnswered.delivery is Delivery.STATE
    assert Delivery.STATE.qos == 1 and Delivery.EPHEMERAL.qos == 0
    assert OperatorState.retain and PbxConnection.retain
    assert not CallAnswered.retain


def test_parse_topic() -> None:
    assert parse_topic("hotline", "hotline/v1/call/17.1/ended") == TopicParts(
        Domain.CALL, "17.1", "ended"
    )
    assert parse_topic("a/b", "a/b/v1/order/7/resolved").entity_id == "7"


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/call/1/ended",
        "hotline/v2/call/1/ended",
        "hotline/v1/nosuch/1/ended",
        "hotline/v1/call/1",
        "hotline/v1/call/1/ended/extra",
        "hotline/v1/call//ended",
    ],
)
def test_parse_topic_rejects(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic("hotline", topic)


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "$SYS"])
def test_ids_that_cannot_be_topic_levels(bad: str) -> None:
    with pytest.raises(TopicError):
        build_topic("hotline", Domain.CALL, bad, "ended")
    with pytest.raises(TopicError):
        CallAnswered(linkedid=bad, extension="1").topic("hotline")


def test_filters() -> None:
    assert topic_filter("hotline") == "hotline/v1/#"
    assert topic_filter("hotline", Domain.CALL) == "hotline/v1/call/+/+"
    assert topic_filter("hotline", "transcript", "c1") == "hotline/v1/transcript/c1/+"
    assert topic_filter("hotline", event="state") == "hotline/v1/+/+/state"


def test_event_class_lookup() -> None:
    assert event_class("call.offered") is CallOffered
    assert event_class("order.anything") is OrderStep
    with pytest.raises(EnvelopeError):
        event_class("call.exploded")


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"\xff\xfe", "UTF-8 JSON"),
        (b"{not json", "UTF-8 JSON"),
        (b"[1, 2]", "not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"x": "' + b"a" * 300_000 + b'"}', "the limit is"),
        (_wire(schema=2), "schema 2"),
        (_wire(id="nope"), "id"),
        (_wire(time="2026-01-02T03:04:05"), "time zone"),
        (_wire(type="call.exploded"), "unknown event type"),
        (_wire(data={"linkedid": "1"}), "extension"),
        (_wire(data={"linkedid": "a/b", "extension": "1"}), "topic says"),
    ],
)
def test_decode_rejects_with_a_clear_error(payload: bytes, says: str) -> None:
    topic = TopicParts(Domain.CALL, "1700000000.1", "answered")
    with pytest.raises(EnvelopeError, match=says):
        decode(payload, topic)


def test_decode_ignores_unknown_fields() -> None:
    payload = _wire(data={"linkedid": "1", "extension": "2", "added_later": True}, extra=1)
    assert decode(payload).event == CallAnswered(linkedid="1", extension="2")


def test_decode_checks_topic_against_data() -> None:
    payload = _wire()
    with pytest.raises(EnvelopeError, match="topic says"):
        decode(payload, TopicParts(Domain.CALL, "other", "answered"))
    with pytest.raises(EnvelopeError, match="topic says"):
        decode(payload, TopicParts(Domain.CALL, "1700000000.1", "ended"))
