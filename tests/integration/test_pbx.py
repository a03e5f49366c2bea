"""The lab Asterisk controller against the real Asterisk in the chroot."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import PbxSettings
from lab.pbx import (
    TEMPLATE_DIR,
    Pbx,
    PbxBootError,
    PbxCommandError,
    PbxConfig,
    PbxRootMissing,
    render,
)

pytestmark = pytest.mark.integration


def test_shared_pbx_answers_cli(pbx: Pbx) -> None:
    assert "Asterisk 22" in pbx.cli("core show version")
    assert "hotline-default" in pbx.cli("queue show hotline-default")


def test_two_instances_side_by_side(pbx_factory: Callable[..., Pbx]) -> None:
    first, second = pbx_factory(), pbx_factory()
    assert first.config.sip_port != second.config.sip_port
    assert first.config.ami_port != second.config.ami_port
    for instance in (first, second):
        assert "Asterisk 22" in instance.cli("core show version")
        assert f"127.0.0.1:{instance.config.sip_port}" in instance.cli("pjsip show transports")
        assert instance.config.name in instance.cli("core show settings")


def test_kill_then_start_again(pbx_factory: Callable[..., Pbx]) -> None:
    instance = pbx_factory()
    instance.kill()
    run = instance.dir / "run"
    assert (run / "asterisk.ctl").exists() or (run / "asterisk.pid").exists()
    with pytest.raises(PbxCommandError):
        instance.cli("core show version")
    instance.start()
    assert "Asterisk 22" in instance.cli("core show version")
    instance.stop()
    assert not instance.is_running


def test_second_start_of_a_running_instance_is_refused(
    pbx_factory: Callable[..., Pbx],
) -> None:
    instance = pbx_factory()
    twin = Pbx(instance.config)
    with pytest.raises(PbxBootError, match="already running"):
        twin.start()
    assert "Asterisk 22" in instance.cli("core show version")


def test_boot_failure_shows_the_log(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    modules = templates / "modules.conf.tmpl"
    modules.write_text(modules.read_text() + "require = no_such_module.so\n")
    broken = Pbx(PbxConfig.allocate(f"broken{os.getpid()}"), template_dir=templates)
    try:
        with pytest.raises(PbxBootError, match="no_such_module"):
            broken.start(timeout=10)
        assert not broken.is_running
    finally:
        broken.cleanup()


def test_missing_root_says_make_setup(tmp_path: Path) -> None:
    config = PbxConfig.allocate("nowhere", root=tmp_path)
    with pytest.raises(PbxRootMissing, match="make setup"):
        Pbx(config).start()


def test_render_is_complete_and_literal(tmp_path: Path) -> None:
    config = PbxConfig(
        name="r1",
        ami_port=5100,
        sip_port=5200,
        rtp_start=20000,
        rtp_end=20039,
        root=tmp_path,
        pstn_contact="sip:127.0.0.1:5300",
    )
    files = render(config)
    assert "astetcdir => /inst/r1/etc" in files["asterisk.conf"]
    assert "systemname = r1" in files["asterisk.conf"]
    assert "port = 5100" in files["manager.conf"]
    assert "bind = 127.0.0.1:5200" in files["pjsip.conf"]
    assert "contact = sip:127.0.0.1:5300" in files["pjsip.conf"]
    for op in config.operators:
        assert f"[{op.username}](endpoint-common)" in files["pjsip.conf"]
        assert f"member => PJSIP/{op.username}," in files["queues.conf"]
    assert "Set(__HOTLINE_DNIS=${EXTEN})" in files["extensions.conf"]
    assert "rtpstart = 20000" in files["rtp.conf"]
    assert "require = chan_pjsip.so" in files["modules.conf"]


def test_config_from_settings() -> None:
    settings = PbxSettings(sip_port=0, operators=2, operator_password=SecretStr("s3"))
    config = PbxConfig.from_settings(settings, name="up")
    assert config.sip_port > 0 and config.ami_port > 0
    assert [(o.username, o.password) for o in config.operators] == [
        ("op1001", "s3"),
        ("op1002", "s3"),
    ]
