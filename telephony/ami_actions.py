"""Typed AMI actions and their answers. Pure, no I/O.

An `AmiAction` is a name, ordered headers and how its answer ends: a single reply
(the default; panoramisk's guessing from the reply text left QueueAdd waiting forever),
a list of events ended by ``EventList: Complete`` (`as_list=True`), or, for an async
Originate, the ``OriginateResponse`` event (`final_event`). Header values may not hold
CR or LF: one would smuggle extra headers or actions onto the wire.

`AmiResponse` is the typed answer. ``output`` is always a tuple of lines (Command's
Output is a string for one line and a list for several in panoramisk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from telephony.ami_events import AmiEvent, MalformedAmiMessage, OriginateResponse, parse_event

log = structlog.get_logger()
OK_RESPONSES = ("Success", "Follows", "Goodbye")

HeaderValue = str | int | bool | Sequence[str]


@dataclass(frozen=True)
class AmiAction:
    name: str
    headers: tuple[tuple[str, str], ...] = ()
    as_list: bool = False
    final_event: str | None = None

    def __post_init__(self) -> None:
        for key, value in (("Action", self.name), *self.headers):
            if not key or any(c in key for c in ":\r\n ") or "\r" in value or "\n" in value:
                raise ValueError(f"AMI action {self.name!r}: bad header {key!r}: {value!r}")
            if key.lower() == "actionid":
                raise ValueError("ActionID is set by the client")

    @classmethod
    def of(cls, name: str, *, as_list: bool = False, **headers: HeaderValue | None) -> AmiAction:
        """`AmiAction.of("Hangup", Channel="PJSIP/op1001-1", Cause=16)`; None is left out;
        a sequence repeats the header (Variable=["A=1", "B=2"])."""
        pairs: list[tuple[str, str]] = []
        for key, value in headers.items():
            if value is None:
                continue
            if isinstance(value, bool):
                pairs.append((key, "true" if value else "false"))
            elif isinstance(value, str | int):
                pairs.append((key, str(value)))
            else:
                pairs.extend((key, str(v)) for v in value)
        return cls(name, tuple(pairs), as_list=as_list)

    def __repr__(self) -> str:  # never print secrets
        keys = ",".join(k for k, _ in self.headers)
        return f"AmiAction({self.name!r}, headers=[{keys}])"


@dataclass(frozen=True)
class AmiResponse:
    action: str
    action_id: str
    response: str
    message: str
    headers: Mapping[str, str]
    events: tuple[AmiEvent, ...] = field(default=())

    @property
    def success(self) -> bool:
        return self.response in OK_RESPONSES

    @classmethod
    def from_replies(
        cls, action: AmiAction, action_id: str, replies: Sequence[Mapping[str, str]]
    ) -> AmiResponse:
        """The first reply's headers, and the list items that followed as typed events."""
        first = replies[0]
        events: list[AmiEvent] = []
        for msg in replies[1:]:
            if msg.get("Event", "").endswith("Complete"):
                continue
            try:
                events.append(parse_event(msg))
            except MalformedAmiMessage as err:
                log.warning("ami.malformed_event", action=action.name, error=str(err))
        return cls(
            action=action.name,
            action_id=action_id,
            response=first.get("Response", ""),
            message=first.get("Message", ""),
            headers=dict(first),
            events=tuple(events),
        )

    @property
    def output(self) -> tuple[str, ...]:
        text = self.headers.get("Output")
        return tuple(text.split("\n")) if text else ()


@dataclass(frozen=True)
class OriginateResult:
    """How an Originate ended. `channel_id` is what we asked for: match the Hangup by it
    when the call failed (Asterisk then reports Uniqueid '<unknown>', here None)."""

    success: bool
    reason: int
    channel: str
    uniqueid: str | None
    channel_id: str | None
    action_id: str
    event: OriginateResponse


# -- builders for the actions the hotline uses ---------------------------------------------


def login(username: str, secret: str) -> AmiAction:
    return AmiAction.of("Login", Username=username, Secret=secret, Events="on")


def ping() -> AmiAction:
    return AmiAction("Ping")


def core_show_channels() -> AmiAction:
    return AmiAction("CoreShowChannels", as_list=True)


def queue_status(queue: str | None = None) -> AmiAction:
    return AmiAction.of("QueueStatus", as_list=True, Queue=queue)


def queue_add(
    queue: str,
    interface: str,
    *,
    member_name: str | None = None,
    state_interface: str | None = None,
    penalty: int = 0,
    paused: bool = False,
) -> AmiAction:
    return AmiAction.of(
        "QueueAdd",
        Queue=queue,
        Interface=interface,
        MemberName=member_name,
        StateInterface=state_interface,
        Penalty=penalty,
        Paused=paused,
    )


def queue_remove(queue: str, interface: str) -> AmiAction:
    return AmiAction.of("QueueRemove", Queue=queue, Interface=interface)


def queue_pause(
    interface: str, paused: bool, *, queue: str | None = None, reason: str | None = None
) -> AmiAction:
    return AmiAction.of(
        "QueuePause", Interface=interface, Paused=paused, Queue=queue, Reason=reason
    )


def hangup(channel: str, cause: int | None = None) -> AmiAction:
    return AmiAction.of("Hangup", Channel=channel, Cause=cause)


def redirect(channel: str, context: str, exten: str, priority: int = 1) -> AmiAction:
    return AmiAction.of(
        "Redirect", Channel=channel, Context=context, Exten=exten, Priority=priority
    )


def setvar(channel: str | None, variable: str, value: str) -> AmiAction:
    return AmiAction.of("Setvar", Channel=channel, Variable=variable, Value=value)


def getvar(channel: str | None, variable: str) -> AmiAction:
    return AmiAction.of("Getvar", Channel=channel, Variable=variable)


def command(text: str) -> AmiAction:
    return AmiAction.of("Command", Command=text)


def originate(
    *,
    channel: str,
    context: str,
    exten: str,
    priority: int = 1,
    channel_id: str | None = None,
    other_channel_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    timeout_ms: int = 30000,
    caller_id: str | None = None,
) -> AmiAction:
    """Always async: without `Async` panoramisk's reply parser drops the connection, and
    a synchronous Originate would hold the reply for the whole ring time."""
    pairs = [f"{k}={v}" for k, v in (variables or {}).items()]
    action = AmiAction.of(
        "Originate",
        Channel=channel,
        Context=context,
        Exten=exten,
        Priority=priority,
        Timeout=timeout_ms,
        CallerID=caller_id,
        ChannelId=channel_id,
        OtherChannelId=other_channel_id,
        Variable=pairs,
        Async="true",
    )
    return AmiAction(action.name, action.headers, final_event="OriginateResponse")
