"""The bus's topic scheme and the words for how events travel. Pure: no I/O.

    {prefix}/v1/{domain}/{entity_id}/{event}

`prefix` is ``mqtt.topic_prefix`` (it may have several levels); ``v1`` changes only when
the payload schema changes incompatibly; every other level is exactly one topic level,
which `check_level` enforces (no '/', '+', '#', no leading '$', not empty), so an id can
never turn into a wrong topic or a wildcard. docs/bus.md lists the topics.

Exceptions::

    BusError                  anything the bus reports (hotline.bus raises subclasses too)
     ├── TopicError           a topic (or a level of it) that breaks the scheme
     └── EnvelopeError        a payload that is not a valid envelope for its topic
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

SCHEMA_VERSION = 1
TOPIC_VERSION = "v1"


class BusError(Exception):
    """Something about the bus or what travels on it is wrong."""


class TopicError(BusError):
    """A topic or topic level that does not fit the scheme."""


class EnvelopeError(BusError):
    """A received payload that is not a valid envelope for the topic it came on."""


class Delivery(enum.Enum):
    """How hard the bus tries to deliver an event (docs/bus.md: state and ephemeral)."""

    STATE = "state"  # QoS 1, kept until acknowledged
    EPHEMERAL = "ephemeral"  # QoS 0, may be dropped oldest-first

    @property
    def qos(self) -> int:
        return 1 if self is Delivery.STATE else 0


class Domain(enum.StrEnum):
    CALL = "call"
    OPERATOR = "operator"
    TRANSCRIPT = "transcript"
    ORDER = "order"
    ALERT = "alert"
    PBX = "pbx"
    SYSTEM = "system"


# One topic level: no separators or wildcards, no leading '$' (reserved by brokers).
_LEVEL = re.compile(r"^[^/+#$\x00][^/+#\x00]*$")


def check_level(value: str, what: str = "topic level") -> str:
    """Return `value` if it can be one topic level, else raise TopicError."""
    if not _LEVEL.match(value):
        raise TopicError(f"{what} {value!r} cannot be a topic level (empty, '/', '+', '#', '$')")
    return value


@dataclass(frozen=True, slots=True)
class TopicParts:
    domain: Domain
    entity_id: str
    event: str


def _check_prefix(prefix: str) -> list[str]:
    levels = prefix.split("/")
    for level in levels:
        check_level(level, "topic prefix level")
    return levels


def build_topic(prefix: str, domain: Domain | str, entity_id: str, event: str) -> str:
    """`{prefix}/v1/{domain}/{entity_id}/{event}`, every level checked."""
    _check_prefix(prefix)
    d = Domain(domain) if isinstance(domain, str) else domain
    check_level(entity_id, f"{d} id")
    check_level(event, "event name")
    return f"{prefix}/{TOPIC_VERSION}/{d}/{entity_id}/{event}"


def topic_filter(
    prefix: str,
    domain: Domain | str | None = None,
    entity_id: str | None = None,
    event: str | None = None,
) -> str:
    """A subscription filter; None levels become '+' (or a trailing '#' for 'everything')."""
    _check_prefix(prefix)
    if domain is None and entity_id is None and event is None:
        return f"{prefix}/{TOPIC_VERSION}/#"
    levels = [
        str(Domain(domain)) if domain is not None else "+",
        check_level(entity_id, "entity id") if entity_id is not None else "+",
        check_level(event, "event name") if event is not None else "+",
    ]
    return "/".join([prefix, TOPIC_VERSION, *levels])


def parse_topic(prefix: str, topic: str) -> TopicParts:
    """Split a concrete topic of our scheme; raise TopicError if it is not one."""
    head = _check_prefix(prefix)
    levels = topic.split("/")
    if levels[: len(head)] != head:
        raise TopicError(f"topic {topic!r} does not start with prefix {prefix!r}")
    rest = levels[len(head) :]
    if len(rest) != 4:
        raise TopicError(f"topic {topic!r}: expected {prefix}/v1/domain/entity/event")
    version, domain, entity_id, event = rest
    if version != TOPIC_VERSION:
        raise TopicError(f"topic {topic!r}: version {version!r}, this code speaks {TOPIC_VERSION}")
    try:
        d = Domain(domain)
    except ValueError as err:
        raise TopicError(f"topic {topic!r}: unknown domain {domain!r}") from err
    check_level(entity_id, "entity id")
    check_level(event, "event name")
    return TopicParts(d, entity_id, event)
