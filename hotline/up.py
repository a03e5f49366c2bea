"""`hotline up`: the whole hotline on this machine, for a demo or for development.

Starts, in order, a mosquitto broker, a real Asterisk (the lab chroot) and the hotline
server against them, all on loopback; creates demo accounts; prints where everything is;
writes STATE_DIR/endpoints.json once everything is ready; and on Ctrl-C (or SIGTERM)
stops every process it started, in reverse order.

Ports: the ones in the settings (SIP 5060, AMI 5038, MQTT 1883, HTTP 8080) when they are
free, so a softphone can be pointed at the usual place; any free port otherwise (and
always with `--free-ports`). Accounts here are for a local demo on loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from accounts import repo
from accounts.roles import Role
from config.settings import Settings
from hotline import db
from hotline.app import Running, StartupError, serve
from ivr_flows.prompts import install_prompts
from lab.baresip import Softphone
from lab.mosquitto import Mosquitto
from lab.pbx import Operator, Pbx, PbxConfig, PbxEndpoints
from lab.ports import free_tcp_port, free_udp_port, free_udp_range

log = structlog.get_logger("hotline.up")

DEMO_ADMIN = ("admin", "hotline-admin")
DEMO_SUPERVISOR = ("banzhang", "supervisor-demo")  # 班长: the wallboard and reports
DEMO_UNIT = ("water", "unit-water", "water")  # a handler of 市供水有限公司: the unit portal
DEMO_OPERATOR_PASSWORD = "operator-{extension}"
DEMO_EXTENSION = "1004"  # the demo softphone; 1001-1003 are left for people


@dataclass(frozen=True)
class Lab:
    broker: Mosquitto
    pbx: Pbx
    settings: Settings


def main(
    settings: Settings, *, state_dir: Path | None, free_ports: bool = False, demo: bool = False
) -> int:
    state = (state_dir or Path("var")).resolve()
    state.mkdir(parents=True, exist_ok=True)
    (state / "endpoints.json").unlink(missing_ok=True)
    try:
        asyncio.run(_up(settings, state, free_ports=free_ports, demo=demo))
    except StartupError as err:
        print(f"hotline: {err}", file=sys.stderr)
        return 2
    return 0


async def _up(settings: Settings, state: Path, *, free_ports: bool, demo: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        lab = await _start_lab(settings, state, stack, free_ports=free_ports)
        if stop.is_set():
            return
        await _demo_accounts(lab.settings, lab.pbx.endpoints)
        if demo:
            phone = Softphone(
                lab.pbx.endpoints,
                _operator(lab.pbx.endpoints, DEMO_EXTENSION),
                work_dir=state / "demo-softphone",
                wav=_demo_clip(),
            )
            await asyncio.to_thread(phone.start)
            stack.push_async_callback(asyncio.to_thread, phone.stop)
            await asyncio.to_thread(phone.wait_registered, lab.pbx)

        def ready(running: Running) -> None:
            endpoints = describe(lab, running)
            path = state / "endpoints.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(endpoints, ensure_ascii=False, indent=2) + "\n")
            tmp.replace(path)  # readers never see half a file
            print(banner(endpoints, state, demo=demo), flush=True)

        await serve(lab.settings, stop=stop, on_ready=ready)


async def _start_lab(
    settings: Settings, state: Path, stack: contextlib.AsyncExitStack, *, free_ports: bool
) -> Lab:
    def port(preferred: int, kind: socket.SocketKind) -> int:
        if not free_ports and _free(preferred, kind):
            return preferred
        return free_tcp_port() if kind == socket.SOCK_STREAM else free_udp_port()

    broker = Mosquitto(port=port(settings.mqtt.port, socket.SOCK_STREAM), data_dir=state / "mqtt")
    await asyncio.to_thread(broker.start)
    stack.push_async_callback(asyncio.to_thread, broker.stop)

    rtp = free_udp_range(40)
    audiosocket_port = port(settings.asr.audiosocket_port, socket.SOCK_STREAM)
    pbx = Pbx(
        PbxConfig(
            name=instance_name(state),
            root=settings.pbx.root,
            operators=tuple(
                Operator(str(n), f"pw{n}") for n in range(1001, 1001 + settings.pbx.operators)
            ),
            ami_port=port(settings.ami.port, socket.SOCK_STREAM),
            sip_port=port(settings.pbx.sip_port, socket.SOCK_DGRAM),
            rtp_start=rtp.start,
            rtp_end=rtp.stop - 1,
            ami_secret=secrets.token_urlsafe(12),
            audiosocket_port=audiosocket_port,
            hold_seconds=settings.calls.hold_seconds,
            catalogue=settings.calls.catalogue,
        )
    )
    try:
        await asyncio.to_thread(pbx.start)
    except Exception as err:
        raise StartupError(f"Asterisk did not start: {err}") from err
    stack.push_async_callback(asyncio.to_thread, pbx.stop)
    # Survey and supervision prompts, where the chrooted Asterisk can play them.
    await asyncio.to_thread(install_prompts, pbx.dir / "ivr-prompts")

    ep = pbx.endpoints
    database = settings.database
    if database.url == type(database)().url:  # the default: keep the demo's data here
        database = database.model_copy(update={"url": f"sqlite+aiosqlite:///{state}/hotline.db"})
    local = settings.model_copy(
        update={
            "ami": settings.ami.model_copy(
                update={
                    "host": ep.ami_host,
                    "port": ep.ami_port,
                    "username": ep.ami_username,
                    "secret": SecretStr(ep.ami_secret),
                }
            ),
            "mqtt": settings.mqtt.model_copy(update={"host": broker.host, "port": broker.port}),
            "database": database,
            "asr": settings.asr.model_copy(update={"audiosocket_port": audiosocket_port}),
            "ivr": settings.ivr.model_copy(
                update={"prompt_dir": f"{pbx.config.inst}/ivr-prompts"}
            ),
            "http": settings.http.model_copy(
                update={"port": port(settings.http.port, socket.SOCK_STREAM)}
            ),
        }
    )
    return Lab(broker=broker, pbx=pbx, settings=local)


async def _demo_accounts(settings: Settings, pbx: PbxEndpoints) -> None:
    """Demo logins: an admin, a supervisor, a unit handler and one per SIP operator (kept
    if they exist)."""
    engine = db.create_engine(settings.database)
    try:
        await db.migrate(engine)
        sessions = db.session_factory(engine)
        wanted = [
            (DEMO_ADMIN[0], DEMO_ADMIN[1], Role.admin, None, None),
            (DEMO_SUPERVISOR[0], DEMO_SUPERVISOR[1], Role.supervisor, None, None),
            (DEMO_UNIT[0], DEMO_UNIT[1], Role.unit_handler, None, DEMO_UNIT[2]),
        ] + [
            (op.extension, DEMO_OPERATOR_PASSWORD.format(extension=op.extension),
             Role.operator, op.extension, None)
            for op in pbx.operators
        ]  # fmt: skip
        for username, password, role, extension, unit in wanted:
            async with sessions() as session:
                with contextlib.suppress(repo.UsernameTaken):
                    await repo.create_user(
                        session=session,
                        username=username,
                        password=password,
                        role=role,
                        sip_extension=extension,
                        unit_id=unit,
                    )
    except db.StoreUnavailable as err:
        raise StartupError(str(err)) from err
    finally:
        await engine.dispose()


def instance_name(state: Path) -> str:
    """One Asterisk instance per state dir: its files live under ROOT/inst/NAME."""
    return "up-" + hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:8]


def describe(lab: Lab, running: Running) -> dict[str, Any]:
    """endpoints.json: everything a script needs to find the running parts."""
    ep = lab.pbx.endpoints
    s = lab.settings
    return {
        "ami": {
            "host": ep.ami_host,
            "port": ep.ami_port,
            "username": ep.ami_username,
            "secret": ep.ami_secret,
        },
        "sip": {
            "host": ep.sip_host,
            "port": ep.sip_port,
            "transport": "udp",
            "accounts": [
                {"username": op.username, "password": op.password, "extension": op.extension}
                for op in ep.operators
            ],
            "hotline_numbers": ["12345"],
        },
        "desktop_url": running.http_url + "/",
        "api_url": running.http_url + "/api",
        "openapi_url": running.http_url + "/api/openapi.json",
        "desktop_accounts": [
            {"username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1], "role": "admin"},
            {"username": DEMO_SUPERVISOR[0], "password": DEMO_SUPERVISOR[1],
             "role": "supervisor"},
            {"username": DEMO_UNIT[0], "password": DEMO_UNIT[1], "role": "unit_handler",
             "unit": DEMO_UNIT[2]},
            *(
                {
                    "username": op.extension,
                    "password": DEMO_OPERATOR_PASSWORD.format(extension=op.extension),
                    "role": "operator",
                }
                for op in ep.operators
            ),
        ],
        "audiosocket": {"host": s.asr.audiosocket_host, "port": s.asr.audiosocket_port},
        "mqtt_url": s.mqtt.url,
        "mqtt_topic_prefix": s.mqtt.topic_prefix,
        "database_url": db.safe_url(s.database.url),
    }


def banner(e: dict[str, Any], state: Path, *, demo: bool) -> str:
    sip = e["sip"]
    accounts = "\n".join(
        f"    {a['username']:<8} password {a['password']:<10} (extension {a['extension']})"
        for a in sip["accounts"]
    )
    demo_line = (
        f"  A demo softphone answers as extension {DEMO_EXTENSION}.\n" if demo else ""
    )
    return (
        "\nhotline is up.\n"
        f"  Desktop:   {e['desktop_url']}   log in as\n"
        "    1001     / operator-1001     operator desk (/desk)\n"
        f"    {DEMO_SUPERVISOR[0]} / {DEMO_SUPERVISOR[1]}   wallboard and reports"
        " (/wallboard, /reports)\n"
        f"    {DEMO_UNIT[0]}    / {DEMO_UNIT[1]}        unit portal of 市供水有限公司"
        " (/portal/orders)\n"
        f"    {DEMO_ADMIN[0]}    / {DEMO_ADMIN[1]}     admin\n"
        f"  API:       {e['openapi_url']}\n"
        f"  SIP:       udp {sip['host']}:{sip['port']}  accounts for a softphone:\n{accounts}\n"
        f"{demo_line}"
        f"  Demo call: .venv/bin/hotline demo-call --state-dir {state}"
        "   (a citizen, 张伟, calls 12345)\n"
        f"  AMI {e['ami']['host']}:{e['ami']['port']}  MQTT {e['mqtt_url']}"
        f"  store {e['database_url']}\n"
        f"  Everything above is also in {state / 'endpoints.json'}.  Ctrl-C stops it all.\n"
    )


def _operator(pbx: PbxEndpoints, extension: str) -> Operator:
    for op in pbx.operators:
        if op.extension == extension:
            return op
    return pbx.operators[-1]


def _demo_clip() -> Path | None:
    """A real Mandarin clip for the demo operator to say, if ../shared is beside us."""
    here = Path(__file__).resolve().parent.parent
    clips = sorted((here.parent / "shared" / "audio" / "zh").glob("*.wav"))
    return clips[0] if clips else None


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
