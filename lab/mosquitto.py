"""A local mosquitto broker for tests and `hotline up`: Debian's /usr/sbin/mosquitto.

``Mosquitto(data_dir=...)`` (a temporary directory if none is given) writes
``mosquitto.conf`` into `data_dir`: one listener on 127.0.0.1 and a free port (kept for
the life of the object, so `stop()` then `start()` comes back on the same port, which
reconnect tests need), anonymous access, no persistence, a log file in `data_dir`.

Run as root, mosquitto would switch to the user ``mosquitto`` and then fail to open its
log in a directory only root can reach (pytest's tmp dirs are 0700), so as root we say
``user root``. It only listens on loopback.

`start()` waits (polling with a deadline) until the log says this run is up and the port
accepts TCP connections, and raises `MosquittoError` with the log's tail if mosquitto
exits or never gets there. If a port we picked ourselves was taken in the meantime, it
tries another one (only on the first start: a restart must keep its port). `stop()` sends
SIGTERM and waits, then SIGKILL; `kill()` is SIGKILL at once (a crash).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

MOSQUITTO = Path("/usr/sbin/mosquitto")
HOST = "127.0.0.1"


class MosquittoError(RuntimeError):
    """The broker could not be started or did not stop."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """One broker on 127.0.0.1. Synchronous; use in fixtures or from a thread."""

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | str | None = None,
        *,
        binary: Path = MOSQUITTO,
        start_timeout: float = 5.0,
    ) -> None:
        # Without a data_dir we make a temporary one and remove it on __exit__.
        self._own_dir = data_dir is None
        self.data_dir = (
            Path(tempfile.mkdtemp(prefix="hotline-mosquitto-"))
            if data_dir is None
            else Path(data_dir)
        )
        self.binary = binary
        self.start_timeout = start_timeout
        self._port = port
        self._port_chosen_by_us = port is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_once = False

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise MosquittoError("mosquitto has no port until it is started")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    @property
    def conf_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "mosquitto.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it accepts connections."""
        if self.running:
            return
        if not self.binary.exists():
            raise MosquittoError(f"{self.binary} not found: install Debian's mosquitto package")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 3 if self._port_chosen_by_us and not self._started_once else 1
        for attempt in range(attempts):
            if self._port is None or (attempt and self._port_chosen_by_us):
                self._port = _free_port()
            try:
                self._launch()
                self._started_once = True
                return
            except MosquittoError:
                if attempt == attempts - 1 or "in use" not in self._tail():
                    raise

    def _launch(self) -> None:
        self._write_conf()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with (self.data_dir / "mosquitto.out").open("ab") as out:
            self._proc = subprocess.Popen(
                [str(self.binary), "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the caller is not its to take
            )
        deadline = time.monotonic() + self.start_timeout
        while not (self._log_since(offset).count(" running") and _accepts(self.port)):
            if self._proc.poll() is not None:
                raise MosquittoError(
                    f"mosquitto exited with {self._proc.returncode} on port {self.port}:\n"
                    f"{self._tail()}"
                )
            if time.monotonic() >= deadline:
                self.kill()
                raise MosquittoError(
                    f"mosquitto did not listen on {HOST}:{self.port} within "
                    f"{self.start_timeout:.1f}s:\n{self._tail()}"
                )
            time.sleep(0.005)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _write_conf(self) -> None:
        lines = [
            "# written by lab/mosquitto.py",
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            "persistence false",
            # mosquitto drops QoS 1 messages for a subscriber more than 1000 behind
            # (its default); a burst after a reconnect can be bigger than that.
            "max_queued_messages 100000",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        self.conf_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM and wait; SIGKILL if it does not go within `timeout`."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired as err:
            raise MosquittoError(f"mosquitto pid {proc.pid} survived SIGKILL") from err

    def _tail(self, lines: int = 20) -> str:
        text = ""
        for path in (self.data_dir / "mosquitto.out", self.log_path):
            with contextlib.suppress(FileNotFoundError):
                text += path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
