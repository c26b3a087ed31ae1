"""Steps that let a test choose where a ``skystream run`` process is killed.

Specs of the crash and instances tests name these by dotted path
(``killable_steps:SlowPass``); the tests put this folder on the worker's
``PYTHONPATH``. A step that reaches its stall point writes ``marker`` (the
test's cue to kill) and then blocks, so ``kill -9`` lands at a known place in
the runner's cycle of process, add, flush, commit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from skystream.alerts.model import Alert
from skystream.pipeline.processor import Annotations, BatchResult, Verdict

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
