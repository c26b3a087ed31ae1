"""The read-queue monitor: SAL's warnings as a topic's read queue fills.

Each bridged topic has a bounded *read queue* of L samples between its DDS
reader and the Kafka sender. :class:`ReadQueueMonitor` watches its size and
logs as Rubin's DDS-to-Kafka producer does, a warning while it fills and an
error once it is full.

>>> monitor = ReadQueueMonitor("MTM2.application", 100)
>>> monitor.thresholds
(10, 50, 90, 100)
"""

from __future__ import annotations

import logging

from skystream.exceptions import ConfigurationError

__all__ = ["MIN_QUEUE_LENGTH", "ReadQueueMonitor"]

# The package's name, not this module's: operators filter on (and tests match)
# "skystream.sal.bridge", the name the bridge logged under before it was split.
_log = logging.getLogger("skystream.sal.bridge")

#: The smallest read queue (as in SAL).
MIN_QUEUE_LENGTH = 10


class ReadQueueMonitor:
    """Log when a topic's read queue fills, as SAL's queue checker does.

    Thresholds are 5-10 elements (whichever is closest to L/10), L/2 (when
    L >= 20), 9L/10 and L. Reaching an armed threshold logs one message and
    disarms every threshold up to the current size: a warning ``"<name> DDS
    read queue is filling: <n> of <L> elements"``, or, when the queue is
    full, an error ``"<name> DDS read queue is full (<L> elements); data may
    be lost"``. A threshold re-arms once the queue has drained to half of it.

    Parameters
    ----------
    name
        How messages name the queue's topic.
    length
        The queue's capacity L (at least :data:`MIN_QUEUE_LENGTH`).
    logger
        Where messages go (default: the ``skystream.sal.bridge`` logger).

    Examples
    --------
    >>> monitor = ReadQueueMonitor("MTM2.application", 100)
    >>> monitor.check(24)
    (30, 'MTM2.application DDS read queue is filling: 24 of 100 elements')
    >>> monitor.check(30) is None
    True
    """

    def __init__(self, name: str, length: int, logger: logging.Logger | None = None) -> None:
        if length < MIN_QUEUE_LENGTH:
            raise ConfigurationError(
                f"read queue length must be at least {MIN_QUEUE_LENGTH}, got {length}"
            )
        self.name = name
        self.length = length
        self.logger = logger if logger is not None else _log
        wanted = {min(10, max(5, length // 10)), length * 9 // 10, length}
        if length >= 20:
            wanted.add(length // 2)
        self.thresholds: tuple[int, ...] = tuple(sorted(wanted))
        self._armed = [True] * len(self.thresholds)

    @property
    def armed(self) -> tuple[int, ...]:
        """The thresholds that would log if reached now."""
        return tuple(t for t, on in zip(self.thresholds, self._armed, strict=True) if on)

    def check(self, size: int) -> tuple[int, str] | None:
        """Look at the queue's size; log, and return ``(level, message)``, at a threshold."""
        reached = [i for i, t in enumerate(self.thresholds) if size >= t and self._armed[i]]
        if reached:
            for i, threshold in enumerate(self.thresholds):
                if threshold <= size:
                    self._armed[i] = False
            if size >= self.length:
                report = (
                    logging.ERROR,
                    f"{self.name} DDS read queue is full ({self.length} elements); "
                    "data may be lost",
                )
            else:
                report = (
                    logging.WARNING,
                    f"{self.name} DDS read queue is filling: {size} of {self.length} elements",
                )
            self.logger.log(*report)
            return report
        for i, threshold in enumerate(self.thresholds):
            if not self._armed[i] and size <= threshold // 2:
                self._armed[i] = True
        return None
