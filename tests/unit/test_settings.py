from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_without_file_or_environment() -> None:
    s = load_settings(None, {})
    assert s.ami.port == 5038
    assert s.database.url.startswith("sqlite+aiosqlite:")


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "hotline.toml"
    f.write_text('[ami]\nport = 6000\nusername = "filed"\n[http]\nport = 9000\n')
    s = load_settings(f, {"HOTLINE__AMI__PORT": "7000"})
    assert s.ami.port == 7000
    assert s.ami.username == "filed"
    assert s.http.port == 9000


def test_config_path_from_environment(tmp_path: Path) -> None:
    f = tmp_path / "h.toml"
    f.write_text('[mqtt]\nhost = "127.0.0.2"\n')
    assert load_settings(None, {"HOTLINE_CONFIG": str(f)}).mqtt.host == "127.0.0.2"


def test_wrong_value_in_file_names_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[ami]\nport = "not-a-port"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(f, {})
    assert "ami.port" in str(err.value)
    assert str(f) in str(err.value)


def test_wrong_value_in_environment_names_variable() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(None, {"HOTLINE__HTTP__PORT": "99999"})
    assert "http.port" in str(err.value)
    assert "HOTLINE__HTTP__PORT" in str(err.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "typo.toml"
    f.write_text("[ami]\nprot = 1\n")
    with pytest.raises(SettingsError) as err:
        load_settings(f, {})
    assert "ami.prot" in str(err.value)
    assert str(f) in str(err.value)


def test_missing_file_and_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[ami\n")
    with pytest.raises(SettingsError, match=str(broken)):
        load_settings(broken, {})


def test_secret_is_not_printed() -> None:
    s = load_settings(None, {"HOTLINE__AMI__SECRET": "s3cret"})
    assert "s3cret" not in repr(s)
    assert s.ami.secret.get_secret_value() == "s3cret"
