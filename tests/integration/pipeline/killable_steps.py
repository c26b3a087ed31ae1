"""Steps that let a test choose where a ``skystream run`` process is killed.

Specs of the crash and instances tests name these by dotted path
(``killable_steps:SlowPass``); the tests put this folder on the worker's
``PYTHONPATH``. A step that reaches its stall point writes ``marker`` (the
test's cue to kill) and then blocks, so ``kill -9`` lands at a known place in
the runner's cycle of process, add, flush, commit (:class:`StallInParquetWrite`:
inside a Parquet flush).
"""

from __future__ import annotations

import os
import time
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

from skystream.alerts.model import Alert
from skystream.pipeline.processor import Annotations, BatchResult, Verdict
from skystream.processors.sinks.parquet import ParquetWriter

_STALL_S = 600.0  # longer than any test: the process is killed while it waits


def _stall(marker: str, text: str) -> None:
    partial = Path(f"{marker}.partial")
    partial.write_text(text)
    partial.replace(marker)  # the test never sees a half-written marker
    time.sleep(_STALL_S)


class SlowPass:
    """PASS every alert after ``delay_s`` per batch; stall at batch ``stall_at_batch``.

    A stall in the processor comes after the previous batch was committed and
    before anything of this batch reached a sink.
    """

    fields: frozenset[str] = frozenset()

    def __init__(
        self,
        name: str | None = None,
        delay_s: float = 0.0,
        stall_at_batch: int = 0,
        marker: str = "",
    ) -> None:
        self.name = name or "SlowPass"
        self.delay_s = delay_s
        self.stall_at_batch = stall_at_batch
        self.marker = marker
        self.batches = 0

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        self.batches += 1
        if self.batches == self.stall_at_batch:
            _stall(self.marker, f"{os.getpid()} processor batch {self.batches} {len(alerts)}")
        if self.delay_s:
            time.sleep(self.delay_s)
        return BatchResult([Verdict.PASS] * len(alerts))


class StallAfterFlush:
    """A sink listed after the real one: stall in the ``stall_at_flush``-th flush with alerts.

    The sinks before it have flushed (their output is durable) and the batch's
    offsets are not committed yet: the worst place for a crash.
    """

    def __init__(self, name: str | None = None, stall_at_flush: int = 0, marker: str = "") -> None:
        self.name = name or "StallAfterFlush"
        self.stall_at_flush = stall_at_flush
        self.marker = marker
        self.flushes = 0
        self.pending = 0

    def add(self, alerts: Sequence[Alert], annotations: Sequence[Annotations | None]) -> None:
        self.pending += len(alerts)

    def flush(self) -> None:
        if not self.pending:
            return
        self.flushes += 1
        if self.flushes == self.stall_at_flush:
            _stall(self.marker, f"{os.getpid()} sink flush {self.flushes} {self.pending}")
        self.pending = 0

    def close(self) -> None:
        pass


class StallInParquetWrite(ParquetWriter):
    """A :class:`ParquetWriter` that stalls in the middle of a flush.

    From its ``stall_at_flush``-th flush with files on, it stalls in the first
    flush that writes two files or more, once the last file's hidden
    temporary is written and before it is renamed: the flush's other files
    are published, the last is not, and nothing of the batch is committed.
    """

    class Params(ParquetWriter.Params):
        """The writer's params, and where to stall."""

        stall_at_flush: int = 0
        marker: str = ""

    stall_at_flush = 0
    marker = ""
    flushes = 0
    files_planned = 0
    files_in_flush = 0

    def __init__(
        self, directory: Any, *, stall_at_flush: int = 0, marker: str = "", **options: Any
    ) -> None:
        super().__init__(directory, **options)
        self.stall_at_flush = stall_at_flush
        self.marker = marker

    def _plan(self, entries: Sequence[Any]) -> Iterator[tuple[Hashable, str, list[Any]]]:
        plan = list(super()._plan(entries))
        self.flushes += 1
        self.files_planned, self.files_in_flush = len(plan), 0
        yield from plan

    def _write(self, path: Path, group: Hashable, payloads: Sequence[Any], stem: str) -> None:
        super()._write(path, group, payloads, stem)
        self.files_in_flush += 1
        if (
            self.stall_at_flush
            and self.flushes >= self.stall_at_flush
            and self.files_planned > 1
            and self.files_in_flush == self.files_planned
        ):
            _stall(self.marker, f"{os.getpid()} parquet flush {self.flushes}: {path.name}")
