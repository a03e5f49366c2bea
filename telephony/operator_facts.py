"""What AMI events say about operator seats, as state-machine events. Pure, no I/O.

`Interfaces` maps a queue member's interface (``PJSIP/op1001``) to its extension and
back, from the template in the settings (``PJSIP/op{extension}``). `facts(event)` turns
one typed AMI event into the `(extension, OperatorEvent)` pairs it implies:

    QueueMemberAdded / QueueMemberStatus / QueueMemberPause / QueueMember (snapshot)
        -> MemberSeen(paused, reason)          and Unreachable when Status = 5
    AgentCalled -> Called, AgentConnect -> Connected, AgentComplete -> Completed,
    AgentRingNoAnswer -> RingEnded
    DeviceStateChange of a seat's device (if res_manager_devicestate is loaded):
        UNAVAILABLE -> Unreachable, NOT_INUSE -> RingEnded + Reachable
    PeerStatus of a seat's device: Unreachable / Reachable
    ContactStatus of a seat's AOR: Removed / Unreachable -> Unreachable,
        Created / Reachable / NonQualified / Updated -> Reachable
    (each a no-op in the states where it does not apply)

DeviceStateChange, PeerStatus and ContactStatus have no class in telephony.ami_events;
they arrive
as `UnknownEvent` and are parsed here into `DeviceState` / `ContactState` first, so no
header mapping goes further in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telephony.ami_events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AmiEvent,
    QueueMemberAdded,
    QueueMemberPause,
    QueueMemberSnapshot,
    QueueMemberStatus,
    UnknownEvent,
)
from telephony.operators import (
    Called,
    Completed,
    Connected,
    MemberSeen,
    OperatorEvent,
    Reachable,
    RingEnded,
    Unreachable,
)

# QueueMemberStatus Status: Asterisk's device states
DEVICE_UNKNOWN, DEVICE_NOT_INUSE, DEVICE_INVALID, DEVICE_UNAVAILABLE = 0, 1, 4, 5

Fact = tuple[str, OperatorEvent]


@dataclass(frozen=True)
class DeviceState:
    device: str
    state: str


@dataclass(frozen=True)
class ContactState:
    aor: str
    status: str


class Interfaces:
    """Interface <-> extension, e.g. ``PJSIP/op{extension}``."""

    def __init__(self, template: str) -> None:
        if "{extension}" not in template:
            raise ValueError(f"interface template {template!r} has no {{extension}}")
        self.template = template
        head, _, tail = template.partition("{extension}")
        self._pattern = re.compile(f"^{re.escape(head)}([0-9A-Za-z_.-]+){re.escape(tail)}$")
        # The AOR is the interface's resource: PJSIP/op1001 -> op1001.
        aor_head = head.partition("/")[2]
        self._aor = re.compile(f"^{re.escape(aor_head)}([0-9A-Za-z_.-]+){re.escape(tail)}$")

    def interface(self, extension: str) -> str:
        return self.template.format(extension=extension)

    def extension(self, interface: str) -> str | None:
        match = self._pattern.match(interface)
        return match.group(1) if match else None

    def extension_of_aor(self, aor: str) -> str | None:
        match = self._aor.match(aor)
        return match.group(1) if match else None


def parse_unknown(event: UnknownEvent) -> DeviceState | ContactState | None:
    if event.name == "DeviceStateChange":
        return DeviceState(device=event.headers.get("Device", ""),
                           state=event.headers.get("State", ""))
    if event.name == "PeerStatus":
        return DeviceState(device=event.headers.get("Peer", ""),
                           state=event.headers.get("PeerStatus", "").upper())
    if event.name == "ContactStatus":
        return ContactState(aor=event.headers.get("AOR", ""),
                            status=event.headers.get("ContactStatus", ""))
    return None


def facts(event: AmiEvent, interfaces: Interfaces) -> Sequence[Fact]:
    """The seat events `event` implies (empty for events about no seat)."""
    match event:
        case QueueMemberAdded() | QueueMemberStatus() | QueueMemberPause() | QueueMemberSnapshot():
            ext = interfaces.extension(event.interface)
            if ext is None:
                return ()
            seen: list[Fact] = [(ext, MemberSeen(event.paused, event.paused_reason))]
            if event.status == DEVICE_UNAVAILABLE:
                seen.append((ext, Unreachable()))
            elif event.status == DEVICE_NOT_INUSE:  # idle: not ringing, and registered
                seen += [(ext, RingEnded()), (ext, Reachable())]
            elif event.status not in (DEVICE_UNKNOWN, DEVICE_INVALID):
                seen.append((ext, Reachable()))
            return seen
        case AgentCalled():
            ext = interfaces.extension(event.interface)
            return () if ext is None else ((ext, Called(event.call_id)),)
        case AgentConnect():
            ext = interfaces.extension(event.interface)
            return () if ext is None else ((ext, Connected(event.call_id)),)
        case AgentComplete():
            ext = interfaces.extension(event.interface)
            return () if ext is None else ((ext, Completed(event.call_id)),)
        case AgentRingNoAnswer():
            ext = interfaces.extension(event.interface)
            return () if ext is None else ((ext, RingEnded()),)
        case UnknownEvent():
            return _unknown_facts(parse_unknown(event), interfaces)
    return ()


def _unknown_facts(
    parsed: DeviceState | ContactState | None, interfaces: Interfaces
) -> Sequence[Fact]:
    if isinstance(parsed, DeviceState):
        ext = interfaces.extension(parsed.device)
        if ext is None:
            return ()
        if parsed.state in ("UNAVAILABLE", "UNREACHABLE"):
            return ((ext, Unreachable()),)
        if parsed.state == "NOT_INUSE":
            return ((ext, RingEnded()), (ext, Reachable()))
        if parsed.state == "REACHABLE":
            return ((ext, Reachable()),)
        return ()
    if isinstance(parsed, ContactState):
        ext = interfaces.extension_of_aor(parsed.aor)
        if ext is None:
            return ()
        if parsed.status in ("Removed", "Unreachable"):
            return ((ext, Unreachable()),)
        if parsed.status in ("Created", "Reachable", "NonQualified", "Updated"):
            return ((ext, Reachable()),)
    return ()
