"""Crash safety with a Parquet sink: ``kill -9`` at several points, restart, no duplicate rows.

One component (drop solar-system alerts, a slow step, write to a topic and to
a ``ParquetWriter``) runs as a separate process in one consumer group. The
input spans 30 observing nights, two alerts per partition each, so every
flush writes files in several ``night=`` directories. The process is killed four times and restarted
with the same group; the last run ends by ``--idle-timeout``. The kill points:

1. after the Parquet files of a batch are published, before its offsets are
   committed (the dangerous one: the replay must replace those files, not add
   to them);
2. inside the Parquet flush of the replay: its first files renamed into
   place, the last one's hidden temporary written but not renamed;
3. mid-processing, right after a commit;
4. anywhere (slow batches, killed once the output topic has grown).

Then the Parquet dataset (``pyarrow.parquet.read_table(directory)``) holds one
row per passing input alert, each in its night's directory, with no temporary
file left behind; the output topic has every passing alert, nothing else, and
repeats only from the batches the kills left uncommitted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from component_process import (
    InputAlert,
    OutputReader,
    Worker,
    committed_offsets,
    fill_input,
    in_uncommitted_batch,
    worker_starter,
    write_spec,
)

from skystream.config import KafkaSettings
from skystream.processors.sinks.files import observing_night

ALERTS = 240
PARTITIONS = 2
BATCH = 10
# Two visits of 4 alerts (2 per partition) per night, from MJD 61000.0: a batch
# of 10 offsets of a partition spans 3 observing nights, so a flush writes 3 files.
VISITS = {"visit_size": 4, "visit_interval_s": 43_200.0}
# After a kill -9 the group holds the dead member's partitions until its session
# ends (4 s with the embedded profile): a restart's first batch comes ~9 s later.
STALL_TIMEOUT_S = 40.0
FINAL_IDLE_TIMEOUT_S = 5.0


def test_kill_9_around_parquet_flushes_leaves_one_row_per_alert(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
) -> None:
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    inputs = fill_input(
        kafka_settings, source, tmp_path / "visits.avro", ALERTS, PARTITIONS, **VISITS
    )
    passing = {i for i, a in inputs.items() if a.passes}
    directory = tmp_path / "parquet"
    output = OutputReader(kafka_settings, out_topic)

    def spec(run: int, **stall: float) -> tuple[Path, Path]:
        marker = tmp_path / f"run-{run}.stalled"
        path = write_spec(
            tmp_path / f"run-{run}.yaml",
            kafka_settings,
            source=source,
            group=unique_group,
            out_topic=out_topic,
            dead_letter_topic=dead,
            batch_size=BATCH,
            parquet_directory=directory,
            marker=marker,
            **stall,  # type: ignore[arg-type]
        )
        return path, marker

    # Committed offsets per partition as each kill left them: the next run starts there.
    after_kills: list[dict[int, int]] = []

    def kill(worker: Worker) -> None:
        worker.kill()
        after_kills.append(committed_offsets(kafka_settings, unique_group, source, PARTITIONS))

    try:
        with worker_starter() as start:
            # 1. Batch 2's Parquet files (and topic output) are durable, its offsets not committed.
            path, marker = spec(1, stall_at_flush=2)
            worker = start(path, label="run-1")
            worker.wait_for(marker, STALL_TIMEOUT_S)
            kill(worker)
            uncommitted = [
                i for i in _parquet_ids(directory) if not _committed(inputs[i], after_kills[-1])
            ]
            assert uncommitted, "the kill after the Parquet flush should leave uncommitted rows"

            # 2. Inside the replay's Parquet flush: files renamed into place, the last not yet.
            path, marker = spec(2, stall_in_parquet_write=1)
            worker = start(path, label="run-2")
            worker.wait_for(marker, STALL_TIMEOUT_S)
            kill(worker)
            assert _hidden_files(directory), "the kill inside a flush should leave a temporary"

            # 3. Mid-stream, right after a commit: batch 3 consumed, nothing of it written.
            path, marker = spec(3, stall_at_batch=3)
            worker = start(path, label="run-3")
            worker.wait_for(marker, STALL_TIMEOUT_S)
            kill(worker)

            # 4. Anywhere: slow batches, killed once the output has grown by 1.5 batches.
            path, _ = spec(4, delay_s=0.1)
            worker = start(path, label="run-4")
            target = output.poll() + BATCH * 3 // 2
            assert output.wait_for_count(target, STALL_TIMEOUT_S) >= target, worker.output()
            kill(worker)

            # The last run finishes the stream and ends on its own.
            path, _ = spec(5)
            worker = start(path, "--idle-timeout", str(FINAL_IDLE_TIMEOUT_S), label="run-5")
            code = worker.wait(STALL_TIMEOUT_S + 30)
            assert code == 0, worker.output()

            missing = output.wait_for_ids(passing, 10)
    finally:
        output.close()

    # Everything was committed in the end, and progress was made between kills.
    sizes = {p: sum(a.partition == p for a in inputs.values()) for p in range(PARTITIONS)}
    assert committed_offsets(kafka_settings, unique_group, source, PARTITIONS) == sizes
    totals = [sum(c.values()) for c in after_kills]
    assert totals == sorted(totals) and totals[-1] > 0, totals

    # Parquet: one row per passing alert, in its night's directory; no temporary left.
    assert not _hidden_files(directory), _hidden_files(directory)
    table = pq.read_table(directory)
    rows = Counter(table.column("alert_id").to_pylist())
    doubled = {i: n for i, n in rows.items() if n > 1}
    assert not doubled, f"{len(doubled)} alerts in more than one row: {sorted(doubled)[:10]}"
    assert set(rows) == passing, (
        sorted(passing - set(rows))[:10],
        sorted(set(rows) - passing)[:10],
    )
    nights = table.column("night").to_pylist()
    assert [str(n) for n in nights] == [observing_night(m) for m in table.column("mjd").to_pylist()]
    assert len(set(nights)) > 1, set(nights)

    # The topic: no loss, nothing else; repeats only from batches the kills left uncommitted.
    assert not missing, f"{len(missing)} passing alerts lost: {sorted(missing)[:10]}"
    seen = output.counts()
    assert set(seen) == passing
    repeats = {i: n - 1 for i, n in seen.items() if n > 1}
    allowed = {
        i: sum(in_uncommitted_batch(inputs[i], c, BATCH) for c in after_kills) for i in passing
    }
    assert all(repeats[i] <= allowed[i] for i in repeats), {
        i: (n, allowed[i]) for i, n in repeats.items() if n > allowed[i]
    }
    assert sum(repeats.values()) <= BATCH * len(after_kills)
    print(
        f"{len(passing)} passing alerts in {table.num_rows} Parquet rows; "
        f"{sum(repeats.values())} repeated topic outputs after {len(after_kills)} kills; "
        f"committed after each kill: {totals}"
    )


def _parquet_ids(directory: Path) -> list[int]:
    """The alert ids of the published Parquet files (hidden temporaries are skipped)."""
    ids: list[int] = pq.read_table(directory).column("alert_id").to_pylist()
    return ids


def _hidden_files(directory: Path) -> list[Path]:
    """Files a reader skips: the sink's temporaries (``.NAME.PID.tmp``)."""
    return sorted(p for p in directory.rglob(".*") if p.is_file())


def _committed(alert: InputAlert, committed: dict[int, int]) -> bool:
    return alert.offset < committed[alert.partition]
