"""What a bridge is told besides its components: :class:`BridgeSettings`.

Kafka and registry connections, DDS domain, Kafka topic layout, producer
acks and read-queue sizes, checked when made; :func:`with_scram` adds the
SASL SCRAM-SHA-512 login Rubin's brokers use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pydantic

from skystream.config import KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError
from skystream.sal.bridge.monitor import MIN_QUEUE_LENGTH
from skystream.sal.dds import DdsSettings

__all__ = ["BridgeSettings", "WaitAck", "with_scram"]


WaitAck = Literal["0", "1", "all"]


@dataclass(frozen=True)
class BridgeSettings:
    """Everything a bridge needs besides its components.

    Attributes
    ----------
    kafka, registry
        Where to produce and where to register schemas.
    dds
        DDS domain and network.
    partitions
        Partitions of the Kafka topics the bridge creates (> 0).
    replication_factor
        Replication factor of those topics (Rubin's default: 3).
    wait_ack
        Producer acks: ``"0"``, ``"1"`` or ``"all"``.
    queue_length
        Read queue length L of each topic (>= 10).
    dds_depth
        Samples per instance a DDS reader keeps while its read queue is full.
    subname
        Kafka topics are ``lsst.<subname>.<CSC>.<topic>``.
    linger_ms
        How long the producer may wait to fill a batch.
    drain_timeout_s
        On stop or removal, how long to keep taking what DDS still delivers.
    interfaces
        ts_xml directory to load components added by name (default:
        ``SKYSTREAM_SAL_INTERFACES``).
    """

    kafka: KafkaSettings
    registry: RegistrySettings
    dds: DdsSettings = field(default_factory=DdsSettings)
    partitions: int = 1
    replication_factor: int = 3
    wait_ack: WaitAck = "1"
    queue_length: int = 100
    dds_depth: int = 1000
    subname: str = "sal"
    linger_ms: int = 5
    drain_timeout_s: float = 5.0
    interfaces: Path | None = None

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ConfigurationError(f"partitions must be > 0, got {self.partitions}")
        if self.replication_factor < 1:
            raise ConfigurationError(
                f"replication factor must be > 0, got {self.replication_factor}"
            )
        if self.wait_ack not in ("0", "1", "all"):
            raise ConfigurationError(f"wait_ack must be 0, 1 or all, got {self.wait_ack!r}")
        if self.queue_length < MIN_QUEUE_LENGTH:
            raise ConfigurationError(
                f"queue length must be at least {MIN_QUEUE_LENGTH}, got {self.queue_length}"
            )
        if self.dds_depth < 1:
            raise ConfigurationError(f"DDS history depth must be > 0, got {self.dds_depth}")


def with_scram(
    settings: KafkaSettings, username: str | None, password: str | None
) -> KafkaSettings:
    """Return ``settings`` logging in with SASL SCRAM-SHA-512 (Rubin's setup) when asked.

    Either argument may come from ``settings`` (``SKYSTREAM_SASL_USERNAME``,
    ``SKYSTREAM_SASL_PASSWORD``, the config file); with neither given here,
    ``settings`` are returned as they are.

    Raises
    ------
    ConfigurationError
        When a user name or password is given and the other is nowhere.
    """
    if username is None and password is None:
        return settings
    user = username or settings.sasl_username
    secret = pydantic.SecretStr(password) if password is not None else settings.sasl_password
    if not user or secret is None:
        raise ConfigurationError(
            "SASL SCRAM-SHA-512 needs both a user name and a password: pass --username and "
            "--password (or set SKYSTREAM_SASL_USERNAME and SKYSTREAM_SASL_PASSWORD)"
        )
    protocol = "SASL_SSL" if settings.security_protocol in ("SSL", "SASL_SSL") else "SASL_PLAINTEXT"
    return settings.model_copy(
        update={
            "security_protocol": protocol,
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": user,
            "sasl_password": secret,
        }
    )
