"""What one lab Asterisk instance is, and the config files it gets (pure).

`PbxConfig` holds everything that makes one instance different from another (name,
ports, accounts, queue, AudioSocket target); `render()` turns it into Asterisk's config
files from config/asterisk/*.tmpl with `string.Template` (`$$` is a literal `$`, so
dialplan `$${EXTEN}` renders as `${EXTEN}`). Every module in MODULES is `require`d with
autoload=no, so a module that fails to load stops the boot instead of hiding.

Accounts: operator N (default 1001..1004) registers as SIP user `opN` (password `pwN`
from `PbxConfig.allocate`, or the settings' operator_password with `from_settings`); it
is reachable at extension N and, with `static_members` (the lab default, for tests that
run no server), a static member of the default queue `hotline-default` and of every
skill queue (every operator has every skill); with `static_members=False` queues start
empty and the server adds members itself (AMI QueueAdd). One queue per
skill of the hotline catalogue (`catalogue`, config/hotlines.toml) is rendered too,
each inheriting `queue-common`. Calls wait up to `hold_seconds` in `hotline-hold` for
the server's decision (see extensions.conf.tmpl). Citizens call any number into context
`from-pstn` (identified by IP 127.0.0.1 as endpoint `pstn`); the dialled number is
HOTLINE_DNIS. Asterisk calls the
public network through `PJSIP/<number>@pstn` (the aor contact `pstn_contact`, e.g. a
sipp UAS) or `PJSIP/pstn/sip:<number>@127.0.0.1:<port>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from lab.ports import free_tcp_port, free_udp_port, free_udp_range
from telephony.catalogue import SHIPPED, load_catalogue

if TYPE_CHECKING:
    from config.settings import PbxSettings

DEFAULT_ROOT = Path("/var/cache/hotline/asterisk-root")
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "config" / "asterisk"
HOST = "127.0.0.1"

# fmt: off
MODULES = (
    # core services
    "res_timing_timerfd", "res_sorcery_config", "res_sorcery_memory", "res_sorcery_astdb",
    "res_musiconhold", "res_rtp_asterisk", "res_clioriginate", "res_audiosocket",
    # pjsip stack
    "res_pjproject", "res_pjsip", "res_pjsip_session", "res_pjsip_pubsub", "chan_pjsip",
    "res_pjsip_authenticator_digest", "res_pjsip_outbound_authenticator_digest",
    "res_pjsip_endpoint_identifier_user", "res_pjsip_endpoint_identifier_ip",
    "res_pjsip_endpoint_identifier_anonymous", "res_pjsip_registrar", "res_pjsip_sdp_rtp",
    "res_pjsip_caller_id", "res_pjsip_dtmf_info", "res_pjsip_rfc3326", "res_pjsip_nat",
    "res_pjsip_header_funcs", "res_pjsip_logger", "res_pjsip_acl", "res_pjsip_diversion",
    "res_pjsip_dlg_options",
    # channels and bridges
    "chan_audiosocket", "chan_bridge_media", "bridge_simple", "bridge_native_rtp",
    "bridge_holding", "bridge_builtin_features", "bridge_softmix",
    # codecs and formats
    "codec_ulaw", "codec_alaw", "codec_a_mu", "codec_gsm", "codec_resample",
    "format_wav", "format_pcm", "format_sln", "format_gsm",
    # dialplan and applications
    "pbx_config", "app_queue", "app_dial", "app_chanspy", "app_read", "app_playback",
    "app_userevent", "app_originate", "app_stack", "app_mixmonitor", "app_audiosocket",
    "app_verbose", "app_senddtmf", "app_echo", "app_exec",
    "app_record",  # IVR spoken answers and comments (ivr_flows)
    "app_bridgeaddchan",  # three-way transfers: the partner joins the operator's bridge
    # functions
    "func_callerid", "func_channel", "func_strings", "func_logic", "func_global",
    "func_math", "func_uuid", "func_cut", "func_hangupcause", "func_dialplan",
    "func_pjsip_endpoint", "func_pjsip_contact", "func_pjsip_aor", "func_devstate",
    "func_timeout",
)
# fmt: on

_TEMPLATES = (
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "manager.conf",
    "pjsip.conf",
    "rtp.conf",
    "queues.conf",
    "extensions.conf",
    "extensions_taps.conf",
    "extensions_transfers.conf",
    "extensions_ivr.conf",
    "extensions_callbacks.conf",
    "musiconhold.conf",
    "indications.conf",
)


# Files Asterisk reads at boot whatever the module list; empty ones silence its errors.
_QUIET_CONFIGS = {
    "cdr.conf": "[general]\nenable = no\n",
    "cel.conf": "[general]\nenable = no\n",
    "features.conf": "[general]\n",
    "ccss.conf": "[general]\n",
    "acl.conf": "",
    "udptl.conf": "[general]\n",
    "pjproject.conf": "",
    "queuerules.conf": "",
}


@dataclass(frozen=True)
class Operator:
    """One operator's SIP account: user `op<extension>`, reachable at `extension`."""

    extension: str
    password: str

    @property
    def username(self) -> str:
        return f"op{self.extension}"


@dataclass(frozen=True)
class PbxEndpoints:
    """How to reach a running lab Asterisk (what `hotline up` publishes)."""

    ami_host: str
    ami_port: int
    ami_username: str
    ami_secret: str
    sip_host: str
    sip_port: int
    operators: tuple[Operator, ...]
    default_queue: str


@dataclass(frozen=True)
class PbxConfig:
    """Everything that makes one Asterisk instance different from another."""

    name: str
    ami_port: int
    sip_port: int
    rtp_start: int
    rtp_end: int
    root: Path = DEFAULT_ROOT
    ami_username: str = "hotline"
    ami_secret: str = "hotline-lab"
    operators: tuple[Operator, ...] = field(
        default_factory=lambda: tuple(Operator(str(n), f"pw{n}") for n in range(1001, 1005))
    )
    audiosocket_host: str = HOST
    audiosocket_port: int = 9092
    default_queue: str = "hotline-default"
    queue_strategy: str = "ringall"
    pstn_contact: str | None = None  # e.g. "sip:127.0.0.1:5070" (a sipp UAS for callbacks)
    static_members: bool = True  # operators are static members of every queue
    hold_seconds: int = 3  # the longest a new call waits for the server's routing decision
    catalogue: Path = SHIPPED  # the hotline catalogue whose skill queues are rendered

    @classmethod
    def allocate(
        cls,
        name: str,
        *,
        root: Path = DEFAULT_ROOT,
        operators: int = 4,
        rtp_ports: int = 40,
        **overrides: object,
    ) -> PbxConfig:
        """A config with free loopback ports for AMI, SIP and an RTP range."""
        rtp = free_udp_range(rtp_ports)
        ops = tuple(Operator(str(n), f"pw{n}") for n in range(1001, 1001 + operators))
        return cls(
            name=name,
            root=root,
            ami_port=free_tcp_port(),
            sip_port=free_udp_port(),
            rtp_start=rtp.start,
            rtp_end=rtp.stop - 1,
            operators=ops,
            **overrides,  # type: ignore[arg-type]
        )

    @classmethod
    def from_settings(
        cls,
        settings: PbxSettings,
        *,
        name: str = "hotline",
        ami_username: str = "hotline",
        ami_secret: str = "hotline-lab",
        audiosocket_host: str = HOST,
        audiosocket_port: int = 9092,
    ) -> PbxConfig:
        """The config `hotline up` runs: ports from settings (0 = any free port), every
        operator with the settings' password."""
        rtp = free_udp_range(40)
        password = settings.operator_password.get_secret_value()
        return cls(
            name=name,
            root=settings.root,
            ami_port=free_tcp_port(),
            sip_port=settings.sip_port or free_udp_port(),
            rtp_start=rtp.start,
            rtp_end=rtp.stop - 1,
            ami_username=ami_username,
            ami_secret=ami_secret,
            operators=tuple(
                Operator(str(n), password) for n in range(1001, 1001 + settings.operators)
            ),
            audiosocket_host=audiosocket_host,
            audiosocket_port=audiosocket_port,
        )

    @property
    def inst(self) -> str:
        """The instance folder as Asterisk sees it (inside the chroot)."""
        return f"/inst/{self.name}"

    @property
    def host_dir(self) -> Path:
        """The instance folder as we see it (outside the chroot)."""
        return self.root / "inst" / self.name

    def endpoints(self) -> PbxEndpoints:
        return PbxEndpoints(
            ami_host=HOST,
            ami_port=self.ami_port,
            ami_username=self.ami_username,
            ami_secret=self.ami_secret,
            sip_host=HOST,
            sip_port=self.sip_port,
            operators=self.operators,
            default_queue=self.default_queue,
        )


def render(config: PbxConfig, template_dir: Path = TEMPLATE_DIR) -> dict[str, str]:
    """Config file name -> text for one instance (pure: reads only the templates)."""

    def tmpl(name: str) -> Template:
        return Template((template_dir / f"{name}.tmpl").read_text(encoding="utf-8"))

    op_tmpl = tmpl("operator.pjsip")
    # Static members (the lab without a server): every operator has every skill.
    members = "\n".join(
        f"member => PJSIP/{o.username},0,{o.username},PJSIP/{o.username}"
        for o in config.operators
        if config.static_members
    )
    values: dict[str, object] = {
        "name": config.name,
        "inst": config.inst,
        "ami_port": config.ami_port,
        "ami_username": config.ami_username,
        "ami_secret": config.ami_secret,
        "sip_port": config.sip_port,
        "rtp_start": config.rtp_start,
        "rtp_end": config.rtp_end,
        "audiosocket_host": config.audiosocket_host,
        "audiosocket_port": config.audiosocket_port,
        "default_queue": config.default_queue,
        "queue_strategy": config.queue_strategy,
        "modules": "\n".join(f"require = {m}.so" for m in MODULES),
        "pstn_contact_line": (
            f"contact = {config.pstn_contact}" if config.pstn_contact else "; no contact"
        ),
        "operators": "".join(
            op_tmpl.substitute(user=o.username, extension=o.extension, password=o.password)
            for o in config.operators
        ),
        "members": members,
        "skill_queues": "\n\n".join(
            f"[{q}](queue-common)\n{members}".rstrip()
            for q in load_catalogue(config.catalogue).queues()
            if q != config.default_queue
        ),
        "hold_seconds": config.hold_seconds,
        "operator_extens": "\n".join(
            f"exten => {o.extension},1,Dial(PJSIP/{o.username},30)\n same => n,Hangup()"
            for o in config.operators
        ),
    }
    rendered = {name: tmpl(name).substitute(values) for name in _TEMPLATES}
    return {**_QUIET_CONFIGS, **rendered}
