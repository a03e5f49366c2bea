"""A real Asterisk 22 for tests and `hotline up`: start, wait, stop, crash.

Theory of operation
-------------------
Asterisk lives in a Debian sid chroot (scripts/build-asterisk-root.sh). Each instance
gets its own folder ROOT/inst/NAME/{etc,run,log,spool,lib}; asterisk.conf points its
[directories] there while modules and sounds stay the chroot's own. What goes into
etc/ is rendered by lab/pbx_config.py (accounts and dialplan are described there).

`Pbx.start()` removes a stale asterisk.ctl / asterisk.pid (left by kill -9), runs
`chroot ROOT /usr/sbin/asterisk -C /inst/NAME/etc/asterisk.conf -f -n` with its console
in log/asterisk.out, then polls `asterisk -rx 'core waitfullybooted'` until it succeeds;
if Asterisk exits or the deadline passes it raises with the tail of that log.
`stop()` asks `core stop now`, then SIGTERM, then SIGKILL, each with a deadline; `kill()`
is SIGKILL alone (a crash). Every instance has its own ports, so several run side by side.
Asterisk's own log is log/messages.log; the queue log is log/queue_log.

Errors::

    PbxError               anything this controller reports
    ├── PbxRootMissing     the chroot is not built (run `make setup`)
    ├── PbxBootError       Asterisk exited or did not become fully booted in time
    └── PbxCommandError    `asterisk -rx` failed (not running, or bad command)
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import structlog

from lab import procs
from lab.pbx_config import (
    DEFAULT_ROOT,
    HOST,
    MODULES,
    TEMPLATE_DIR,
    Operator,
    PbxConfig,
    PbxEndpoints,
    render,
)

__all__ = [
    "DEFAULT_ROOT",
    "HOST",
    "MODULES",
    "TEMPLATE_DIR",
    "Operator",
    "Pbx",
    "PbxBootError",
    "PbxCommandError",
    "PbxConfig",
    "PbxEndpoints",
    "PbxError",
    "PbxRootMissing",
    "render",
]

log = structlog.get_logger()


class PbxError(RuntimeError):
    """Something went wrong with a lab Asterisk."""


class PbxRootMissing(PbxError):
    """The Asterisk chroot does not exist or is incomplete."""


class PbxBootError(PbxError):
    """Asterisk exited during start or was not fully booted by the deadline."""


class PbxCommandError(PbxError):
    """A CLI command (`asterisk -rx`) failed."""


def _alive(pid_text: str) -> bool:
    """Is an Asterisk with this pid running? (A pid left by a crash may be reused.)"""
    try:
        cmdline = Path(f"/proc/{int(pid_text)}/cmdline").read_bytes()
    except (ValueError, OSError):
        return False
    return b"asterisk" in cmdline


class Pbx:
    """One lab Asterisk instance. Synchronous; use asyncio.to_thread from async code."""

    def __init__(self, config: PbxConfig, template_dir: Path = TEMPLATE_DIR) -> None:
        self.config = config
        self.template_dir = template_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self.dir = config.host_dir
        self.log_path = self.dir / "log" / "asterisk.out"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        """Render config, start Asterisk, return once it is fully booted."""
        if self.is_running:
            return
        self._check_root()
        self._prepare_dirs()
        began = time.monotonic()
        self._proc = procs.spawn(
            [
                "chroot",
                str(self.config.root),
                "/usr/sbin/asterisk",
                "-C",
                f"{self.config.inst}/etc/asterisk.conf",
                "-f",
                "-n",
            ],
            self.log_path,
        )
        deadline = began + timeout
        while True:
            if self._proc.poll() is not None:
                raise PbxBootError(self._boot_failure(f"exited with {self._proc.returncode}"))
            if self._fully_booted():
                break
            if time.monotonic() >= deadline:
                self.kill()
                raise PbxBootError(self._boot_failure(f"not fully booted after {timeout:.0f}s"))
            time.sleep(0.05)
        log.info(
            "pbx.started",
            name=self.config.name,
            pid=self._proc.pid,
            seconds=round(time.monotonic() - began, 2),
            ami_port=self.config.ami_port,
            sip_port=self.config.sip_port,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop cleanly: `core stop now`, then SIGTERM, then SIGKILL, each with a deadline."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._rx("core stop now", timeout=timeout)
            except PbxError as err:
                log.warning("pbx.stop_command_failed", name=self.config.name, error=str(err))
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("pbx.stop_sigterm", name=self.config.name)
        procs.terminate(proc, timeout)
        self._proc = None
        log.info("pbx.stopped", name=self.config.name)

    def kill(self) -> None:
        """SIGKILL Asterisk (a crash): its ctl and pid files stay behind."""
        if self._proc is None:
            return
        procs.signal_group(self._proc, signal.SIGKILL)
        self._proc.wait(5)
        self._proc = None
        log.info("pbx.killed", name=self.config.name)

    def cleanup(self) -> None:
        """Stop if running and delete the instance folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running and self._proc else None

    @property
    def endpoints(self) -> PbxEndpoints:
        return self.config.endpoints()

    def cli(self, command: str, timeout: float = 5.0) -> str:
        """Run one CLI command through the control socket; return its output."""
        if not self.is_running:
            raise PbxCommandError(f"asterisk {self.config.name} is not running: {command!r}")
        return self._rx(command, timeout=timeout)

    def __enter__(self) -> Pbx:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------

    def _check_root(self) -> None:
        binary = self.config.root / "usr" / "sbin" / "asterisk"
        if not binary.exists():
            raise PbxRootMissing(
                f"no Asterisk chroot at {self.config.root} ({binary} missing): run `make setup`"
            )

    def _prepare_dirs(self) -> None:
        for sub in ("etc", "run", "log", "spool", "lib"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        pid_file = self.dir / "run" / "asterisk.pid"
        if pid_file.exists() and _alive(pid_file.read_text().strip()):
            raise PbxBootError(
                f"asterisk {self.config.name} is already running (pid file {pid_file})"
            )
        # A crash (kill -9) leaves these behind; Asterisk refuses or misbehaves with them.
        for stale in ("asterisk.ctl", "asterisk.pid"):
            (self.dir / "run" / stale).unlink(missing_ok=True)
        for name, text in render(self.config, self.template_dir).items():
            (self.dir / "etc" / name).write_text(text, encoding="utf-8")
        self.log_path.write_bytes(b"")

    def _rx(self, command: str, timeout: float) -> str:
        argv = [
            "chroot",
            str(self.config.root),
            "/usr/sbin/asterisk",
            "-C",
            f"{self.config.inst}/etc/asterisk.conf",
            "-rx",
            command,
        ]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise PbxCommandError(f"{command!r} timed out after {timeout}s") from err
        out = done.stdout.decode("utf-8", errors="replace")
        if done.returncode != 0 or "Unable to connect to remote asterisk" in out:
            err_text = done.stderr.decode("utf-8", errors="replace").strip()
            raise PbxCommandError(
                f"{command!r} failed (exit {done.returncode}): {(err_text or out).strip()}"
            )
        return out

    def _fully_booted(self) -> bool:
        if not (self.dir / "run" / "asterisk.ctl").exists():
            return False
        try:
            out = self._rx("core waitfullybooted", timeout=5)
        except PbxCommandError:
            return False
        # An Asterisk that fails a required module also ends the wait, while exiting.
        return "fully booted" in out and self.is_running

    def _boot_failure(self, why: str) -> str:
        return (
            f"asterisk {self.config.name} {why}; last lines of {self.log_path}:\n"
            f"{procs.tail(self.log_path)}"
        )
