"""Small process helpers shared by the lab controllers (Asterisk, sipp, baresip).

Every lab process runs in its own process group with its output in a log file, so a
controller can stop it (and anything it forked) by id and show the log's tail when
something goes wrong. Waiting is done by polling a predicate against a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

log = structlog.get_logger()


class LabTimeout(TimeoutError):
    """A lab process did not reach the state we waited for in time."""


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float = 0.02,
) -> None:
    """Poll `predicate` until it is true; raise LabTimeout naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise LabTimeout(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def spawn(
    argv: Sequence[str], log_path: Path, *, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (own process group), stdout+stderr to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    log.debug("lab.spawn", pid=proc.pid, argv=" ".join(argv))
    return proc


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send `sig` to the process group `proc` leads (ignored if it is gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 3.0) -> int:
    """SIGTERM the group, then SIGKILL after `timeout`; return the exit code."""
    if proc.poll() is None:
        signal_group(proc, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("lab.sigkill", pid=proc.pid)
    signal_group(proc, signal.SIGKILL)
    return proc.wait(timeout)


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a text file ('' if missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
