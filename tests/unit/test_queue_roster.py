"""The queue roster from AMI events alone."""

from __future__ import annotations

from telephony.ami_events import (
    QueueMemberAdded,
    QueueMemberRemoved,
    QueueMemberSnapshot,
    ResyncCompleted,
    ResyncStarted,
)
from telephony.queue_roster import QueueRoster


def test_unknown_until_resync_then_snapshot_and_live_events() -> None:
    roster = QueueRoster()
    assert roster.staffed("hotline-general")  # nothing known yet: no shortcut
    roster.on_event(ResyncStarted())
    roster.on_event(QueueMemberSnapshot(queue="hotline-default", interface="PJSIP/op1001"))
    roster.on_event(QueueMemberAdded(queue="hotline-general", interface="PJSIP/op1002"))
    roster.on_event(ResyncCompleted(channels=0, queue_members=1, queue_entries=0))
    assert roster.staffed("hotline-default") and roster.staffed("hotline-general")
    assert not roster.staffed("hotline-transport")
    roster.on_event(QueueMemberRemoved(queue="hotline-general", interface="PJSIP/op1002"))
    assert not roster.staffed("hotline-general")


def test_an_incomplete_resync_keeps_the_old_roster() -> None:
    roster = QueueRoster()
    roster.on_event(ResyncStarted())
    roster.on_event(QueueMemberSnapshot(queue="q", interface="PJSIP/op1"))
    roster.on_event(ResyncCompleted(channels=0, queue_members=1, queue_entries=0))
    roster.on_event(ResyncStarted())
    roster.on_event(ResyncCompleted(channels=0, queue_members=0, queue_entries=0, complete=False))
    assert roster.members("q") == {"PJSIP/op1"}
