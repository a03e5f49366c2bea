"""The lab Asterisk controller against the real Asterisk in the chroot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lab.pbx import Pbx, PbxBootError, PbxCommandError, PbxConfig, PbxRootMissing

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


def test_missing_root_says_make_setup(tmp_path: Path) -> None:
    config = PbxConfig.allocate("nowhere", root=tmp_path)
    with pytest.raises(PbxRootMissing, match="make setup"):
        Pbx(config).start()
