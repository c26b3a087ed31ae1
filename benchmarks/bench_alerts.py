"""Alerts: replay speed of play-stream, and partial reads against full decodes.

Realistic Rubin alerts (``skystream sim generate``, latest schema, about
130 KB each with cutouts and ~30 previous sources) are made for the run.
Measured in the same run, medians of the repeats:

- ``raw produce``: confluent-kafka producing the alerts' wire-format bytes
  from memory (acks=all, like the simulator), the baseline;
- ``play-stream``: an unthrottled replay (``--speed inf``) of the same alerts
  preloaded by create-stream: the rate it logs (``sent N alerts in T s``),
  the source having been read into memory before the pass. Target: >= 90% of
  raw. The original simulator reached 474 alerts/s. Also reported: the
  replay end to end (reading the source included), with one producer, and
  reading the source while playing (``cache_mb=0``);
- ``field reads``: alert id, position and solar-system id through the
  Alert view (framing, schema lookup, partial read) against a full
  fastavro decode of the same bytes, in paired rounds. Target: >= 50x.
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from skystream.alerts import AlertDecoder, rubin_schema, rubin_schema_id
from skystream.alerts.decoder import read_alert_file
from skystream.alerts.generate import write_alert_file
from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.kafka.connection import client_config
from skystream.simulator import create_stream, play_stream

NAME = "alerts"
DESCRIPTION = "play-stream --speed inf vs raw produce; field reads vs full fastavro decode"


def run(settings: KafkaSettings, repeats: int = 5, scale: float = 1.0) -> dict[str, Any]:
    """Measure replay and partial-read rates; return medians and ratios."""
    count = max(200, int(2000 * scale))
    with tempfile.TemporaryDirectory() as folder:
        written = write_alert_file(Path(folder) / "bench.avro", "rubin", count, sso_fraction=0.1)
        schema_id = rubin_schema_id(written.version)
        values = [wire.pack(schema_id, alert.raw or b"") for alert in read_alert_file(written.path)]
        admin = AdminClient(client_config(settings.admin_config()))
        preload = f"bench-preload-{uuid.uuid4().hex[:8]}"
        create_stream(settings, [written.path], preload)
        try:
            replay = _replay(settings, admin, preload, values, repeats)
        finally:
            _delete(admin, [preload])
    reads = _field_reads(values, written.version, repeats)
    return {
        "alerts": count,
        "alert_bytes_median": int(statistics.median(len(v) for v in values)),
        "repeats": repeats,
        **replay,
        **reads,
        "targets": {
            "play-stream >= 90% of raw produce": replay["play_vs_raw"] >= 0.9,
            "field reads >= 50x full decode": reads["field_read_speedup"] >= 50,
        },
    }


def _replay(
    settings: KafkaSettings, admin: AdminClient, preload: str, values: list[bytes], repeats: int
) -> dict[str, Any]:
    samples: dict[str, list[float]] = {
        k: [] for k in ("raw", "play", "end_to_end", "one_producer", "streaming")
    }
    for _ in range(repeats):
        topics = [f"bench-alerts-{uuid.uuid4().hex[:8]}" for _ in range(4)]
        futures = admin.create_topics([NewTopic(t, num_partitions=1) for t in topics])
        for future in futures.values():
            future.result(timeout=15)
        try:
            samples["raw"].append(_raw_produce(settings, topics[0], values))
            summary = play_stream(settings, preload, topics[1], speed=math.inf)
            (played,) = summary.passes
            samples["play"].append(played.rate)
            samples["end_to_end"].append(played.sent / (summary.load_seconds + played.seconds))
            single = play_stream(settings, preload, topics[2], speed=math.inf, producers=1)
            samples["one_producer"].append(single.passes[0].rate)
            streaming = play_stream(settings, preload, topics[3], speed=math.inf, cache_mb=0)
            samples["streaming"].append(streaming.passes[0].rate)
        finally:
            _delete(admin, topics)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "raw_produce_alerts_per_second": round(medians["raw"], 1),
        "play_stream_alerts_per_second": round(medians["play"], 1),
        "play_stream_end_to_end_alerts_per_second": round(medians["end_to_end"], 1),
        "play_stream_one_producer_alerts_per_second": round(medians["one_producer"], 1),
        "play_stream_streaming_alerts_per_second": round(medians["streaming"], 1),
        "play_vs_raw": round(medians["play"] / medians["raw"], 3),
        "replay_samples": {k: [round(r, 1) for r in v] for k, v in samples.items()},
    }


def _raw_produce(settings: KafkaSettings, topic: str, values: list[bytes]) -> float:
    """Alerts per second for the bare client producing the same bytes.

    With play-stream's producer settings: acks=all, linger 5 ms, not idempotent.
    """
    producer = Producer(
        client_config(
            {
                **settings.producer_config(),
                "acks": "all",
                "linger.ms": 5,
                "message.max.bytes": 16_000_000,
            }
        )
    )
    producer.list_topics(timeout=10)  # connected before the clock starts
    started = time.perf_counter()
    for value in values:
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush()
    return len(values) / (time.perf_counter() - started)


def _field_reads(values: list[bytes], version: str, repeats: int) -> dict[str, Any]:
    parsed = rubin_schema(version).parsed
    decoder = AlertDecoder()
    decoder.decode(values[0]).get("alert_id")  # layout and reader compiled once, up front
    sample = values[: min(len(values), 500)]

    def fields() -> float:
        started = time.perf_counter()
        for value in sample:
            alert = decoder.decode(value)
            alert.alert_id, alert.ra, alert.dec, alert.is_sso  # noqa: B018
        return time.perf_counter() - started

    def full() -> float:
        started = time.perf_counter()
        for value in sample:
            stream = io.BytesIO(value)
            stream.seek(5)
            fastavro.schemaless_reader(stream, parsed, None)
        return time.perf_counter() - started

    ratios, field_rates, full_rates = [], [], []
    for _ in range(repeats * 3):  # paired rounds: noise hits both alike
        field_time, full_time = fields(), full()
        ratios.append(full_time / field_time)
        field_rates.append(len(sample) / field_time)
        full_rates.append(len(sample) / full_time)
    return {
        "field_reads_per_second": round(statistics.median(field_rates)),
        "full_decodes_per_second": round(statistics.median(full_rates)),
        "field_read_speedup": round(statistics.median(ratios), 1),
    }


def _delete(admin: AdminClient, topics: list[str]) -> None:
    for future in admin.delete_topics(topics, operation_timeout=15).values():
        with contextlib.suppress(Exception):  # already gone
            future.result(timeout=15)


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines for ``skystream bench alerts``."""
    lines = [
        f"{results['alerts']} Rubin alerts, median {results['alert_bytes_median']:,} bytes, "
        f"median of {results['repeats']} repeats",
        f"raw confluent-kafka produce   "
        f"{results['raw_produce_alerts_per_second']:>10,.1f} alerts/s",
        f"play-stream --speed inf       {results['play_stream_alerts_per_second']:>10,.1f} alerts/s"
        f"  ({results['play_vs_raw']:.2f}x raw; target >= 0.90)",
        f"  end to end (source read)    "
        f"{results['play_stream_end_to_end_alerts_per_second']:>10,.1f} alerts/s",
        f"  with one producer           "
        f"{results['play_stream_one_producer_alerts_per_second']:>10,.1f} alerts/s",
        f"  reading while playing       "
        f"{results['play_stream_streaming_alerts_per_second']:>10,.1f} alerts/s",
        f"field reads (id, ra, dec, sso) {results['field_reads_per_second']:>9,} alerts/s",
        f"full fastavro decode          {results['full_decodes_per_second']:>10,} alerts/s"
        f"  (field reads {results['field_read_speedup']:.0f}x faster; target >= 50x)",
    ]
    lines += [
        f"target {'met' if ok else 'MISSED'}: {name}" for name, ok in results["targets"].items()
    ]
    return lines
