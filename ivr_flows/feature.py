"""The callbacks feature: flows validated at start, the scheduler, the order listener.

`build(core)` loads and validates every flow (a `FlowError` stops the server at start,
naming the file and line), then wires: `CallTracker` (AMI handler) -> `FlowInterpreter`
(places calls) -> `Scheduler` (task) <- `OrderListener` (task, bus order steps ->
jobs); results go out through `ResultPublisher` (bus + `SurveyResultSink`).
`build_with(core, contacts=..., sink=...)` is for a root that wires workorders in.
"""

from __future__ import annotations

from pathlib import Path

from hotline.feature import Core, Feature
from ivr_flows.flows import load_flows
from ivr_flows.interpreter import CallTracker, FlowInterpreter
from ivr_flows.orders import (
    LoggingSink,
    OrderContacts,
    OrderListener,
    ResultPublisher,
    StoreOrderContacts,
    SurveyResultSink,
)
from ivr_flows.scheduler import SchedulePolicy, Scheduler

DEFAULT_FLOWS = Path(__file__).resolve().parent.parent / "config" / "ivr"


def build(core: Core) -> Feature:
    return build_with(core)


def build_with(
    core: Core, *, contacts: OrderContacts | None = None, sink: SurveyResultSink | None = None
) -> Feature:
    s = core.settings.ivr
    flows = load_flows(s.flows_dir or DEFAULT_FLOWS)
    if not s.enabled:
        return Feature(name="callbacks")
    tracker = CallTracker()
    policy = SchedulePolicy.from_settings(s)
    scheduler = Scheduler(
        sessionmaker=core.sessionmaker,
        placer=FlowInterpreter(core.ami, tracker, s, core.clock),
        flows=flows,
        policy=policy,
        clock=core.clock,
        on_finished=ResultPublisher(core.bus, sink or LoggingSink()),
    )
    listener = OrderListener(
        bus=core.bus, sessionmaker=core.sessionmaker,
        contacts=contacts or StoreOrderContacts(core.sessionmaker), settings=s, policy=policy,
        clock=core.clock, on_stored=scheduler.wake,
    )  # fmt: skip
    return Feature(name="callbacks", ami_handlers=(tracker,), tasks=(scheduler.run, listener.run))
