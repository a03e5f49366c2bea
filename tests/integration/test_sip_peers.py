"""SIP peers against the real lab Asterisk: sipp citizens and baresip operators."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.baresip import Softphone
from lab.pbx import Pbx
from lab.procs import wait_until
from lab.sipp import CallbackCitizen, Citizen

pytestmark = pytest.mark.integration

AUDIO = Path("/work/shared/audio/zh")


def _speech() -> Path:
    wavs = sorted(AUDIO.glob("*.wav")) if AUDIO.exists() else []
    return wavs[0] if wavs else Path(__file__)  # the test using it asserts it exists


class RawAmi:
    """Just enough of AMI for a test to watch events (the real adapter lives elsewhere)."""

    def __init__(self, pbx: Pbx) -> None:
        ep = pbx.endpoints
        self.sock = socket.create_connection((ep.ami_host, ep.ami_port), timeout=5)
        self.buffer = b""
        login = f"Action: Login\r\nUsername: {ep.ami_username}\r\nSecret: {ep.ami_secret}\r\n"
        self.sock.sendall(login.encode() + b"\r\n")
        assert self.next_message(5).get("Response") == "Success"

    def next_message(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("AMI closed")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        fields = {}
        for line in raw.decode("utf-8").split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                fields[key] = value
        return fields

    def events_until(
        self, done: Callable[[list[dict[str, str]]], bool], timeout: float
    ) -> list[dict[str, str]]:
        seen: list[dict[str, str]] = []
        deadline = time.monotonic() + timeout
        while not done(seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                names = [e.get("Event") for e in seen]
                raise TimeoutError(f"AMI condition not met in {timeout}s; saw {names}")
            try:
                seen.append(self.next_message(remaining))
            except TimeoutError:
                continue
        return seen

    def send(self, action: str, **headers: str) -> None:
        lines = [f"Action: {action}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def close(self) -> None:
        self.sock.close()


def _channels(pbx: Pbx) -> list[str]:
    return [line for line in pbx.cli("core show channels concise").splitlines() if "!" in line]


def test_citizen_is_queued_and_answered_by_operator(
    pbx: Pbx,
    citizen_factory: Callable[..., Citizen],
    softphone_factory: Callable[..., Softphone],
    tmp_path: Path,
) -> None:
    speech = _speech()
    assert speech.suffix == ".wav", f"no test speech in {AUDIO}"
    operator = softphone_factory(pbx, record_dir=tmp_path / "heard")
    citizen = citizen_factory(
        pbx,
        number="12345",
        caller="13800138000",
        display_name="张伟",
        wav=speech,
        hangup_after=3,
    )
    citizen.start()

    established = operator.wait_event("CALL_ESTABLISHED", timeout=10)
    assert "13800138000" in established.peer_uri
    channels = _channels(pbx)
    pstn = next(c for c in channels if c.startswith("PJSIP/pstn-"))
    assert "!Queue!hotline-default" in pstn and "!Up!" in pstn
    assert any(c.startswith(f"PJSIP/{operator.operator.username}-") for c in channels)
    details = pbx.cli(f"core show channel {pstn.split('!')[0]}")
    assert "Caller ID Name: 张伟" in details
    assert "HOTLINE_DNIS=12345" in details

    result = citizen.wait(timeout=15)
    assert result.successful, result.log_tail
    assert (result.successful_calls, result.failed_calls) == (1, 0)
    closed = operator.wait_event("CALL_CLOSED", timeout=5)
    assert closed.call_id == established.call_id
    wait_until(lambda: not _channels(pbx), 5, "all channels torn down")
    operator.stop()  # closes the recording
    heard = list((tmp_path / "heard").glob("dump-*-dec.wav"))
    assert heard and heard[0].stat().st_size > 8000, "operator heard nothing"


def test_citizen_dtmf_reaches_asterisk(
    pbx_factory: Callable[..., Pbx], citizen_factory: Callable[..., Citizen]
) -> None:
    own = pbx_factory()  # no operators registered: the caller stays queued
    ami = RawAmi(own)
    try:
        citizen = citizen_factory(own, dtmf="19#", dtmf_delay=0.3, hangup_after=3)
        citizen.start()

        def digits(events: list[dict[str, str]]) -> str:
            return "".join(
                e["Digit"]
                for e in events
                if e.get("Event") == "DTMFEnd" and e.get("Direction") == "Received"
            )

        events = ami.events_until(lambda seen: digits(seen) == "19#", timeout=10)
        joined = [e for e in events if e.get("Event") == "QueueCallerJoin"]
        assert joined and joined[0]["CallerIDName"] == "张伟"
        assert citizen.wait(timeout=10).successful
    finally:
        ami.close()


def _originate(ami: RawAmi, phone: CallbackCitizen, app: str, data: str, timeout_ms: int) -> str:
    channel_id = f"cb-{phone.sip_port}"
    ami.send(
        "Originate",
        Channel=f"PJSIP/pstn/sip:13800138000@127.0.0.1:{phone.sip_port}",
        Application=app,
        Data=data,
        Timeout=str(timeout_ms),
        Async="true",
        ChannelId=channel_id,
        CallerID='"12345" <12345>',
    )
    return channel_id


def _hangup_of(channel_id: str) -> Callable[[list[dict[str, str]]], bool]:
    return lambda seen: any(
        e.get("Event") == "Hangup" and e.get("Uniqueid") == channel_id for e in seen
    )


def test_callback_answered_with_a_digit(
    pbx: Pbx, callback_citizen_factory: Callable[..., CallbackCitizen]
) -> None:
    phone = callback_citizen_factory(answer="answer", dtmf="1", dtmf_delay=0.5)
    ami = RawAmi(pbx)
    try:
        channel_id = _originate(ami, phone, "Read", "SAT,silence/1,1,,1,5", 5000)
        events = ami.events_until(_hangup_of(channel_id), timeout=15)
        digits = [
            e["Digit"]
            for e in events
            if e.get("Event") == "DTMFEnd" and e.get("Uniqueid") == channel_id
        ]
        assert digits == ["1"]
        sat = [
            e["Value"]
            for e in events
            if e.get("Event") == "VarSet"
            and e.get("Variable") == "SAT"
            and e.get("Uniqueid") == channel_id
        ]
        assert sat[-1:] == ["1"]
    finally:
        ami.close()
    assert phone.wait(timeout=5).successful


@pytest.mark.parametrize(("answer", "cause"), [("busy", "17"), ("no-answer", "19")])
def test_callback_not_answered(
    pbx: Pbx,
    callback_citizen_factory: Callable[..., CallbackCitizen],
    answer: str,
    cause: str,
) -> None:
    phone = callback_citizen_factory(answer=answer)
    ami = RawAmi(pbx)
    try:
        channel_id = _originate(ami, phone, "Wait", "1", 1500)
        events = ami.events_until(_hangup_of(channel_id), timeout=10)
        hangup = next(e for e in events if _hangup_of(channel_id)([e]))
        assert hangup["Cause"] == cause
    finally:
        ami.close()
    assert phone.wait(timeout=5).successful


def test_callback_citizen_hangs_up_first(
    pbx: Pbx, callback_citizen_factory: Callable[..., CallbackCitizen]
) -> None:
    phone = callback_citizen_factory(answer="answer", hangup_after=0.5)
    ami = RawAmi(pbx)
    try:
        channel_id = _originate(ami, phone, "Wait", "10", 5000)
        # Wait(10) would last 10 s: the Hangup comes from the citizen's BYE.
        ami.events_until(_hangup_of(channel_id), timeout=5)
    finally:
        ami.close()
    assert phone.wait(timeout=5).successful
