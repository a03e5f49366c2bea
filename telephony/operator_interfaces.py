"""Operator extension <-> the interface a queue member or a Dial uses ("PJSIP/op{extension}").

The template comes from `calls.operator_interface`; `extension()` also takes a channel
name (`PJSIP/op1001-0000002a`, `Local/...;1`): the channel's unique suffix is cut first.
"""

from __future__ import annotations

import re

_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?$")


class OperatorInterfaces:
    """Extension <-> the interface a queue member or a Dial uses ("PJSIP/op{extension}")."""

    def __init__(self, template: str) -> None:
        self.template = template
        prefix, _, suffix = template.partition("{extension}")
        self._pattern = re.compile(f"^{re.escape(prefix)}(?P<ext>[^/;@-]+){re.escape(suffix)}$")

    def interface(self, extension: str) -> str:
        return self.template.format(extension=extension)

    def extension(self, interface_or_channel: str) -> str | None:
        m = self._pattern.match(_CHANNEL_SUFFIX.sub("", interface_or_channel))
        return m.group("ext") if m else None
