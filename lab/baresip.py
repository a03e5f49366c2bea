"""Operators for the lab: Debian's baresip, headless, as a real SIP softphone.

Theory of operation
-------------------
`Softphone.start()` writes DIR/config and DIR/accounts (baresip replaces a missing file
with a template that listens on 0.0.0.0 and uses STUN, so both are always written),
runs `baresip -f DIR` in the foreground of its own process group, and connects to its
ctrl_tcp socket. A reader thread splits the stream into netstrings (`LEN:JSON,`): events
(`{"event":true,"type":"CALL_ESTABLISHED",...}`) go to a list that `wait_event` takes
from; responses (`{"response":true,"token":...}`) answer `command()`.

Everything binds 127.0.0.1: SIP on an even port (baresip also opens PORT+1), RTP in a
small private range, ctrl_tcp on a free TCP port. `jitter_buffer_delay 0-0` is required:
with the default, about half the calls lose all received audio and DTMF after an early
SSRC change from Asterisk. The microphone is a WAV (8 kHz mono s16) padded with silence,
because baresip hangs up when its audio file ends; `record_dir` makes the sndfile module
record what it hears (`dump-*-dec.wav`) and says (`-enc.wav`); the files are complete
once the call ends or the softphone stops.

Events seen (baresip 1.0.0): REGISTER_OK, CALL_RINGING (outgoing), CALL_INCOMING (only
with answermode=manual; then `accept()`), CALL_REMOTE_SDP, CALL_LOCAL_SDP,
CALL_ESTABLISHED, CALL_RTPESTAB, CALL_CLOSED (param = reason), SHUTDOWN, EXIT.

Errors::

    SoftphoneError       baresip could not start, or a command failed
    lab.procs.LabTimeout an awaited event or registration did not come in time
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from lab import procs
from lab.pbx import Operator, PbxEndpoints
from lab.ports import free_tcp_port, free_udp_range

if TYPE_CHECKING:
    from lab.pbx import Pbx

log = structlog.get_logger()

HOST = "127.0.0.1"
MODULE_PATH = Path("/usr/lib/baresip/modules")


class SoftphoneError(RuntimeError):
    """baresip failed to start, or answered a command with an error."""


@dataclass(frozen=True)
class SoftphoneEvent:
    """One ctrl_tcp event, e.g. type CALL_INCOMING / CALL_ESTABLISHED / CALL_CLOSED."""

    type: str
    klass: str
    peer_uri: str
    call_id: str
    param: str

    @classmethod
    def parse(cls, message: dict[str, Any]) -> SoftphoneEvent:
        return cls(
            type=str(message.get("type", "")),
            klass=str(message.get("class", "")),
            peer_uri=str(message.get("peeruri", "")),
            call_id=str(message.get("id", "")),
            param=str(message.get("param", "")),
        )


def split_netstrings(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete netstrings at the start of `buffer` (pure)."""
    out: list[bytes] = []
    while True:
        colon = buffer.find(b":")
        if colon < 0:
            return out
        try:
            length = int(buffer[:colon])
        except ValueError as err:
            raise SoftphoneError(f"bad netstring header {bytes(buffer[:colon])!r}") from err
        end = colon + 1 + length
        if len(buffer) < end + 1:
            return out
        out.append(bytes(buffer[colon + 1 : end]))
        del buffer[: end + 1]  # payload and its trailing comma


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


def render_config(
    *,
    sip_port: int,
    rtp: range,
    ctrl_port: int,
    audio_source: Path,
    record_dir: Path | None,
) -> str:
    """baresip's config file (pure)."""
    modules = ["g711.so", "aufile.so"] + (["sndfile.so"] if record_dir else [])
    lines = [
        "poll_method epoll",
        f"sip_listen {HOST}:{sip_port}",
        "sip_trans_def udp",
        "call_local_timeout 120",
        "call_max_calls 4",
        f"audio_source aufile,{audio_source}",
        "audio_player none,none",
        "audio_alert none,none",
        "ausrc_srate 8000",
        "auplay_srate 8000",
        "ausrc_channels 1",
        "auplay_channels 1",
        f"rtp_ports {rtp.start}-{rtp.stop - 1}",
        "rtp_timeout 0",
        "jitter_buffer_delay 0-0",
        f"net_interface {HOST}",
        "dns_server 127.0.0.1:53",
        f"module_path {MODULE_PATH}",
        *(f"module {m}" for m in modules),
        "module_app account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen {HOST}:{ctrl_port}",
        "statmode_default off",
    ]
    if record_dir is not None:
        lines.append(f"snd_path {record_dir}")
    return "\n".join(lines) + "\n"


def render_account(pbx: PbxEndpoints, operator: Operator, answermode: str) -> str:
    """baresip's accounts file: one operator registering with the lab Asterisk (pure)."""
    return (
        f"<sip:{operator.username}@{pbx.sip_host}:{pbx.sip_port};transport=udp>"
        f";auth_pass={operator.password};answermode={answermode};regint=600"
        ";audio_codecs=PCMU/8000/1,PCMA/8000/1\n"
    )


def prepare_audio(wav: Path | None, target: Path, pad_seconds: int) -> Path:
    """8 kHz mono s16 WAV for aufile: `wav` padded with silence, or silence alone."""
    source = ["-n"] if wav is None else [str(wav)]
    effects = ["trim", "0", str(pad_seconds)] if wav is None else ["pad", "0", str(pad_seconds)]
    argv = ["sox", *source, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", str(target)]
    try:
        subprocess.run([*argv, *effects], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise SoftphoneError(f"sox could not prepare {wav or 'silence'}: {err}") from err
    return target


class Softphone:
    """One operator's softphone: baresip registered as `operator` with the lab Asterisk."""

    def __init__(
        self,
        pbx: PbxEndpoints,
        operator: Operator,
        *,
        work_dir: Path,
        wav: Path | None = None,
        record_dir: Path | None = None,
        answermode: str = "auto",
        max_call_seconds: int = 300,
    ) -> None:
        self.pbx = pbx
        self.operator = operator
        self.work_dir = work_dir
        self.wav = wav
        self.record_dir = record_dir
        self.answermode = answermode
        self.max_call_seconds = max_call_seconds
        self.log_path = work_dir / "baresip.log"
        self.sip_port = 0
        self.ctrl_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._events: list[SoftphoneEvent] = []
        self._responses: dict[str, dict[str, Any]] = {}
        self._tokens = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
        audio = prepare_audio(self.wav, self.work_dir / "mic.wav", self.max_call_seconds)
        self.sip_port = free_udp_range(2).start
        self.ctrl_port = free_tcp_port()
        (self.work_dir / "config").write_text(
            render_config(
                sip_port=self.sip_port,
                rtp=free_udp_range(8),
                ctrl_port=self.ctrl_port,
                audio_source=audio,
                record_dir=self.record_dir,
            )
        )
        (self.work_dir / "accounts").write_text(
            render_account(self.pbx, self.operator, self.answermode)
        )
        self._proc = procs.spawn(["baresip", "-f", str(self.work_dir)], self.log_path)
        procs.wait_until(self._connect, timeout, f"baresip ctrl_tcp on port {self.ctrl_port}")
        self._reader = threading.Thread(
            target=self._read, name=f"baresip-{self.operator.username}", daemon=True
        )
        self._reader.start()
        log.info("softphone.started", user=self.operator.username, sip_port=self.sip_port)

    def stop(self) -> None:
        """Ask baresip to quit, then SIGTERM/SIGKILL; close the control connection."""
        if self._proc is None:
            return
        if self._proc.poll() is None and self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.sendall(netstring(b'{"command":"quit","token":"quit"}'))
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(2)
        procs.terminate(self._proc, timeout=2)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._reader is not None:
            self._reader.join(2)
        self._proc = None
        log.info("softphone.stopped", user=self.operator.username)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_registered(self, pbx: Pbx | None = None, timeout: float = 10.0) -> None:
        """Wait until Asterisk has our contact (or, without `pbx`, baresip says so)."""
        if pbx is not None:
            needle = f"{self.operator.username}/sip:"

            def registered() -> bool:
                return needle in pbx.cli(f"pjsip show aor {self.operator.username}")
        else:

            def registered() -> bool:
                return "OK" in self.command("reginfo").get("data", "")

        procs.wait_until(registered, timeout, f"{self.operator.username} registered")

    # -- control ---------------------------------------------------------------------------

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send one ctrl_tcp command and return baresip's response."""
        if self._sock is None:
            raise SoftphoneError("softphone not started")
        token = f"t{next(self._tokens)}"
        message = {"command": command, "params": params, "token": token}
        self._sock.sendall(netstring(json.dumps(message).encode()))
        with self._cond:
            if not self._cond.wait_for(lambda: token in self._responses, timeout):
                raise procs.LabTimeout(f"baresip gave no answer to {command!r} in {timeout}s")
            response = self._responses.pop(token)
        if not response.get("ok", False):
            raise SoftphoneError(f"baresip refused {command} {params!r}: {response}")
        return response

    def dial(self, number: str) -> None:
        self.command("dial", number)

    def accept(self) -> None:
        self.command("accept")

    def hangup(self) -> None:
        self.command("hangup")

    def send_digits(self, digits: str) -> None:
        """Send RFC 2833 digits on the current call."""
        self.command("sndcode", digits)

    def wait_event(self, event_type: str, timeout: float = 10.0) -> SoftphoneEvent:
        """Take the first not yet taken event of `event_type` (waiting for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, event in enumerate(self._events):
                    if event.type == event_type:
                        return self._events.pop(i)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [e.type for e in self._events]
                    raise procs.LabTimeout(
                        f"{self.operator.username}: no {event_type} in {timeout}s "
                        f"(pending events: {seen})"
                    )
                self._cond.wait(remaining)

    def events(self) -> list[SoftphoneEvent]:
        """A copy of the events not yet taken."""
        with self._cond:
            return list(self._events)

    # -- internals -------------------------------------------------------------------------

    def _connect(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise SoftphoneError(f"baresip exited:\n{procs.tail(self.log_path)}")
        try:
            self._sock = socket.create_connection((HOST, self.ctrl_port), timeout=1)
        except OSError:
            return False
        self._sock.settimeout(None)
        return True

    def _read(self) -> None:
        sock = self._sock
        if sock is None:
            return
        buffer = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer.extend(chunk)
            try:
                payloads = split_netstrings(buffer)
            except SoftphoneError as err:  # the thread must not die on a bad frame
                log.warning("softphone.bad_frame", error=str(err))
                buffer.clear()
                continue
            for payload in payloads:
                self._dispatch(payload)

    def _dispatch(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except json.JSONDecodeError:
            log.warning("softphone.bad_message", payload=payload[:200])
            return
        with self._cond:
            if message.get("event"):
                event = SoftphoneEvent.parse(message)
                log.debug("softphone.event", user=self.operator.username, type=event.type)
                self._events.append(event)
            elif message.get("response"):
                self._responses[str(message.get("token", ""))] = message
            self._cond.notify_all()
