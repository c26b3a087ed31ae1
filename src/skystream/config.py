"""Connection settings, and where they come from.

One :class:`KafkaSettings` value describes how to reach a Kafka cluster. It is
built from explicit arguments, then ``SKYSTREAM_*`` environment variables, then
a TOML config file, then defaults, in that order of precedence
(:meth:`KafkaSettings.from_env` is the one place that order lives)::

    # ~/.config/skystream/config.toml  (or SKYSTREAM_CONFIG=/path/to/file.toml)
    [kafka]
    bootstrap_servers = "kafka.example.org:9092"
    security_protocol = "SASL_SSL"
    sasl_mechanism = "SCRAM-SHA-512"
    sasl_username = "alerts"

Secrets (``sasl_password``, ``ssl_key_password``) are :class:`pydantic.SecretStr`
and never appear in ``repr`` or :meth:`KafkaSettings.redacted`.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from skystream.exceptions import ConfigurationError

__all__ = ["ENV_PREFIX", "KafkaSettings", "RegistrySettings", "default_config_path"]

ENV_PREFIX = "SKYSTREAM_"

ConfigValue = str | int | float | bool

# librdkafka defaults suit a real cluster. The embedded broker (Tansu) makes a
# group join wait half the session timeout and answers fetches late with the
# default fetch.wait.max.ms, so local runs use short values (reference/tansu.md).
_GROUP_TIMING = {
    "kafka": {"session_timeout_ms": 45000, "heartbeat_interval_ms": 3000, "fetch_wait_max_ms": 500},
    "embedded": {
        "session_timeout_ms": 4000,
        "heartbeat_interval_ms": 400,
        "fetch_wait_max_ms": 100,
    },
}


def default_config_path() -> Path:
    """Return the config file read when none is named: ``$SKYSTREAM_CONFIG`` or the XDG path."""
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "skystream" / "config.toml"


class KafkaSettings(BaseModel):
    """How to reach a Kafka cluster.

    Examples
    --------
    >>> settings = KafkaSettings(bootstrap_servers="127.0.0.1:9092", profile="embedded")
    >>> settings.consumer_config()["session.timeout.ms"]
    4000
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str | None = Field(
        default=None, description="Comma-separated host:port list of brokers."
    )
    client_id: str = Field(default="skystream", description="Client id shown in broker logs.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None
    ) = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = Field(
        default=True, description="Check that the broker certificate names the host."
    )
    profile: Literal["auto", "kafka", "embedded"] = Field(
        default="auto",
        description="'embedded' applies the short group timings the embedded broker needs; "
        "'auto' detects that broker when a consumer connects; 'kafka' never does.",
    )
    session_timeout_ms: int | None = Field(default=None, gt=0)
    heartbeat_interval_ms: int | None = Field(default=None, gt=0)
    fetch_wait_max_ms: int | None = Field(default=None, ge=0)
    extra_config: dict[str, ConfigValue] = Field(
        default_factory=dict,
        repr=False,  # may hold credentials; redacted() shows it masked
        description="Further librdkafka properties, applied last (the escape hatch).",
    )

    @classmethod
    def from_env(cls, config_file: Path | str | None = None, **explicit: Any) -> KafkaSettings:
        """Build settings from explicit values, then the environment, then a config file.

        Parameters
        ----------
        config_file
            TOML file with a ``[kafka]`` table; defaults to :func:`default_config_path`
            (which need not exist).
        **explicit
            Field values that win over everything else; ``None`` values are ignored.

        Raises
        ------
        ConfigurationError
            When a value (from any source) is not valid; the message names the
            field, the bad value and where it came from.
        """
        path = Path(config_file) if config_file is not None else default_config_path()
        layers: list[tuple[str, dict[str, Any]]] = [
            (str(path), _read_config_file(path, must_exist=config_file is not None)),
            ("environment", _read_environment(cls.model_fields)),
            ("arguments", {k: v for k, v in explicit.items() if v is not None}),
        ]
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for source, values in layers:
            for key, value in values.items():
                if key not in cls.model_fields:
                    raise ConfigurationError(
                        f"unknown Kafka setting {key!r} in {source}; "
                        f"known settings: {', '.join(sorted(cls.model_fields))}"
                    )
                merged[key] = value
                origin[key] = source
        try:
            return cls(**merged)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}={err.get('input')!r} "
                f"(from {origin.get(str(err['loc'][0]), 'defaults')}): {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigurationError(f"invalid Kafka settings: {problems}") from exc

    def with_bootstrap(
        self, bootstrap_servers: str, profile: Literal["auto", "kafka", "embedded"] | None = None
    ) -> KafkaSettings:
        """Return a copy pointing at ``bootstrap_servers`` (and optionally another profile)."""
        update: dict[str, Any] = {"bootstrap_servers": bootstrap_servers}
        if profile is not None:
            update["profile"] = profile
        return self.model_copy(update=update)

    def require_bootstrap(self) -> str:
        """Return the bootstrap servers, or raise a :class:`ConfigurationError` saying how."""
        if not self.bootstrap_servers:
            raise ConfigurationError(
                "no Kafka bootstrap servers configured: pass bootstrap_servers, "
                f"set {ENV_PREFIX}BOOTSTRAP_SERVERS, "
                "or start the embedded stack with `skystream up`"
            )
        return self.bootstrap_servers

    def connection_config(self) -> dict[str, ConfigValue]:
        """Return the librdkafka properties every client needs (secrets included)."""
        config: dict[str, ConfigValue] = {
            "bootstrap.servers": self.require_bootstrap(),
            "client.id": self.client_id,
            "security.protocol": self.security_protocol.lower(),
        }
        optional: dict[str, ConfigValue | None] = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": _reveal(self.sasl_password),
            "ssl.ca.location": _path(self.ssl_ca_location),
            "ssl.certificate.location": _path(self.ssl_certificate_location),
            "ssl.key.location": _path(self.ssl_key_location),
            "ssl.key.password": _reveal(self.ssl_key_password),
        }
        config.update({k: v for k, v in optional.items() if v is not None})
        if not self.ssl_check_hostname:
            config["ssl.endpoint.identification.algorithm"] = "none"
        return config

    def producer_config(self) -> dict[str, ConfigValue]:
        """Return librdkafka properties for a producer."""
        # The embedded broker auto-creates any topic with 4 partitions; a typo in a
        # topic name should fail instead of creating a topic nobody reads.
        config = {**self.connection_config(), "allow.auto.create.topics": False}
        return {**config, **self.extra_config}

    def consumer_config(self) -> dict[str, ConfigValue]:
        """Return librdkafka properties for a consumer, with the profile's group timings."""
        # "auto" is resolved when a consumer connects; until then, Kafka's timings.
        timing = _GROUP_TIMING["embedded" if self.profile == "embedded" else "kafka"]
        config = {
            **self.connection_config(),
            "session.timeout.ms": self.session_timeout_ms or timing["session_timeout_ms"],
            "heartbeat.interval.ms": self.heartbeat_interval_ms or timing["heartbeat_interval_ms"],
            "fetch.wait.max.ms": (
                self.fetch_wait_max_ms
                if self.fetch_wait_max_ms is not None
                else timing["fetch_wait_max_ms"]
            ),
        }
        if self.profile == "embedded":
            # The embedded broker's transactions do not work, and read_committed
            # consumers (librdkafka's default) were seen to skip whole record
            # batches written while they read: read everything it stores.
            config["isolation.level"] = "read_uncommitted"
        return {**config, **self.extra_config}

    def admin_config(self) -> dict[str, ConfigValue]:
        """Return librdkafka properties for an admin client."""
        return {**self.connection_config(), **self.extra_config}

    def redacted(self) -> dict[str, Any]:
        """Return the settings as plain data with every secret masked, for printing."""
        data = self.model_dump(mode="json")
        for key in ("sasl_password", "ssl_key_password"):
            if data.get(key) is not None:
                data[key] = "**********"
        data["extra_config"] = {
            k: ("**********" if _looks_secret(k) else v) for k, v in self.extra_config.items()
        }
        return data


class RegistrySettings(BaseModel):
    """How to reach a schema registry.

    Examples
    --------
    >>> settings = RegistrySettings(url="http://127.0.0.1:8081", username="alerts", password="s")
    >>> settings.password
    SecretStr('**********')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = Field(default=None, description="Base URL, e.g. http://127.0.0.1:8081.")
    username: str | None = Field(default=None, description="HTTP basic auth user.")
    password: SecretStr | None = Field(default=None, description="HTTP basic auth password.")

    @classmethod
    def from_env(cls, **explicit: Any) -> RegistrySettings:
        """Build settings from explicit values, then ``SKYSTREAM_REGISTRY_URL/_USERNAME/_PASSWORD``.

        Parameters
        ----------
        **explicit
            Field values that win over the environment; ``None`` values are ignored.

        Raises
        ------
        ConfigurationError
            When a name is not a registry setting.
        """
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = os.environ.get(f"{ENV_PREFIX}REGISTRY_{name.upper()}")
            if raw:
                values[name] = raw
        for key, value in explicit.items():
            if key not in cls.model_fields:
                raise ConfigurationError(
                    f"unknown registry setting {key!r}; known settings: "
                    f"{', '.join(sorted(cls.model_fields))}"
                )
            if value is not None:
                values[key] = value
        return cls(**values)


def _read_config_file(path: Path, *, must_exist: bool) -> dict[str, Any]:
    if not path.exists():
        if must_exist:
            raise ConfigurationError(f"config file {str(path)!r} does not exist")
        return {}
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {str(path)!r}: {exc}") from exc
    table = document.get("kafka", {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"[kafka] in {str(path)!r} must be a table, got {table!r}")
    return table


def _read_environment(fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in fields:
        raw = os.environ.get(f"{ENV_PREFIX}{name.upper()}")
        if raw is None or raw == "":
            continue
        if name == "extra_config":
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(
                    f"{ENV_PREFIX}EXTRA_CONFIG must be a JSON object such as "
                    f'{{"linger.ms": 5}}, got {raw!r}'
                ) from exc
        else:
            values[name] = raw
    return values


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("password", "secret", "token", "key"))
