"""Typed AMI events: a header mapping in, a frozen dataclass out. Pure, no I/O.

Theory of operation
-------------------
`parse_event(headers)` looks the ``Event`` name up in a table of dataclasses and fills
each field from the header named in its metadata (`_h`), converting by the field's
type: ``str`` as is, ``int`` (empty -> 0), ``bool`` from ``1/yes/true``. A field typed
`ChannelInfo` is filled from the same channel headers with a prefix (``Dest`` for the
callee of a dial, the member of a queue). Each class's plan is built once, on first use.

Events about one channel (`ChannelEvent`) carry that channel's snapshot as flat fields
(``uniqueid``, ``linkedid``, ``channel``, ``caller_id_name`` ...); ``call_id`` is the
linkedid, the id that ties every leg of one call together and the one we log.
An event we have no class for becomes `UnknownEvent(name, headers)`; a known event whose
channel has no ``Uniqueid``, or whose number is not a number, raises `MalformedAmiMessage`
(the adapter logs and skips it).

Besides what Asterisk sends, the adapter puts its own connection events into the same
stream: `AmiConnected`, `AmiDisconnected`, `ResyncStarted`, `ResyncCompleted`. Between
ResyncStarted and ResyncCompleted come `ChannelSnapshot`, `QueueParamsSnapshot`,
`QueueMemberSnapshot` and `QueueEntrySnapshot` (the typed CoreShowChannel, QueueParams,
QueueMember and QueueEntry list items) interleaved with live events in wire order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, get_type_hints

from telephony.ami_frames import MalformedAmiMessage

__all__ = ["MalformedAmiMessage", "parse_event"]


def _h(header: str, default: Any = "") -> Any:
    return field(default=default, metadata={"ami": header})


_DEST = MappingProxyType({"ami_prefix": "Dest"})  # the callee's / member's channel


@dataclass(frozen=True, kw_only=True)
class AmiEvent:
    """Base of everything `AmiClient.events()` yields."""


@dataclass(frozen=True, kw_only=True)
class ChannelInfo:
    """One channel's snapshot as AMI reports it."""

    channel: str = _h("Channel")
    channel_state: int = _h("ChannelState", 0)
    channel_state_desc: str = _h("ChannelStateDesc")
    caller_id_num: str = _h("CallerIDNum")
    caller_id_name: str = _h("CallerIDName")
    connected_line_num: str = _h("ConnectedLineNum")
    connected_line_name: str = _h("ConnectedLineName")
    language: str = _h("Language")
    account_code: str = _h("AccountCode")
    context: str = _h("Context")
    exten: str = _h("Exten")
    priority: int = _h("Priority", 0)
    uniqueid: str = _h("Uniqueid")
    linkedid: str = _h("Linkedid")

    @property
    def call_id(self) -> str:
        return self.linkedid or self.uniqueid


@dataclass(frozen=True, kw_only=True)
class ChannelEvent(AmiEvent, ChannelInfo):
    """An event about one channel (its fields are that channel's snapshot)."""

    channel_optional: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class Newchannel(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class Newstate(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class Hangup(ChannelEvent):
    cause: int = _h("Cause", 0)
    cause_txt: str = _h("Cause-txt")


@dataclass(frozen=True, kw_only=True)
class DialBegin(ChannelEvent):
    """The caller's fields are empty when Originate dials (there is no caller channel)."""

    channel_optional: ClassVar[bool] = True
    dest: ChannelInfo | None = field(default=None, metadata=_DEST)
    dial_string: str = _h("DialString")


@dataclass(frozen=True, kw_only=True)
class DialEnd(ChannelEvent):
    channel_optional: ClassVar[bool] = True
    dest: ChannelInfo | None = field(default=None, metadata=_DEST)
    dial_status: str = _h("DialStatus")
    forward: str = _h("Forward")


@dataclass(frozen=True, kw_only=True)
class _BridgeEvent(ChannelEvent):
    bridge_uniqueid: str = _h("BridgeUniqueid")
    bridge_type: str = _h("BridgeType")
    bridge_technology: str = _h("BridgeTechnology")
    bridge_num_channels: int = _h("BridgeNumChannels", 0)


@dataclass(frozen=True, kw_only=True)
class BridgeEnter(_BridgeEvent):
    swap_uniqueid: str = _h("SwapUniqueid")


@dataclass(frozen=True, kw_only=True)
class BridgeLeave(_BridgeEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class QueueCallerJoin(ChannelEvent):
    queue: str = _h("Queue")
    position: int = _h("Position", 0)
    count: int = _h("Count", 0)


@dataclass(frozen=True, kw_only=True)
class QueueCallerLeave(ChannelEvent):
    queue: str = _h("Queue")
    position: int = _h("Position", 0)
    count: int = _h("Count", 0)


@dataclass(frozen=True, kw_only=True)
class QueueCallerAbandon(ChannelEvent):
    queue: str = _h("Queue")
    position: int = _h("Position", 0)
    original_position: int = _h("OriginalPosition", 0)
    hold_time: int = _h("HoldTime", 0)


@dataclass(frozen=True, kw_only=True)
class _AgentEvent(ChannelEvent):
    """The caller's channel, and the member's channel as `dest`."""

    dest: ChannelInfo | None = field(default=None, metadata=_DEST)
    queue: str = _h("Queue")
    member_name: str = _h("MemberName")
    interface: str = _h("Interface")


@dataclass(frozen=True, kw_only=True)
class AgentCalled(_AgentEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class AgentConnect(_AgentEvent):
    hold_time: int = _h("HoldTime", 0)
    ring_time: int = _h("RingTime", 0)


@dataclass(frozen=True, kw_only=True)
class AgentComplete(_AgentEvent):
    hold_time: int = _h("HoldTime", 0)
    talk_time: int = _h("TalkTime", 0)
    reason: str = _h("Reason")


@dataclass(frozen=True, kw_only=True)
class AgentRingNoAnswer(_AgentEvent):
    ring_time: int = _h("RingTime", 0)


@dataclass(frozen=True, kw_only=True)
class _QueueMemberEvent(AmiEvent):
    queue: str = _h("Queue")
    member_name: str = _h("MemberName")
    interface: str = _h("Interface")
    state_interface: str = _h("StateInterface")
    membership: str = _h("Membership")
    penalty: int = _h("Penalty", 0)
    calls_taken: int = _h("CallsTaken", 0)
    last_call: int = _h("LastCall", 0)
    in_call: bool = _h("InCall", False)
    status: int = _h("Status", 0)
    paused: bool = _h("Paused", False)
    paused_reason: str = _h("PausedReason")
    wrapup_time: int = _h("Wrapuptime", 0)


@dataclass(frozen=True, kw_only=True)
class QueueMemberStatus(_QueueMemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class QueueMemberAdded(_QueueMemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class QueueMemberRemoved(_QueueMemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class QueueMemberPause(_QueueMemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class VarSet(ChannelEvent):
    channel_optional: ClassVar[bool] = True  # global variables have no channel
    variable: str = _h("Variable")
    value: str = _h("Value")


@dataclass(frozen=True, kw_only=True)
class UserEvent(ChannelEvent):
    """`user_event` is the name given to UserEvent(); `headers` holds every header."""

    channel_optional: ClassVar[bool] = True
    user_event: str = _h("UserEvent")
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DTMFBegin(ChannelEvent):
    digit: str = _h("Digit")
    direction: str = _h("Direction")


@dataclass(frozen=True, kw_only=True)
class DTMFEnd(ChannelEvent):
    digit: str = _h("Digit")
    direction: str = _h("Direction")
    duration_ms: int = _h("DurationMs", 0)


@dataclass(frozen=True, kw_only=True)
class OriginateResponse(AmiEvent):
    """How an async Originate ended. Reason 4 = answered; classify failures by the
    Hangup cause and DialStatus (busy reports Reason 0); Uniqueid is '<unknown>' when
    the call failed, even with a ChannelId."""

    action_id: str = _h("ActionID")
    response: str = _h("Response")
    channel: str = _h("Channel")
    context: str = _h("Context")
    exten: str = _h("Exten")
    reason: int = _h("Reason", 0)
    uniqueid: str = _h("Uniqueid")
    caller_id_num: str = _h("CallerIDNum")
    caller_id_name: str = _h("CallerIDName")

    @property
    def success(self) -> bool:
        return self.response == "Success"


@dataclass(frozen=True, kw_only=True)
class FullyBooted(AmiEvent):
    status: str = _h("Status")
    uptime: int = _h("Uptime", 0)
    last_reload: int = _h("LastReload", 0)


@dataclass(frozen=True, kw_only=True)
class Shutdown(AmiEvent):
    shutdown: str = _h("Shutdown")
    restart: bool = _h("Restart", False)


@dataclass(frozen=True, kw_only=True)
class ChannelSnapshot(ChannelEvent):
    """One CoreShowChannel item of a resync."""

    application: str = _h("Application")
    application_data: str = _h("ApplicationData")
    duration: str = _h("Duration")
    bridge_id: str = _h("BridgeId")


@dataclass(frozen=True, kw_only=True)
class QueueParamsSnapshot(AmiEvent):
    """One QueueParams item of QueueStatus."""

    queue: str = _h("Queue")
    max: int = _h("Max", 0)
    strategy: str = _h("Strategy")
    calls: int = _h("Calls", 0)
    hold_time: int = _h("Holdtime", 0)
    talk_time: int = _h("TalkTime", 0)
    completed: int = _h("Completed", 0)
    abandoned: int = _h("Abandoned", 0)


@dataclass(frozen=True, kw_only=True)
class QueueMemberSnapshot(AmiEvent):
    """One QueueMember item of QueueStatus (its keys differ from QueueMemberStatus)."""

    queue: str = _h("Queue")
    member_name: str = _h("Name")
    interface: str = _h("Location")
    state_interface: str = _h("StateInterface")
    membership: str = _h("Membership")
    penalty: int = _h("Penalty", 0)
    calls_taken: int = _h("CallsTaken", 0)
    last_call: int = _h("LastCall", 0)
    in_call: bool = _h("InCall", False)
    status: int = _h("Status", 0)
    paused: bool = _h("Paused", False)
    paused_reason: str = _h("PausedReason")


@dataclass(frozen=True, kw_only=True)
class QueueEntrySnapshot(AmiEvent):
    """One caller waiting in a queue (QueueEntry item of QueueStatus)."""

    queue: str = _h("Queue")
    position: int = _h("Position", 0)
    channel: str = _h("Channel")
    uniqueid: str = _h("Uniqueid")
    caller_id_num: str = _h("CallerIDNum")
    caller_id_name: str = _h("CallerIDName")
    connected_line_num: str = _h("ConnectedLineNum")
    connected_line_name: str = _h("ConnectedLineName")
    wait: int = _h("Wait", 0)


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(AmiEvent):
    name: str
    headers: Mapping[str, str]


# -- the adapter's own connection events ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AmiConnected(AmiEvent):
    """Logged in (the first time or after a reconnect); a resync follows."""

    host: str
    port: int
    version: str


@dataclass(frozen=True, kw_only=True)
class AmiDisconnected(AmiEvent):
    """The AMI connection is gone; nothing more arrives until the next AmiConnected."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class ResyncStarted(AmiEvent):
    """Snapshot items follow; state not confirmed by them or by live events is stale."""


@dataclass(frozen=True, kw_only=True)
class ResyncCompleted(AmiEvent):
    channels: int
    queue_members: int
    queue_entries: int
    complete: bool = True  # False when a list action failed (its items are missing)


EVENT_TYPES: Mapping[str, type[AmiEvent]] = MappingProxyType(
    {
        **{
            cls.__name__: cls
            for cls in (
                Newchannel, Newstate, Hangup, DialBegin, DialEnd, BridgeEnter, BridgeLeave,
                QueueCallerJoin, QueueCallerLeave, QueueCallerAbandon, AgentCalled,
                AgentConnect, AgentComplete, AgentRingNoAnswer, QueueMemberStatus,
                QueueMemberAdded, QueueMemberRemoved, QueueMemberPause, VarSet, UserEvent,
                DTMFBegin, DTMFEnd, OriginateResponse, FullyBooted, Shutdown,
            )
        },
        "CoreShowChannel": ChannelSnapshot,
        "QueueParams": QueueParamsSnapshot,
        "QueueMember": QueueMemberSnapshot,
        "QueueEntry": QueueEntrySnapshot,
    }
)  # fmt: skip


# -- parsing ------------------------------------------------------------------------------

_Conv = Callable[[str], Any] | None
_Fields = tuple[tuple[str, str, _Conv], ...]  # attribute, header, converter (None: as is)


@dataclass(frozen=True)
class _Plan:
    fields: _Fields
    peers: tuple[tuple[str, str, _Fields], ...]  # attribute, header prefix, its fields


_plans: dict[type, _Plan] = {}


def parse_event(headers: Mapping[str, str]) -> AmiEvent:
    """Headers of one AMI event -> its typed event; raise MalformedAmiMessage if broken."""
    name = headers.get("Event")
    if not name:
        raise MalformedAmiMessage("message has no Event header")
    cls = EVENT_TYPES.get(name)
    if cls is None:
        return UnknownEvent(name=name, headers=dict(headers))
    plan = _plans.get(cls) or _plan(cls)
    try:
        values = _fill(plan.fields, headers, "")
        for attr, prefix, peer in plan.peers:
            if headers.get(prefix + "Uniqueid"):
                values[attr] = ChannelInfo(**_fill(peer, headers, prefix))
    except ValueError as err:
        raise MalformedAmiMessage(f"{name}: {err}") from err
    if issubclass(cls, ChannelEvent):
        dest = values.get("dest")
        if not values.get("uniqueid") and issubclass(cls, _AgentEvent) and dest is not None:
            # A caller who hangs up as the member's leg ends can leave app_queue without the
            # caller's snapshot (seen in AgentComplete): the member's leg still names the
            # call, and the caller's channel is the one that opened it (its Uniqueid is the
            # Linkedid).
            values["uniqueid"] = values["linkedid"] = dest.linkedid
        if not values.get("uniqueid") and not cls.channel_optional:
            raise MalformedAmiMessage(f"{name} without a Uniqueid")
        if cls is UserEvent:
            values["headers"] = dict(headers)
    return cls(**values)


def _fill(plan: _Fields, headers: Mapping[str, str], prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    get = headers.get
    for attr, key, conv in plan:
        raw = get(prefix + key) if prefix else get(key)
        if raw is not None:
            values[attr] = conv(raw) if conv is not None else raw
    return values


def _plan(cls: type) -> _Plan:
    hints = get_type_hints(cls)
    own: list[tuple[str, str, _Conv]] = []
    peers: list[tuple[str, str, _Fields]] = []
    for f in fields(cls):
        if "ami_prefix" in f.metadata:
            peers.append((f.name, f.metadata["ami_prefix"], _plan(ChannelInfo).fields))
        elif "ami" in f.metadata:
            kind = hints[f.name]
            own.append((f.name, f.metadata["ami"], _CONVERTERS.get(kind)))
    plan = _Plan(tuple(own), tuple(peers))
    _plans[cls] = plan
    return plan


def _to_int(raw: str) -> int:
    try:
        return int(raw) if raw else 0
    except ValueError:
        raise ValueError(f"not a number: {raw[:40]!r}") from None


def _to_bool(raw: str) -> bool:
    return raw.strip().lower() in ("1", "yes", "true", "on")


_CONVERTERS: dict[Any, Callable[[str], Any]] = {int: _to_int, bool: _to_bool}
