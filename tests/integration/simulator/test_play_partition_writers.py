"""play-stream gives each producer its own partitions: source order holds within each."""

from __future__ import annotations

import math
from pathlib import Path

from skystream.alerts.generate import write_alert_file
from skystream.config import KafkaSettings
from skystream.kafka import BatchConsumer
from skystream.simulator import create_stream, play_stream
from skystream.simulator.topics import HEADER_SOURCE_OFFSET


def test_each_partition_is_written_in_source_order(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    night = write_alert_file(tmp_path / "n.avro", "rubin", 120, seed=2, history=2)
    source = topic_factory(partitions=1)
    create_stream(kafka_settings, [night.path], source, force=True)
    played = topic_factory(partitions=4)
    summary = play_stream(
        kafka_settings, source, played, speed=math.inf, producers=2, idle_timeout_s=2
    )
    assert summary.passes[0].sent == 120
    by_partition: dict[int, list[int]] = {}
    with BatchConsumer(kafka_settings, start="earliest") as consumer:
        consumer.assign((played, p) for p in range(4))
        records = []
        while len(records) < 120:
            batch = consumer.consume_batch(500, 2.0)
            assert batch, f"read {len(records)} of 120"
            records += batch
    for record in records:
        where = (record.header(HEADER_SOURCE_OFFSET) or b"").decode()
        by_partition.setdefault(record.partition, []).append(int(where.split(":")[1]))
    assert sorted(o for offsets in by_partition.values() for o in offsets) == list(range(120))
    assert len(by_partition) >= 2  # each sender takes turns over its own two partitions
    for offsets in by_partition.values():
        assert offsets == sorted(offsets)  # one writer per partition keeps the source order
