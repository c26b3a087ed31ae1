"""create-stream -> play-stream -> print-stream on the embedded broker and registry."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import pytest
from confluent_kafka.admin import AdminClient

from skystream.alerts import AlertDecoder, rubin_schema
from skystream.codecs import avro, wire
from skystream.config import KafkaSettings
from skystream.exceptions import AlertDecodeError, ConfigurationError, TopicError
from skystream.kafka import BatchConsumer, BatchProducer, Record
from skystream.kafka.connection import client_config
from skystream.kafka.topics import create_topic, describe_topic, partitions_of, topic_exists
from skystream.registry.client import RegistryClient
from skystream.simulator import (
    HEADER_END,
    HEADER_PASS,
    HEADER_SOURCE_OFFSET,
    HEADER_TIME_OFFSET,
    Bound,
    create_stream,
    play_stream,
    read_stream,
)

SHARED = Path("/work/shared/data")  # the team's shared real data (see ../shared)
ZTF_ALERTS = sorted((SHARED / "ztf" / "alerts").glob("*.avro"))
VERSION = "11.1"


def _rubin_sample() -> dict:
    import lsst.alert.packet

    path = Path(lsst.alert.packet.__file__).parent / "schema/11/1/sample_data/fakeAlert.avro"
    with path.open("rb") as stream:
        return next(iter(fastavro.reader(stream)))


def write_timed_alerts(path: Path, offsets_s: list[float], first_id: int = 1000) -> list[int]:
    """Write Rubin 11.1 alerts (the lsst-alert-packet sample) observed at the given offsets."""
    sample = _rubin_sample()
    start_mjd = 61000.25
    records = []
    for index, offset in enumerate(offsets_s):
        source = dict(sample["diaSource"])
        source["diaSourceId"] = first_id + index
        source["midpointMjdTai"] = start_mjd + offset / 86400.0
        records.append({**sample, "diaSourceId": first_id + index, "diaSource": source})
    with path.open("wb") as stream:
        fastavro.writer(stream, rubin_schema(VERSION).parsed, records)
    return [record["diaSourceId"] for record in records]


@pytest.fixture
def topics(kafka_settings: KafkaSettings) -> Iterator[Callable[[str], str]]:
    """Make fresh topic names; every topic of those names is deleted after the test."""
    names: list[str] = []

    def make(kind: str) -> str:
        names.append(f"sim-{kind}-{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield make
    admin = AdminClient(client_config({"bootstrap.servers": kafka_settings.bootstrap_servers}))
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [name for name in names if name in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=15).values():
            future.result(timeout=15)


def consume_all(
    settings: KafkaSettings, topic: str, expected: int, timeout_s: float = 30
) -> list[Record]:
    """Read ``topic`` from the start until ``expected`` records or the timeout, then a bit more."""
    records: list[Record] = []
    with BatchConsumer(settings, start="earliest") as consumer:
        consumer.assign((topic, p) for p in partitions_of(settings, topic))
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            records += consumer.consume_batch(500, 0.5)
        records += consumer.consume_batch(500, 1.0)  # anything beyond the count shows up here
    return records


def test_create_then_play_sends_every_alert_once_paced_with_headers(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    offsets = [0.0, 0.0, 0.6, 1.2, 1.2, 1.8]
    ids = write_timed_alerts(tmp_path / "visit.avro", offsets)
    source, destination = topics("preload"), topics("alerts")

    preload = create_stream(kafka_settings, [tmp_path / "visit.avro"], source)
    assert preload.message == "successfully preloaded stream with 6 alerts"
    assert preload.schema_ids == {"rubin 11.1": 1101}
    assert preload.span_s == pytest.approx(1.8, abs=1e-3)

    reports = []
    summary = play_stream(kafka_settings, source, destination, on_pass=reports.append)
    assert summary.sent == 6 and summary.skipped_total == 0
    assert reports[0].message.startswith("sent 6 alerts in ")
    assert "behind schedule: median" in reports[0].message

    records = consume_all(kafka_settings, destination, 6)
    decoder = AlertDecoder()
    assert sorted(decoder.decode(r.value).alert_id for r in records) == ids  # each once
    for record in records:
        assert record.value[:5] == wire.pack(1101, b"")
        stored = float(record.header(HEADER_TIME_OFFSET))
        assert stored in offsets
        partition, offset = record.header(HEADER_SOURCE_OFFSET).decode().split(":")
        assert partition == "0" and 0 <= int(offset) < 6
        assert record.header(HEADER_PASS) == b"1"
    # Pacing: each alert went out its stored offset after the first (send timestamps).
    first = min(r.timestamp_ms for r in records)
    for record in records:
        sent_after_s = (record.timestamp_ms - first) / 1000
        assert sent_after_s == pytest.approx(float(record.header(HEADER_TIME_OFFSET)), abs=0.3)


def test_preload_topic_is_kept_forever_and_force_recreates_it(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    write_timed_alerts(tmp_path / "a.avro", [0.0, 1.0, 2.0])
    write_timed_alerts(tmp_path / "b.avro", [0.0], first_id=5000)
    source = topics("preload")
    create_stream(kafka_settings, [tmp_path / "a.avro"], source)

    assert describe_topic(kafka_settings, source).configs["retention.ms"] == "-1"

    with pytest.raises(TopicError, match=f"topic '{source}' already exists; pass --force"):
        create_stream(kafka_settings, [tmp_path / "b.avro"], source)
    assert [e.alert_id for e in read_stream(kafka_settings, source, idle_timeout_s=2)] == [
        1000,
        1001,
        1002,
    ]

    again = create_stream(kafka_settings, [tmp_path / "b.avro"], source, force=True)
    assert again.alerts == 1
    assert [e.alert_id for e in read_stream(kafka_settings, source, idle_timeout_s=2)] == [5000]


def test_repeat_mode_replays_the_stream_every_interval(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    write_timed_alerts(tmp_path / "visit.avro", [0.0, 0.1, 0.2])
    source, destination = topics("preload"), topics("alerts")
    create_stream(kafka_settings, [tmp_path / "visit.avro"], source)

    summary = play_stream(kafka_settings, source, destination, repeat_interval_s=1.5, passes=3)
    assert [p.sent for p in summary.passes] == [3, 3, 3]

    records = consume_all(kafka_settings, destination, 9)
    assert len(records) == 9
    by_pass: dict[bytes, list[Record]] = {}
    for record in records:
        by_pass.setdefault(record.header(HEADER_PASS), []).append(record)
    assert sorted(by_pass) == [b"1", b"2", b"3"]
    starts = [min(r.timestamp_ms for r in by_pass[p]) / 1000 for p in (b"1", b"2", b"3")]
    assert starts[1] - starts[0] == pytest.approx(1.5, abs=0.4)
    assert starts[2] - starts[1] == pytest.approx(1.5, abs=0.4)


def test_rubin_visit_cadence_ignores_offsets_and_sends_visits_in_bursts(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    write_timed_alerts(tmp_path / "night.avro", [0.0] * 40)
    source, destination = topics("preload"), topics("alerts")
    create_stream(kafka_settings, [tmp_path / "night.avro"], source)

    play_stream(
        kafka_settings,
        source,
        destination,
        cadence="rubin-visits",
        visit_size=20,
        visit_interval_s=4.0,
        speed=2.0,
    )
    records = sorted(consume_all(kafka_settings, destination, 40), key=lambda r: r.timestamp_ms)
    first = records[0].timestamp_ms
    seconds = [(r.timestamp_ms - first) / 1000 for r in records]
    assert len(seconds) == 40
    # At speed 2: visit 1 within 1.5 s, visit 2 from 2 s on.
    assert max(seconds[:20]) < 1.5 + 0.3
    assert min(seconds[20:]) > 2.0 - 0.3
    assert len({round(s, 1) for s in seconds[:20]}) > 1  # in bursts, not all at once


# In memory (the default), too big for the cache (read while playing), never cached.
@pytest.mark.parametrize("cache_mb", [2048.0, 0.001, 0.0])
def test_bad_messages_are_skipped_and_counted(
    kafka_settings: KafkaSettings, topics: Callable[[str], str], cache_mb: float
) -> None:
    source, destination = topics("preload"), topics("alerts")
    create_topic(kafka_settings, source)
    good = wire.pack(1101, avro.encode(_rubin_sample(), rubin_schema(VERSION)))
    offset = [(HEADER_TIME_OFFSET, b"0.0")]
    with BatchProducer(kafka_settings) as producer:
        producer.produce(source, good, headers=offset)
        producer.produce(source, b"not an alert at all", headers=offset)
        producer.produce(source, wire.pack(4242, good[5:]), headers=offset)
        producer.produce(source, good[:30], headers=offset)  # cut inside the first fields
        producer.produce(source, good)  # no time offset
        producer.produce(source, good, headers=offset)
        producer.produce(source, b"", headers=[(HEADER_END, b"6")])

    summary = play_stream(
        kafka_settings, source, destination, speed=math.inf, cache_mb=cache_mb, passes=2
    )
    assert summary.loaded == (2 if cache_mb == 2048.0 else None)
    assert [p.sent for p in summary.passes] == [2, 2]
    per_pass = 1 if cache_mb == 2048.0 else 2  # a cached source is checked once
    assert {kind: count // per_pass for kind, count in summary.skipped.items()} == {
        "not-an-alert": 1,
        "unknown-schema": 1,
        "corrupt": 1,
        "no-time-offset": 1,
    }
    assert summary.skipped_total == 4 * per_pass
    assert len(consume_all(kafka_settings, destination, 4)) == 4


def test_full_validation_catches_a_message_cut_in_its_cutouts(
    kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    source, destination = topics("preload"), topics("alerts")
    create_topic(kafka_settings, source)
    record = {**_rubin_sample(), "cutoutScience": b"\x01" * 5000}
    good = wire.pack(1101, avro.encode(record, rubin_schema(VERSION)))
    offset = [(HEADER_TIME_OFFSET, b"0.0")]
    with BatchProducer(kafka_settings) as producer:
        producer.produce(source, good[:-1000], headers=offset)
        producer.produce(source, good, headers=offset)
        producer.produce(source, b"", headers=[(HEADER_END, b"2")])

    head = play_stream(kafka_settings, source, destination, speed=math.inf)
    assert (head.sent, head.skipped_total) == (2, 0)  # the first fields are whole
    full = play_stream(kafka_settings, source, destination, speed=math.inf, validate="full")
    assert (full.sent, dict(full.skipped)) == (1, {"corrupt": 1})


def test_ztf_alerts_go_through_the_registry(
    kafka_settings: KafkaSettings, registry_url: str, topics: Callable[[str], str]
) -> None:
    source, destination = topics("preload"), topics("alerts")
    with pytest.raises(ConfigurationError, match="pass --schema-id N, or a schema registry"):
        create_stream(kafka_settings, ZTF_ALERTS, source)
    assert not topic_exists(kafka_settings, source)

    with RegistryClient(registry_url) as registry:
        # ZTF 3.2 and 3.3 are not compatible (3.3 adds fields without defaults).
        with pytest.raises(ConfigurationError, match="incompatible with the one already"):
            create_stream(kafka_settings, ZTF_ALERTS, source, registry=registry)
        assert not topic_exists(kafka_settings, source)

        twice = [ZTF_ALERTS[0], ZTF_ALERTS[0]]
        preload = create_stream(kafka_settings, twice, source, registry=registry)
        assert preload.alerts == 2
        (schema_id,) = preload.schema_ids.values()
        assert registry.get_schema(schema_id).name == "ztf.alert"
        summary = play_stream(
            kafka_settings, source, destination, speed=math.inf, registry=registry
        )
        assert summary.sent == 2
        records = consume_all(kafka_settings, destination, 2)
        decoder = AlertDecoder(registry=registry)
        alerts = [decoder.decode(r.value) for r in records]
    assert [(a.survey, a.object_id, a.schema_id) for a in alerts] == [
        ("ztf", "ZTF17aaacxxf", schema_id)
    ] * 2


def test_a_file_that_is_not_avro_touches_nothing(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    bad = tmp_path / "log.avro"
    bad.write_text("not avro")
    source = topics("preload")
    with pytest.raises(AlertDecodeError, match="is not an Avro container file"):
        create_stream(kafka_settings, [bad], source)
    assert not topic_exists(kafka_settings, source)


def test_print_stream_reads_between_bounds(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    write_timed_alerts(tmp_path / "visit.avro", [0.0, 0.5, 1.0, 1.5, 2.0])
    source = topics("preload")
    create_stream(kafka_settings, [tmp_path / "visit.avro"], source)

    everything = list(read_stream(kafka_settings, source))
    assert [e.alert_id for e in everything] == [1000, 1001, 1002, 1003, 1004]
    assert all(e.history_length == 2 and e.error is None for e in everything)
    assert "id=1000  history=2  size=" in everything[0].line()

    by_offset = read_stream(kafka_settings, source, start=Bound.parse("1"), end=Bound.parse("3"))
    assert [e.offset for e in by_offset] == [1, 2]
    by_time = read_stream(
        kafka_settings, source, start=Bound.parse("+0.5s"), end=Bound.parse("+1.5s")
    )
    assert [e.time_offset_s for e in by_time] == [0.5, 1.0]
    assert len(list(read_stream(kafka_settings, source, count=2))) == 2


def test_a_replay_stops_cleanly_when_asked(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    write_timed_alerts(tmp_path / "visit.avro", [0.0, 0.1, 30.0])
    source, destination = topics("preload"), topics("alerts")
    create_stream(kafka_settings, [tmp_path / "visit.avro"], source)
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    started = time.monotonic()
    summary = play_stream(kafka_settings, source, destination, stop=stop)
    assert time.monotonic() - started < 15  # did not wait for the alert due at 30 s
    assert summary.sent == 2


def test_schema_id_and_destination_partitions(
    tmp_path: Path, kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    write_timed_alerts(tmp_path / "visit.avro", [0.0] * 30)
    source, destination = topics("preload"), topics("alerts")
    preload = create_stream(kafka_settings, [tmp_path / "visit.avro"], source, schema_id=777)
    assert preload.schema_ids == {"rubin 11.1": 777}
    play_stream(kafka_settings, source, destination, partitions=3, speed=math.inf, validate="none")
    assert describe_topic(kafka_settings, destination).partitions == 3
    records = consume_all(kafka_settings, destination, 30)
    assert len(records) == 30
    assert {r.value[:5] for r in records} == {wire.pack(777, b"")}


def test_a_source_without_end_markers_ends_when_idle(
    kafka_settings: KafkaSettings, topics: Callable[[str], str]
) -> None:
    source, destination = topics("preload"), topics("alerts")
    create_topic(kafka_settings, source)
    good = wire.pack(1101, avro.encode(_rubin_sample(), rubin_schema(VERSION)))
    with BatchProducer(kafka_settings) as producer:
        for _ in range(3):
            producer.produce(source, good, headers=[(HEADER_TIME_OFFSET, b"0.0")])
    started = time.monotonic()
    summary = play_stream(kafka_settings, source, destination, idle_timeout_s=1.0)
    assert summary.sent == 3
    assert time.monotonic() - started < 10
