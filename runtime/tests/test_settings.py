"""Bad configuration ends in one line that names the setting."""

import pytest

from cube_runtime.launcher import LauncherSettings
from cube_runtime.settings import ConfigError, CubeSettings, load


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "not a broker", "KAFKA_BOOTSTRAP_SERVERS"),
        ("KAFKA_BOOTSTRAP_SERVERS", "localhost:99999", "KAFKA_BOOTSTRAP_SERVERS"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("CUBE_LOG_LEVEL", "LOUD", "CUBE_LOG_LEVEL"),
    ],
)
def test_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as err:
        load(CubeSettings)
    assert str(err.value).startswith(named)
    assert "\n" not in str(err.value)


def test_launcher_port_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUBE_HTTP_PORT", "70000")
    with pytest.raises(ConfigError, match="^CUBE_HTTP_PORT"):
        load(LauncherSettings)


def test_good_values_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "a:9092, b:9093")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/d")
    settings = load(CubeSettings)
    assert settings.require_broker() == "a:9092,b:9093"
    assert settings.require_database().startswith("postgresql://")


def test_missing_broker_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS is not set"):
        load(CubeSettings).require_broker()
