"""``play-stream``: replay a preloaded alert stream at the survey's pace.

The source topic is read from the beginning and each alert checked (its
framing, schema and first fields by default; every byte with
``validate="full"``). A stream that fits in ``cache_mb`` is read into memory
once, before the first pass, as the original simulator did: the pacing then
never waits on the broker, and repeated passes do not read the source again.
A larger stream is read while it is played, pass after pass.

Sender threads, each with its own producer (and so its own broker
connection), wait until an alert is due and publish it with its headers, plus
``alertsim-source-offset`` and ``alertsim-pass``. Several senders keep the
pacing at high rates: while one waits on a full send queue the others go on.

The source is exhausted when every partition has shown its end-of-stream
marker (``create-stream`` writes them); a topic without markers ends after
``idle_timeout_s`` without a message. The broker's end offsets are never used:
the embedded broker reports them wrong.

Bad messages (not an alert, a schema id nobody knows, cut short, no time
offset) are skipped and counted by kind; they never stop a replay.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from skystream.alerts.decoder import AlertDecoder
from skystream.config import ConfigValue, KafkaSettings
from skystream.exceptions import AlertDecodeError, ConfigurationError, DecodeError
from skystream.kafka.consumer import BatchConsumer
from skystream.kafka.producer import BatchProducer
from skystream.kafka.records import Record
from skystream.kafka.topics import create_topic, partitions_of
from skystream.registry.client import RegistryClient
from skystream.simulator.cadence import Cadence, RubinVisitCadence, scaled
from skystream.simulator.topics import (
    HEADER_END,
    HEADER_PASS,
    HEADER_SOURCE_OFFSET,
    HEADER_TIME_OFFSET,
)

__all__ = ["PassReport", "PlaySummary", "Validation", "play_stream"]

_log = logging.getLogger(__name__)

#: How much of each alert play-stream checks before sending it.
Validation = Literal["none", "head", "full"]

_QUEUE_ALERTS = 1000  # about 140 MB of realistic Rubin alerts
_BATCH = 500
_POLL_S = 0.2
# Not idempotent: on the embedded broker that costs 2-3x in rate; a replay tolerates the
# rare duplicate a retried send makes (acks=all still waits for every write).
_PRODUCER_CONFIG: dict[str, ConfigValue] = {
    "message.max.bytes": 16_000_000,
    "enable.idempotence": False,
}
Headers = list[tuple[str, bytes | None]]
# An alert ready to replay: seconds from the pass start at speed 1, value, headers.
_Alert = tuple[float, bytes, Headers]


@dataclass(frozen=True)
class PassReport:
    """One pass over the source stream.

    Attributes
    ----------
    number
        1 for the first pass, 2 for the first repeat, ...
    sent
        Alerts published.
    seconds
        From the pass's start to its last delivery.
    behind_median_s, behind_p99_s, behind_max_s
        How late alerts went out compared with their schedule.
    """

    number: int
    sent: int
    seconds: float
    behind_median_s: float
    behind_p99_s: float
    behind_max_s: float

    @property
    def rate(self) -> float:
        """Alerts per second over the pass."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def message(self) -> str:
        """``sent N alerts in T s (R/s)`` and how far behind schedule the pass ran."""
        return (
            f"sent {self.sent} alerts in {self.seconds:.2f} s ({self.rate:.1f}/s); behind "
            f"schedule: median {self.behind_median_s:.3f} s, p99 {self.behind_p99_s:.3f} s, "
            f"max {self.behind_max_s:.3f} s"
        )


@dataclass
class PlaySummary:
    """Every pass of a replay, what was skipped, and how the source was read.

    Attributes
    ----------
    loaded
        Alerts read into memory before the first pass (``None``: the stream
        did not fit in the cache and was read pass by pass).
    load_seconds
        Time taken to read them.
    """

    passes: list[PassReport] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    loaded: int | None = None
    load_seconds: float = 0.0

    @property
    def sent(self) -> int:
        """Alerts published over all passes."""
        return sum(report.sent for report in self.passes)

    @property
    def skipped_total(self) -> int:
        """Messages skipped over all passes."""
        return sum(self.skipped.values())


def play_stream(
    settings: KafkaSettings | str,
    src_topic: str,
    dst_topic: str,
    *,
    partitions: int | None = None,
    speed: float = 1.0,
    cadence: Cadence = "offsets",
    repeat_interval_s: float | None = None,
    passes: int | None = None,
    producers: int = 2,
    visit_size: int = 10_000,
    visit_interval_s: float = 37.0,
    validate: Validation = "head",
    idle_timeout_s: float = 5.0,
    cache_mb: float = 2048.0,
    registry: RegistryClient | None = None,
    stop: threading.Event | None = None,
    on_pass: Callable[[PassReport], None] | None = None,
) -> PlaySummary:
    """Replay ``src_topic`` (made by :func:`create_stream`) into ``dst_topic``.

    Parameters
    ----------
    settings
        Kafka connection settings, or a bootstrap address.
    src_topic, dst_topic
        The preloaded stream, and where alerts are published.
    partitions
        Create ``dst_topic`` with this many partitions if it does not exist.
    speed
        Times faster than real time; ``math.inf`` sends as fast as it can.
    cadence
        ``"offsets"`` (the stored time offsets) or ``"rubin-visits"``
        (``visit_size`` alerts every ``visit_interval_s``, in bursts).
    repeat_interval_s
        Replay the whole stream again every this many seconds (37 s is a
        Rubin visit); endless unless ``passes`` is given.
    passes
        Number of passes (default 1, or endless with ``repeat_interval_s``).
    producers
        Sender threads, each with its own producer.
    validate
        ``"head"`` (framing, schema and first fields: cheap), ``"full"``
        (decode every alert: about 1 ms each), or ``"none"``.
    idle_timeout_s
        A source without end markers ends after this long without a message.
    cache_mb
        Read a source of up to this many MB into memory before the first
        pass; ``0`` always reads it while playing.
    registry
        Registry for checking schema ids that are not Rubin's.
    stop
        Set it to stop the replay early (what is queued is flushed).
    on_pass
        Called with each pass's report as the pass ends.

    Raises
    ------
    ConfigurationError
        A value out of range (speed <= 0, producers < 1, ...).
    TopicError
        The source topic does not exist.
    """
    _check(speed, producers, repeat_interval_s, passes, partitions, idle_timeout_s, cache_mb)
    stop = stop or threading.Event()
    source = _Source(
        settings,
        src_topic,
        partitions_of(settings, src_topic),
        AlertDecoder(registry=registry),
        validate,
        RubinVisitCadence(visit_size=visit_size, visit_interval_s=visit_interval_s)
        if cadence == "rubin-visits"
        else None,
        idle_timeout_s,
        stop,
    )
    create_topic(settings, dst_topic, partitions=partitions or 1, must_be_new=False)
    summary = PlaySummary(skipped=source.skipped)
    if cache_mb > 0:
        started = time.perf_counter()
        if source.load(int(cache_mb * 1e6)):
            summary.loaded = len(source.cached or ())
            summary.load_seconds = time.perf_counter() - started
            _log.info("read %d alerts into memory in %.2f s", summary.loaded, summary.load_seconds)
    total_passes = passes if passes is not None else (None if repeat_interval_s else 1)
    senders = [BatchProducer(settings, extra_config=_PRODUCER_CONFIG) for _ in range(producers)]
    owned = _owned_partitions(len(partitions_of(settings, dst_topic)), producers)
    try:
        start = time.perf_counter()
        number = 0
        while not stop.is_set() and (total_passes is None or number < total_passes):
            number += 1
            report = _play_pass(source, dst_topic, number, start, speed, senders, owned, stop)
            summary.passes.append(report)
            _log.info("pass %d: %s", number, report.message)
            if on_pass is not None:
                on_pass(report)
            if repeat_interval_s is not None:
                start += repeat_interval_s
                if stop.wait(max(0.0, start - time.perf_counter())):
                    break
            else:
                start = time.perf_counter()
    finally:
        for sender in senders:
            sender.close()
    return summary


class _Source:
    """The source stream: its checked alerts, from memory or read pass by pass."""

    def __init__(
        self,
        settings: KafkaSettings | str,
        topic: str,
        partitions: list[int],
        decoder: AlertDecoder,
        validate: Validation,
        schedule: RubinVisitCadence | None,
        idle_timeout_s: float,
        stop: threading.Event,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.partitions = partitions
        self.decoder = decoder
        self.validate = validate
        self.schedule = schedule
        self.idle_timeout_s = idle_timeout_s
        self.stop = stop
        self.skipped: Counter[str] = Counter()
        self.cached: list[_Alert] | None = None

    def load(self, budget_bytes: int) -> bool:
        """Read the whole stream into memory if it fits in ``budget_bytes``."""
        alerts: list[_Alert] = []
        size = 0
        for alert in self._read():
            size += len(alert[1])
            if size > budget_bytes:
                _log.info(
                    "source %s is larger than the cache: reading it while playing", self.topic
                )
                self.skipped.clear()  # counted again pass by pass
                return False
            alerts.append(alert)
        self.cached = alerts
        return True

    def alerts(self) -> Iterator[_Alert]:
        """Return the alerts of one pass, in order."""
        if self.cached is not None:
            return iter(self.cached)
        return self._read()

    def _read(self) -> Iterator[_Alert]:
        """Read the topic from the start until it is exhausted, checking each alert."""
        ended: set[int] = set()
        index = 0
        with BatchConsumer(self.settings, start="earliest") as consumer:
            consumer.assign((self.topic, partition) for partition in self.partitions)
            idle_since = time.monotonic()
            while len(ended) < len(self.partitions) and not self.stop.is_set():
                records = consumer.consume_batch(_BATCH, _POLL_S)
                if not records:
                    if time.monotonic() - idle_since > self.idle_timeout_s:
                        _log.info(
                            "source %s idle for %.1f s: taking it as ended",
                            self.topic,
                            self.idle_timeout_s,
                        )
                        return
                    continue
                idle_since = time.monotonic()
                for record in records:
                    if record.header(HEADER_END) is not None:
                        ended.add(record.partition)
                        continue
                    reason = _problem(record, self.decoder, self.validate, self.schedule)
                    if reason is not None:
                        self.skipped[reason] += 1
                        continue
                    if self.schedule is not None:
                        due = self.schedule.due(index)
                    else:
                        due = max(0.0, float(record.header(HEADER_TIME_OFFSET) or 0))
                    index += 1
                    source = f"{record.partition}:{record.offset}".encode()
                    yield due, record.value, [*record.headers, (HEADER_SOURCE_OFFSET, source)]


def _play_pass(
    source: _Source,
    dst_topic: str,
    number: int,
    start: float,
    speed: float,
    senders: list[BatchProducer],
    owned: list[list[int]] | None,
    stop: threading.Event,
) -> PassReport:
    pending: queue.Queue[_Alert | None] = queue.Queue(_QUEUE_ALERTS)
    lags: list[list[float]] = [[] for _ in senders]
    threads = [
        threading.Thread(
            target=_send,
            args=(
                sender,
                dst_topic,
                pending,
                start,
                lags[index],
                stop,
                owned[index] if owned else None,
            ),
            name=f"play-sender-{index}",
            daemon=True,
        )
        for index, sender in enumerate(senders)
    ]
    for thread in threads:
        thread.start()
    pass_header = (HEADER_PASS, str(number).encode())
    try:
        for due, value, headers in source.alerts():
            if not _put(pending, (scaled(due, speed), value, [*headers, pass_header]), stop):
                break
    except BaseException:
        stop.set()  # the senders drop what is left, then the error goes up
        raise
    finally:
        for _ in threads:
            _put(pending, None, None)
        for thread in threads:
            thread.join()
        for sender in senders:
            sender.flush()
    flat = np.concatenate([np.asarray(lag) for lag in lags]) if any(lags) else np.zeros(1)
    return PassReport(
        number=number,
        sent=sum(len(lag) for lag in lags),
        seconds=time.perf_counter() - start,
        behind_median_s=float(np.median(flat)),
        behind_p99_s=float(np.percentile(flat, 99)),
        behind_max_s=float(flat.max()),
    )


def _problem(
    record: Record, decoder: AlertDecoder, validate: Validation, schedule: RubinVisitCadence | None
) -> str | None:
    """Why ``record`` cannot be replayed, in one word; ``None`` when it can."""
    if schedule is None:
        offset = record.header(HEADER_TIME_OFFSET)
        try:
            if offset is None or not math.isfinite(float(offset)):
                return "no-time-offset"
        except ValueError:
            return "no-time-offset"
    if validate == "none":
        return None
    try:
        alert = decoder.decode(record.value)
        if validate == "full":
            alert.record  # noqa: B018  (decodes every byte)
        else:
            alert.get("alert_id")
    except AlertDecodeError as exc:
        _log.debug("skipping %s:%d: %s", record.partition, record.offset, exc)
        return exc.kind
    except DecodeError as exc:
        _log.debug("skipping %s:%d: %s", record.partition, record.offset, exc)
        return "corrupt"
    return None


def _put(
    pending: queue.Queue[_Alert | None], item: _Alert | None, stop: threading.Event | None
) -> bool:
    """Queue ``item``, giving up when ``stop`` is set; return whether it was queued."""
    while True:
        try:
            pending.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            if stop is not None and stop.is_set():
                return False


def _send(
    producer: BatchProducer,
    topic: str,
    pending: queue.Queue[_Alert | None],
    start: float,
    lags: list[float],
    stop: threading.Event,
    partitions: list[int] | None,
) -> None:
    """Publish queued alerts when they are due (one sender thread).

    A sender with its own ``partitions`` writes to them in turn.
    """
    clock = time.perf_counter
    turns = itertools.cycle(partitions) if partitions else None
    while True:
        item = pending.get()
        if item is None:
            return
        if stop.is_set():
            continue  # drain without sending
        due, value, headers = item
        wait = start + due - clock()
        if wait > 0 and stop.wait(wait):
            continue
        now = clock()
        producer.produce(
            topic, value, headers=headers, partition=next(turns) if turns is not None else None
        )
        lags.append(max(0.0, now - start - due))


def _owned_partitions(partitions: int, senders: int) -> list[list[int]] | None:
    """Give each sender its own partitions, when there are enough to go round.

    One writer per partition keeps the source's order within a partition and
    avoids a bug of the embedded broker: with two producers appending to one
    partition, a consumer reading at the head of the log skipped records.
    With fewer partitions than senders, they share (``None``).
    """
    if partitions < senders:
        return None
    return [list(range(index, partitions, senders)) for index in range(senders)]


def _check(
    speed: float,
    producers: int,
    repeat_interval_s: float | None,
    passes: int | None,
    partitions: int | None,
    idle_timeout_s: float,
    cache_mb: float,
) -> None:
    problems = []
    if not speed > 0:
        problems.append(f"speed {speed} must be > 0 (inf for no pacing)")
    if producers < 1:
        problems.append(f"producers {producers} must be at least 1")
    if repeat_interval_s is not None and not repeat_interval_s > 0:
        problems.append(f"repeat interval {repeat_interval_s} s must be > 0")
    if passes is not None and passes < 1:
        problems.append(f"passes {passes} must be at least 1")
    if partitions is not None and partitions < 1:
        problems.append(f"partitions {partitions} must be at least 1")
    if not idle_timeout_s > 0:
        problems.append(f"idle timeout {idle_timeout_s} s must be > 0")
    if not cache_mb >= 0:
        problems.append(f"cache size {cache_mb} MB must be >= 0")
    if problems:
        raise ConfigurationError("; ".join(problems))
