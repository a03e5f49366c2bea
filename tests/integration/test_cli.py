"""The `hotline` command as a person runs it: `run` against a real Asterisk, `up` whole."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline import up
from lab.pbx import DEFAULT_ROOT, Pbx
from lab.ports import free_tcp_port

pytestmark = pytest.mark.integration

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE")}
    env.update({f"HOTLINE__{k.upper()}": v for k, v in settings.items()})
    env["HOTLINE__LOG__FORMAT"] = "json"
    return env


def _wait_for(path: Path, proc: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"hotline exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {within} s")
        time.sleep(0.1)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def test_run_with_wrong_ami_secret_exits_with_one_clear_line(pbx: Pbx, tmp_path: Path) -> None:
    ep = pbx.endpoints
    result = subprocess.run(
        [*HOTLINE, "run"],
        env=_env(
            ami__host=ep.ami_host,
            ami__port=str(ep.ami_port),
            ami__username=ep.ami_username,
            ami__secret="not-the-secret",
            database__url=f"sqlite+aiosqlite:///{tmp_path}/h.db",
            mqtt__port=str(free_tcp_port()),
            http__port="0",
        ),
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert "Traceback" not in stderr
    problem = stderr.strip().splitlines()[-1]
    assert problem.startswith("hotline: AMI login refused")
    assert f"{ep.ami_host}:{ep.ami_port}" in problem
    assert result.stdout == b""


def test_run_with_bad_setting_names_key_and_source(tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text("[ami]\nport = 0\n")
    result = subprocess.run(
        [*HOTLINE, "--config", str(config), "run"],
        env=_env(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1
    assert "ami.port" in lines[0]
    assert str(config) in lines[0]


@pytest.fixture
def hotline_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*HOTLINE, "up", "--state-dir", str(state), "--free-ports", "--demo"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc, state
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # The lab Asterisk keeps its files per state dir; a test's state dir is gone after it.
        shutil.rmtree(DEFAULT_ROOT / "inst" / up.instance_name(state), ignore_errors=True)


def test_up_starts_everything_writes_endpoints_and_stops_on_ctrl_c(
    hotline_up: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, state = hotline_up
    _wait_for(state / "endpoints.json", proc, within=90)
    endpoints = json.loads((state / "endpoints.json").read_text())

    for key in ("ami", "sip", "desktop_url", "api_url", "audiosocket", "mqtt_url", "database_url"):
        assert key in endpoints, key
    assert {"host", "port", "username", "secret"} <= set(endpoints["ami"])
    assert endpoints["sip"]["accounts"][0]["username"] == "op1001"
    with urllib.request.urlopen(endpoints["desktop_url"] + "healthz", timeout=10) as response:
        assert json.loads(response.read())["status"] == "ok"
    with urllib.request.urlopen(endpoints["openapi_url"], timeout=10) as response:
        assert "paths" in json.loads(response.read())
    # The demo logins open their pages: the unit handler lands on the unit's inbox.
    roles = {a["role"]: a for a in endpoints["desktop_accounts"]}
    assert {"admin", "supervisor", "unit_handler", "operator"} <= set(roles)
    unit = roles["unit_handler"]
    page = _login(endpoints["desktop_url"], unit["username"], unit["password"])
    assert "承办单位工单" in page and "市供水有限公司" in page

    # The demo: a citizen calls 12345 through the running Asterisk; the demo softphone answers.
    call = subprocess.run(
        [*HOTLINE, "demo-call", "--state-dir", str(state), "--seconds", "2"],
        env=_env(),
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert call.returncode == 0, call.stdout.decode() + call.stderr.decode()

    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert "hotline is up." in output
    assert "Traceback" not in output
    # Every process it started is gone.
    assert _processes_mentioning(str(state)) == []
    assert _processes_mentioning(f"/inst/{up.instance_name(state)}/") == []


def _login(base: str, username: str, password: str) -> str:
    """Sign in like a browser (cookies, the form's CSRF token); the home page's HTML."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(base + "login", timeout=10) as form:
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.read().decode())
    assert token, "no CSRF token on the login form"
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrf_token": token.group(1)}
    ).encode()
    with opener.open(base + "login", data=data, timeout=10) as home:
        return str(home.read().decode())


def test_report_command_reads_the_configured_store(tmp_path: Path) -> None:
    env = _env(database__url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    for argv in (["db", "upgrade"], ["report", "--preset", "today", "--format", "json"]):
        result = subprocess.run(
            [*HOTLINE, *argv], env=env, capture_output=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert report["period"]["kind"] == "day"
    assert (report["period"]["from"], report["period"]["to"]) == (today, today)
    assert report["headline"]["orders"] == 0  # an empty store: nothing counted
