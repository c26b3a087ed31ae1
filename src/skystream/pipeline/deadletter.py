"""Dead letters: messages a component could not handle, kept with the reason why.

A message that cannot be decoded, or that makes a processor or sink fail, is
written **unchanged** (its original value and key, and its original headers)
to the component's dead-letter topic, with headers saying what happened:

==========================  =====================================================
``skystream-component``     the component's name
``skystream-step``          the step that failed (``decode``, or a step's name)
``skystream-error``         the error's type and message (at most 1,000 characters)
``skystream-source``        where it came from: ``topic/partition/offset``
==========================  =====================================================

The headers come after the original ones, so ``Record.header(name)`` (the last
value of a name) reads this component's verdict even for a message that was a
dead letter before. Dead letters are counted by step and reason; they are
flushed with the sinks, before offsets are committed, so a crash never loses one.

>>> headers = dead_letter_headers("filter", "decode", ValueError("bad"), "alerts", 0, 7)
>>> dict(headers)["skystream-source"]
b'alerts/0/7'
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from skystream.exceptions import AlertDecodeError, DecodeError

__all__ = [
    "HEADER_COMPONENT",
    "HEADER_ERROR",
    "HEADER_SOURCE",
    "HEADER_STEP",
    "MAX_ERROR_CHARS",
    "DeadLetters",
    "MessageProducer",
    "SourceMessage",
    "dead_letter_headers",
    "error_reason",
    "error_text",
]

_log = logging.getLogger(__name__)

HEADER_COMPONENT = "skystream-component"
HEADER_STEP = "skystream-step"
HEADER_ERROR = "skystream-error"
HEADER_SOURCE = "skystream-source"

#: Longest error text kept in a header (a traceback-sized message is cut).
MAX_ERROR_CHARS = 1000

HeaderList = list[tuple[str, bytes | None]]


class SourceMessage(Protocol):
    """What a dead letter needs of a consumed message (a :class:`~skystream.kafka.Record`)."""

    @property
    def topic(self) -> str:
        """Topic it was read from."""
        ...

    @property
    def partition(self) -> int:
        """Partition it was read from."""
        ...

    @property
    def offset(self) -> int:
        """Its offset in that partition."""
        ...

    @property
    def key(self) -> bytes | None:
        """Its key."""
        ...

    @property
    def value(self) -> bytes:
        """Its value, as it arrived."""
        ...

    @property
    def headers(self) -> HeaderList:
        """Its headers, in order."""
        ...


class MessageProducer(Protocol):
    """What dead letters are written with (a :class:`~skystream.kafka.BatchProducer`)."""

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: HeaderList | None = None,
    ) -> None:
        """Queue one message."""
        ...

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every queued message is stored; raise if one was not."""
        ...

    def close(self, timeout_s: float = 5.0) -> None:
        """Release the client."""
        ...


def error_text(error: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """Return ``"Type: message"``, cut to ``limit`` characters (ending in ``...``)."""
    text = f"{type(error).__name__}: {error}"
    if len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


def error_reason(error: BaseException) -> str:
    """Return one word to count an error by: an alert decode error's kind, else its type."""
    if isinstance(error, AlertDecodeError):
        return error.kind
    if isinstance(error, DecodeError):
        return "corrupt"
    return type(error).__name__


def dead_letter_headers(
    component: str,
    step: str,
    error: BaseException,
    topic: str,
    partition: int,
    offset: int,
    original: Sequence[tuple[str, bytes | None]] = (),
) -> HeaderList:
    """Return the headers of a dead letter: the original ones, then skystream's four."""
    return [
        *original,
        (HEADER_COMPONENT, component.encode()),
        (HEADER_STEP, step.encode()),
        (HEADER_ERROR, error_text(error).encode("utf-8", "replace")),
        (HEADER_SOURCE, f"{topic}/{partition}/{offset}".encode()),
    ]


class DeadLetters:
    """Writes a component's bad messages, unchanged, to its dead-letter topic.

    Parameters
    ----------
    component
        The component's name (the ``skystream-component`` header).
    topic
        The dead-letter topic; ``None`` keeps no copy: each bad message is
        then logged as a warning and counted (never dropped silently).
    producer
        What writes them (needed when ``topic`` is set); closed by :meth:`close`.

    Examples
    --------
    >>> letters = DeadLetters("filter", "filter-dead-letters", producer)  # doctest: +SKIP
    >>> letters.add(record, "decode", error)                               # doctest: +SKIP
    >>> letters.flush()                                                    # doctest: +SKIP
    """

    def __init__(
        self,
        component: str,
        topic: str | None = None,
        producer: MessageProducer | None = None,
    ) -> None:
        if topic is not None and producer is None:
            raise ValueError(f"dead-letter topic {topic!r} needs a producer to write it with")
        self.component = component
        self.topic = topic
        self._producer = producer
        #: Dead letters by ``(step, reason)`` since the start.
        self.counts: Counter[tuple[str, str]] = Counter()
        self.pending = 0

    @property
    def total(self) -> int:
        """Dead letters since the start."""
        return sum(self.counts.values())

    def by_step(self) -> dict[str, int]:
        """Dead letters per step."""
        steps: Counter[str] = Counter()
        for (step, _), count in self.counts.items():
            steps[step] += count
        return dict(steps)

    def add(self, message: SourceMessage, step: str, error: BaseException) -> None:
        """Queue ``message`` for the dead-letter topic, with why ``step`` could not handle it."""
        self.counts[step, error_reason(error)] += 1
        where = f"{message.topic}/{message.partition}/{message.offset}"
        if self.topic is None or self._producer is None:
            _log.warning(
                "%s: step %s failed on %s (no dead-letter topic configured): %s",
                self.component,
                step,
                where,
                error_text(error),
            )
            return
        _log.info("%s: dead letter from step %s at %s: %s", self.component, step, where, error)
        headers = dead_letter_headers(
            self.component,
            step,
            error,
            message.topic,
            message.partition,
            message.offset,
            message.headers,
        )
        self._producer.produce(self.topic, message.value, message.key, headers)
        self.pending += 1

    def flush(self) -> None:
        """Wait until every queued dead letter is stored; raise ``DeliveryError`` if one was not."""
        if self._producer is not None and self.pending:
            self._producer.flush()
        self.pending = 0

    def close(self) -> None:
        """Flush and release the producer."""
        try:
            self.flush()
        finally:
            if self._producer is not None:
                self._producer.close()
                self._producer = None
