"""``print-stream``: look at an alert stream, all of it or between two bounds.

A bound is a Kafka offset (``120``), a stream time in seconds since the first
alert (``+30s``, from the ``alertsim-time-offset`` header), or a wall-clock
time (``2026-11-21T03:00:00``, compared with the message timestamp, UTC when no
zone is given). Reading starts at the first message at or after ``start`` and
stops before the first at or after ``end`` (like a Python slice), at the end
of the stream (its end-of-stream markers, or ``idle_timeout_s`` without a
message: end offsets are never used), or after ``count`` alerts.

>>> Bound.parse("+30s")
Bound(kind='time-offset', value=30.0)
>>> Bound.parse("120")
Bound(kind='offset', value=120.0)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from skystream.alerts.decoder import AlertDecoder
from skystream.config import KafkaSettings
from skystream.exceptions import ConfigurationError, DecodeError
from skystream.kafka.consumer import BatchConsumer
from skystream.kafka.records import Record
from skystream.kafka.topics import partitions_of
from skystream.simulator.topics import HEADER_END, HEADER_TIME_OFFSET

__all__ = ["Bound", "StreamEntry", "read_stream"]

_BATCH = 500
_POLL_S = 0.2


@dataclass(frozen=True)
class Bound:
    """One end of a bounded read: an offset, a stream time offset (s), or a timestamp (ms)."""

    kind: Literal["offset", "time-offset", "timestamp"]
    value: float

    @classmethod
    def parse(cls, text: str) -> Bound:
        """Read ``120``, ``+30s`` / ``30.5s``, or an ISO 8601 time.

        Raises
        ------
        ConfigurationError
            If ``text`` is none of these; the message shows each form.
        """
        cleaned = text.strip()
        if cleaned.isdigit():
            return cls("offset", float(cleaned))
        if cleaned.endswith("s"):
            try:
                return cls("time-offset", float(cleaned.lstrip("+")[:-1]))
            except ValueError:
                pass
        try:
            moment = datetime.fromisoformat(cleaned)
        except ValueError:
            raise ConfigurationError(
                f"{text!r} is not a stream position: use an offset (120), a time since the "
                "first alert (+30s), or an ISO time (2026-11-21T03:00:00)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return cls("timestamp", moment.timestamp() * 1000.0)

    def position(self, record: Record) -> float | None:
        """Where ``record`` stands on this bound's scale (``None``: cannot tell)."""
        if self.kind == "offset":
            return float(record.offset)
        if self.kind == "timestamp":
            stamp = record.timestamp_ms
            return float(stamp) if stamp is not None else None
        return _time_offset(record)


@dataclass(frozen=True)
class StreamEntry:
    """One message of an alert stream, summarised.

    ``error`` says why the alert could not be read; the other alert fields
    are ``None`` then.
    """

    partition: int
    offset: int
    timestamp_ms: int | None
    time_offset_s: float | None
    size: int
    alert_id: int | None = None
    history_length: int | None = None
    is_sso: bool | None = None
    error: str | None = None

    def line(self) -> str:
        """One line for humans: time, id, history length and size."""
        if self.time_offset_s is not None:
            when = f"+{self.time_offset_s:10.3f}s"
        elif self.timestamp_ms is not None:
            when = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(
                timespec="milliseconds"
            )
        else:
            when = "-"
        where = f"{self.partition}:{self.offset}"
        if self.error is not None:
            return f"{when}  {where:>9}  unreadable ({self.error})  size={self.size:,} B"
        sso = "  sso" if self.is_sso else ""
        return (
            f"{when}  {where:>9}  id={self.alert_id}  history={self.history_length}  "
            f"size={self.size:,} B{sso}"
        )


def read_stream(
    settings: KafkaSettings | str,
    topic: str,
    *,
    count: int | None = None,
    start: Bound | None = None,
    end: Bound | None = None,
    idle_timeout_s: float = 5.0,
    decoder: AlertDecoder | None = None,
) -> Iterator[StreamEntry]:
    """Yield a summary of each alert of ``topic`` from ``start`` to ``end``.

    Raises
    ------
    TopicError
        If ``topic`` does not exist.
    ConfigurationError
        ``count`` < 0 or ``idle_timeout_s`` <= 0.
    """
    if count is not None and count < 0:
        raise ConfigurationError(f"count {count} must be >= 0")
    if not idle_timeout_s > 0:
        raise ConfigurationError(f"idle timeout {idle_timeout_s} s must be > 0")
    if count == 0:
        return
    partitions = partitions_of(settings, topic)
    decoder = decoder or AlertDecoder()
    first: int | Literal["earliest"] = (
        int(start.value) if start is not None and start.kind == "offset" else "earliest"
    )
    done: set[int] = set()
    seen = 0
    with BatchConsumer(settings, start=first) as consumer:
        consumer.assign((topic, partition) for partition in partitions)
        idle_since = time.monotonic()
        while len(done) < len(partitions):
            records = consumer.consume_batch(_BATCH, _POLL_S)
            if not records:
                if time.monotonic() - idle_since > idle_timeout_s:
                    return
                continue
            idle_since = time.monotonic()
            for record in records:
                if record.partition in done:
                    continue
                if record.header(HEADER_END) is not None:
                    done.add(record.partition)
                    continue
                if start is not None and _before(record, start):
                    continue
                if end is not None and not _before(record, end):
                    done.add(record.partition)
                    continue
                yield _entry(record, decoder)
                seen += 1
                if count is not None and seen >= count:
                    return


def _before(record: Record, bound: Bound) -> bool:
    position = bound.position(record)
    return position is not None and position < bound.value


def _entry(record: Record, decoder: AlertDecoder) -> StreamEntry:
    value = record.value
    where = (record.partition, record.offset, record.timestamp_ms, _time_offset(record), len(value))
    try:
        alert = decoder.decode(value)
        return StreamEntry(
            *where,
            alert_id=alert.alert_id,
            history_length=alert.history_length,
            is_sso=alert.is_sso,
        )
    except DecodeError as exc:
        return StreamEntry(*where, error=str(exc))


def _time_offset(record: Record) -> float | None:
    raw = record.header(HEADER_TIME_OFFSET)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
