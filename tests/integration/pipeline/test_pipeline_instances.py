"""Instances of one component share a stream through their consumer group.

``skystream run --instances 2`` starts two worker processes in one group on a
4-partition input: each processes some of it and together they write every
passing alert exactly once. Then a third ``skystream run`` process joins while
two are working: the group rebalances and nothing is lost (every passing alert
is written at least once; repeats, which a rebalance may cause, are reported).

Alerts are told apart by alert id; each worker's summary gives its counts.
"""

from __future__ import annotations

import re
from pathlib import Path

from component_process import OutputReader, fill_input, worker_starter, write_spec

from skystream.config import KafkaSettings

PARTITIONS = 4
BATCH = 10
IDLE_TIMEOUT_S = 5.0
WAIT_S = 50.0
_SUMMARY = re.compile(r"component killable: ([\d,]+) in, ([\d,]+) out")


def _counts(text: str) -> list[tuple[int, int]]:
    """(in, out) of every component summary a worker printed, in order."""
    return [(int(i.replace(",", "")), int(o.replace(",", ""))) for i, o in _SUMMARY.findall(text)]


def test_two_instances_split_the_partitions_and_write_everything_once(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
) -> None:
    alerts = 400
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    inputs = fill_input(kafka_settings, source, tmp_path / "visit.avro", alerts, PARTITIONS)
    assert all(any(a.partition == p for a in inputs.values()) for p in range(PARTITIONS))
    passing = {i for i, a in inputs.items() if a.passes}
    spec = write_spec(
        tmp_path / "split.yaml",
        kafka_settings,
        source=source,
        group=unique_group,
        out_topic=out_topic,
        dead_letter_topic=dead,
        batch_size=BATCH,
        delay_s=0.02,
    )

    with worker_starter() as start:
        worker = start(spec, "--instances", "2", "--idle-timeout", str(IDLE_TIMEOUT_S))
        assert worker.wait(WAIT_S) == 0, worker.output()
    output = OutputReader(kafka_settings, out_topic)
    try:
        missing = output.wait_for_ids(passing, 10)
    finally:
        output.close()

    text = worker.stdout_path.read_text()
    counts = _counts(text)
    assert len(counts) == 2, worker.output()
    assert all(received > 0 for received, _ in counts), text  # each had partitions
    assert sum(received for received, _ in counts) == alerts, text  # no message twice
    assert sum(out for _, out in counts) == len(passing), text
    assert not missing
    assert sorted(output.alert_ids) == sorted(passing)  # every passing alert exactly once


def test_a_third_instance_joins_mid_run_without_loss(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
) -> None:
    alerts = 800
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    inputs = fill_input(kafka_settings, source, tmp_path / "visit.avro", alerts, PARTITIONS)
    passing = {i for i, a in inputs.items() if a.passes}
    # Slow batches: two instances need ~10 s for the stream, so the third
    # (~3 s to start and join) arrives with most of it still to do.
    spec = write_spec(
        tmp_path / "join.yaml",
        kafka_settings,
        source=source,
        group=unique_group,
        out_topic=out_topic,
        dead_letter_topic=dead,
        batch_size=BATCH,
        delay_s=0.25,
    )

    output = OutputReader(kafka_settings, out_topic)
    try:
        with worker_starter() as start:
            pair = start(
                spec, "--instances", "2", "--idle-timeout", str(IDLE_TIMEOUT_S), label="pair"
            )
            # The pair is working: output has begun, and most of the stream is still to come.
            started = output.wait_for_count(BATCH, WAIT_S)
            assert started >= BATCH, pair.output()
            third = start(spec, "--idle-timeout", str(IDLE_TIMEOUT_S), label="third")
            assert output.poll() < len(passing) // 2, (
                "the pair finished too soon for a mid-run join"
            )
            assert pair.wait(WAIT_S) == 0, pair.output()
            assert third.wait(WAIT_S) == 0, third.output()
            missing = output.wait_for_ids(passing, 10)
    finally:
        output.close()

    assert not missing, f"{len(missing)} passing alerts lost: {sorted(missing)[:10]}"
    seen = output.counts()
    assert set(seen) == passing
    pair_counts = _counts(pair.stdout_path.read_text())
    third_counts = _counts(third.stdout_path.read_text())
    assert len(pair_counts) == 2 and len(third_counts) == 1, pair.output() + third.output()
    assert third_counts[0][0] > 0, third.output()  # the newcomer got partitions and worked
    received = sum(n for n, _ in pair_counts + third_counts)
    repeats = sum(n - 1 for n in seen.values())
    # Repeats come only from batches in flight when partitions moved: a few per instance.
    assert received - alerts <= 3 * BATCH * 2
    print(
        f"third joined after {started} outputs; per instance in: "
        f"{[n for n, _ in pair_counts + third_counts]}; {repeats} repeated outputs, "
        f"{received - alerts} messages read twice"
    )
