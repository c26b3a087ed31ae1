"""KafkaSettings: precedence, librdkafka translation, secrets, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from skystream.config import KafkaSettings
from skystream.exceptions import ConfigurationError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "BOOTSTRAP_SERVERS",
        "CLIENT_ID",
        "PROFILE",
        "SASL_PASSWORD",
        "EXTRA_CONFIG",
        "SECURITY_PROTOCOL",
        "CONFIG",
        "SESSION_TIMEOUT_MS",
    ):
        monkeypatch.delenv(f"SKYSTREAM_{name}", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config-here"))


def _write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "skystream.toml"
    path.write_text(body)
    return path


def test_precedence_arguments_then_environment_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_config(
        tmp_path,
        '[kafka]\nbootstrap_servers = "file:9092"\nclient_id = "from-file"\n'
        'security_protocol = "SASL_SSL"\n',
    )
    monkeypatch.setenv("SKYSTREAM_BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("SKYSTREAM_CLIENT_ID", "from-env")

    settings = KafkaSettings.from_env(path, client_id="from-args")
    assert settings.client_id == "from-args"  # arguments beat everything
    assert settings.bootstrap_servers == "env:9092"  # environment beats the file
    assert settings.security_protocol == "SASL_SSL"  # the file beats defaults
    assert settings.sasl_mechanism is None  # defaults fill the rest


def test_none_arguments_do_not_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYSTREAM_BOOTSTRAP_SERVERS", "env:9092")
    assert KafkaSettings.from_env(bootstrap_servers=None).bootstrap_servers == "env:9092"


def test_default_config_file_comes_from_skystream_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_config(tmp_path, '[kafka]\nbootstrap_servers = "named:9092"\n')
    monkeypatch.setenv("SKYSTREAM_CONFIG", str(path))
    assert KafkaSettings.from_env().bootstrap_servers == "named:9092"


def test_missing_default_file_is_fine_but_a_named_one_is_not(tmp_path: Path) -> None:
    assert KafkaSettings.from_env().bootstrap_servers is None
    with pytest.raises(ConfigurationError, match="does not exist"):
        KafkaSettings.from_env(tmp_path / "absent.toml")


def test_bad_values_name_the_field_value_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYSTREAM_SESSION_TIMEOUT_MS", "soon")
    with pytest.raises(ConfigurationError, match=r"session_timeout_ms='soon' \(from environment\)"):
        KafkaSettings.from_env()
    monkeypatch.delenv("SKYSTREAM_SESSION_TIMEOUT_MS")
    path = _write_config(tmp_path, '[kafka]\nbootstrap_server = "typo:9092"\n')
    with pytest.raises(ConfigurationError, match="unknown Kafka setting 'bootstrap_server'"):
        KafkaSettings.from_env(path)
    path = _write_config(tmp_path, "[kafka\n")
    with pytest.raises(ConfigurationError, match="cannot read config file"):
        KafkaSettings.from_env(path)
    monkeypatch.setenv("SKYSTREAM_EXTRA_CONFIG", "linger.ms=5")
    with pytest.raises(ConfigurationError, match="must be a JSON object"):
        KafkaSettings.from_env()


def test_extra_config_from_environment_is_applied_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYSTREAM_EXTRA_CONFIG", '{"linger.ms": 50, "fetch.wait.max.ms": 7}')
    settings = KafkaSettings.from_env(bootstrap_servers="h:1", profile="embedded")
    assert settings.producer_config()["linger.ms"] == 50
    assert settings.consumer_config()["fetch.wait.max.ms"] == 7


def test_secrets_are_used_but_never_shown() -> None:
    settings = KafkaSettings(
        bootstrap_servers="h:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="alerts",
        sasl_password="hunter2",  # type: ignore[arg-type]
        extra_config={"sasl.oauthbearer.client.secret": "s3cret"},
    )
    assert settings.connection_config()["sasl.password"] == "hunter2"
    assert settings.connection_config()["security.protocol"] == "sasl_ssl"
    shown = f"{settings!r} {settings} {settings.redacted()}"
    assert "hunter2" not in shown and "s3cret" not in shown
    assert settings.redacted()["sasl_username"] == "alerts"


def test_profiles_set_group_timings() -> None:
    real = KafkaSettings(bootstrap_servers="h:1").consumer_config()
    local = KafkaSettings(bootstrap_servers="h:1", profile="embedded").consumer_config()
    assert real["session.timeout.ms"] == 45000 and real["fetch.wait.max.ms"] == 500
    assert local["session.timeout.ms"] < 10000 and local["fetch.wait.max.ms"] == 100
    tuned = KafkaSettings(bootstrap_servers="h:1", profile="embedded", session_timeout_ms=9000)
    assert tuned.consumer_config()["session.timeout.ms"] == 9000


def test_embedded_profile_reads_uncommitted_records() -> None:
    # Tansu's transactions do not work and read_committed consumers skipped batches there.
    local = KafkaSettings(bootstrap_servers="h:1", profile="embedded").consumer_config()
    kafka = KafkaSettings(bootstrap_servers="h:1", profile="kafka").consumer_config()
    assert local["isolation.level"] == "read_uncommitted"
    assert "isolation.level" not in kafka  # librdkafka's default (read_committed) on real Kafka


def test_producers_never_auto_create_topics() -> None:
    assert (
        KafkaSettings(bootstrap_servers="h:1").producer_config()["allow.auto.create.topics"]
        is False
    )


def test_missing_bootstrap_says_how_to_fix() -> None:
    with pytest.raises(ConfigurationError, match="skystream up"):
        KafkaSettings().connection_config()


def test_tls_fields() -> None:
    settings = KafkaSettings(
        bootstrap_servers="h:1",
        security_protocol="SSL",
        ssl_ca_location=Path("/etc/ca.pem"),
        ssl_check_hostname=False,
    )
    config = settings.connection_config()
    assert config["ssl.ca.location"] == "/etc/ca.pem"
    assert config["ssl.endpoint.identification.algorithm"] == "none"
