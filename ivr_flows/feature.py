"""The callbacks feature: flows validated at start, the scheduler, the order listener.

`build(core)` loads and validates every flow (a `FlowError` stops the server at start,
naming the file and line), then wires: `CallTracker` (AMI handler) -> `FlowInterpreter`
(places calls) -> `Scheduler` (task) <- `OrderListener` (task, bus order steps ->
jobs); results go out through `ResultPublisher` (bus + `SurveyResultSink`).
`build_with(core, contacts=..., sink=...)` is for a root that wires workorders in.

With `ivr.speech` on and a flow that listens or records, the speech model is loaded
here, synchronously: the words of every spoken choice must be checked against its
vocabulary before the server accepts the flows (a `FlowError` naming flow, step and
word), and that needs the model (a second or two, once, before any call).
"""

from __future__ import annotations

from pathlib import Path

from asr.speech import SpeechRecognizer
from hotline.feature import Core, Feature
from ivr_flows.flows import Flow, FlowError, check_vocabulary, load_flows
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
from telephony import ami_actions

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
    speech = speech_for(core, flows)
    scheduler = Scheduler(
        sessionmaker=core.sessionmaker,
        placer=FlowInterpreter(core.ami, tracker, s, core.clock, speech),
        flows=flows,
        policy=policy,
        clock=core.clock,
        on_finished=ResultPublisher(core.bus, sink or LoggingSink()),
        hang_up=lambda channel: core.ami.send(ami_actions.hangup(channel, 16)),
    )
    listener = OrderListener(
        bus=core.bus, sessionmaker=core.sessionmaker,
        contacts=contacts or StoreOrderContacts(core.sessionmaker), settings=s, policy=policy,
        clock=core.clock, on_stored=scheduler.wake,
    )  # fmt: skip
    return Feature(name="callbacks", ami_handlers=(tracker,), tasks=(scheduler.run, listener.run))


def speech_for(core: Core, flows: dict[str, Flow]) -> SpeechRecognizer | None:
    """The loaded, vocabulary-checked recognizer, or None when speech is off or unused."""
    s = core.settings.ivr
    if not s.speech or not any(f.uses_speech for f in flows.values()):
        return None
    path = s.speech_model or core.settings.asr.model_path
    if path is None:
        first = next(f for f in flows.values() if f.uses_speech)
        raise FlowError(first.path, None, "ivr.speech needs ivr.speech_model or asr.model_path")
    recognizer = SpeechRecognizer(path, core.settings.asr.number_style)
    recognizer.load()
    check_vocabulary(flows, recognizer.knows, f"the model at {path}")
    return recognizer
