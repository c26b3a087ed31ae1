"""``create-stream``: preload alert files into a topic kept forever, ready to replay.

Each alert goes out in the Confluent wire format with a header
``alertsim-time-offset``: seconds between its observation time and the first
alert's (a float as text), which is what ``play-stream`` paces by. The alert
bytes are copied from the file as they are, not encoded again. The stream ends
with one end-of-stream marker per partition (an empty value with an
``alertsim-end-of-stream`` header holding the alert count), because on the
embedded broker the end offsets cannot say where a stream ends.

Schema ids: ``--schema-id`` wins; otherwise a Rubin alert written with a
schema shipped in ``lsst-alert-packet`` gets Rubin's id (major*100+minor,
1101 for 11.1) and any other (ZTF, a changed Rubin schema) is registered in
the schema registry under ``<topic>-value``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from skystream.alerts.decoder import read_alert_file
from skystream.alerts.model import AlertLayout
from skystream.alerts.schemas import rubin_schema, rubin_schema_id
from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.exceptions import ConfigurationError, RegistryError, SchemaError, TopicError
from skystream.kafka.producer import BatchProducer
from skystream.kafka.topics import create_topic, delete_topic, topic_exists
from skystream.registry.client import RegistryClient
from skystream.simulator.topics import HEADER_END, HEADER_TIME_OFFSET

__all__ = ["PreloadSummary", "create_stream"]

_log = logging.getLogger(__name__)
_SECONDS_PER_DAY = 86_400.0
_INCOMPATIBLE = 409


@dataclass(frozen=True)
class PreloadSummary:
    """What ``create-stream`` wrote.

    Attributes
    ----------
    topic
        The preload topic.
    alerts
        Alerts written (end markers not counted).
    bytes
        Bytes of alert values written.
    schema_ids
        The wire-format schema id used for each survey/version, e.g. ``{"rubin 11.1": 1101}``.
    span_s
        Time offset of the last alert: how long a replay at speed 1 takes.
    """

    topic: str
    alerts: int
    bytes: int
    schema_ids: dict[str, int]
    span_s: float

    @property
    def message(self) -> str:
        """The line the original simulator printed."""
        return f"successfully preloaded stream with {self.alerts} alerts"


def create_stream(
    settings: KafkaSettings | str,
    files: Sequence[str | Path],
    dst_topic: str,
    *,
    force: bool = False,
    schema_id: int | None = None,
    registry: RegistryClient | None = None,
) -> PreloadSummary:
    """Preload the alerts of Avro container ``files`` into ``dst_topic``.

    Parameters
    ----------
    settings
        Kafka connection settings, or a bootstrap address.
    files
        Avro container files of Rubin or ZTF alerts, read in order.
    dst_topic
        The preload topic: created with one partition (the order of the
        files) and ``retention.ms=-1``.
    force
        Delete and re-create ``dst_topic`` if it exists (its data is lost).
    schema_id
        Wire-format schema id for every alert; default: see the module.
    registry
        Registry to register schemas without a Rubin id (ZTF alerts).

    Raises
    ------
    TopicError
        ``dst_topic`` exists and ``force`` is not set.
    AlertDecodeError
        A file is not an Avro container of alerts (nothing is written then:
        every file's header is checked before the topic is touched).
    ConfigurationError
        Alerts that need a registered schema, with no registry and no ``schema_id``.
    """
    paths = [Path(path) for path in files]
    if not paths:
        raise ConfigurationError("create-stream needs at least one alert file")
    # Check every file and settle its schema id before the topic is touched.
    ids: dict[str, int] = {}
    for path in paths:
        first = next(iter(read_alert_file(path)), None)
        if first is not None:
            label = _label(first.layout)
            if label not in ids:
                ids[label] = _schema_id(first.layout, schema_id, registry, dst_topic)
    if topic_exists(settings, dst_topic):
        if not force:
            raise TopicError(
                f"topic {dst_topic!r} already exists; pass --force to delete and re-create it "
                "(its alerts are lost), or choose another --dst-topic"
            )
        delete_topic(settings, dst_topic)
    create_topic(settings, dst_topic, partitions=1, config={"retention.ms": "-1"})
    reference_mjd: float | None = None
    count = size = 0
    offset_s = 0.0
    with BatchProducer(settings, extra_config={"message.max.bytes": 16_000_000}) as producer:
        for path in paths:
            for alert in read_alert_file(path):
                mjd = alert.mjd
                if reference_mjd is None:
                    reference_mjd = mjd
                offset_s = (mjd - reference_mjd) * _SECONDS_PER_DAY
                value = wire.pack(ids[_label(alert.layout)], alert.raw or b"")
                producer.produce(
                    dst_topic, value, headers=[(HEADER_TIME_OFFSET, f"{offset_s:.6f}".encode())]
                )
                count += 1
                size += len(value)
            _log.info("preloaded %s: %d alerts so far", path, count)
        producer.produce(dst_topic, b"", headers=[(HEADER_END, str(count).encode())], partition=0)
    return PreloadSummary(dst_topic, count, size, ids, offset_s)


def _label(layout: AlertLayout) -> str:
    return f"{layout.survey} {layout.version}"


def _schema_id(
    layout: AlertLayout, given: int | None, registry: RegistryClient | None, topic: str
) -> int:
    if given is not None:
        return given
    if layout.survey == "rubin":
        try:
            shipped = rubin_schema(layout.version)
        except SchemaError:
            shipped = None
        if shipped is not None and shipped.parsing_canonical_form == (
            layout.schema.parsing_canonical_form
        ):
            return rubin_schema_id(layout.version)
    if registry is None:
        raise ConfigurationError(
            f"{layout.survey} {layout.version} alerts have no schema id of their own: pass "
            "--schema-id N, or a schema registry (--registry-url) to register the schema in"
        )
    subject = f"{topic}-value"
    try:
        return registry.register(subject, layout.schema)
    except RegistryError as exc:
        if exc.error_code != _INCOMPATIBLE:
            raise
        raise ConfigurationError(
            f"the {layout.survey} {layout.version} alert schema is incompatible with the one "
            f"already registered under {subject!r} ({exc.message}); preload one schema "
            "version per topic, or set the subject's compatibility to NONE"
        ) from exc
