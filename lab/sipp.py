"""Citizens for the lab: Debian's sipp (sip-tester) calling, or answering, the hotline.

Theory of operation
-------------------
A `Citizen` runs one sipp process for one call. Its scenario is rendered from
lab/sipp/citizen.xml (string.Template) with the media part generated here: after the
ACK it streams audio with sipp's `rtp_stream` (G.711 μ-law WAV, 8 kHz mono; any WAV is
converted with sox first) and sends RFC 2833 digits by replaying pcaps that
lab.dtmf_pcap writes, one per key and position (Debian's dtmf_2833_<d>.pcap all share
their RTP timestamps, so Asterisk took only the first key of a call; sipp's own
play_dtmf uses payload type 96, which Asterisk ignores). The call ends when Asterisk
sends BYE, or the citizen hangs up after `hangup_after` seconds. The caller id and
display name (UTF-8, e.g. 张伟) are passed as sipp keywords, so the scenario file stays
ASCII.

A `CallbackCitizen` is the other direction (UAS): it answers a call from Asterisk (a
survey or supervision callback), optionally sends digits, or answers busy (486) or never.

Errors::

    SippError            a sipp process could not run or its scenario is wrong
    lab.procs.LabTimeout the call did not end in time
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Literal

import structlog

from lab import procs
from lab.dtmf_pcap import dtmf_pcap_file
from lab.pbx import PbxEndpoints
from lab.ports import free_udp_port, free_udp_range

log = structlog.get_logger()

SCENARIO_DIR = Path(__file__).resolve().parent / "sipp"
HOST = "127.0.0.1"


class SippError(RuntimeError):
    """sipp could not be run, or the scenario could not be built."""


@dataclass(frozen=True)
class SippResult:
    """How a sipp run ended: exit 0 means every call succeeded (sipp's convention)."""

    exit_code: int
    successful: bool
    successful_calls: int
    failed_calls: int
    log_tail: str

    @classmethod
    def from_run(cls, exit_code: int, screen: str) -> SippResult:
        """Read the call counters from sipp's final statistics screen (pure)."""
        return cls(
            exit_code=exit_code,
            successful=exit_code == 0,
            successful_calls=_counter(screen, "Successful call"),
            failed_calls=_counter(screen, "Failed call"),
            log_tail=screen,
        )


def _counter(screen: str, name: str) -> int:
    # "  Successful call        |        0                  |        1   " -> cumulative
    match = re.search(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    return int(match.group(1)) if match else 0


def to_ulaw_wav(source: Path, target: Path) -> Path:
    """Convert any WAV to 8 kHz mono G.711 μ-law WAV (what sipp's rtp_stream plays)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["sox", str(source), "-r", "8000", "-c", "1", "-e", "u-law", str(target)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        raise SippError(f"sox could not convert {source}: {err}") from err
    return target


def _pcap(digit: str, index: int) -> Path:
    try:
        return dtmf_pcap_file(digit, index)
    except (ValueError, OSError) as err:
        raise SippError(f"no DTMF pcap for {digit!r}: {err}") from err


def _wait(milliseconds: int, n: int) -> str:
    # A <pause> would abort the call if Asterisk hangs up meanwhile: wait for BYE instead.
    return (
        f'  <recv request="BYE" timeout="{milliseconds}" ontimeout="w{n}" next="bye"/>\n'
        f'  <label id="w{n}"/>'
    )


def media_actions(
    audio: Path | None, dtmf: str, dtmf_delay: float, *, loop: int = 1, gap: float = 0.25
) -> str:
    """The scenario lines that stream audio and then send digits (pure but for the cached
    pcaps). Digits are `gap` seconds apart (a second answer must come after the next
    question started); every wait ends early on BYE (jumping to label "bye").
    """
    lines = []
    if audio is not None:
        lines.append(f'  <nop><action><exec rtp_stream="{audio},{loop},0"/></action></nop>')
    if dtmf:
        lines.append(_wait(int(dtmf_delay * 1000), 0))
        for n, digit in enumerate(dtmf, start=1):
            lines.append(
                f'  <nop><action><exec play_pcap_audio="{_pcap(digit, n - 1)}"/></action></nop>'
            )
            if n < len(dtmf):
                lines.append(_wait(int(gap * 1000), n))
    return "\n".join(lines)


def _bye_wait(hangup_after: float | None) -> str:
    """The attributes that make the scenario hang up itself after `hangup_after` s."""
    if hangup_after is None:
        return ""
    return f'timeout="{int(hangup_after * 1000)}" ontimeout="hangup"'


class _SippRun:
    """One sipp process with a rendered scenario, a log and a deadline."""

    def __init__(self, work_dir: Path, name: str) -> None:
        self.work_dir = work_dir
        self.name = name
        self.log_path = work_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def common_args(self, sip_port: int, media_port: int, max_seconds: float) -> list[str]:
        """Loopback sockets, one call, a deadline, and the error and message traces."""
        return [
            "-i", HOST, "-p", str(sip_port), "-mi", HOST, "-mp", str(media_port),
            "-m", "1", "-nostdin", "-timeout", f"{int(max_seconds)}s", "-timeout_error",
            "-trace_err", "-error_file", str(self.work_dir / "errors.log"),
            "-trace_msg", "-message_file", str(self.work_dir / "messages.log"),
        ]  # fmt: skip

    def run(self, argv: list[str]) -> None:
        if self._proc is not None:
            raise SippError(f"{self.name} already started")
        self._proc = procs.spawn(argv, self.log_path, cwd=self.work_dir)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float) -> SippResult:
        if self._proc is None:
            raise SippError(f"{self.name} was never started")
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired as err:
            raise procs.LabTimeout(
                f"{self.name}: sipp still running after {timeout:.0f}s:\n"
                f"{procs.tail(self.log_path)}"
            ) from err
        return SippResult.from_run(code, procs.tail(self.log_path, 60))

    def stop(self) -> None:
        if self._proc is not None:
            procs.terminate(self._proc, timeout=2)


class Citizen:
    """A caller dialling a hotline number through the lab Asterisk (sipp UAC)."""

    def __init__(
        self,
        pbx: PbxEndpoints,
        *,
        number: str = "12345",
        caller: str = "13800138000",
        display_name: str = "张伟",
        wav: Path | None = None,
        hangup_after: float | None = None,
        dtmf: str = "",
        dtmf_delay: float = 0.5,
        work_dir: Path,
        max_seconds: float = 120,
    ) -> None:
        self.pbx = pbx
        self.number = number
        self.caller = caller
        self.display_name = display_name
        self.wav = wav
        self.hangup_after = hangup_after
        self.dtmf = dtmf
        self.dtmf_delay = dtmf_delay
        self.max_seconds = max_seconds
        work_dir.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_udp_port()
        self.media_port = free_udp_range(4).start
        self._run = _SippRun(work_dir, f"citizen-{caller}")

    def scenario(self) -> str:
        """The rendered scenario XML (pure apart from WAV conversion)."""
        audio = None
        if self.wav is not None:
            audio = to_ulaw_wav(self.wav, self._run.work_dir / "citizen-ulaw.wav")
        bye_wait = _bye_wait(self.hangup_after)
        template = Template((SCENARIO_DIR / "citizen.xml").read_text(encoding="utf-8"))
        return template.substitute(
            media=media_actions(audio, self.dtmf, self.dtmf_delay), bye_wait=bye_wait
        )

    def start(self) -> None:
        scenario = self._run.work_dir / "citizen.xml"
        scenario.write_text(self.scenario(), encoding="utf-8")
        self._run.run(
            [
                "sipp",
                f"{self.pbx.sip_host}:{self.pbx.sip_port}",
                "-sf",
                str(scenario),
                "-s",
                self.number,
                "-key",
                "caller",
                self.caller,
                "-key",
                "display",
                self.display_name,
                "-l",
                "1",
                *self._run.common_args(self.sip_port, self.media_port, self.max_seconds),
            ]
        )
        log.info("citizen.calling", caller=self.caller, number=self.number, port=self.sip_port)

    def wait(self, timeout: float = 60) -> SippResult:
        """Wait for the call (and sipp) to end."""
        result = self._run.wait(timeout)
        log.info("citizen.done", caller=self.caller, exit_code=result.exit_code)
        return result

    @property
    def running(self) -> bool:
        return self._run.running

    @property
    def messages_path(self) -> Path:
        return self._run.work_dir / "messages.log"

    def stop(self) -> None:
        self._run.stop()


Answer = Literal["answer", "busy", "no-answer"]


class CallbackCitizen:
    """A citizen's phone that Asterisk calls back (sipp UAS) at 127.0.0.1:`sip_port`.

    Point the pbx's `pstn_contact` (or a Dial string) at `contact`. `answer` decides the
    outcome: "answer" (200, then `dtmf` after `dtmf_delay` and `dtmf_gap` apart, and hang
    up after `hangup_after` or wait for BYE), "busy" (486) or "no-answer" (ring until CANCEL).
    """

    def __init__(
        self,
        *,
        work_dir: Path,
        answer: Answer = "answer",
        dtmf: str = "",
        dtmf_delay: float = 1.0,
        dtmf_gap: float = 0.25,
        wav: Path | None = None,
        hangup_after: float | None = None,
        max_seconds: float = 120,
        sip_port: int | None = None,
    ) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.answer = answer
        self.dtmf = dtmf
        self.dtmf_delay = dtmf_delay
        self.dtmf_gap = dtmf_gap
        self.wav = wav
        self.hangup_after = hangup_after
        self.max_seconds = max_seconds
        self.sip_port = sip_port or free_udp_port()
        self.media_port = free_udp_range(4).start
        self._run = _SippRun(work_dir, f"callback-{self.sip_port}")

    @property
    def contact(self) -> str:
        return f"sip:{HOST}:{self.sip_port}"

    def scenario(self) -> str:
        audio = None
        if self.wav is not None:
            audio = to_ulaw_wav(self.wav, self._run.work_dir / "callback-ulaw.wav")
        bye_wait = _bye_wait(self.hangup_after)
        template = Template((SCENARIO_DIR / f"callback-{self.answer}.xml").read_text("utf-8"))
        return template.substitute(
            media=media_actions(audio, self.dtmf, self.dtmf_delay, gap=self.dtmf_gap),
            bye_wait=bye_wait,
        )

    def start(self) -> None:
        scenario = self._run.work_dir / f"callback-{self.answer}.xml"
        scenario.write_text(self.scenario(), encoding="utf-8")
        self._run.run(
            [
                "sipp",
                "-sf",
                str(scenario),
                *self._run.common_args(self.sip_port, self.media_port, self.max_seconds),
            ]
        )
        # sipp opens its SIP socket within milliseconds; wait so a call is not lost.
        procs.wait_until(self._listening, 5, f"sipp UAS on port {self.sip_port}")
        log.info("callback_citizen.listening", port=self.sip_port, answer=self.answer)

    def _listening(self) -> bool:
        if not self._run.running:
            raise SippError(f"sipp UAS exited:\n{procs.tail(self._run.log_path)}")
        return f":{self.sip_port:04X} " in _proc_net_udp()

    def wait(self, timeout: float = 60) -> SippResult:
        return self._run.wait(timeout)

    @property
    def running(self) -> bool:
        return self._run.running

    def stop(self) -> None:
        self._run.stop()


def _proc_net_udp() -> str:
    text = Path("/proc/net/udp").read_text()
    # The first column pair is local_address "0100007F:PORT".
    return "\n".join(line.split()[1] + " " for line in text.splitlines()[1:])
