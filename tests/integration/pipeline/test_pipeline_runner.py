"""The component runner end to end on the embedded broker.

Generated Rubin alerts are preloaded and played into a topic; a chain drops
solar-system alerts and writes the rest to a topic. Counts per step are exact,
the output holds exactly the passing alerts' bytes (in each input partition's
order), bad messages land in the dead-letter topic with their headers, and a
restarted runner in the same group does not read committed alerts again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from skystream.alerts import AlertDecoder, read_alert_file, rubin_schema_id
from skystream.alerts.generate import write_alert_file
from skystream.alerts.model import Alert
from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.kafka import BatchConsumer, BatchProducer, Record
from skystream.pipeline.deadletter import (
    HEADER_COMPONENT,
    HEADER_ERROR,
    HEADER_SOURCE,
    HEADER_STEP,
)
from skystream.pipeline.processor import AlertProcessor, BatchResult, Verdict
from skystream.pipeline.runner import ComponentRunner
from skystream.processors.sinks import ANNOTATIONS_HEADER, KafkaStreamWriter
from skystream.simulator import create_stream, play_stream

ALERTS = 120
SSO_FRACTION = 0.25


class DropSolarSystem:
    """SKIP alerts of known solar-system objects (a vectorisable batch step)."""

    name = "drop-sso"
    fields = frozenset({"sso_id"})

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        return BatchResult([Verdict.SKIP if a.is_sso else Verdict.PASS for a in alerts])


class FailOn(AlertProcessor):
    """Raise on one alert id; annotate the others. Reads the whole record."""

    name = "fail-on"
    fields = frozenset({"alert_id", "record"})

    def __init__(self, bad_id: int) -> None:
        super().__init__()
        self.bad_id = bad_id

    def process(self, alert: Alert) -> tuple[Verdict, dict[str, int]]:
        if alert.alert_id == self.bad_id:
            raise ZeroDivisionError(f"cannot handle alert {alert.alert_id}")
        return Verdict.PASS, {"history": len(alert.record["prvDiaSources"] or [])}


@pytest.fixture(scope="module")
def alert_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alerts") / "visit.avro"
    write_alert_file(path, "rubin", ALERTS, sso_fraction=SSO_FRACTION, seed=1, history=3)
    return path


def _read_all(
    settings: KafkaSettings, topic: str, count: int, partitions: int = 1, timeout_s: float = 20
) -> list[Record]:
    """Read ``count`` records of ``topic`` from the start (never trusting end offsets)."""
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    with BatchConsumer(settings, start="earliest") as consumer:
        consumer.assign((topic, p) for p in range(partitions))  # no group join to wait for
        while len(records) < count and time.monotonic() < deadline:
            records += consumer.consume_batch(1000, 0.5)
        records += consumer.consume_batch(1000, 0.2)  # nothing more should come
    return records


def _runner(
    settings: KafkaSettings,
    source: str,
    group: str,
    processors: Sequence[object],
    out_topic: str,
    dead_letter_topic: str,
) -> ComponentRunner:
    return ComponentRunner(
        "test-component",
        settings,
        source,
        group,
        processors,  # type: ignore[arg-type]
        [KafkaStreamWriter(settings, out_topic, partitions=1)],
        batch_size=50,
        batch_timeout_s=0.5,
        dead_letter_topic=dead_letter_topic,
    )


def test_filter_chain_counts_output_and_restart(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_topic: str,
    unique_group: str,
    alert_file: Path,
) -> None:
    create_stream(kafka_settings, [alert_file], unique_topic)
    source = topic_factory(partitions=2)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    played = play_stream(kafka_settings, unique_topic, source, speed=math.inf, partitions=2)
    assert played.sent == ALERTS

    runner = _runner(kafka_settings, source, unique_group, [DropSolarSystem()], out_topic, dead)
    metrics = runner.run(max_alerts=ALERTS, idle_timeout_s=15)

    # What went in, as the runner saw it: partition order is what must be kept.
    inputs = _read_all(kafka_settings, source, ALERTS, partitions=2)
    decoder = AlertDecoder()
    passing = [r for r in inputs if not decoder.decode(r.value).is_sso]
    sso = ALERTS - len(passing)
    assert 0 < sso < ALERTS
    decode, step, sink = runner.counts
    assert (decode.name, decode.received, decode.passed, decode.failed) == (
        "decode",
        ALERTS,
        ALERTS,
        0,
    )
    assert (step.name, step.received, step.passed, step.skipped, step.failed) == (
        "drop-sso",
        ALERTS,
        len(passing),
        sso,
        0,
    )
    assert (sink.name, sink.received, sink.passed, sink.failed) == (
        "KafkaStreamWriter",
        len(passing),
        len(passing),
        0,
    )
    assert (metrics.alerts_in, metrics.alerts_out, metrics.dead_letters) == (
        ALERTS,
        len(passing),
        0,
    )
    assert sum(metrics.position.values()) == ALERTS
    assert metrics.latency_p50_s is not None and metrics.latency_max_s is not None
    assert "drop-sso" in runner.summary()

    output = _read_all(kafka_settings, out_topic, len(passing))
    assert sorted(r.value for r in output) == sorted(r.value for r in passing)
    assert all(r.header(ANNOTATIONS_HEADER) is None for r in output)  # filtered only: untouched
    for partition in (0, 1):  # each input partition's order is kept
        expected = [r.value for r in passing if r.partition == partition]
        assert [r.value for r in output if r.value in set(expected)] == expected

    # Restart in the same group: committed alerts are not read again; new ones are.
    with BatchProducer(kafka_settings) as producer:
        for record in inputs[:5]:
            producer.produce(source, record.value, partition=0)
    again = _runner(kafka_settings, source, unique_group, [DropSolarSystem()], out_topic, dead)
    resumed = again.run(idle_timeout_s=4)
    assert resumed.alerts_in == 5
    assert again.counts[0].received == 5


def test_bad_messages_become_dead_letters_while_good_ones_flow(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    alert_file: Path,
) -> None:
    source, out_topic, dead = (topic_factory(partitions=1) for _ in range(3))
    good: list[bytes] = []
    ids: list[int] = []
    for alert in list(read_alert_file(alert_file))[:20]:
        raw = alert.raw
        assert raw is not None
        good.append(wire.pack(rubin_schema_id(alert.schema_version), raw))
        ids.append(alert.alert_id)
    garbage = b"not an alert at all"
    unknown = wire.pack(99_999, good[0][wire.HEADER_SIZE :])
    truncated = good[3][: len(good[3]) // 2]
    bad_id = ids[10]
    # Order in the partition: bad ones interleaved with good ones.
    messages = [*good[:5], garbage, *good[5:10], unknown, *good[10:15], truncated, *good[15:]]
    with BatchProducer(kafka_settings) as producer:
        for index, value in enumerate(messages):
            producer.produce(
                source, value, f"key-{index}".encode(), [("origin", f"test-{index}".encode())]
            )

    runner = _runner(
        kafka_settings, source, unique_group, [FailOn(bad_id), DropSolarSystem()], out_topic, dead
    )
    metrics = runner.run(max_alerts=len(messages), idle_timeout_s=15)

    decode, fail_on, drop, sink = runner.counts
    assert (decode.received, decode.passed, decode.failed) == (len(messages), 20, 3)
    assert (fail_on.received, fail_on.passed, fail_on.failed) == (20, 19, 1)
    expected = [
        v
        for v, i in zip(good, ids, strict=True)
        if i != bad_id and not AlertDecoder().decode(v).is_sso
    ]
    assert drop.passed == sink.passed == len(expected)
    assert metrics.dead_letters == 4
    assert dict(metrics.dead_letters_by_reason) == {
        "decode:not-an-alert": 1,
        "decode:unknown-schema": 1,
        "decode:corrupt": 1,
        "fail-on:ZeroDivisionError": 1,
    }

    output = _read_all(kafka_settings, out_topic, len(expected))
    assert [r.value for r in output] == expected  # one partition: same order
    assert all(r.header(ANNOTATIONS_HEADER) is not None for r in output)
    # Keys and headers travel with the alerts.
    for record in output:
        index = messages.index(record.value)
        assert record.key == f"key-{index}".encode()
        assert record.header("origin") == f"test-{index}".encode()

    letters = {r.header(HEADER_SOURCE): r for r in _read_all(kafka_settings, dead, 4)}
    assert len(letters) == 4
    by_offset = {messages.index(v): v for v in (garbage, unknown, truncated, good[10])}
    steps = {}
    for offset, value in by_offset.items():
        letter = letters[f"{source}/0/{offset}".encode()]
        assert letter.value == value  # unchanged
        assert letter.key == f"key-{offset}".encode()
        assert letter.header("origin") == f"test-{offset}".encode()
        assert letter.header(HEADER_COMPONENT) == b"test-component"
        steps[offset] = (letter.header(HEADER_STEP), letter.header(HEADER_ERROR))
    assert steps[messages.index(garbage)][0] == b"decode"
    assert steps[messages.index(unknown)][0] == b"decode"
    assert b"99999" in (steps[messages.index(unknown)][1] or b"")
    assert steps[messages.index(truncated)][0] == b"decode"
    assert steps[messages.index(good[10])] == (
        b"fail-on",
        f"ZeroDivisionError: cannot handle alert {bad_id}".encode(),
    )


class LosesItsDatabase(AlertProcessor):
    """Work for the first alerts, then lose the connection to a service it needs."""

    name = "lookup"
    fields = frozenset({"alert_id"})

    def __init__(self, working: int) -> None:
        super().__init__()
        self.working = working

    def process(self, alert: Alert) -> Verdict:
        self.working -= 1
        if self.working < 0:
            raise ConnectionError("lost the connection to the catalogue database")
        return Verdict.PASS


def test_an_infrastructure_error_stops_the_run_uncommitted(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    alert_file: Path,
) -> None:
    source, out_topic, dead = (topic_factory(partitions=1) for _ in range(3))
    create_stream(kafka_settings, [alert_file], source, force=True)
    runner = _runner(kafka_settings, source, unique_group, [LosesItsDatabase(70)], out_topic, dead)
    with pytest.raises(ConnectionError, match="catalogue database"):
        runner.run(max_alerts=ALERTS, idle_timeout_s=15)
    # The batches before the failure were written and committed; the failing one
    # was neither dead-lettered nor committed: a restart repeats it.
    assert runner.dead_letters.total == 0
    committed = runner.position[source, 0]
    assert 0 < committed <= 70  # whole batches before the 71st alert (batches of <= 50)
    with BatchConsumer(kafka_settings, group_id=unique_group) as consumer:
        assert consumer.committed([(source, 0)]) == {(source, 0): committed}
    assert len(_read_all(kafka_settings, out_topic, committed, timeout_s=5)) == committed


def test_skystream_run_a_seed_style_spec(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_topic: str,
    unique_group: str,
    alert_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from skystream.cli.main import main

    create_stream(kafka_settings, [alert_file], unique_topic)
    source, out_topic, dead = (topic_factory(partitions=1) for _ in range(3))
    play_stream(kafka_settings, unique_topic, source, speed=math.inf)
    spec = tmp_path / "sso-split.yaml"
    spec.write_text(
        f"""\
component:
  name: sso-split
  type: AlertFilterComponent
  params:
    - kafka_url: {kafka_settings.bootstrap_servers}
    - input_topic: {source}
    - group_id: {unique_group}
    - batch_size: 40
    - dead_letter_topic: {dead}
  processors:
    - name: solar-system
      class: uk.org.lsst.SolarSystemFilter
      params:
        - include: false
    - name: out
      class: KafkaStreamWriter
      params:
        - topic: {out_topic}
"""
    )
    assert main(["run", str(spec), "--check"]) == 0
    checked = capsys.readouterr().out
    assert "solar-system" in checked and "KafkaStreamWriter" in checked

    assert main(["run", str(spec), "--max-alerts", str(ALERTS), "--idle-timeout", "15"]) == 0
    summary = capsys.readouterr().out
    assert f"{ALERTS:,} in" in summary and "solar-system" in summary

    decoder = AlertDecoder()
    inputs = _read_all(kafka_settings, source, ALERTS)
    expected = [r.value for r in inputs if not decoder.decode(r.value).is_sso]
    assert [r.value for r in _read_all(kafka_settings, out_topic, len(expected))] == expected

    spec.write_text(spec.read_text().replace("include: false", "include: maybe"))
    assert main(["run", str(spec), "--check"]) == 1
    assert "include" in capsys.readouterr().err
