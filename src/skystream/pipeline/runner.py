"""The component runner: consume, decode, run the chain, write, then commit.

One :class:`ComponentRunner` is one consumer in a consumer group. For every
batch it

1. decodes each message's framing (:class:`~skystream.alerts.AlertDecoder`)
   and reads the fields the chain's processors declare, so that a message
   that is not an alert, has an unknown schema id or is cut short fails here,
   at step ``decode``, and not inside a processor;
2. runs the processors in order, each on the alerts that passed the ones
   before; a step that raises is retried alert by alert, and the alerts that
   still fail are dead letters of that step while the rest go on (an error
   of the infrastructure, :data:`INFRASTRUCTURE_ERRORS` such as an
   unreachable registry, ends the run instead, with the batch uncommitted);
3. hands the alerts that passed every step, with their annotations merged
   over the steps, to every sink;
4. flushes the sinks and the dead letters, and only then marks the batch done
   and commits its offsets (at-least-once: a crash repeats at most the
   batches not committed yet).

Batches are processed in the order they were consumed, so the order within a
partition is kept. :meth:`ComponentRunner.stop` (or SIGTERM/SIGINT with
``handle_signals=True``) ends the run after the current batch, flushed and
committed.

>>> runner = ComponentRunner(                                             # doctest: +SKIP
...     "no-sso", settings, ["alerts"], "no-sso",
...     [SolarSystemFilter(mode="exclude")], [KafkaStreamWriter(settings, topic="no-sso")],
...     dead_letter_topic="no-sso-dead-letters",
... )
>>> metrics = runner.run(idle_timeout_s=10)                               # doctest: +SKIP
>>> print(runner.summary())                                               # doctest: +SKIP
"""

from __future__ import annotations

import functools
import inspect
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from skystream.alerts.decoder import AlertDecoder
from skystream.alerts.model import UNIFORM_FIELDS, Alert
from skystream.alerts.times import mjd_to_unix
from skystream.config import ConfigValue, KafkaSettings, RegistrySettings
from skystream.exceptions import (
    BrokerUnavailableError,
    ConfigurationError,
    DecodeError,
    KafkaError,
    RegistryError,
)
from skystream.kafka.consumer import BatchConsumer
from skystream.kafka.producer import BatchProducer
from skystream.kafka.records import Record
from skystream.kafka.topics import create_topic
from skystream.pipeline.deadletter import DeadLetters
from skystream.pipeline.processor import Annotations, Processor, Sink, StepCounts, Verdict
from skystream.registry.client import RegistryClient

if TYPE_CHECKING:
    from skystream.pipeline.spec import ComponentSpec

__all__ = ["ALERT_LATENCY_SAMPLE", "DECODE_STEP", "BatchReport", "ComponentRunner", "RunnerMetrics"]

_log = logging.getLogger(__name__)

#: The name of the first step (framing and the chain's fields) in counts and dead letters.
DECODE_STEP = "decode"
# Errors a cut-short or damaged message can raise while its fields are read.
_MESSAGE_ERRORS = (DecodeError, EOFError, ValueError, IndexError)
#: Errors of the infrastructure, not of one alert: a step or sink raising one of
#: these stops the run without committing the batch (a restart repeats it), instead
#: of sending every alert of the batch to the dead letters.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    RegistryError,
    BrokerUnavailableError,
    ConnectionError,
    TimeoutError,
)
_LATENCY_SAMPLES = 100_000
#: Most passing alerts per batch whose observation time is read for the alert latency.
ALERT_LATENCY_SAMPLE = 8
_BATCH_HISTORY = 10_000
#: Consumer settings for alert-sized messages (~130 KB): fetch many per request and
#: prefetch a whole batch while the previous one is written (librdkafka's 1 MB per
#: partition and 64 MB queue cut a runner writing to Kafka to ~0.6x of these).
ALERT_FETCH_CONFIG: dict[str, ConfigValue] = {
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "fetch.max.bytes": 100 * 1024 * 1024,
    "queued.max.messages.kbytes": 256 * 1024,
}
# A component often starts before its input topic exists (a stream not yet played):
# look for it every few seconds instead of librdkafka's 5 minutes.
_CONSUMER_CONFIG: dict[str, ConfigValue] = {
    **ALERT_FETCH_CONFIG,
    "topic.metadata.refresh.interval.ms": 5000,
}
# Dead letters carry the original message, which may be as large as any alert.
_PRODUCER_CONFIG: dict[str, ConfigValue] = {"message.max.bytes": 16_000_000}


@dataclass(frozen=True)
class BatchReport:
    """One batch as it finished: for progress displays and rate/latency plots.

    ``latency_median_s`` and ``latency_max_s`` are over the times from each
    passing alert's message timestamp (ingest) to the end of its sinks' flush;
    ``alert_latency_s`` is the median over a sample of the times from the
    alerts' own observation times (``mjd``) to the same moment. ``None``:
    nothing passed.
    """

    finished_at: float
    received: int
    passed: int
    dead_letters: int
    seconds: float
    latency_median_s: float | None
    latency_max_s: float | None
    alert_latency_s: float | None = None


@dataclass(frozen=True)
class RunnerMetrics:
    """What a run did so far: totals, rates, per-step counts, position, latency.

    Latency is measured from each passing alert's message timestamp (the
    time it was written to the input topic; for a replayed stream, when the
    simulator released it) to the end of the sink flush that made it durable.
    Alert latency is measured from the alert's observation time (its ``mjd``;
    for a replayed stream this includes the time since the night was
    observed), for up to :data:`ALERT_LATENCY_SAMPLE` passing alerts a batch.
    ``position`` maps ``"topic/partition"`` to the next offset to read there.
    """

    component: str
    seconds: float
    batches: int
    alerts_in: int
    alerts_out: int
    dead_letters: int
    steps: tuple[StepCounts, ...]
    position: Mapping[str, int]
    latency_p50_s: float | None = None
    latency_p90_s: float | None = None
    latency_p99_s: float | None = None
    latency_max_s: float | None = None
    alert_latency_p50_s: float | None = None
    alert_latency_p99_s: float | None = None
    dead_letters_by_reason: Mapping[str, int] = field(default_factory=dict)

    @property
    def rate_in(self) -> float:
        """Messages consumed per second of the run (from its first message)."""
        return self.alerts_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def rate_out(self) -> float:
        """Alerts written per second of the run."""
        return self.alerts_out / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "component": self.component,
            "seconds": round(self.seconds, 3),
            "batches": self.batches,
            "alerts_in": self.alerts_in,
            "alerts_out": self.alerts_out,
            "dead_letters": self.dead_letters,
            "dead_letters_by_reason": dict(self.dead_letters_by_reason),
            "rate_in": round(self.rate_in, 1),
            "rate_out": round(self.rate_out, 1),
            "latency_s": {
                "p50": self.latency_p50_s,
                "p90": self.latency_p90_s,
                "p99": self.latency_p99_s,
                "max": self.latency_max_s,
            },
            "alert_latency_s": {"p50": self.alert_latency_p50_s, "p99": self.alert_latency_p99_s},
            "position": dict(self.position),
            "steps": [step.to_dict() for step in self.steps],
        }

    def summary(self) -> str:
        """Human-readable lines: totals and rates, a table of steps, latency, position."""
        lines = [
            f"component {self.component}: {self.alerts_in:,} in, {self.alerts_out:,} out, "
            f"{self.dead_letters:,} dead letters in {self.seconds:.2f} s "
            f"({self.rate_in:,.0f} alerts/s in, {self.rate_out:,.0f} out)",
            f"  {'step':<24} {'in':>9} {'passed':>9} {'skipped':>9} {'failed':>7} "
            f"{'seconds':>8} {'alerts/s':>10}",
        ]
        for step in self.steps:
            lines.append(
                f"  {step.name:<24} {step.received:>9,} {step.passed:>9,} {step.skipped:>9,} "
                f"{step.failed:>7,} {step.seconds:>8.3f} {step.rate:>10,.0f}"
            )
        if self.dead_letters_by_reason:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.dead_letters_by_reason.items()))
            lines.append(f"  dead letters: {reasons}")
        if self.latency_p50_s is not None:
            lines.append(
                f"  latency (message time to output): p50 {self.latency_p50_s:.3f} s, "
                f"p90 {self.latency_p90_s:.3f} s, p99 {self.latency_p99_s:.3f} s, "
                f"max {self.latency_max_s:.3f} s"
            )
        if self.alert_latency_p50_s is not None:
            lines.append(
                f"  latency (observation time to output): p50 {self.alert_latency_p50_s:,.1f} s, "
                f"p99 {self.alert_latency_p99_s:,.1f} s"
            )
        if self.position:
            where = ", ".join(f"{k} @ {v}" for k, v in sorted(self.position.items()))
            lines.append(f"  position: {where}")
        return "\n".join(lines)


class ComponentRunner:
    """Run a chain of processors and sinks over a stream, in a consumer group.

    Parameters
    ----------
    name
        The component's name (in counts, logs and dead-letter headers).
    settings
        How to reach Kafka (a bootstrap address will do).
    topics
        Input topic(s).
    group_id
        The consumer group; every instance of the component uses the same one.
    processors
        The chain, in order.
    sinks
        Where passing alerts go; each is closed when the run ends.
    registry
        Schema registry (URL or client) for schema ids that are not Rubin's.
    batch_size
        Most messages per batch.
    batch_timeout_s
        Longest wait for a batch (also how soon :meth:`stop` is noticed when idle).
    fill_timeout_s
        Once a batch's first message is there, how long it may wait to fill:
        small keeps latency low at low rates (``None``: wait ``batch_timeout_s``).
    dead_letter_topic
        Where bad messages go (created with one partition if missing);
        ``None`` logs and counts them.
    reset
        Where a group without committed offsets starts (``"latest"`` is
        unreliable on the embedded broker).
    consumer_config
        Further librdkafka properties for the consumer (over
        :data:`ALERT_FETCH_CONFIG`).

    Examples
    --------
    >>> runner = ComponentRunner("filter", settings, "alerts", "filter",   # doctest: +SKIP
    ...                          [Bright()], [writer], dead_letter_topic="filter-dlq")
    >>> runner.run(max_alerts=1000).alerts_out                           # doctest: +SKIP
    812
    """

    def __init__(
        self,
        name: str,
        settings: KafkaSettings | str,
        topics: str | Sequence[str],
        group_id: str,
        processors: Sequence[Processor],
        sinks: Sequence[Sink],
        *,
        registry: str | RegistryClient | None = None,
        batch_size: int = 1000,
        batch_timeout_s: float = 1.0,
        fill_timeout_s: float | None = 0.05,
        dead_letter_topic: str | None = None,
        reset: Literal["earliest", "latest"] = "earliest",
        consumer_config: dict[str, ConfigValue] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        if not batch_timeout_s > 0:
            raise ConfigurationError(f"batch_timeout_s must be > 0, got {batch_timeout_s}")
        names = [p.name for p in processors] + [s.name for s in sinks]
        clashes = sorted({n for n in names if names.count(n) > 1 or n == DECODE_STEP})
        if clashes:
            raise ConfigurationError(
                f"component {name!r}: step names must be unique and not {DECODE_STEP!r}; "
                f"rename {', '.join(map(repr, clashes))} (give each step its own name)"
            )
        self.name = name
        self.settings = settings
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.group_id = group_id
        self.processors = list(processors)
        self.sinks = list(sinks)
        self.registry = registry
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.fill_timeout_s = fill_timeout_s
        self.dead_letter_topic = dead_letter_topic
        self.reset: Literal["earliest", "latest"] = reset
        self.consumer_config = dict(consumer_config or {})
        self.fields = _chain_fields(name, self.processors)
        """The alert fields read at the decode step (the union of the processors')."""
        self.listeners: list[Callable[[BatchReport], None]] = []
        """Called, in the run's thread, after each batch is flushed (progress, exporters)."""

        self._decode_counts = StepCounts(DECODE_STEP)
        self._step_counts = [StepCounts(p.name) for p in self.processors]
        self._sink_counts = [StepCounts(s.name) for s in self.sinks]
        self.dead_letters = DeadLetters(name)
        self.position: dict[tuple[str, int], int] = {}
        """Next offset to read per ``(topic, partition)``, as of the last committed batch."""
        self.history: deque[BatchReport] = deque(maxlen=_BATCH_HISTORY)
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._alert_latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        # Guards what metrics() copies, so another thread (an exporter) may call it.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ran = False
        self._batches = 0
        self._alerts_in = 0
        self._alerts_out = 0
        self._first_message: float | None = None
        self._last_batch_end: float | None = None

    @classmethod
    def from_spec(
        cls,
        spec: ComponentSpec,
        settings: KafkaSettings | str | None = None,
        *,
        registry: RegistrySettings | str | None = None,
        **options: Any,
    ) -> ComponentRunner:
        """Build the runner a validated spec describes (see :mod:`skystream.pipeline.spec`).

        ``settings`` and ``registry`` are the command's; the spec's own
        ``kafka_url`` and ``registry_url`` win over them. ``options`` override
        the spec's runner settings (``batch_size``, ``fill_timeout_s``, ...).

        Raises
        ------
        ConfigurationError
            If neither the spec nor ``settings`` says where Kafka is, or a step
            cannot be built.
        """
        from skystream.pipeline.spec import BuildContext, build_steps

        if isinstance(settings, str):
            settings = KafkaSettings(bootstrap_servers=settings)
        if isinstance(registry, str):
            registry = RegistrySettings(url=registry)
        context = BuildContext.for_spec(spec, settings, registry)
        if context.kafka is None or context.kafka.bootstrap_servers is None:
            raise ConfigurationError(
                f"component {spec.name!r}: no Kafka broker: set params.kafka_url in the spec "
                "or give the command's settings (--bootstrap-servers)"
            )
        processors, sinks = build_steps(spec, context)
        chosen: dict[str, Any] = {
            "registry": context.registry_url,
            "batch_size": spec.batch_size,
            "batch_timeout_s": spec.batch_timeout_s,
            "dead_letter_topic": spec.dead_letter_topic,
            "reset": spec.params.auto_offset_reset,
            **options,
        }
        return cls(
            spec.name, context.kafka, spec.topics, spec.group_id, processors, sinks, **chosen
        )

    # -- control ------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the run to end after the current batch (flushed and committed). Thread-safe."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def counts(self) -> list[StepCounts]:
        """Counts of every step: ``decode``, each processor, each sink, in order."""
        return [self._decode_counts, *self._step_counts, *self._sink_counts]

    def metrics(self) -> RunnerMetrics:
        """Return a snapshot of what the run did so far."""
        with self._lock:
            start, end = self._first_message, self._last_batch_end
            latencies = sorted(self._latencies)
            observed = sorted(self._alert_latencies)
            steps = tuple(_copy(c) for c in self.counts)
            position = dict(self.position)
            batches, alerts_in, alerts_out = self._batches, self._alerts_in, self._alerts_out
        seconds = (end - start) if start is not None and end is not None else 0.0
        return RunnerMetrics(
            component=self.name,
            seconds=seconds,
            batches=batches,
            alerts_in=alerts_in,
            alerts_out=alerts_out,
            dead_letters=self.dead_letters.total,
            steps=steps,
            position={f"{t}/{p}": o for (t, p), o in sorted(position.items())},
            latency_p50_s=_percentile(latencies, 50),
            latency_p90_s=_percentile(latencies, 90),
            latency_p99_s=_percentile(latencies, 99),
            latency_max_s=latencies[-1] if latencies else None,
            alert_latency_p50_s=_percentile(observed, 50),
            alert_latency_p99_s=_percentile(observed, 99),
            dead_letters_by_reason={
                f"{step}:{reason}": n for (step, reason), n in self.dead_letters.counts.items()
            },
        )

    def summary(self) -> str:
        """Return the run's metrics as text (see :meth:`RunnerMetrics.summary`)."""
        return self.metrics().summary()

    # -- the loop ---------------------------------------------------------------------
    def run(
        self,
        max_alerts: int | None = None,
        idle_timeout_s: float | None = None,
        *,
        handle_signals: bool = False,
    ) -> RunnerMetrics:
        """Process the stream until stopped; return the metrics.

        Parameters
        ----------
        max_alerts
            End after this many messages (the rest of a batch is left for the
            next run: its offsets are not committed).
        idle_timeout_s
            End when no message has come for this long while the consumer has
            partitions. Waiting for the group to assign some does not count,
            up to twice the session timeout more: after a crash the group
            holds the dead member's partitions until its session ends.
        handle_signals
            Stop gracefully on SIGTERM and SIGINT (from the main thread only).

        A runner runs once: its sinks are closed when the run ends.

        Raises
        ------
        KafkaError
            The broker failed, or a sink or the dead letters could not be
            flushed (nothing of that batch was committed).
        RegistryError, ConnectionError, TimeoutError
            A step or sink met an error of the infrastructure
            (:data:`INFRASTRUCTURE_ERRORS`); nothing of that batch was committed.
        """
        if self._ran:
            raise ConfigurationError(
                f"component {self.name!r} already ran (its sinks are closed): make a new runner"
            )
        self._ran = True
        with self._signals(handle_signals), self._connections() as (consumer, decoder):
            last_message = time.monotonic()
            assigned = False
            join_allowance_s = 2 * _session_timeout_s(consumer, self.consumer_config)
            while not self._stop.is_set():
                want = self.batch_size
                if max_alerts is not None:
                    want = min(want, max_alerts - self._alerts_in)
                    if want <= 0:
                        break
                records = consumer.consume_batch(
                    want,
                    self.batch_timeout_s,
                    mark_done=False,
                    fill_timeout_s=self.fill_timeout_s,
                )
                if not records:
                    if idle_timeout_s is None:
                        continue
                    now = time.monotonic()
                    was_assigned, assigned = assigned, bool(consumer.assignment())
                    if assigned and not was_assigned:
                        last_message = now  # the idle clock starts when partitions arrive
                    limit = idle_timeout_s if assigned else idle_timeout_s + join_allowance_s
                    idle = now - last_message
                    if idle >= limit:
                        _log.info("%s: idle for %.1f s, ending", self.name, idle)
                        break
                    continue
                last_message, assigned = time.monotonic(), True
                self._process(records, decoder)
                consumer.mark_done(records)
                self._commit(consumer)
        return self.metrics()

    @contextmanager
    def _connections(self) -> Iterator[tuple[BatchConsumer, AlertDecoder]]:
        settings = self.settings
        producer: BatchProducer | None = None
        if self.dead_letter_topic is not None:
            create_topic(settings, self.dead_letter_topic, partitions=1, must_be_new=False)
            producer = BatchProducer(settings, acks="all", extra_config=_PRODUCER_CONFIG)
        self.dead_letters = DeadLetters(self.name, self.dead_letter_topic, producer)
        decoder = AlertDecoder(registry=self.registry)
        consumer: BatchConsumer | None = None
        failed = False
        try:
            consumer = BatchConsumer(
                settings,
                self.topics,
                group_id=self.group_id,
                start="committed",
                reset=self.reset,
                auto_commit=False,
                extra_config={**_CONSUMER_CONFIG, **self.consumer_config},
            )
            yield consumer, decoder
        except BaseException:
            failed = True
            raise
        finally:
            # Sinks and dead letters close (flushing) before the consumer leaves;
            # after a failure nothing more is committed, so errors here only log.
            closers: list[Sink | DeadLetters] = [*self.sinks, self.dead_letters]
            for closer in closers:
                try:
                    closer.close()
                except Exception:
                    if not failed:
                        raise
                    _log.exception("%s: closing %r after a failure", self.name, closer)
            for processor in self.processors:
                close = getattr(processor, "close", None)
                if callable(close):
                    close()
            if consumer is not None:
                consumer.close()
            decoder.close()

    @contextmanager
    def _signals(self, enabled: bool) -> Iterator[None]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            _log.warning("%s: %s received, stopping after this batch", self.name, signum)
            self.stop()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _commit(self, consumer: BatchConsumer) -> None:
        try:
            consumer.commit()
        except KafkaError as exc:
            # A rebalance moved partitions away mid-batch: their new owner repeats
            # this batch (at-least-once). Anything else is worth stopping for.
            if "REBALANCE" not in str(exc) and "GENERATION" not in str(exc):
                raise
            _log.warning("%s: commit after a rebalance failed: %s", self.name, exc)

    # -- one batch ----------------------------------------------------------------------
    def _process(self, records: list[Record], decoder: AlertDecoder) -> None:
        started = time.perf_counter()
        if self._first_message is None:
            self._first_message = started
        dead_before = self.dead_letters.total
        kept, alerts = self._decode(records, decoder)
        notes: list[dict[str, Any]] = [{} for _ in alerts]
        for processor, counts in zip(self.processors, self._step_counts, strict=True):
            if not alerts:
                break
            kept, alerts, notes = self._run_step(processor, counts, kept, alerts, notes)
        written = [True] * len(alerts)
        annotations: list[Annotations | None] = [n or None for n in notes]
        for sink, counts in zip(self.sinks, self._sink_counts, strict=True):
            self._add_to_sink(sink, counts, kept, alerts, annotations, written)
        for sink, counts in zip(self.sinks, self._sink_counts, strict=True):
            step_started = time.perf_counter()
            sink.flush()
            counts.seconds += time.perf_counter() - step_started
        self.dead_letters.flush()
        now_s = time.time()
        latencies = [
            max(0.0, now_s - record.timestamp_ms / 1000)
            for record, ok in zip(kept, written, strict=True)
            if ok and record.timestamp_ms is not None
        ]
        observed = _alert_latencies(
            [alert for alert, ok in zip(alerts, written, strict=True) if ok], now_s
        )
        passed = sum(written)
        finished = time.perf_counter()
        with self._lock:
            self._latencies.extend(latencies)
            self._alert_latencies.extend(observed)
            for record in records:
                self.position[record.topic, record.partition] = record.offset + 1
            self._batches += 1
            self._alerts_in += len(records)
            self._alerts_out += passed
            self._last_batch_end = finished
        latencies.sort()
        observed.sort()
        report = BatchReport(
            finished_at=now_s,
            received=len(records),
            passed=passed,
            dead_letters=self.dead_letters.total - dead_before,
            seconds=finished - started,
            latency_median_s=_percentile(latencies, 50),
            latency_max_s=latencies[-1] if latencies else None,
            alert_latency_s=_percentile(observed, 50),
        )
        self.history.append(report)
        for listener in self.listeners:
            listener(report)

    def _decode(
        self, records: list[Record], decoder: AlertDecoder
    ) -> tuple[list[Record], list[Alert]]:
        counts = self._decode_counts
        started = time.perf_counter()
        fields = self.fields
        whole = "record" in fields
        names = tuple(f for f in UNIFORM_FIELDS if f in fields)
        kept: list[Record] = []
        alerts: list[Alert] = []
        for record in records:
            try:
                alert = decoder.decode(record.value)
                for name in names:
                    alert.get(name)
                if whole:
                    alert.record  # noqa: B018  (decodes every byte, once)
            except _MESSAGE_ERRORS as exc:
                self.dead_letters.add(record, DECODE_STEP, exc)
                counts.failed += 1
                continue
            kept.append(record)
            alerts.append(alert)
        counts.received += len(records)
        counts.passed += len(alerts)
        counts.seconds += time.perf_counter() - started
        return kept, alerts

    def _run_step(
        self,
        processor: Processor,
        counts: StepCounts,
        kept: list[Record],
        alerts: list[Alert],
        notes: list[dict[str, Any]],
    ) -> tuple[list[Record], list[Alert], list[dict[str, Any]]]:
        started = time.perf_counter()
        counts.received += len(alerts)
        verdicts: list[Verdict | None]
        found: list[Annotations | None]
        try:
            verdicts, found = _answers(processor, alerts)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            _log.info(
                "%s: step %s failed on a batch of %d (%s); retrying alert by alert",
                self.name,
                processor.name,
                len(alerts),
                exc,
            )
            verdicts, found = [], []
            for record, alert in zip(kept, alerts, strict=True):
                try:
                    (verdict,), (note,) = _answers(processor, [alert])
                except INFRASTRUCTURE_ERRORS:
                    raise
                except Exception as one:
                    self.dead_letters.add(record, processor.name, one)
                    verdict, note = None, None
                verdicts.append(verdict)
                found.append(note)
        out_kept: list[Record] = []
        out_alerts: list[Alert] = []
        out_notes: list[dict[str, Any]] = []
        for record, alert, merged, verdict, note in zip(
            kept, alerts, notes, verdicts, found, strict=True
        ):
            if verdict is None:
                counts.failed += 1
            elif verdict is Verdict.PASS:
                counts.passed += 1
                if note:
                    merged.update(note)
                out_kept.append(record)
                out_alerts.append(alert)
                out_notes.append(merged)
            else:
                counts.skipped += 1
        counts.seconds += time.perf_counter() - started
        return out_kept, out_alerts, out_notes

    def _add_to_sink(
        self,
        sink: Sink,
        counts: StepCounts,
        kept: list[Record],
        alerts: list[Alert],
        annotations: list[Annotations | None],
        written: list[bool],
    ) -> None:
        indices = [i for i, ok in enumerate(written) if ok]
        if not indices:
            return
        started = time.perf_counter()
        counts.received += len(indices)
        try:
            _sink_add(
                sink,
                [alerts[i] for i in indices],
                [annotations[i] for i in indices],
                [kept[i] for i in indices],
            )
            counts.passed += len(indices)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            # What the sink buffered before failing may be written twice (at-least-once).
            _log.info(
                "%s: sink %s failed on a batch (%s); retrying alert by alert",
                self.name,
                sink.name,
                exc,
            )
            for i in indices:
                try:
                    _sink_add(sink, [alerts[i]], [annotations[i]], [kept[i]])
                except INFRASTRUCTURE_ERRORS:
                    raise
                except Exception as one:
                    self.dead_letters.add(kept[i], sink.name, one)
                    counts.failed += 1
                    written[i] = False
                    continue
                counts.passed += 1
        counts.seconds += time.perf_counter() - started


def _sink_add(
    sink: Sink,
    alerts: list[Alert],
    annotations: list[Annotations | None],
    records: list[Record],
) -> None:
    """Hand alerts to a sink, with their Kafka positions when its ``add`` takes them."""
    if _takes_positions(type(sink)):
        sink.add(alerts, annotations, positions=records)  # type: ignore[call-arg]
    else:
        sink.add(alerts, annotations)


@functools.cache
def _takes_positions(kind: type[Any]) -> bool:
    """Whether a sink's ``add`` accepts ``positions`` (for names keyed by offsets)."""
    try:
        return "positions" in inspect.signature(getattr(kind, "add")).parameters  # noqa: B009
    except (TypeError, ValueError):
        return False


def _answers(
    processor: Processor, alerts: Sequence[Alert]
) -> tuple[list[Verdict | None], list[Annotations | None]]:
    """Run one step and check its answer has one verdict (and annotation) per alert."""
    result = processor.process_batch(alerts)
    verdicts: list[Verdict | None] = list(result.verdicts)
    if len(verdicts) != len(alerts):
        raise ConfigurationError(
            f"processor {processor.name!r} answered {len(verdicts)} verdicts for "
            f"{len(alerts)} alerts: process_batch must answer once per alert"
        )
    if result.annotations is None:
        return verdicts, [None] * len(alerts)
    notes = list(result.annotations)
    if len(notes) != len(alerts):
        raise ConfigurationError(
            f"processor {processor.name!r} gave {len(notes)} annotations for "
            f"{len(alerts)} alerts: one per alert (None for none)"
        )
    return verdicts, notes


def _chain_fields(component: str, processors: Sequence[Processor]) -> frozenset[str]:
    known = {*UNIFORM_FIELDS, "record"}
    fields: set[str] = set()
    for processor in processors:
        unknown = sorted(set(processor.fields) - known)
        if unknown:
            raise ConfigurationError(
                f"component {component!r}: processor {processor.name!r} reads unknown alert "
                f"field(s) {', '.join(map(repr, unknown))}; fields are "
                f"{', '.join(UNIFORM_FIELDS)}, or 'record' for the whole alert"
            )
        fields.update(processor.fields)
    return frozenset(fields)


def _session_timeout_s(consumer: BatchConsumer, overrides: Mapping[str, ConfigValue]) -> float:
    """Return the consumer's group session timeout, in seconds."""
    default = consumer.settings.consumer_config()["session.timeout.ms"]
    return float(overrides.get("session.timeout.ms", default)) / 1000


def _alert_latencies(alerts: Sequence[Alert], now_s: float) -> list[float]:
    """Seconds from observation to ``now_s`` for a few alerts spread over the batch."""
    if not alerts:
        return []
    step = max(1, len(alerts) // ALERT_LATENCY_SAMPLE)
    found: list[float] = []
    for alert in alerts[::step][:ALERT_LATENCY_SAMPLE]:
        try:
            mjd = alert.mjd
        except Exception:  # a sink took the alert; a missing time only loses a sample
            continue
        observed = mjd_to_unix(mjd, alert.layout.survey)
        found.append(now_s - observed)
    return found


def _percentile(ordered: Sequence[float], percent: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(percent / 100 * (len(ordered) - 1))))
    return ordered[index]


def _copy(counts: StepCounts) -> StepCounts:
    return StepCounts(
        counts.name,
        counts.received,
        counts.passed,
        counts.skipped,
        counts.failed,
        counts.seconds,
        dict(counts.extra),
    )
