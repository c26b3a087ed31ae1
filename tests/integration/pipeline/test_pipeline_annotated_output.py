"""Annotated alerts out of a component, end to end on the embedded broker and registry.

A cross-match (annotate mode) and an undeclared annotating step run over
generated Rubin alerts; the Kafka sink writes them in Rubin's schema extended
with ``annotations``, registered under ``<topic>-value``. Read back as an
outside consumer would (Confluent's deserializer, the registry over HTTP), every
alert is the input record plus annotations equal to a brute-force match; the
survey's own schema still reads it; skystream's decoder still sees a Rubin
alert. A second component, built from a spec, adds its own annotations to
those. A chain that only filters forwards the bytes untouched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import httpx
import numpy as np
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from skystream.alerts import Alert, AlertDecoder, read_alert_file, rubin_schema, rubin_schema_id
from skystream.alerts.generate import write_alert_file
from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.kafka import BatchConsumer, BatchProducer, Record
from skystream.pipeline.processor import AlertProcessor, BatchResult, Verdict
from skystream.pipeline.runner import ComponentRunner
from skystream.pipeline.spec import load_spec
from skystream.processors.catalogue import Catalogue, angular_distance_arcsec
from skystream.processors.crossmatch import CrossmatchProcessor
from skystream.processors.sinks import ANNOTATIONS_HEADER, KafkaStreamWriter
from skystream.processors.sinks.annotated import ANNOTATIONS_FIELD, OTHER_FIELD, alert_annotations

ALERTS = 60
MATCHED = 20  # alerts with a galaxy 1 arcsec away
DOUBLE = 6  # of those, alerts with a second galaxy 1.5 arcsec away
RADIUS_ARCSEC = 2.0
OFFSET = 1.0 / 3600.0
STEP = "nearby-galaxies"
FIELD = "nearby_galaxies"


class Parity(AlertProcessor):
    """Annotate alerts with an even id (undeclared: its annotations go out as JSON text)."""

    name = "parity"
    fields = frozenset({"alert_id"})

    def process(self, alert: Alert) -> Verdict | tuple[Verdict, dict[str, Any]]:
        if alert.alert_id % 2:
            return Verdict.PASS
        return Verdict.PASS, {"parity": {"even": True}}


class DropSolarSystem:
    """SKIP alerts of known solar-system objects."""

    name = "drop-sso"
    fields = frozenset({"sso_id"})

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        return BatchResult([Verdict.SKIP if a.is_sso else Verdict.PASS for a in alerts])


@pytest.fixture(scope="module")
def alerts(tmp_path_factory: pytest.TempPathFactory) -> list[Alert]:
    path = tmp_path_factory.mktemp("annotated") / "visit.avro"
    write_alert_file(path, "rubin", ALERTS, sso_fraction=0.2, seed=7, history=2, cutout_pixels=16)
    return list(read_alert_file(path))


@pytest.fixture(scope="module")
def galaxies(alerts: list[Alert]) -> Catalogue:
    """Galaxies beside the first alerts, and a random sky far from every alert."""
    ra = np.array([a.ra for a in alerts[:MATCHED]])
    dec = np.array([a.dec for a in alerts[:MATCHED]])
    rng = np.random.default_rng(11)
    sky_ra = rng.uniform(0.0, 360.0, 500)
    sky_dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, 500)))
    alert_ra = np.array([a.ra for a in alerts])
    alert_dec = np.array([a.dec for a in alerts])
    far = angular_distance_arcsec(alert_ra[:, None], alert_dec[:, None], sky_ra, sky_dec)
    assert far.min() > 10.0
    all_ra = np.concatenate((ra, ra[:DOUBLE], sky_ra))
    all_dec = np.concatenate((dec + OFFSET, dec[:DOUBLE] - 1.5 * OFFSET, sky_dec))
    size = all_ra.size
    kinds = np.array(["near"] * MATCHED + ["second"] * DOUBLE + ["sky"] * 500)
    return Catalogue.from_arrays(
        np.arange(1000, 1000 + size, dtype=np.int64),
        all_ra,
        all_dec,
        {"mag": np.linspace(14.0, 20.0, size), "kind": kinds},
        name="galaxies",
    )


def _brute_force(alert: Alert, catalogue: Catalogue) -> list[dict[str, Any]] | None:
    """Every galaxy within the radius, nearest first, as the cross-match annotates them."""
    distances = angular_distance_arcsec(alert.ra, alert.dec, catalogue.ra, catalogue.dec)
    rows = np.flatnonzero(distances <= RADIUS_ARCSEC)
    rows = rows[np.argsort(distances[rows])]
    matches = [
        {
            "alert_id": alert.alert_id,
            "ra": alert.ra,
            "dec": alert.dec,
            "catalogue": "galaxies",
            "source_id": int(catalogue.ids[row]),
            "source_ra": float(catalogue.ra[row]),
            "source_dec": float(catalogue.dec[row]),
            "distance_arcsec": pytest.approx(float(distances[row]), abs=1e-9),
            "mag": float(catalogue.columns["mag"][row]),
            "kind": str(catalogue.columns["kind"][row]),
        }
        for row in rows
    ]
    return matches or None


def _produce(settings: KafkaSettings, topic: str, alerts: list[Alert]) -> list[bytes]:
    """Send the alerts as Rubin does: wire format with Rubin's schema id."""
    values = []
    with BatchProducer(settings) as producer:
        for alert in alerts:
            assert alert.raw is not None
            value = wire.pack(rubin_schema_id(alert.schema_version), alert.raw)
            producer.produce(topic, value)
            values.append(value)
    return values


def _read_all(
    settings: KafkaSettings, topic: str, count: int, timeout_s: float = 20
) -> list[Record]:
    """Read ``count`` records of a one-partition topic from the start."""
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    with BatchConsumer(settings, start="earliest") as consumer:
        consumer.assign([(topic, 0)])  # no group join to wait for
        while len(records) < count and time.monotonic() < deadline:
            records += consumer.consume_batch(1000, 0.5)
        records += consumer.consume_batch(1000, 0.2)  # nothing more should come
    return records


def _subject_versions(registry_url: str, subject: str) -> httpx.Response:
    return httpx.get(f"{registry_url}/subjects/{subject}/versions", timeout=10)


def _latest(registry_url: str, subject: str) -> dict[str, Any]:
    answer = httpx.get(f"{registry_url}/subjects/{subject}/versions/latest", timeout=10)
    answer.raise_for_status()
    latest: dict[str, Any] = answer.json()
    return latest


def _annotate(
    settings: KafkaSettings,
    registry_url: str,
    source: str,
    out_topic: str,
    dead: str,
    group: str,
    galaxies: Catalogue,
) -> ComponentRunner:
    """Run the first component: cross-match (annotate) and parity, to ``out_topic``."""
    processors = [
        CrossmatchProcessor(
            STEP,
            catalogue=galaxies,
            radius_arcsec=RADIUS_ARCSEC,
            nearest=False,
            columns=["mag", "kind"],
        ),
        Parity(),
    ]
    writer = KafkaStreamWriter(settings, out_topic, registry=registry_url, processors=processors)
    assert writer.output == "avro"
    runner = ComponentRunner(
        "annotate",
        settings,
        source,
        group,
        processors,
        [writer],
        batch_size=25,
        batch_timeout_s=0.5,
        dead_letter_topic=dead,
    )
    metrics = runner.run(max_alerts=ALERTS, idle_timeout_s=15)
    assert (metrics.alerts_in, metrics.alerts_out, metrics.dead_letters) == (ALERTS, ALERTS, 0)
    return runner


def test_crossmatch_component_writes_registered_annotated_alerts(
    kafka_settings: KafkaSettings,
    registry_url: str,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    alerts: list[Alert],
    galaxies: Catalogue,
) -> None:
    source, out_topic, dead = (topic_factory(partitions=1) for _ in range(3))
    _produce(kafka_settings, source, alerts)
    runner = _annotate(
        kafka_settings, registry_url, source, out_topic, dead, unique_group, galaxies
    )
    assert runner.processors[0].counts == {"matched": MATCHED, "matches": MATCHED + DOUBLE}

    # Registered once, under TopicNameStrategy, as Rubin's schema plus annotations.
    subject = f"{out_topic}-value"
    assert _subject_versions(registry_url, subject).json() == [1]
    latest = _latest(registry_url, subject)
    registered = json.loads(latest["schema"])
    original = rubin_schema(alerts[0].schema_version).definition
    assert registered["name"] == original["name"]
    assert registered["fields"][:-1] == original["fields"]
    appended = registered["fields"][-1]
    assert (appended["name"], appended["default"]) == (ANNOTATIONS_FIELD, None)
    assert [f["name"] for f in appended["type"][1]["fields"]] == [FIELD, OTHER_FIELD]
    writer_schema = fastavro.parse_schema(registered)

    output = _read_all(kafka_settings, out_topic, ALERTS)
    assert len(output) == ALERTS  # one partition: the input's order
    context = SerializationContext(out_topic, MessageField.VALUE)
    annotated = 0
    with (
        SchemaRegistryClient({"url": registry_url}) as confluent,
        AlertDecoder(registry=registry_url) as decoder,
    ):
        as_rubin = AvroDeserializer(confluent, schema_str=json.dumps(original))
        as_written = AvroDeserializer(confluent)
        for record, alert in zip(output, alerts, strict=True):
            assert record.header(ANNOTATIONS_HEADER) is None  # the record holds them now
            schema_id, payload = wire.unpack(record.value)
            assert schema_id == latest["id"]
            value = fastavro.schemaless_reader(BytesIO(payload), writer_schema, None)
            assert isinstance(value, dict)
            notes = value.pop(ANNOTATIONS_FIELD)
            assert value == alert.record  # every original field, unchanged
            matches = _brute_force(alert, galaxies)
            other = {"parity": '{"even":true}'} if alert.alert_id % 2 == 0 else None
            if matches is None and other is None:
                assert notes is None
            else:
                annotated += 1
                assert notes == {FIELD: matches, OTHER_FIELD: other}

            # An outside consumer: Confluent's deserializer, with and without Rubin's schema.
            assert as_rubin(record.value, context) == alert.record
            assert as_written(record.value, context)[ANNOTATIONS_FIELD] == notes

            # skystream's own decoder: still a Rubin alert, its annotations readable.
            again = decoder.decode(record.value)
            assert (again.survey, again.schema_version) == ("rubin", alert.schema_version)
            assert (again.alert_id, again.ra, again.dec) == (alert.alert_id, alert.ra, alert.dec)
            found = alert_annotations(again)
            if notes is None:
                assert found is None
            else:
                assert found is not None
                assert found.get(FIELD) == notes[FIELD]
                assert found.get("parity") == (None if other is None else {"even": True})
    assert MATCHED <= annotated < ALERTS


def test_second_component_from_a_spec_adds_its_annotations(
    kafka_settings: KafkaSettings,
    registry_url: str,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    alerts: list[Alert],
    galaxies: Catalogue,
    tmp_path: Path,
) -> None:
    source, first_out, second_out, dead = (topic_factory(partitions=1) for _ in range(4))
    _produce(kafka_settings, source, alerts)
    _annotate(kafka_settings, registry_url, source, first_out, dead, unique_group, galaxies)

    # Stars beside the last five alerts, in a CSV the spec names.
    stars = alerts[-5:]
    lines = ["id,ra,dec"] + [f"S{i},{a.ra!r},{a.dec + OFFSET / 2!r}" for i, a in enumerate(stars)]
    (tmp_path / "stars.csv").write_text("\n".join(lines) + "\n")
    spec = tmp_path / "stars.yaml"
    spec.write_text(
        f"""\
component:
  name: stars
  params:
    kafka_url: {kafka_settings.bootstrap_servers}
    registry_url: {registry_url}
    input_topic: {first_out}
    group_id: {unique_group}-stars
    batch_size: 25
    dead_letter_topic: {dead}
  processors:
    - name: bright-stars
      class: CrossmatchProcessor
      params: {{catalogue: stars.csv, radius_arcsec: 1.0}}
    - name: out
      class: KafkaStreamWriter
      params: {{topic: {second_out}}}
"""
    )
    runner = ComponentRunner.from_spec(load_spec(spec), kafka_settings)
    (writer,) = runner.sinks
    assert isinstance(writer, KafkaStreamWriter) and writer.output == "avro"
    metrics = runner.run(max_alerts=ALERTS, idle_timeout_s=15)
    assert (metrics.alerts_in, metrics.alerts_out, metrics.dead_letters) == (ALERTS, ALERTS, 0)

    latest = _latest(registry_url, f"{second_out}-value")
    registered = json.loads(latest["schema"])
    record_fields = registered["fields"][-1]["type"][1]["fields"]
    assert [f["name"] for f in record_fields] == [FIELD, OTHER_FIELD, "bright_stars"]
    star_ids = {a.alert_id: f"S{i}" for i, a in enumerate(stars)}
    writer_schema = fastavro.parse_schema(registered)
    output = _read_all(kafka_settings, second_out, ALERTS)
    assert len(output) == ALERTS
    for record, alert in zip(output, alerts, strict=True):
        schema_id, payload = wire.unpack(record.value)
        assert schema_id == latest["id"]
        value = fastavro.schemaless_reader(BytesIO(payload), writer_schema, None)
        assert isinstance(value, dict)
        notes = value.pop(ANNOTATIONS_FIELD)
        assert value == alert.record
        galaxies_found = _brute_force(alert, galaxies)
        parity = {"parity": '{"even":true}'} if alert.alert_id % 2 == 0 else None
        star = star_ids.get(alert.alert_id)
        if galaxies_found is None and parity is None and star is None:
            assert notes is None
            continue
        assert notes[FIELD] == galaxies_found  # the first component's, kept
        assert notes[OTHER_FIELD] == parity
        if star is None:
            assert notes["bright_stars"] is None
        else:
            (match,) = notes["bright_stars"]
            assert (match["alert_id"], match["source_id"]) == (alert.alert_id, star)
            assert match["distance_arcsec"] == pytest.approx(0.5, abs=1e-3)


def test_filter_only_chain_forwards_the_original_bytes(
    kafka_settings: KafkaSettings,
    registry_url: str,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    alerts: list[Alert],
) -> None:
    source, out_topic, dead = (topic_factory(partitions=1) for _ in range(3))
    sent = _produce(kafka_settings, source, alerts)
    chain = [DropSolarSystem()]
    writer = KafkaStreamWriter(kafka_settings, out_topic, registry=registry_url, processors=chain)
    assert writer.output == "header"
    runner = ComponentRunner(
        "filter",
        kafka_settings,
        source,
        unique_group,
        chain,
        [writer],
        batch_size=25,
        batch_timeout_s=0.5,
        dead_letter_topic=dead,
    )
    runner.run(max_alerts=ALERTS, idle_timeout_s=15)
    expected = [v for v, a in zip(sent, alerts, strict=True) if not a.is_sso]
    assert 0 < len(expected) < ALERTS
    output = _read_all(kafka_settings, out_topic, len(expected))
    assert [r.value for r in output] == expected  # byte for byte
    assert all(r.header(ANNOTATIONS_HEADER) is None for r in output)
    assert _subject_versions(registry_url, f"{out_topic}-value").status_code == 404
