"""Transfers started by an operator: blind to a skill queue or an emergency partner, or a
three-way call with a partner where the operator stays on.

Theory of operation
-------------------
`plan_transfer(...)` is pure: from the operator's call legs and the request it returns a
`TransferPlan` (the AMI action to send) or raises a `TransferError`. `execute()` sends it.

- **blind to a queue**: ``BlindTransfer`` of the operator's channel to ``q-<queue>`` in
  the transfer context (config/asterisk/extensions_transfers.conf.tmpl): the citizen
  goes there and is queued again, the operator's leg is hung up (app_queue reports the
  AgentComplete with reason transfer).
- **blind to 110/119/120/122**: the same, to the partner's number in that context, which
  dials the partner.
- **three-way with 110/119/120/122**: ``Originate`` a Local channel that dials the partner
  (``hotline-transfer-dial``); once the partner answers, its other half runs
  ``BridgeAdd`` with the operator's channel (``hotline-transfer-join``) and joins the
  conversation: the bridge becomes a three-party mixing bridge and the operator stays on.

The caller publishes `CallTransferred`; the calls feature stores it with the call.

Errors::

    TransferError
     ├── UnknownTarget     not a known queue nor an emergency partner
     └── TransferFailed    Asterisk refused or the partner did not answer
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from telephony import ami_actions
from telephony.ami import AmiClient
from telephony.ami_errors import AmiError

EMERGENCY: Mapping[str, str] = MappingProxyType(
    {"110": "公安报警", "119": "消防", "120": "医疗急救", "122": "交通事故"}
)
DIAL_CONTEXT = "hotline-transfer-dial"
JOIN_CONTEXT = "hotline-transfer-join"

Mode = Literal["blind", "three_way"]
Kind = Literal["queue", "emergency"]


class TransferError(Exception):
    """A transfer that cannot be done; str() says why."""


class UnknownTarget(TransferError):
    pass


class TransferFailed(TransferError):
    pass


@dataclass(frozen=True)
class Legs:
    call_id: str
    caller_channel: str
    operator_channel: str


@dataclass(frozen=True)
class TransferPlan:
    kind: Kind
    mode: Mode
    target: str
    action: ami_actions.AmiAction


def plan_transfer(
    legs: Legs, *, target: str, mode: Mode, queues: Collection[str], context: str
) -> TransferPlan:
    if target in EMERGENCY:
        if mode == "blind":
            return TransferPlan("emergency", mode, target, _blind(legs, context, target))
        action = ami_actions.originate(
            channel=f"Local/{target}@{DIAL_CONTEXT}",
            context=JOIN_CONTEXT,
            exten="s",
            variables={"HOTLINE_JOIN": legs.operator_channel,
                       "HOTLINE_TRANSFER_CALL": legs.call_id},
            caller_id=f'"12345" <{target}>',
        )
        return TransferPlan("emergency", mode, target, action)
    if target in queues:
        if mode != "blind":
            raise UnknownTarget("a transfer to a queue is blind (the operator leaves)")
        return TransferPlan("queue", mode, target, _blind(legs, context, f"q-{target}"))
    raise UnknownTarget(f"{target!r} is neither a queue nor 110/119/120/122")


def _blind(legs: Legs, context: str, exten: str) -> ami_actions.AmiAction:
    # The operator's channel transfers its bridge peer and leaves: Asterisk hangs it up
    # and app_queue reports AgentComplete (a Redirect of the caller would leave the
    # operator alone in the bridge).
    return ami_actions.AmiAction.of(
        "BlindTransfer", Channel=legs.operator_channel, Context=context, Exten=exten
    )


async def execute(ami: AmiClient, plan: TransferPlan) -> None:
    """Send the plan's action; raise TransferFailed if Asterisk refuses it."""
    try:
        if plan.action.name == "Originate":
            headers = dict(plan.action.headers)
            variables = dict(v.split("=", 1) for k, v in plan.action.headers if k == "Variable")
            result = await ami.originate(
                channel=headers["Channel"], context=headers["Context"], exten=headers["Exten"],
                variables=variables, caller_id=headers.get("CallerID"),
            )  # fmt: skip
            if not result.success:
                raise TransferFailed(f"{plan.target} did not answer (reason {result.reason})")
        else:
            await ami.send(plan.action)
    except AmiError as err:
        raise TransferFailed(f"{plan.action.name} for {plan.target}: {err}") from err
