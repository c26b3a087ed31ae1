"""Pipeline: skystream components against a raw consume and a naive fastavro loop.

Realistic Rubin alerts (``skystream sim generate``: the latest schema, cutouts
and ~30 previous sources, about 135 KB each; a tenth of them solar-system
objects) are made for the run and preloaded into one input topic (one
partition) with the time offsets ``create-stream`` stores: visits of 10
alerts every 10 ms, so a replay at speed 1 gives 1,000 alerts/s. Measured in
the same run, medians of the repeats, the paths interleaved and rotated:

- ``raw consume``: a plain confluent-kafka ``Consumer`` reading every message
  of the topic (the baseline);
- ``raw consume + produce``: the same, producing the bytes of the alerts the
  filter passes (picked by offset, nothing decoded) with the producer settings
  ``KafkaStreamWriter`` uses (acks=all, not idempotent, linger 5 ms): what writing
  back to the broker costs by itself;
- ``naive loop``: confluent-kafka consume, full ``fastavro`` decode, drop the
  solar-system alerts, ``fastavro`` re-encode, produce (same producer
  settings), flush at the end. It runs on a fifth of the topic (the rate is
  per message; the whole topic would take minutes);
- ``filter only``: a :class:`ComponentRunner` (default settings) with
  ``SolarSystemFilter`` and no sink. Targets: >= 90% of raw consume, >= 4.5x
  the naive loop. Also reported with a ``KafkaStreamWriter`` forwarding the
  passing alerts' bytes;
- ``full``: ``SolarSystemFilter`` + ``CrossmatchProcessor`` against a
  ``1e7 x scale`` source catalogue (built in memory, half the alerts with a
  source within 1 arcsec; the index build is outside the rate and reported)
  + ``ParquetWriter`` + ``KafkaStreamWriter``. Target: >= 80% of raw consume;
- ``cross-match``: ``Catalogue.match`` on batches of 1,000 positions on the
  same catalogue (a tenth near a source). Target: >= 500,000 queries/s;
- ``latency``: ``play_stream`` replays the input at speed 1 (~1,000 alerts/s,
  one sender) into a fresh topic while a component (filter + Kafka out) reads
  it; p50, p99 and max from each passing alert's message timestamp to the end
  of its sink flush (the runner's metrics), and the input rate achieved.
  Target: p99 < 0.5 s. The same without the Kafka output is reported: the
  component's own share. A solar-system alert sent first (dropped, so outside
  the sample) shows the component has joined its group before the replay.

Rates are steady-state: each path counts from the end of its first batch to
its last message done (written and flushed, for paths that write), so the
group join (~2 s on the embedded broker) and the first fetch fall outside
every clock alike; the baselines read by assignment, without a group. End
offsets are never used: every reader stops at the count of messages it knows
the topic holds.
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import fastavro
import numpy as np
import numpy.typing as npt
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from skystream.alerts import read_alert_file, rubin_schema, rubin_schema_id
from skystream.alerts.generate import write_alert_file
from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.kafka.connection import client_config, detect_profile
from skystream.kafka.producer import BatchProducer
from skystream.pipeline.processor import Processor, Sink
from skystream.pipeline.runner import (
    ALERT_FETCH_CONFIG,
    BatchReport,
    ComponentRunner,
    RunnerMetrics,
)
from skystream.processors.catalogue import Catalogue
from skystream.processors.crossmatch import CrossmatchProcessor
from skystream.processors.filters import SolarSystemFilter
from skystream.processors.sinks import KafkaStreamWriter, ParquetWriter
from skystream.simulator import play_stream
from skystream.simulator.topics import HEADER_TIME_OFFSET

NAME = "pipeline"
DESCRIPTION = (
    "Rubin alerts: skystream components vs raw consume and a naive fastavro loop; "
    "cross-match rate; latency at 1,000 alerts/s"
)

SSO_FRACTION = 0.1
RADIUS_ARCSEC = 2.0
MATCH_BATCH = 1000
#: Messages a baseline asks the client for at a time.
READ_BATCH = 250
# The stored cadence: visits of 10 alerts every 10 ms (1,000 alerts/s at speed 1).
VISIT_SIZE = 10
VISIT_INTERVAL_S = 0.01
LATENCY_RATE = 1000.0
# Readers give up after this long without finishing (a lost message, a broken broker).
_DEADLINE_S = 120.0
_MAX_MESSAGE = 16_000_000
Floats = npt.NDArray[np.float64]


class _Stream(NamedTuple):
    """The alerts of the run, as the input topic holds them."""

    version: str
    values: list[bytes]
    offsets_s: list[float]
    sso: list[bool]
    ra: Floats
    dec: Floats


class _Marks:
    """Messages done after each batch; the steady rate leaves the first batch out."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.points: list[tuple[float, int]] = []
        self.done = 0

    def add(self, count: int) -> None:
        self.done += count
        self.points.append((time.perf_counter(), self.done))

    def rate(self) -> float:
        if len(self.points) >= 2 and self.points[-1][0] > self.points[0][0]:
            (first_s, first_done), (last_s, last_done) = self.points[0], self.points[-1]
            return (last_done - first_done) / (last_s - first_s)
        # One batch did everything: count from the start (a group join included).
        return self.done / max(time.perf_counter() - self.started, 1e-9)


def run(settings: KafkaSettings, repeats: int = 5, scale: float = 1.0) -> dict[str, Any]:
    """Measure every path ``repeats`` times; return medians, ratios and targets."""
    settings = detect_profile(settings)  # the raw consumers need the same group timings
    count = max(1000, int(3000 * scale))
    naive_count = max(600, count // 5)
    sources = max(100_000, int(10_000_000 * scale))
    started = time.perf_counter()
    stream = _make_stream(count)
    generate_seconds = time.perf_counter() - started
    rng = np.random.default_rng(2026)
    catalogue, build_seconds, seeded = _catalogue(rng, sources, stream)

    admin = AdminClient(client_config(settings.admin_config()))
    source = _create(admin, "bench-pipeline-in")
    try:
        _preload(settings, source, stream)
        paths: dict[str, Callable[[], tuple[float, dict[str, Any]]]] = {
            "raw": lambda: _raw_consume(settings, source, count),
            "forward": lambda: _raw_forward(settings, admin, source, count, stream.sso),
            "naive": lambda: _naive_loop(settings, admin, source, naive_count, stream.version),
            "filter": lambda: _component(settings, admin, source, count, catalogue, "filter"),
            "filter_kafka": lambda: _component(
                settings, admin, source, count, catalogue, "filter_kafka"
            ),
            "full": lambda: _component(settings, admin, source, count, catalogue, "full"),
        }
        samples: dict[str, list[float]] = {name: [] for name in paths}
        details: dict[str, dict[str, Any]] = {}
        for repeat in range(repeats):
            for name in _rotated(list(paths), repeat):  # noise and warm-up hit every path
                rate, detail = paths[name]()
                samples[name].append(rate)
                details[name] = detail
        latency_alerts = max(500, int(3000 * scale))
        latency = _latency(settings, admin, source, stream, latency_alerts)
        latency_bare = _latency(settings, admin, source, stream, latency_alerts, output="none")
        latency_parquet = _latency(
            settings, admin, source, stream, latency_alerts, output="parquet"
        )
        latency_half = _latency(settings, admin, source, stream, latency_alerts, speed=0.5)
    finally:
        _delete(admin, [source])
    matching = _match_rate(rng, catalogue, repeats, scale)

    rates = {name: statistics.median(values) for name, values in samples.items()}
    raw = rates["raw"]
    ratios = {
        "filter_vs_raw": rates["filter"] / raw,
        "filter_vs_naive": rates["filter"] / rates["naive"],
        "filter_kafka_vs_raw": rates["filter_kafka"] / raw,
        "filter_kafka_vs_forward": rates["filter_kafka"] / rates["forward"],
        "forward_vs_raw": rates["forward"] / raw,
        "full_vs_raw": rates["full"] / raw,
        "full_vs_forward": rates["full"] / rates["forward"],
        "naive_vs_raw": rates["naive"] / raw,
    }
    p99 = latency["p99_s"]
    return {
        "alerts": count,
        "naive_alerts": naive_count,
        "schema_version": stream.version,
        "alert_bytes_median": int(statistics.median(len(v) for v in stream.values)),
        "sso_alerts": sum(stream.sso),
        "generate_seconds": round(generate_seconds, 2),
        "repeats": repeats,
        "sources": sources,
        "sources_near_alerts": seeded,
        "radius_arcsec": RADIUS_ARCSEC,
        "index_build_seconds": round(build_seconds, 2),
        "alerts_per_second": {name: round(rate, 1) for name, rate in rates.items()},
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
        "samples": {name: [round(r, 1) for r in values] for name, values in samples.items()},
        "last_trial": details,
        **matching,
        "latency_target_rate": LATENCY_RATE,
        "latency": latency,
        "latency_without_output": latency_bare,
        "latency_parquet_out": latency_parquet,
        "latency_kafka_out_500": latency_half,
        "targets": {
            "filter-only component >= 90% of raw consume": ratios["filter_vs_raw"] >= 0.9,
            "filter-only component >= 4.5x naive loop": ratios["filter_vs_naive"] >= 4.5,
            f"filter + cross-match ({sources:,} sources) + Parquet + Kafka out "
            ">= 80% of raw consume": ratios["full_vs_raw"] >= 0.8,
            f"cross-match >= 500,000 queries/s on {sources:,} sources": (
                matching["match_queries_per_second"] >= 500_000
            ),
            "end-to-end p99 latency < 0.5 s at 1,000 alerts/s": p99 is not None and p99 < 0.5,
        },
    }


# -- the stream --------------------------------------------------------------------------
def _make_stream(count: int) -> _Stream:
    with tempfile.TemporaryDirectory() as folder:
        written = write_alert_file(
            Path(folder) / "bench.avro",
            "rubin",
            count,
            sso_fraction=SSO_FRACTION,
            visit_size=VISIT_SIZE,
            visit_interval_s=VISIT_INTERVAL_S,
        )
        schema_id = rubin_schema_id(written.version)
        values: list[bytes] = []
        offsets: list[float] = []
        sso: list[bool] = []
        ra: list[float] = []
        dec: list[float] = []
        first_mjd: float | None = None
        for alert in read_alert_file(written.path):
            values.append(wire.pack(schema_id, alert.raw or b""))
            first_mjd = alert.mjd if first_mjd is None else first_mjd
            offsets.append((alert.mjd - first_mjd) * 86_400.0)  # as create-stream stores it
            sso.append(alert.is_sso)
            ra.append(alert.ra)
            dec.append(alert.dec)
    return _Stream(written.version, values, offsets, sso, np.array(ra), np.array(dec))


def _preload(settings: KafkaSettings, topic: str, stream: _Stream) -> None:
    with BatchProducer(settings, extra_config={"message.max.bytes": _MAX_MESSAGE}) as producer:
        for value, offset in zip(stream.values, stream.offsets_s, strict=True):
            producer.produce(topic, value, headers=[(HEADER_TIME_OFFSET, f"{offset:.6f}".encode())])
        producer.flush()


def _catalogue(
    rng: np.random.Generator, sources: int, stream: _Stream
) -> tuple[Catalogue, float, int]:
    """Sources uniform over the sky, half the alerts with one within 1 arcsec; index built."""
    ra = rng.uniform(0.0, 360.0, sources)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, sources)))
    near = np.arange(0, stream.ra.size, 2)
    rows = rng.choice(sources, near.size, replace=False)
    ra[rows] = np.mod(stream.ra[near] + rng.uniform(-0.5, 0.5, near.size) / 3600.0, 360.0)
    dec[rows] = np.clip(stream.dec[near] + rng.uniform(-0.5, 0.5, near.size) / 3600.0, -90, 90)
    catalogue = Catalogue.from_arrays(np.arange(sources), ra, dec, name="sky")
    started = time.perf_counter()
    catalogue.index(RADIUS_ARCSEC)
    return catalogue, time.perf_counter() - started, int(near.size)


# -- the paths -----------------------------------------------------------------------------
def _consumer(settings: KafkaSettings, topic: str) -> Any:
    consumer = Consumer(
        client_config(
            {
                **settings.consumer_config(),
                **ALERT_FETCH_CONFIG,  # the runner's fetch sizes: the same reads for every path
                "group.id": f"bench-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    # Assigned, not subscribed: no group join (the clock starts later anyway).
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    return consumer


def _writer_config(settings: KafkaSettings) -> dict[str, Any]:
    # What KafkaStreamWriter's BatchProducer sets, so the naive loop writes alike.
    return client_config(
        {
            "acks": "all",
            "linger.ms": 5,
            "enable.idempotence": False,
            **settings.producer_config(),
            "message.max.bytes": _MAX_MESSAGE,
        }
    )


def _read_all(
    consumer: Any, expected: int, handle: Callable[[list[Any]], None], marks: _Marks
) -> None:
    seen = 0
    deadline = time.monotonic() + _DEADLINE_S
    while seen < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"read {seen} of {expected} messages in {_DEADLINE_S:.0f} s")
        messages = consumer.consume(min(READ_BATCH, expected - seen), 1.0)
        good = [m for m in messages if m.error() is None]
        if good:
            handle(good)
            seen += len(good)
            marks.add(len(good))


def _raw_consume(
    settings: KafkaSettings, topic: str, expected: int
) -> tuple[float, dict[str, Any]]:
    consumer = _consumer(settings, topic)
    marks = _Marks()
    try:

        def handle(messages: list[Any]) -> None:
            for message in messages:
                message.value()

        _read_all(consumer, expected, handle, marks)
    finally:
        consumer.close()
    return marks.rate(), {"batches": len(marks.points)}


def _raw_forward(
    settings: KafkaSettings, admin: AdminClient, topic: str, expected: int, sso: list[bool]
) -> tuple[float, dict[str, Any]]:
    """Consume and produce the alerts the filter passes, picked by offset: no decoding."""

    def passing(message: Any) -> bytes | None:
        return None if sso[message.offset()] else message.value()

    return _consume_and_produce(settings, admin, topic, expected, "forward", passing)


def _naive_loop(
    settings: KafkaSettings, admin: AdminClient, topic: str, expected: int, version: str
) -> tuple[float, dict[str, Any]]:
    """Full fastavro decode, drop solar-system alerts, fastavro encode, produce."""
    schema = rubin_schema(version)
    parsed = schema.parsed
    # Rubin 8 and later name the solar-system record ssSource; before, ssObject.
    names = {field["name"] for field in schema.definition["fields"]}
    sso_field = "ssSource" if "ssSource" in names else "ssObject"

    def recoded(message: Any) -> bytes | None:
        value = message.value()
        reader = io.BytesIO(value)
        reader.seek(wire.HEADER_SIZE)
        record = fastavro.schemaless_reader(reader, parsed, None)
        if record[sso_field] is not None:
            return None
        writer = io.BytesIO()
        writer.write(value[: wire.HEADER_SIZE])
        fastavro.schemaless_writer(writer, parsed, record)
        return writer.getvalue()

    return _consume_and_produce(settings, admin, topic, expected, "naive", recoded)


def _consume_and_produce(
    settings: KafkaSettings,
    admin: AdminClient,
    topic: str,
    expected: int,
    label: str,
    output: Callable[[Any], bytes | None],
) -> tuple[float, dict[str, Any]]:
    """Read ``expected`` messages, produce ``output(message)`` of each (``None``: drop it).

    The rate counts until the producer has delivered everything.
    """
    out = _create(admin, f"bench-pipeline-{label}")
    consumer = _consumer(settings, topic)
    producer = Producer(_writer_config(settings))
    marks = _Marks()
    kept = 0
    try:

        def handle(messages: list[Any]) -> None:
            nonlocal kept
            for message in messages:
                value = output(message)
                if value is None:
                    continue
                while True:
                    try:
                        producer.produce(out, value)
                        break
                    except BufferError:
                        producer.poll(0.01)
                kept += 1
            producer.poll(0)

        _read_all(consumer, expected, handle, marks)
        if producer.flush(60):
            raise RuntimeError(f"the {label} producer could not deliver in 60 s")
        marks.add(0)  # done when the last alert is written
    finally:
        consumer.close()
        _delete(admin, [out])
    return marks.rate(), {"batches": len(marks.points) - 1, "written": kept}


def _component(
    settings: KafkaSettings,
    admin: AdminClient,
    topic: str,
    expected: int,
    catalogue: Catalogue,
    variant: str,
) -> tuple[float, dict[str, Any]]:
    processors: list[Processor] = [SolarSystemFilter("no-sso")]
    sinks: list[Sink] = []
    topics: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        if variant == "full":
            processors.append(
                CrossmatchProcessor("xmatch", catalogue=catalogue, radius_arcsec=RADIUS_ARCSEC)
            )
            sinks.append(ParquetWriter(Path(folder) / "parquet", annotations=["xmatch"]))
        if variant in ("filter_kafka", "full"):
            topics.append(_create(admin, "bench-pipeline-out"))
            sinks.append(KafkaStreamWriter(settings, topics[-1], name="kafka-out"))
        try:
            runner = ComponentRunner(
                f"bench-{variant}",
                settings,
                topic,
                f"bench-{variant}-{uuid.uuid4().hex[:8]}",
                processors,
                sinks,
            )
            marks = _Marks()

            def listen(report: BatchReport) -> None:
                marks.add(report.received)

            runner.listeners.append(listen)
            metrics = runner.run(max_alerts=expected, idle_timeout_s=30.0)
        finally:
            _delete(admin, topics)
    if metrics.alerts_in != expected:
        raise RuntimeError(f"component {variant} read {metrics.alerts_in} of {expected} alerts")
    return marks.rate(), _steps(metrics)


def _steps(metrics: RunnerMetrics) -> dict[str, Any]:
    return {
        "batches": metrics.batches,
        "alerts_out": metrics.alerts_out,
        "seconds": round(metrics.seconds, 3),
        "step_seconds": {step.name: round(step.seconds, 3) for step in metrics.steps},
    }


# -- cross-match alone ---------------------------------------------------------------------
def _match_rate(
    rng: np.random.Generator, catalogue: Catalogue, repeats: int, scale: float
) -> dict[str, Any]:
    batches = [_queries(rng, catalogue) for _ in range(max(20, int(100 * scale)))]
    catalogue.match(*batches[0], RADIUS_ARCSEC)  # warm caches before the clock
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for q_ra, q_dec in batches:
            catalogue.match(q_ra, q_dec, RADIUS_ARCSEC)
        rates.append(len(batches) * MATCH_BATCH / (time.perf_counter() - started))
    return {
        "match_batches": len(batches),
        "match_queries_per_second": round(statistics.median(rates)),
        "match_samples": [round(r) for r in rates],
    }


def _queries(rng: np.random.Generator, catalogue: Catalogue) -> tuple[Floats, Floats]:
    """A batch of positions: a tenth within 1 arcsec of a source, the rest anywhere."""
    q_ra = rng.uniform(0.0, 360.0, MATCH_BATCH)
    q_dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, MATCH_BATCH)))
    near = MATCH_BATCH // 10
    chosen = rng.integers(0, catalogue.ra.size, near)
    q_ra[:near] = catalogue.ra[chosen]
    q_dec[:near] = np.clip(catalogue.dec[chosen] + rng.uniform(-0.7, 0.7, near) / 3600, -90, 90)
    return q_ra, q_dec


# -- latency -------------------------------------------------------------------------------
def _latency(
    settings: KafkaSettings,
    admin: AdminClient,
    source: str,
    stream: _Stream,
    alerts: int,
    *,
    speed: float = 1.0,
    output: str = "kafka",
) -> dict[str, Any]:
    """Replay the input at ``speed`` while a filter (+ ``output``) component reads the replay."""
    count = len(stream.values)
    passes = max(1, math.ceil(alerts / count))
    played_topic = _create(admin, "bench-pipeline-played")
    topics = [played_topic]
    sinks: list[Sink] = []
    folder = tempfile.TemporaryDirectory(prefix="bench-latency-")
    if output == "kafka":
        topics.append(_create(admin, "bench-pipeline-latency-out"))
        sinks.append(KafkaStreamWriter(settings, topics[-1], name="kafka-out"))
    elif output == "parquet":
        sinks.append(ParquetWriter(folder.name, name="parquet"))
    runner = ComponentRunner(
        "bench-latency",
        settings,
        played_topic,
        f"bench-latency-{uuid.uuid4().hex[:8]}",
        [SolarSystemFilter("no-sso")],
        sinks,
    )
    joined = threading.Event()
    runner.listeners.append(lambda report: joined.set())
    failures: list[BaseException] = []

    def consume() -> None:
        try:
            runner.run(max_alerts=1 + passes * count, idle_timeout_s=15.0)
        except BaseException as exc:  # reported in the main thread
            failures.append(exc)
            joined.set()

    thread = threading.Thread(target=consume, name="bench-latency-runner", daemon=True)
    try:
        thread.start()
        with BatchProducer(settings, extra_config={"message.max.bytes": _MAX_MESSAGE}) as producer:
            producer.produce(played_topic, stream.values[stream.sso.index(True)])
        if not joined.wait(60.0) or failures:
            raise RuntimeError(f"the latency component did not start: {failures or 'timeout'}")
        # One sender keeps the pace simple. (Two made readers at the head of the log skip
        # records while consumers read_committed; the embedded profile reads uncommitted.)
        summary = play_stream(
            settings,
            source,
            played_topic,
            speed=speed,
            passes=passes,
            producers=1,
            idle_timeout_s=1.0,
        )
        thread.join(60.0)
        if thread.is_alive():
            runner.stop()
            thread.join(30.0)
        if failures:
            raise RuntimeError(f"the latency component failed: {failures[0]}") from failures[0]
    finally:
        _delete(admin, topics)
        folder.cleanup()
    metrics = runner.metrics()
    play_seconds = sum(p.seconds for p in summary.passes)
    return {
        "played": summary.sent,
        "input_rate": round(summary.sent / play_seconds, 1) if play_seconds else 0.0,
        "behind_schedule_p99_s": round(max(p.behind_p99_s for p in summary.passes), 4),
        "alerts_out": metrics.alerts_out,
        "batches": metrics.batches,
        "p50_s": _rounded(metrics.latency_p50_s),
        "p99_s": _rounded(metrics.latency_p99_s),
        "max_s": _rounded(metrics.latency_max_s),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# -- topics --------------------------------------------------------------------------------
def _create(admin: AdminClient, prefix: str) -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    for future in admin.create_topics([NewTopic(topic, num_partitions=1)]).values():
        future.result(timeout=15)
    return topic


def _delete(admin: AdminClient, topics: Sequence[str]) -> None:
    if not topics:
        return
    for future in admin.delete_topics(list(topics), operation_timeout=15).values():
        with contextlib.suppress(Exception):  # already gone
            future.result(timeout=15)


def _rotated(names: list[str], repeat: int) -> list[str]:
    shift = repeat % len(names)
    return names[shift:] + names[:shift]


# -- report --------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines for ``skystream bench pipeline``."""
    rates, ratios = results["alerts_per_second"], results["ratios"]
    full = results["last_trial"]["full"]
    rows = [
        ("raw confluent-kafka consume", "raw", ""),
        (
            "raw consume + produce (passing alerts, no decode)",
            "forward",
            f"{ratios['forward_vs_raw']:.2f}x raw",
        ),
        (
            "naive loop: fastavro decode, filter, encode, produce",
            "naive",
            f"{ratios['naive_vs_raw']:.2f}x raw (on {results['naive_alerts']:,} alerts)",
        ),
        (
            "component: filter only",
            "filter",
            f"{ratios['filter_vs_raw']:.2f}x raw (target >= 0.90), "
            f"{ratios['filter_vs_naive']:.1f}x naive (target >= 4.5)",
        ),
        (
            "component: filter + Kafka out",
            "filter_kafka",
            f"{ratios['filter_kafka_vs_raw']:.2f}x raw, "
            f"{ratios['filter_kafka_vs_forward']:.2f}x raw consume + produce",
        ),
        (
            "component: filter + cross-match + Parquet + Kafka out",
            "full",
            f"{ratios['full_vs_raw']:.2f}x raw (target >= 0.80), "
            f"{ratios['full_vs_forward']:.2f}x raw consume + produce",
        ),
    ]
    lines = [
        f"{results['alerts']:,} Rubin {results['schema_version']} alerts, median "
        f"{results['alert_bytes_median']:,} bytes, {results['sso_alerts']:,} solar-system; "
        f"median of {results['repeats']} repeats, steady-state alerts/s",
        *(f"  {label:<54} {rates[key]:>7,.0f}  {note}".rstrip() for label, key, note in rows),
        "    full, last trial, seconds by step: "
        + ", ".join(f"{name} {seconds:.3f}" for name, seconds in full["step_seconds"].items())
        + f" (run {full['seconds']:.3f})",
        f"cross-match, {results['sources']:,} sources (index built in "
        f"{results['index_build_seconds']} s): {results['match_queries_per_second']:,} "
        f"queries/s in batches of {MATCH_BATCH:,} (target >= 500,000)",
        *_latency_lines("latency, filter + Kafka out:", results["latency"], target=True),
        *_latency_lines("latency, filter only (no output):", results["latency_without_output"]),
        *_latency_lines("latency, filter + Parquet out:", results["latency_parquet_out"]),
        *_latency_lines(
            "latency, filter + Kafka out at half speed:", results["latency_kafka_out_500"]
        ),
    ]
    lines += [
        f"target {'met' if ok else 'MISSED'}: {name}" for name, ok in results["targets"].items()
    ]
    return lines


def _latency_lines(label: str, found: dict[str, Any], *, target: bool = False) -> list[str]:
    if found["p99_s"] is None:
        return [f"{label} no alert came through"]
    return [
        f"{label} {found['input_rate']:,.0f} alerts/s in ({found['played']:,} played): "
        f"p50 {found['p50_s']:.3f} s, p99 {found['p99_s']:.3f} s, max {found['max_s']:.3f} s"
        + (" (target p99 < 0.5 s)" if target else "")
    ]
