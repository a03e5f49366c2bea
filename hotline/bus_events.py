"""What travels on the bus: topics, event types and the JSON envelope. Pure: no I/O.

Topic scheme (docs/bus.md is the reader's version of this)::

    {prefix}/v1/{domain}/{entity_id}/{event}

    hotline/v1/call/<linkedid>/offered|routed|answered|ended      state
    hotline/v1/call/<linkedid>/transferred                         state
    hotline/v1/operator/<extension>/state                          state, retained
    hotline/v1/operator/<extension>/pop                            state (screen pop)
    hotline/v1/transcript/<call_id>/partial                        ephemeral
    hotline/v1/transcript/<call_id>/final                          state
    hotline/v1/order/<order_id>/<step>                             state
    hotline/v1/alert/<call_id>/keyword                             state
    hotline/v1/pbx/<instance>/connection                           state, retained
    hotline/v1/system/<component>/health                           state, retained
    hotline/v1/system/<component>/lag                              ephemeral
    hotline/v1/system/wallboard/wallboard                          ephemeral (figures)

Every event class says how it travels: a **state** event must not be lost (QoS 1, kept in
the outbox until the broker acknowledges it); an **ephemeral** one is a figure that the
next one replaces (QoS 0, dropped oldest-first when the outbox is full, counted).
Retained events are those a late subscriber needs the last one of.

Payload: UTF-8 JSON, Chinese text as is (``ensure_ascii=False``)::

    {"schema": 1, "type": "call.answered", "id": "<uuid4>", "time": "<ISO-8601 UTC>",
     "source": "hotline-server", "data": {...the event's fields...}}

`encode()` builds it from a typed event; `decode()` turns bytes received on a topic back
into an `Envelope` holding a typed event, checking the schema version, the type, the
fields and that the topic agrees with the data. Producers may add fields within one
schema version (receivers ignore unknown fields); removing or changing a field means a
new schema version and a new topic version.

Topics, `Domain`, `Delivery` and the errors live in hotline.bus_topics.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.bus_topics import (
    SCHEMA_VERSION,
    Delivery,
    Domain,
    EnvelopeError,
    TopicParts,
    build_topic,
)

# No event of ours comes near this; a bigger payload is refused before it is parsed.
MAX_PAYLOAD_BYTES = 256 * 1024


class BusEvent(BaseModel):
    """Base of every event: a frozen pydantic model whose fields are the envelope's data.

    Subclasses set `domain`, `event` (or override `event_name` when it comes from a
    field), `delivery`, `retain` and `entity_field` (the field that names the entity).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    domain: ClassVar[Domain]
    event: ClassVar[str] = ""
    delivery: ClassVar[Delivery] = Delivery.STATE
    retain: ClassVar[bool] = False
    entity_field: ClassVar[str]

    def event_name(self) -> str:
        return self.event

    @property
    def type(self) -> str:
        return f"{self.domain}.{self.event_name()}"

    @property
    def entity_id(self) -> str:
        return str(getattr(self, self.entity_field))

    def topic(self, prefix: str) -> str:
        return build_topic(prefix, self.domain, self.entity_id, self.event_name())


class CallOffered(BusEvent):
    """A citizen's call reached the centre (ringing a queue)."""

    domain = Domain.CALL
    event = "offered"
    entity_field = "linkedid"
    linkedid: str
    caller_number: str
    caller_name: str | None = None
    dnis: str | None = None  # the number dialled: which merged hotline the caller meant
    queue: str | None = None


class CallRouted(BusEvent):
    """The routing decision for a call: the queue or operator it was sent to and why."""

    domain = Domain.CALL
    event = "routed"
    entity_field = "linkedid"
    linkedid: str
    queue: str | None = None
    extension: str | None = None
    reason: str = ""


class CallAnswered(BusEvent):
    domain = Domain.CALL
    event = "answered"
    entity_field = "linkedid"
    linkedid: str
    extension: str
    wait_seconds: float | None = None


class CallEnded(BusEvent):
    domain = Domain.CALL
    event = "ended"
    entity_field = "linkedid"
    linkedid: str
    answered: bool
    cause: str = ""
    duration_seconds: float | None = None


class OperatorState(BusEvent):
    """An operator seat's state (idle, ringing, on_call, wrap_up, paused, offline)."""

    domain = Domain.OPERATOR
    event = "state"
    retain = True
    entity_field = "extension"
    extension: str
    state: str
    reason: str | None = None
    call_id: str | None = None  # the call it rings for or talks on
    wrap_up_until: datetime | None = None  # when after-call work ends by itself


class TranscriptPartial(BusEvent):
    """Words recognised so far in the current segment; the next partial replaces it."""

    domain = Domain.TRANSCRIPT
    event = "partial"
    delivery = Delivery.EPHEMERAL
    entity_field = "call_id"
    call_id: str
    channel: Literal["caller", "operator"]
    segment: int = Field(ge=0)
    text: str


class TranscriptFinal(BusEvent):
    """One finished segment of speech, kept with the call."""

    domain = Domain.TRANSCRIPT
    event = "final"
    entity_field = "call_id"
    call_id: str
    channel: Literal["caller", "operator"]
    segment: int = Field(ge=0)
    text: str
    start_seconds: float | None = None
    end_seconds: float | None = None
    confidence: float | None = None


class OrderStep(BusEvent):
    """A work order moved one step in its lifecycle (accepted, dispatched, resolved...)."""

    domain = Domain.ORDER
    entity_field = "order_id"
    order_id: str
    step: str = Field(pattern=r"^[a-z][a-z_]*$")
    actor: str | None = None
    unit: str | None = None
    note: str | None = None

    def event_name(self) -> str:
        return self.step


class KeywordAlert(BusEvent):
    """A watched keyword was heard on a call (e.g. 煤气, 自杀)."""

    domain = Domain.ALERT
    event = "keyword"
    entity_field = "call_id"
    call_id: str
    keyword: str
    channel: Literal["caller", "operator"]
    text: str = ""
    action: str = ""  # e.g. transfer_119, alert_supervisor (asr.keywords settings)


class PbxConnection(BusEvent):
    """Whether the AMI adapter is logged in to one Asterisk instance."""

    domain = Domain.PBX
    event = "connection"
    retain = True
    entity_field = "instance"
    instance: str
    connected: bool
    detail: str = ""


class SystemHealth(BusEvent):
    domain = Domain.SYSTEM
    event = "health"
    retain = True
    entity_field = "component"
    component: str
    status: Literal["up", "degraded", "down"]
    detail: str = ""
    capacity: int | None = Field(None, ge=0)  # work it can take, if it has such a figure
    # (asr: live recognizer streams)


class SystemLag(BusEvent):
    """A lag figure (e.g. recogniser backlog); only the latest one matters."""

    domain = Domain.SYSTEM
    event = "lag"
    delivery = Delivery.EPHEMERAL
    entity_field = "component"
    component: str
    lag_seconds: float = Field(ge=0)


class ScreenPop(BusEvent):
    """An operator's phone rings for a call: what the desktop shows at once."""

    domain = Domain.OPERATOR
    event = "pop"
    entity_field = "extension"
    extension: str
    call_id: str
    caller_number: str
    caller_name: str | None = None
    dnis: str | None = None  # the number dialled
    line: dict[str, Any] | None = None  # the catalogue's line for the DNIS, if known
    queue: str | None = None
    history: dict[str, Any] = Field(default_factory=dict)  # telephony.call_repo's
    ami_received_at: float | None = None  # epoch seconds the AMI event arrived (latency)


class CallTransferred(BusEvent):
    """An operator transferred a call: blind, or three-way (the operator stays on)."""

    domain = Domain.CALL
    event = "transferred"
    entity_field = "linkedid"
    linkedid: str
    extension: str  # the operator who transferred
    target: str  # a queue name, or 110 / 119 / 120 / 122
    kind: Literal["queue", "emergency"]
    mode: Literal["blind", "three_way"]
    ok: bool = True
    detail: str = ""


class TranscriptStatus(BusEvent):
    """Whether one speaker of a call is being transcribed (live, unavailable, ended)."""

    domain = Domain.TRANSCRIPT
    event = "status"
    entity_field = "call_id"
    call_id: str
    channel: Literal["caller", "operator"]
    status: Literal["live", "unavailable", "ended"]
    detail: str = ""


class TranscriptLag(BusEvent):
    """How far one stream's recognition is behind its audio; the next one replaces it."""

    domain = Domain.TRANSCRIPT
    event = "lag"
    delivery = Delivery.EPHEMERAL
    entity_field = "call_id"
    call_id: str
    channel: Literal["caller", "operator"]
    lag_seconds: float = Field(ge=0)
    max_lag_seconds: float = Field(ge=0)


class SurveyResult(BusEvent):
    """A satisfaction survey callback (回访) ended: answered, or given up (see `outcome`).

    satisfaction is 满意 / 基本满意 / 不满意 (None without an answer); solved is whether
    the citizen said the problem was solved (None: not answered); comment is the
    transcript of the citizen's recorded comment (None: none recorded).
    """

    domain = Domain.ORDER
    event = "survey_result"
    entity_field = "order_id"
    order_id: str
    outcome: str  # ivr_flows.outcomes.Outcome: answered_result, busy, no_answer, ...
    satisfaction: Literal["满意", "基本满意", "不满意"] | None = None
    solved: bool | None = None
    attempts: int = Field(ge=0)
    reason: str = ""
    job_id: int | None = None
    comment: str | None = None


class SupervisionCallResult(BusEvent):
    """An automatic supervision call (自动电话督办) to a unit ended."""

    domain = Domain.ORDER
    event = "supervision_call"
    entity_field = "order_id"
    order_id: str
    unit: str | None = None
    outcome: str
    acknowledged: bool = False
    attempts: int = Field(ge=0)
    reason: str = ""
    job_id: int | None = None


class WallboardFigures(BusEvent):
    """The supervisor wallboard's figures, pushed when they change (a few a second at most).

    `figures` is `agent_desktop.wallboard_model.Figures` as JSON (validate it there); the
    next message replaces it, so it travels ephemeral.
    """

    domain = Domain.SYSTEM
    event = "wallboard"
    delivery = Delivery.EPHEMERAL
    entity_field = "component"
    component: str = "wallboard"
    figures: dict[str, Any]


class CallbackTaskChanged(BusEvent):
    """A missed-call callback task (漏接回拨) changed: dialled, retried, connected, or
    handed back to the operators (telephony.callback_dialer).

    status is open / done; dial_state is waiting / dialing / connected / manual;
    outcome is the last attempt's (connected, not_connected, busy, no_answer,
    unreachable, interrupted) and reason says why it is in this state.
    """

    domain = Domain.CALL
    event = "callback_task"
    entity_field = "task_id"
    task_id: int
    number: str
    line: str | None = None
    status: str
    dial_state: str
    attempts: int = Field(ge=0)
    outcome: str | None = None
    reason: str | None = None
    connected_to: str | None = None  # the operator extension the citizen reached
    next_dial_at: datetime | None = None
    missed_count: int = Field(1, ge=0)


_FIXED: tuple[type[BusEvent], ...] = (
    CallOffered,
    CallRouted,
    CallAnswered,
    CallEnded,
    OperatorState,
    TranscriptPartial,
    TranscriptFinal,
    KeywordAlert,
    PbxConnection,
    SystemHealth,
    SystemLag,
    TranscriptStatus,
    TranscriptLag,
    ScreenPop,
    CallTransferred,
    SurveyResult,
    SupervisionCallResult,
    WallboardFigures,
    CallbackTaskChanged,
)
# Domains whose event name comes from a field: every event in the domain is this class.
_BY_DOMAIN: dict[Domain, type[BusEvent]] = {Domain.ORDER: OrderStep}
_BY_TYPE: dict[str, type[BusEvent]] = {f"{c.domain}.{c.event}": c for c in _FIXED}


def event_class(type_: str) -> type[BusEvent]:
    """The event class for a type such as 'call.answered'; raise EnvelopeError if unknown."""
    if type_ in _BY_TYPE:
        return _BY_TYPE[type_]
    domain, _, _ = type_.partition(".")
    for d, cls in _BY_DOMAIN.items():
        if domain == d.value:
            return cls
    raise EnvelopeError(f"unknown event type {type_!r}")


# -------------------------------------------------------------------------- envelope
@dataclass(frozen=True, slots=True)
class Envelope:
    """One event with its metadata, as sent or as received."""

    event: BusEvent
    source: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def type(self) -> str:
        return self.event.type


class _Wire(BaseModel):
    """The envelope as it is on the wire, before `data` is given its type."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_: int = Field(alias="schema")
    type: str = Field(pattern=r"^[a-z]+\.[a-z][a-z_]*$")
    id: uuid.UUID
    time: datetime
    source: str
    data: dict[str, Any]


def encode(envelope: Envelope) -> bytes:
    """The envelope as UTF-8 JSON bytes (Chinese kept as is)."""
    doc = {
        "schema": SCHEMA_VERSION,
        "type": envelope.type,
        "id": str(envelope.id),
        "time": envelope.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "source": envelope.source,
        "data": envelope.event.model_dump(mode="json"),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(payload: bytes, topic: TopicParts | None = None) -> Envelope:
    """Parse and validate a received payload; raise EnvelopeError saying what is wrong.

    With `topic`, also check that the topic it came on agrees with the event in it.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(f"payload of {len(payload)} bytes, the limit is {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EnvelopeError(f"payload is not UTF-8 JSON: {err}") from err
    except RecursionError as err:  # e.g. [[[[...]]]] nested deeper than Python recurses
        raise EnvelopeError("payload JSON is nested too deeply") from err
    if not isinstance(doc, dict):
        raise EnvelopeError(f"payload is JSON {type(doc).__name__}, not an object")
    schema = doc.get("schema")
    if schema != SCHEMA_VERSION:
        raise EnvelopeError(f"schema {schema!r}: this code reads schema {SCHEMA_VERSION}")
    try:
        wire = _Wire.model_validate(doc)
    except ValidationError as err:
        raise EnvelopeError(f"bad envelope: {_problems(err)}") from err
    if wire.time.tzinfo is None:
        raise EnvelopeError(f"envelope time {wire.time.isoformat()} has no time zone")
    cls = event_class(wire.type)
    try:
        event = cls.model_validate(wire.data)
    except ValidationError as err:
        raise EnvelopeError(f"bad data for {wire.type}: {_problems(err)}") from err
    if event.type != wire.type:
        raise EnvelopeError(f"envelope type {wire.type!r} but data says {event.type!r}")
    if topic is not None:
        expected = (topic.domain, topic.entity_id, topic.event)
        got = (event.domain, event.entity_id, event.event_name())
        if expected != got:
            raise EnvelopeError(f"topic says {expected!r} but the event is {got!r}")
    return Envelope(event=event, source=wire.source, id=wire.id, time=wire.time)


def _problems(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
    )
