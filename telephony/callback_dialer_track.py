"""What the callback dialer follows of its dials: their AMI events and what they came to.

`DialTracker` is ivr_flows' CallTracker (each dial's channel events in its own queue,
ChannelGone when a resync does not find it) plus the AgentConnect naming our channel as
the caller. `LiveDial` is the progress of one dial kept where its cancellation handler
can read it (telephony.callback_dialer hangs up a ringing phone when the server stops).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ivr_flows.interpreter import CallTracker
from telephony.ami_events import AgentConnect, AmiEvent
from telephony.callback_dialer_plan import DialProgress


class DialTracker(CallTracker):
    """ivr_flows' CallTracker, plus the AgentConnect that names our channel as caller."""

    def __init__(self) -> None:
        super().__init__()
        self._queues: dict[str, asyncio.Queue[AmiEvent]] = {}

    def open(self, channel_id: str) -> asyncio.Queue[AmiEvent]:
        queue = super().open(channel_id)
        self._queues[channel_id] = queue
        return queue

    def close(self, channel_id: str) -> None:
        super().close(channel_id)
        self._queues.pop(channel_id, None)

    async def on_ami_event(self, event: AmiEvent) -> None:
        if isinstance(event, AgentConnect):
            queue = self._queues.get(event.uniqueid)
            if queue is not None:
                queue.put_nowait(event)
            return
        await super().on_ami_event(event)


@dataclass
class LiveDial:
    """What one dial knows so far, readable by its cancellation handler."""

    progress: DialProgress
    channel: str | None = None  # the channel name, once the Originate said it
