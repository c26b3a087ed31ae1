"""Publish SAL topics on DDS as a CSC would: full samples at chosen rates.

For demos and for testing the DDS-to-Kafka bridge (:mod:`skystream.sal.bridge`):
:func:`simulate` writes every topic of the given components at its rate,
with every field set to a value that is not its default, and returns how many
samples it wrote per topic, so a test can check that Kafka received exactly those.

Values are a function of the topic and the sequence number
(:func:`sample_values`), so a reader can recompute what it should have got.
Private fields are filled as SAL's writers do: ``private_sndStamp`` is TAI
now, ``private_seqNum`` counts from 1 per topic, ``private_identity`` is the
component's name (``MTHexapod:1`` for an indexed one), ``private_origin`` the
process id, ``private_revCode`` the revision code of the topic's Avro schema.

Rates come from rules ``PATTERN=HZ`` (:func:`parse_rate`), matched against
``sal_name``, ``attr_name`` and ``CSC.`` plus either, shell-style; the last
matching rule wins. ``HZ`` is a number of samples per second, ``0`` (never)
or ``max`` (as fast as DDS takes them). Without a rule telemetry goes at
1 Hz, events at 0.2 Hz; commands and ``ackcmd`` are not written.

>>> rule = parse_rate("MTM1M3.forceActuatorData=max")
>>> rule.pattern, rule.hz
('MTM1M3.forceActuatorData', inf)
"""

from __future__ import annotations

import fnmatch
import heapq
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skystream.exceptions import ConfigurationError
from skystream.sal.avro import avro_schema, rev_code
from skystream.sal.dds import (
    DdsParticipant,
    DdsSettings,
    dds_type,
    delete_entity,
    require_cyclonedds,
)
from skystream.sal.model import SalComponent, SalField, SalTopic
from skystream.sal.samples import tai_now

__all__ = [
    "DEFAULT_RATES_HZ",
    "RateRule",
    "SimulationResult",
    "parse_rate",
    "sample_values",
    "simulate",
    "topic_label",
    "topic_rates",
]

#: Samples per second of each kind of topic when no rule names it.
DEFAULT_RATES_HZ: Mapping[str, float] = {
    "telemetry": 1.0,
    "event": 0.2,
    "command": 0.0,
    "ackcmd": 0.0,
}

_MAX_BURST = 64  # samples of a max-rate topic written before looking at the clock again
_SEQ_LIMIT = 2**31 - 1  # private_seqNum is a 32-bit int; it cycles back to 1


@dataclass(frozen=True)
class RateRule:
    """``pattern=hz``: topics whose names match ``pattern`` are written ``hz`` times a second."""

    pattern: str
    hz: float

    def matches(self, topic: SalTopic) -> bool:
        """Tell whether ``pattern`` matches the SAL or attribute name, bare or ``CSC.``-prefixed."""
        names = (topic.sal_name, topic.attr_name)
        candidates = (*names, *(f"{topic.component}.{name}" for name in names))
        return any(fnmatch.fnmatchcase(name, self.pattern) for name in candidates)


def parse_rate(text: str) -> RateRule:
    """Parse ``TOPIC=HZ`` (``HZ``: a number >= 0, or ``max``).

    Raises
    ------
    ConfigurationError
        When the text is not of that form.
    """
    pattern, sep, value = text.partition("=")
    pattern, value = pattern.strip(), value.strip().lower()
    if not sep or not pattern or not value:
        raise ConfigurationError(
            f"a rate is TOPIC=HZ such as forceActuatorData=50, MTM2.evt_*=0.1 or tel_*=max; "
            f"got {text!r}"
        )
    if value in ("max", "inf"):
        return RateRule(pattern, math.inf)
    try:
        hz = float(value)
    except ValueError:
        hz = -1.0
    if not hz >= 0 or math.isnan(hz):
        raise ConfigurationError(f"rate {text!r}: HZ must be a number >= 0 or 'max', got {value!r}")
    return RateRule(pattern, hz)


def topic_label(topic: SalTopic) -> str:
    """``CSC.sal_name``: how results name a topic."""
    return f"{topic.component}.{topic.sal_name}"


def topic_rates(
    components: Iterable[SalComponent],
    rules: Iterable[RateRule | str] = (),
    defaults: Mapping[str, float] = DEFAULT_RATES_HZ,
) -> dict[SalTopic, float]:
    """Return the rate (Hz) of every topic that will be written (rate > 0).

    Raises
    ------
    ConfigurationError
        When a rule is malformed or matches no topic at all (most likely a typo).
    """
    parsed = [rule if isinstance(rule, RateRule) else parse_rate(rule) for rule in rules]
    used = [False] * len(parsed)
    rates: dict[SalTopic, float] = {}
    for component in components:
        for topic in component.topics.values():
            hz = defaults.get(topic.kind, 0.0)
            for position, rule in enumerate(parsed):
                if rule.matches(topic):
                    hz = rule.hz
                    used[position] = True
            if hz > 0:
                rates[topic] = hz
    unused = [rule.pattern for rule, hit in zip(parsed, used, strict=True) if not hit]
    if unused:
        raise ConfigurationError(
            f"rate rule(s) {', '.join(unused)} match no topic of the simulated components; "
            "name topics as forceActuatorData, tel_forceActuatorData or MTM1M3.forceActuatorData"
        )
    return rates


def sample_values(topic: SalTopic, seq: int) -> dict[str, Any]:
    """Return the item values written with sequence number ``seq`` (never a field's default).

    Scalars change with ``seq``; arrays are fixed non-zero ramps. Floats are
    multiples of 0.25, exact in 32 bits, so a reader can compare exactly.
    """
    return {item.name: _value(item, position, seq) for position, item in enumerate(topic.fields)}


def _value(item: SalField, position: int, seq: int) -> Any:
    kind = item.idl_type
    if kind == "boolean":
        return [True] * item.count if item.count > 1 else True
    if kind == "string":
        text = f"{item.name} {seq}"
        return text[: item.size] if item.size is not None and item.size > 1 else text
    if kind in ("float", "double"):
        if item.count > 1:
            return [0.25 + ((position + k) % 1000) * 0.5 for k in range(item.count)]
        return 0.25 + ((position + seq) % 1000) * 0.5
    # Integers: 1..100 fits every SAL integer type, signed or not.
    if item.count > 1:
        return [1 + (position + k) % 100 for k in range(item.count)]
    return 1 + (position + seq) % 100


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    counts
        Samples written per topic, by :func:`topic_label` (``MTM1M3.forceActuatorData``).
    elapsed_s
        Seconds from the first write to the last acknowledgement.
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        """All samples written."""
        return sum(self.counts.values())


class _TopicWriter:
    """One topic's writer, its next sequence number and its schedule."""

    def __init__(
        self, participant: DdsParticipant, topic: SalTopic, hz: float, index: int, identity: str
    ) -> None:
        self.topic = topic
        self.label = topic_label(topic)
        self.period_s = 0.0 if math.isinf(hz) else 1.0 / hz
        self.writer = participant.writer(topic)
        self.type = dds_type(topic)
        self.written = 0
        self.fixed: dict[str, Any] = {
            "private_revCode": rev_code(avro_schema(topic)),
            "private_rcvStamp": 0.0,
            "private_identity": identity,
            "private_origin": os.getpid(),
        }
        if topic.indexed:
            self.fixed["salIndex"] = index
        # Array values do not change with seq: made once, shared by every sample.
        self.arrays = {
            item.name: _value(item, position, 0)
            for position, item in enumerate(topic.fields)
            if item.count > 1
        }
        self.scalars = [
            (position, item) for position, item in enumerate(topic.fields) if item.count == 1
        ]

    def write(self) -> None:
        seq = self.written % _SEQ_LIMIT + 1
        values = {item.name: _value(item, position, seq) for position, item in self.scalars}
        sample = self.type(
            **self.fixed,
            **self.arrays,
            **values,
            private_sndStamp=tai_now(),
            private_seqNum=seq,
        )
        self.writer.write(sample)
        self.written += 1


def simulate(
    components: Sequence[SalComponent],
    *,
    rates: Iterable[RateRule | str] = (),
    count: int | None = None,
    duration_s: float | None = None,
    settings: DdsSettings | None = None,
    index: int | None = None,
    identity: str | None = None,
    stop: threading.Event | None = None,
    wait_readers: int = 0,
    wait_timeout_s: float = 10.0,
) -> SimulationResult:
    """Write SAL topics on DDS at their rates until done; return what was written.

    Parameters
    ----------
    components
        Components to act as.
    rates
        :class:`RateRule` or ``"PATTERN=HZ"`` texts (see the module docs).
    count
        Samples per topic; the run ends when every topic has written them.
    duration_s
        Seconds to run (whichever of ``count`` and ``duration_s`` ends first).
        With neither, the run lasts until ``stop`` is set.
    settings
        DDS domain and network (default :meth:`DdsSettings.from_env`).
    index
        ``salIndex`` of indexed components (default 1).
    identity
        ``private_identity`` (default: the component name, ``CSC:index`` if indexed).
    stop
        Set it to end the run early (from another thread or a signal handler).
    wait_readers
        Before writing, wait until every writer has matched this many DDS
        readers (a bridge, say), so that nothing is written before anyone listens.
    wait_timeout_s
        How long to wait for those readers.

    Raises
    ------
    ConfigurationError
        Bad rates or bounds, no topic to write, or readers that did not appear.
    """
    if count is not None and count < 0:
        raise ConfigurationError(f"count must be >= 0, got {count}")
    if duration_s is not None and duration_s < 0:
        raise ConfigurationError(f"duration must be >= 0 seconds, got {duration_s}")
    require_cyclonedds()
    chosen = topic_rates(components, rates)
    if not chosen:
        raise ConfigurationError(
            "no topic to write: every rate is 0; give one with --rate TOPIC=HZ"
        )
    stop = stop if stop is not None else threading.Event()
    with DdsParticipant(settings) as participant:
        writers = []
        for topic, hz in chosen.items():
            component = next(c for c in components if c.name == topic.component)
            sal_index = 1 if index is None else index
            who = identity or (
                f"{component.name}:{sal_index}" if component.indexed else component.name
            )
            writers.append(_TopicWriter(participant, topic, hz, sal_index, who))
        try:
            if wait_readers > 0:
                _wait_for_readers(writers, wait_readers, wait_timeout_s, stop)
            started = time.monotonic()
            _run_schedule(writers, count, duration_s, stop)
            _wait_for_acks(writers)
            elapsed = time.monotonic() - started
        finally:
            for writer in writers:
                delete_entity(writer.writer)
    return SimulationResult({w.label: w.written for w in writers}, elapsed)


def _run_schedule(
    writers: list[_TopicWriter], count: int | None, duration_s: float | None, stop: threading.Event
) -> None:
    start = time.monotonic()
    deadline = math.inf if duration_s is None else start + duration_s
    limit = math.inf if count is None else count
    # Paced topics in a heap by due time; max-rate topics written round-robin between.
    paced = [(start, n, w) for n, w in enumerate(writers) if w.period_s > 0]
    heapq.heapify(paced)
    flat_out = [w for w in writers if w.period_s == 0]
    if limit == 0:
        return
    while not stop.is_set():
        now = time.monotonic()
        if now >= deadline:
            return
        while paced and paced[0][0] <= now:
            due, n, writer = heapq.heappop(paced)
            writer.write()
            if writer.written < limit:
                # Keep the cadence, but never try to catch up more than a period.
                heapq.heappush(paced, (max(due + writer.period_s, now), n, writer))
        for writer in flat_out:
            for _ in range(int(min(_MAX_BURST, limit - writer.written))):
                writer.write()
        flat_out = [w for w in flat_out if w.written < limit]
        if not paced and not flat_out:
            return
        if not flat_out:
            stop.wait(max(0.0, min(paced[0][0], deadline) - time.monotonic()))


def _wait_for_readers(
    writers: list[_TopicWriter], wanted: int, timeout_s: float, stop: threading.Event
) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = list(writers)
    while waiting and not stop.is_set():
        waiting = [w for w in waiting if len(w.writer.get_matched_subscriptions()) < wanted]
        if not waiting:
            return
        if time.monotonic() > deadline:
            names = ", ".join(w.label for w in waiting[:5])
            raise ConfigurationError(
                f"after {timeout_s:g} s, {len(waiting)} topic(s) still have fewer than "
                f"{wanted} DDS reader(s) ({names}...): is the bridge running on the same "
                "DDS domain and network (--domain, --loopback)?"
            )
        stop.wait(0.02)


def _wait_for_acks(writers: list[_TopicWriter], timeout_s: float = 10.0) -> None:
    from cyclonedds.util import duration

    # Reliable writers hold what readers have not acknowledged; deleting them
    # now would drop it.
    deadline = time.monotonic() + timeout_s
    for writer in writers:
        remaining = max(0.0, deadline - time.monotonic())
        writer.writer.wait_for_acks(duration(seconds=remaining))
