"""Crash safety: ``kill -9`` a ``skystream run`` process at several points, restart it.

One component (drop solar-system alerts, a slow step, write to a topic) runs as
a separate process in one consumer group. It is killed three times, each time
at a different point of its cycle (consume, process, write, flush, commit), and
restarted with the same group; the last run ends by ``--idle-timeout``. Then:

- no loss: every input alert that passes the chain is in the output topic;
- nothing else: no solar-system alert, no unknown alert;
- duplicates only from the batch each kill left uncommitted: every repeated
  alert lies within a batch of the group's committed offsets as they stood
  after some kill, and the repeats number at most one batch per kill.

The kill points are chosen by steps that stall (``killable_steps``), not by
timing, except the one kill meant to land anywhere. Input alerts are told
apart by alert id.
"""

from __future__ import annotations

from pathlib import Path

from component_process import (
    OutputReader,
    committed_offsets,
    fill_input,
    in_uncommitted_batch,
    worker_starter,
    write_spec,
)

from skystream.config import KafkaSettings

ALERTS = 240
PARTITIONS = 2
BATCH = 10
# After a kill -9 the group holds the dead member's partitions until its session
# ends (4 s with the embedded profile): a restart's first batch comes ~9 s later.
STALL_TIMEOUT_S = 40.0
FINAL_IDLE_TIMEOUT_S = 5.0


def test_kill_9_at_several_points_loses_nothing_and_repeats_only_uncommitted_batches(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
) -> None:
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    inputs = fill_input(kafka_settings, source, tmp_path / "visit.avro", ALERTS, PARTITIONS)
    passing = {i for i, a in inputs.items() if a.passes}
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
            marker=marker,
            **stall,  # type: ignore[arg-type]
        )
        return path, marker

    # Committed offsets per partition as each kill left them: the next run starts there.
    after_kills: list[dict[int, int]] = []
    try:
        with worker_starter() as start:
            # 1. The first output is durable, its offsets not yet committed.
            path, marker = spec(1, stall_at_flush=1)
            worker = start(path, label="run-1")
            worker.wait_for(marker, STALL_TIMEOUT_S)
            worker.kill()
            after_kills.append(committed_offsets(kafka_settings, unique_group, source, PARTITIONS))

            # 2. Mid-stream, right after a commit: batch 4 was consumed, nothing of it written.
            path, marker = spec(2, stall_at_batch=4)
            worker = start(path, label="run-2")
            worker.wait_for(marker, STALL_TIMEOUT_S)
            worker.kill()
            after_kills.append(committed_offsets(kafka_settings, unique_group, source, PARTITIONS))

            # 3. Anywhere: slow batches, killed once the output has grown by 1.5 batches.
            path, _ = spec(3, delay_s=0.1)
            worker = start(path, label="run-3")
            target = output.poll() + BATCH * 3 // 2
            assert output.wait_for_count(target, STALL_TIMEOUT_S) >= target, worker.output()
            worker.kill()
            after_kills.append(committed_offsets(kafka_settings, unique_group, source, PARTITIONS))

            # The last run finishes the stream and ends on its own.
            path, _ = spec(4)
            worker = start(path, "--idle-timeout", str(FINAL_IDLE_TIMEOUT_S), label="run-4")
            code = worker.wait(STALL_TIMEOUT_S + 30)
            assert code == 0, worker.output()
            assert "component killable:" in worker.stdout_path.read_text()

            missing = output.wait_for_ids(passing, 10)
    finally:
        output.close()

    # No loss, and nothing that should not be there.
    assert not missing, f"{len(missing)} passing alerts lost: {sorted(missing)[:10]}"
    seen = output.counts()
    assert set(seen) == passing

    # Everything was committed in the end.
    sizes = {p: sum(a.partition == p for a in inputs.values()) for p in range(PARTITIONS)}
    assert committed_offsets(kafka_settings, unique_group, source, PARTITIONS) == sizes

    # Progress was made between kills (each kill hit a different point of the stream).
    totals = [sum(c.values()) for c in after_kills]
    assert totals == sorted(totals) and totals[-1] > 0, totals

    # Duplicates: only alerts of some kill's uncommitted batch, at most one batch per kill.
    repeats = {i: n - 1 for i, n in seen.items() if n > 1}
    allowed = {
        i: sum(in_uncommitted_batch(inputs[i], c, BATCH) for c in after_kills) for i in passing
    }
    assert all(repeats[i] <= allowed[i] for i in repeats), {
        i: (n, allowed[i]) for i, n in repeats.items() if n > allowed[i]
    }
    assert sum(repeats.values()) <= BATCH * len(after_kills)
    # Kill 1 came after a flush and before its commit: that output was repeated.
    assert repeats, "a kill between flush and commit should repeat that batch"
    print(
        f"{len(passing)} passing alerts, {sum(repeats.values())} repeated outputs after "
        f"{len(after_kills)} kills; committed after each kill: {totals}"
    )
