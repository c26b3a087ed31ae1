"""Helpers for tests that run ``skystream run`` as separate processes and kill them.

- :func:`fill_input`: generated Rubin alerts written to an input topic; returns
  each alert's id, partition and offset, and whether the chain passes it.
- :func:`write_spec`: the component's YAML: drop solar-system alerts, a
  :class:`killable_steps.SlowPass`, a Kafka writer, optionally a Parquet
  writer, a :class:`killable_steps.StallAfterFlush`.
- :class:`Worker`: one ``skystream run`` process (its environment names only
  the test's broker and this folder, for the dotted-path steps);
  :func:`worker_starter` starts them and kills what a failed test leaves.
- :class:`OutputReader`: reads the output topic as it grows, without a group.
- :func:`committed_offsets`: the group's committed offsets, read without joining.
- :func:`in_uncommitted_batch`: whether a kill could have left an alert to repeat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skystream.alerts import AlertDecoder, read_alert_file, rubin_schema_id
from skystream.alerts.generate import write_alert_file
from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.kafka import BatchConsumer, BatchProducer, Record

HERE = Path(__file__).parent
SKYSTREAM = Path(sys.executable).parent / "skystream"
SSO_FRACTION = 0.25


@dataclass(frozen=True)
class InputAlert:
    """Where one input alert sits, and whether the chain passes it."""

    alert_id: int
    partition: int
    offset: int
    passes: bool


def fill_input(
    settings: KafkaSettings,
    source: str,
    alert_file: Path,
    count: int,
    partitions: int,
    **generate: Any,
) -> dict[int, InputAlert]:
    """Write ``count`` generated alerts round-robin over ``source``'s partitions; by alert id.

    Explicit partitions, not the simulator's keyless player: a burst of small
    alerts from a sticky partitioner can land in one partition, and these tests
    need every partition to hold some. ``generate`` goes to
    :func:`~skystream.alerts.generate.write_alert_file` (``visit_size``, ...).
    """
    write_alert_file(
        alert_file,
        "rubin",
        count,
        sso_fraction=SSO_FRACTION,
        seed=7,
        history=2,
        cutout_pixels=16,
        **generate,
    )
    with BatchProducer(settings) as producer:
        for index, alert in enumerate(read_alert_file(alert_file)):
            assert alert.raw is not None
            value = wire.pack(rubin_schema_id(alert.schema_version), alert.raw)
            producer.produce(source, value, partition=index % partitions)
    decoder = AlertDecoder()
    alerts: dict[int, InputAlert] = {}
    for record in _read_exactly(settings, source, partitions, count):
        alert = decoder.decode(record.value)
        alerts[alert.alert_id] = InputAlert(
            alert.alert_id, record.partition, record.offset, passes=not alert.is_sso
        )
    assert len(alerts) == count, "generated alert ids are not unique"
    assert 0 < sum(a.passes for a in alerts.values()) < count
    return alerts


def _read_exactly(settings: KafkaSettings, topic: str, partitions: int, count: int) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + 30
    with BatchConsumer(settings, start="earliest") as consumer:
        consumer.assign((topic, p) for p in range(partitions))
        while len(records) < count and time.monotonic() < deadline:
            records += consumer.consume_batch(1000, 0.5)
    assert len(records) == count, f"read {len(records)} of {count} input alerts"
    return records


def write_spec(
    path: Path,
    settings: KafkaSettings,
    *,
    source: str,
    group: str,
    out_topic: str,
    dead_letter_topic: str,
    batch_size: int,
    delay_s: float = 0.0,
    stall_at_batch: int = 0,
    stall_at_flush: int = 0,
    parquet_directory: Path | None = None,
    stall_in_parquet_write: int = 0,
    marker: Path | None = None,
) -> Path:
    """Write the component's spec (one stall point at most) to ``path``.

    With ``parquet_directory``, a Parquet writer follows the Kafka writer
    (a :class:`killable_steps.StallInParquetWrite` when
    ``stall_in_parquet_write`` is set, else the real ``ParquetWriter``), and
    ``stall_at_flush`` stalls after both have flushed.
    """
    marker_text = str(marker or path.with_suffix(".stalled"))
    parquet: list[dict[str, Any]] = []
    if parquet_directory is not None:
        params: dict[str, Any] = {
            "directory": str(parquet_directory),
            "columns": ["alert_id", "object_id", "ra", "dec", "mjd", "band"],
        }
        kind = "ParquetWriter"
        if stall_in_parquet_write:
            kind = "killable_steps:StallInParquetWrite"
            params |= {"stall_at_flush": stall_in_parquet_write, "marker": marker_text}
        parquet.append({"name": "parquet", "class": kind, "params": params})
    spec: dict[str, Any] = {
        "component": {
            "name": "killable",
            "params": {
                "kafka_url": settings.bootstrap_servers,
                "input_topic": source,
                "group_id": group,
                "batch_size": batch_size,
                "batch_timeout_s": 0.5,
                "dead_letter_topic": dead_letter_topic,
            },
            "processors": [
                {"name": "no-sso", "class": "SolarSystemFilter", "params": {"include": False}},
                {
                    "name": "slow",
                    "class": "killable_steps:SlowPass",
                    "params": {
                        "delay_s": delay_s,
                        "stall_at_batch": stall_at_batch,
                        "marker": marker_text,
                    },
                },
                {"name": "out", "class": "KafkaStreamWriter", "params": {"topic": out_topic}},
                *parquet,
                {
                    "name": "stall",
                    "class": "killable_steps:StallAfterFlush",
                    "params": {"stall_at_flush": stall_at_flush, "marker": marker_text},
                },
            ],
        }
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


class Worker:
    """One ``skystream run SPEC`` process; stdout and stderr go to files beside the spec."""

    def __init__(self, spec: Path, *args: str, label: str = "worker") -> None:
        self.spec = spec
        self.label = label
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYSTREAM_")}
        env["SKYSTREAM_STATE_DIR"] = str(spec.parent / "state")  # never a user's stack
        config = spec.parent / "empty-config.toml"  # never a user's settings
        config.touch()
        env["SKYSTREAM_CONFIG"] = str(config)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        self.stdout_path = spec.parent / f"{label}.out"
        self.stderr_path = spec.parent / f"{label}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            # Its own process group: kill() reaches the workers of --instances N too.
            self.process = subprocess.Popen(
                [str(SKYSTREAM), "run", str(spec), *args],
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """``kill -9`` the process and any workers it started: nothing flushed or committed."""
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def wait(self, timeout_s: float) -> int:
        """Wait for a normal end; the exit code (the process is killed on a timeout)."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            message = f"{self.label} did not end in {timeout_s} s\n{self.output()}"
            raise AssertionError(message) from exc

    def output(self) -> str:
        return (
            f"--- {self.label} stdout\n{self.stdout_path.read_text()}"
            f"--- {self.label} stderr\n{self.stderr_path.read_text()}"
        )

    def wait_for(self, marker: Path, timeout_s: float) -> str:
        """Wait until a step writes ``marker`` (it then stalls); return its text."""
        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            if not self.alive():
                raise AssertionError(f"{self.label} ended before {marker.name}\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {marker.name} within {timeout_s} s\n{self.output()}")
            time.sleep(0.05)
        return marker.read_text()


@contextlib.contextmanager
def worker_starter() -> Iterator[Callable[..., Worker]]:
    """Yield ``start(spec, *args, label=...)``; what is still running at the end is killed."""
    started: list[Worker] = []

    def start(spec: Path, *args: str, label: str = "worker") -> Worker:
        worker = Worker(spec, *args, label=label)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            if worker.alive():
                worker.kill()


class OutputReader:
    """Reads an output topic from its start as it grows; alert ids in arrival order."""

    def __init__(self, settings: KafkaSettings, topic: str, partitions: int = 1) -> None:
        self._consumer = BatchConsumer(settings, start="earliest")
        self._consumer.assign((topic, p) for p in range(partitions))
        self._decoder = AlertDecoder()
        self.alert_ids: list[int] = []

    def poll(self, timeout_s: float = 0.2) -> int:
        """Read what has arrived; return how many records there are so far."""
        for record in self._consumer.consume_batch(1000, timeout_s):
            self.alert_ids.append(self._decoder.decode(record.value).alert_id)
        return len(self.alert_ids)

    def wait_for_count(self, count: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.poll() < count and time.monotonic() < deadline:
            pass
        return len(self.alert_ids)

    def wait_for_ids(self, wanted: set[int], timeout_s: float) -> set[int]:
        """Read until every id in ``wanted`` has arrived (or the time is up); the missing ones."""
        deadline = time.monotonic() + timeout_s
        while not wanted <= set(self.alert_ids) and time.monotonic() < deadline:
            self.poll()
        self.poll(0.5)  # and anything written with them
        return wanted - set(self.alert_ids)

    def counts(self) -> Counter[int]:
        return Counter(self.alert_ids)

    def close(self) -> None:
        self._consumer.close()


def committed_offsets(
    settings: KafkaSettings, group: str, topic: str, partitions: int
) -> dict[int, int]:
    """The group's committed offset per partition (0 where none), read without joining it."""
    with BatchConsumer(settings, group_id=group, auto_commit=False) as consumer:
        answer = consumer.committed((topic, p) for p in range(partitions))
    return {p: answer[topic, p] or 0 for (_, p) in answer}


def in_uncommitted_batch(alert: InputAlert, committed: dict[int, int], batch_size: int) -> bool:
    """Whether ``alert`` could be in the batch in flight when the group stood at ``committed``."""
    start = committed[alert.partition]
    return start <= alert.offset < start + batch_size
