"""A throwaway PostgreSQL server for tests and the local lab (Debian's PostgreSQL 15).

Theory of operation
-------------------
`PostgresServer.start()` makes a temporary folder, `initdb`s a cluster into it
(password auth over TCP, trust over its private unix socket), and starts `postgres`
listening on 127.0.0.1 at a free port with its socket in the same folder, so nothing
touches the system cluster or /var/run/postgresql. Durability is switched off (fsync,
full_page_writes, synchronous_commit): the data dies with the folder anyway.

PostgreSQL refuses to run as root. When we are root, every PostgreSQL process runs as
the `postgres` system user (Debian's package creates it) by `subprocess.Popen(user=...)`,
which drops privileges in the child before exec: no `su`/`runuser` process sits between
us and the postmaster, so signals reach it directly. The folder is chowned to that user.

`stop()` asks for a fast shutdown (SIGINT), escalates to SIGQUIT, then SIGKILL, and
removes the folder. Readiness is polled with a deadline on `pg_isready`; a port lost to
a race between choosing and binding is retried on another port.

Exceptions: `PostgresError` (could not initialise, start, or run a command); its
message carries the tail of the server log.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_USER = "postgres"
SUPERUSER = "postgres"


class PostgresError(Exception):
    """The throwaway PostgreSQL could not be set up, started or used."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One private PostgreSQL cluster on 127.0.0.1; use as a context manager or start/stop."""

    def __init__(self, *, bin_dir: Path = PG_BIN, start_timeout: float = 30.0) -> None:
        self.bin_dir = bin_dir
        self.start_timeout = start_timeout
        self.password = secrets.token_hex(12)
        self.port = 0
        self.root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_user = os.geteuid() == 0

    # -- paths ---------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._root() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root() / "run"

    @property
    def log_file(self) -> Path:
        return self._root() / "postgres.log"

    def _root(self) -> Path:
        if self.root is None:
            raise PostgresError("the server has not been started")
        return self.root

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if not (self.bin_dir / "postgres").exists():
            raise PostgresError(
                f"no PostgreSQL binaries in {self.bin_dir}: install Debian's postgresql package"
            )
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        try:
            self._prepare_root()
            self._initdb()
            self._launch_on_free_port()
        except BaseException:
            self.stop()
            raise

    def _launch_on_free_port(self) -> None:
        for _ in range(3):
            self.port = free_port()
            if self._launch():
                return
        raise PostgresError(f"postgres did not start: {self._log_tail()}")

    def stop(self) -> None:
        """Stop the server (if running) and delete its folder. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

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

    # -- URLs and databases --------------------------------------------------------------
    def url(self, database: str = "postgres", *, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE name; returns its asyncpg URL."""
        self._psql(f'CREATE DATABASE "{_identifier(name)}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        cmd = [
            str(self.bin_dir / "psql"),
            "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER,
            "-d", "postgres", "-c", sql,
        ]  # fmt: skip
        result = self._run(cmd, timeout=30)
        if result.returncode != 0:
            raise PostgresError(f"psql {sql!r} failed: {result.stderr.decode(errors='replace')}")

    # -- internals -----------------------------------------------------------------------
    def _prepare_root(self) -> None:
        self.socket_dir.mkdir()
        (self._root() / "pwfile").write_text(self.password + "\n")
        if self._as_user:
            pw = pwd.getpwnam(SYSTEM_USER)
            for path in (self._root(), self.socket_dir, self._root() / "pwfile"):
                os.chown(path, pw.pw_uid, pw.pw_gid)

    def _initdb(self) -> None:
        cmd = [
            str(self.bin_dir / "initdb"),
            "-D", str(self.data_dir), "-U", SUPERUSER,
            "--pwfile", str(self._root() / "pwfile"),
            "--auth-host=scram-sha-256", "--auth-local=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        ]  # fmt: skip
        result = self._run(cmd, timeout=120)
        if result.returncode != 0:
            out = (result.stdout + result.stderr).decode(errors="replace")
            raise PostgresError(f"initdb failed: {out[-2000:]}")

    def _launch(self) -> bool:
        """Start postgres on self.port; True once it accepts connections."""
        cmd = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data_dir), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=_env(),
                **self._user_kwargs(),
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False  # e.g. the port was taken meanwhile: the caller retries
            ready = self._run(
                [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                timeout=5,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.05)  # poll interval; the deadline bounds the wait
        raise PostgresError(
            f"postgres not ready after {self.start_timeout:.0f} s: {self._log_tail()}"
        )

    def _run(self, cmd: list[str], *, timeout: float) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                cmd, capture_output=True, timeout=timeout, check=False, env=_env(),
                **self._user_kwargs(),
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PostgresError(f"{Path(cmd[0]).name} failed: {err}") from err

    def _user_kwargs(self) -> dict[str, Any]:
        if not self._as_user:
            return {}
        return {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": [], "cwd": "/"}

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


def _env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PGCONNECT_TIMEOUT": "5"}


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise PostgresError(f"database name {name!r}: use letters, digits and '_'")
    return name
