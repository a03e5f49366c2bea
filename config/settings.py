"""Typed settings, layered: defaults < TOML file < environment.

Settings are read once, at start, by the composition root (`hotline.app`), never at
import time. A wrong or missing value raises `SettingsError` whose message names the
key and where the value came from (the file, or the environment variable).

Environment variables are `HOTLINE__SECTION__KEY` (double underscores separate levels),
for example `HOTLINE__AMI__SECRET=...` or `HOTLINE__DATABASE__URL=postgresql+asyncpg://...`.
The settings file is the `--config` option or `HOTLINE_CONFIG`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

ENV_PREFIX = "HOTLINE__"
CONFIG_ENV = "HOTLINE_CONFIG"


class SettingsError(Exception):
    """A settings value is wrong or missing; the message names the key and its source."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSettings(_Section):
    """Where the Asterisk Manager Interface is and how patiently we talk to it."""

    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "hotline"
    secret: SecretStr = SecretStr("hotline")
    login_timeout: float = Field(5.0, gt=0)
    action_timeout: float = Field(5.0, gt=0)
    reconnect_min: float = Field(0.2, gt=0)
    reconnect_max: float = Field(10.0, gt=0)
    queue_size: int = Field(10_000, ge=100)


class MqttSettings(_Section):
    """The bus: an MQTT broker (mosquitto)."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = "hotline"
    client_id: str = "hotline-server"
    reconnect_min: float = Field(0.2, gt=0)
    reconnect_max: float = Field(10.0, gt=0)
    outbox_limit: int = Field(10_000, ge=10, description="messages waiting for the broker")
    in_flight: int = Field(64, ge=1, le=65_000, description="messages sent, not yet acked")
    keepalive: int = Field(30, ge=5, description="seconds between MQTT pings")
    timeout: float = Field(5.0, gt=0, description="seconds for connect, ack, subscribe")
    close_timeout: float = Field(5.0, ge=0, description="seconds to flush state on close")
    subscriber_queue: int = Field(10_000, ge=10, description="messages per slow subscriber")

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttSettings:
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("mqtt.reconnect_max must not be below mqtt.reconnect_min")
        return self


class DatabaseSettings(_Section):
    """The store: SQLite file by default, PostgreSQL by URL."""

    url: str = "sqlite+aiosqlite:////var/lib/hotline/hotline.db"
    echo: bool = False
    connect_timeout: float = Field(5.0, gt=0, description="seconds to open one connection")
    busy_timeout: float = Field(5.0, ge=0, description="SQLite: seconds to wait for a lock")
    pool_size: int = Field(5, ge=1, description="PostgreSQL: pooled connections")


class HttpSettings(_Section):
    """The aiohttp app: desktop, portal, wallboard and REST API."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    cookie_secure: bool = False
    session_hours: float = Field(12.0, gt=0)


class AsrKeyword(_Section):
    """A watched word and what the desktop should do when it is heard."""

    keyword: str = Field(min_length=1)
    action: Literal["transfer_119", "transfer_110", "transfer_120", "alert_supervisor"]


def _default_keywords() -> tuple[AsrKeyword, ...]:
    return (
        AsrKeyword(keyword="着火", action="transfer_119"),
        AsrKeyword(keyword="失火", action="transfer_119"),
        AsrKeyword(keyword="煤气泄漏", action="transfer_119"),
        AsrKeyword(keyword="自杀", action="alert_supervisor"),
    )


class AsrSettings(_Section):
    """Live transcription: the AudioSocket server and the Vosk recognizer pool."""

    enabled: bool = True
    # `hotline asr fetch-model vosk-model-small-cn-0.22` unpacks it here.
    model_path: Path | None = Path("/var/cache/hotline/models/vosk-model-small-cn-0.22")
    models_dir: Path = Path("/var/cache/hotline/models")
    workers: int = Field(0, ge=0, description="0 means the number of cores")
    max_streams: int = Field(0, ge=0, description="live streams; 0 means 2 per worker")
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = Field(9092, ge=0, le=65535)
    tap_wait: float = Field(5.0, gt=0, description="seconds a stream waits for its call")
    uuid_timeout: float = Field(5.0, gt=0, description="seconds to the AudioSocket uuid")
    idle_timeout: float = Field(60.0, gt=0, description="seconds without audio")
    renew_seconds: float = Field(300.0, gt=0, description="renew recognizers past this")
    max_backlog_seconds: float = Field(30.0, gt=0, description="audio buffered per stream")
    admit_max_lag: float = Field(2.0, ge=0, description="no new streams while one lags more")
    partial_interval: float = Field(0.25, ge=0, description="min seconds between partials")
    lag_interval: float = Field(1.0, gt=0, description="seconds between lag reports")
    number_style: Literal["digits", "ko", "zh"] = "digits"
    keywords: tuple[AsrKeyword, ...] = Field(default_factory=_default_keywords)


class PbxSettings(_Section):
    """The local Asterisk that `hotline up` and the tests run (not used in production)."""

    root: Path = Path("/var/cache/hotline/asterisk-root")
    sip_port: int = Field(5060, ge=0, le=65535)
    operators: int = Field(4, ge=0, le=500)
    operator_password: SecretStr = SecretStr("hotline")


class OperatorsSettings(_Section):
    """Operator seats: queue membership by skill, after-call work, the screen pop."""

    default_queue: str = "hotline-default"
    # extension -> skill queues it joins at login; an extension not listed joins the
    # default queue and every other queue Asterisk reports.
    skills: dict[str, list[str]] = Field(default_factory=dict)
    interface_template: str = Field("PJSIP/op{extension}", pattern=r"\{extension\}")
    wrap_up_seconds: float = Field(30.0, ge=0, description="after-call work after each call")
    history_days: int = Field(365, ge=1, description="caller history shown in the pop")
    transfer_context: str = "hotline-transfer"


class WorkordersSettings(_Section):
    """Work orders: the city's time limits, the responsibility catalogue, the SLA clock."""

    sla_preset: str = Field("zhangye", description="a [preset.NAME] of the presets file")
    sla_presets_path: Path | None = Field(None, description="default: config/sla_presets.toml")
    catalogue_path: Path | None = Field(None, description="default: config/units.toml")
    load_catalogue: bool = Field(True, description="upsert the catalogue into the store at start")
    clock_interval: float = Field(15.0, gt=0, description="seconds between SLA clock ticks")
    number_prefix: str = Field("12345", pattern=r"^[0-9A-Za-z]{1,12}$")


class CallsSettings(_Section):
    """Calls and routing: the hotline catalogue and how the server routes a new call."""

    catalogue: Path = Path(__file__).resolve().parent / "hotlines.toml"
    hold_seconds: int = Field(3, ge=1, le=30, description="dialplan waits this long for us")
    lease_seconds: int = Field(3, ge=2, le=60, description="router lease the server renews")
    preferred_days: int = Field(30, ge=0, description="prefer who answered within N days")
    preferred_ring_seconds: int = Field(10, ge=1, le=60, description="ring them this long")
    key_caller_threshold: int = Field(5, ge=1, description="calls in key_caller_days")
    key_caller_days: int = Field(30, ge=1)
    key_caller_boost: int = Field(1, ge=0, le=10, description="queue priority added")
    overflow_seconds: int | None = Field(None, ge=1, description="override every skill's")
    operator_interface: str = Field("PJSIP/op{extension}", pattern=r"\{extension\}")
    answered_within_seconds: int = Field(15, ge=1, description="service level target")
    # Missed-call callbacks (漏接回拨), telephony.callback_dialer: "manual" leaves them to
    # the desk; "auto" dials them (ivr.trunk, ivr.caller_id, ivr calling hours) and
    # puts the citizen who answers at the head of the line's queue.
    callback_mode: Literal["manual", "auto"] = "manual"
    callback_max_dials: int = Field(2, ge=1, le=100, description="dials at once (cap)")
    callback_max_attempts: int = Field(3, ge=1, le=10)
    callback_retry_seconds: float = Field(600.0, ge=0, description="first backoff")
    callback_retry_factor: float = Field(2.0, ge=1)
    callback_ring_seconds: float = Field(30.0, gt=0, le=120)
    callback_queue_seconds: int = Field(60, ge=5, le=600, description="wait for an operator")
    callback_max_age_hours: float = Field(24.0, gt=0, description="older misses stay manual")
    callback_prompt: str = Field("callback_connect", description="in ivr.prompt_dir; '' none")
    callback_context: str = "hotline-callback"
    callback_poll_seconds: float = Field(2.0, gt=0)


class IvrSettings(_Section):
    """Automated callbacks (ivr_flows): survey and supervision calls through the trunk."""

    enabled: bool = True
    flows_dir: Path | None = Field(None, description="default: config/ivr")
    prompt_dir: str = Field(
        "/var/lib/hotline/ivr-prompts", description="the prompt files, as Asterisk sees them"
    )
    trunk: str = Field("PJSIP/{number}@pstn", pattern=r"\{number\}")
    caller_id: str = "12345"
    context: str = "hotline-ivr"
    max_concurrent_calls: int = Field(10, ge=1, le=1000)
    ring_seconds: float = Field(30.0, gt=0, le=300)
    max_call_seconds: int = Field(300, ge=10)
    idle_seconds: int = Field(10, ge=1, description="a call without commands hangs up")
    calling_hours_start: time = time(9, 0)
    calling_hours_end: time = time(20, 0)
    timezone: str = "Asia/Shanghai"
    excluded_weekdays: tuple[int, ...] = Field((), description="0 = Monday")
    excluded_dates: tuple[date, ...] = ()
    survey_delay_hours: float = Field(24.0, ge=0)
    survey_after_steps: tuple[str, ...] = ("review",)
    supervision_steps: tuple[str, ...] = ("supervision_requested",)
    max_attempts: int = Field(3, ge=1, le=20)
    retry_backoff_minutes: float = Field(30.0, ge=0)
    retry_factor: float = Field(2.0, ge=1)
    poll_seconds: float = Field(5.0, gt=0)
    # Spoken answers and recorded comments (flows' `listen` / `record` steps).
    speech: bool = Field(False, description="recognize spoken answers and comments")
    speech_model: Path | None = Field(None, description="Vosk model; default asr.model_path")
    record_dir: str = Field(
        "/var/spool/asterisk/hotline-ivr", description="where Asterisk records answers"
    )
    record_read_dir: Path | None = Field(
        None, description="the same folder as the server reads it; default record_dir"
    )

    @model_validator(mode="after")
    def _hours(self) -> IvrSettings:
        if self.calling_hours_end <= self.calling_hours_start:
            raise ValueError("ivr.calling_hours_end must be after ivr.calling_hours_start")
        if any(not 0 <= d <= 6 for d in self.excluded_weekdays):
            raise ValueError("ivr.excluded_weekdays are 0 (Monday) .. 6 (Sunday)")
        return self


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Section):
    ami: AmiSettings = AmiSettings()
    mqtt: MqttSettings = MqttSettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    asr: AsrSettings = AsrSettings()
    pbx: PbxSettings = PbxSettings()
    calls: CallsSettings = CallsSettings()
    operators: OperatorsSettings = OperatorsSettings()
    workorders: WorkordersSettings = WorkordersSettings()
    ivr: IvrSettings = IvrSettings()
    log: LogSettings = LogSettings()


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read defaults, then the TOML file (if any), then the environment; validate once."""
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    sources: dict[tuple[str, ...], str] = {}
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_toml(path)
        for key in _leaf_keys(data):
            sources[key] = str(path)
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if not all(key):
            raise SettingsError(f"environment variable {name}: malformed settings key")
        _put(data, key, value, name)
        sources[key] = f"environment variable {name}"
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise SettingsError(_describe(err, sources)) from err


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as err:
        raise SettingsError(f"settings file {path} does not exist") from err
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"settings file {path}: {err}") from err


def _leaf_keys(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    for k, v in data.items():
        if isinstance(v, Mapping):
            keys.extend(_leaf_keys(v, (*prefix, k)))
        else:
            keys.append((*prefix, k))
    return keys


def _put(data: dict[str, Any], key: tuple[str, ...], value: str, name: str) -> None:
    node = data
    for part in key[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SettingsError(f"environment variable {name}: {'.'.join(key)} is not a section")
        node = child
    node[key[-1]] = value


def _describe(err: ValidationError, sources: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for problem in err.errors():
        loc = tuple(str(p) for p in problem["loc"])
        source = _source_of(loc, sources)
        where = f" (from {source})" if source else ""
        lines.append(f"setting {'.'.join(loc)}{where}: {problem['msg']}")
    return "; ".join(lines)


def _source_of(loc: tuple[str, ...], sources: Mapping[tuple[str, ...], str]) -> str | None:
    for n in range(len(loc), 0, -1):
        if loc[:n] in sources:
            return sources[loc[:n]]
    for key, source in sources.items():  # an unknown section: report its file
        if key[: len(loc)] == loc:
            return source
    return None
