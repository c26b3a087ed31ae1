"""The DDS-to-Kafka bridge: every sample of chosen SAL components, as Avro, on Kafka.

What Rubin's DDS-to-Kafka producer does, plus changes without a restart::

    DDS reader ──take──▶ read queue (L samples) ──▶ Avro (Confluent wire format) ──▶ Kafka
    (one per topic)       monitored: 10, L/2, 9L/10, L

- One DDS reader per topic of each bridged component (or of a topic set).
  A reader thread takes samples into the topic's bounded *read queue*; a
  sender thread stamps them (``private_rcvStamp`` TAI when read,
  ``private_efdStamp`` = ``private_sndStamp`` in UTC, ``private_kafkaStamp``
  TAI when produced), writes them as Avro with the schema registered under
  ``lsst.<subname>.<CSC>.<topic>-value`` and produces them. Event topics are
  keyed and compacted; Kafka topics are created only when missing.
- Backpressure: a full read queue stops the reader thread taking that topic;
  the DDS reader then keeps the last ``dds_depth`` samples and drops older
  ones, as SAL's readers do (the writer is never slowed down).
  :class:`ReadQueueMonitor` logs as Rubin's producer does:
  ``"MTM2.application DDS read queue is filling: 24 of 100 elements"``
  (warning) and ``"... is full (100 elements); data may be lost"`` (error).
- :meth:`Bridge.add` and :meth:`Bridge.remove` change the components of a
  running bridge; readers of the other components are not touched, so they
  lose nothing. ``skystream sal bridge-ctl`` reaches a running bridge
  through a Unix socket in its control directory (:func:`control_request`).
- :meth:`Bridge.stop` is graceful: what DDS has delivered is taken, queued
  samples are sent and the producer is flushed.
- :func:`run_topic_sets` runs a topic-sets file (:class:`TopicSetsFile`, Rubin's
  layout): each set in its own process.

>>> monitor = ReadQueueMonitor("MTM2.application", 100)
>>> monitor.thresholds
(10, 50, 90, 100)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import multiprocessing
import os
import queue
import signal
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from skystream import exceptions
from skystream.codecs import avro
from skystream.codecs.wire import pack
from skystream.config import KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError, SalInterfaceError, SkystreamError
from skystream.sal.avro import avro_schema, message_key, topic_config
from skystream.sal.dds import (
    DdsParticipant,
    DdsSettings,
    byte_array_names,
    dds_field_names,
    delete_entity,
    require_cyclonedds,
    to_record,
)
from skystream.sal.model import SalComponent, SalTopic
from skystream.sal.samples import tai_minus_utc, tai_now
from skystream.schemas.avro import AvroSchema

__all__ = [
    "CONTROL_SOCKET",
    "MIN_QUEUE_LENGTH",
    "Bridge",
    "BridgeSettings",
    "BridgeStats",
    "ComponentSets",
    "ReadQueueMonitor",
    "TopicSet",
    "TopicSetPlan",
    "TopicSetsFile",
    "control_request",
    "plan_topic_sets",
    "run_bridge",
    "run_topic_sets",
    "with_scram",
]

_log = logging.getLogger(__name__)

#: The smallest read queue (as in SAL).
MIN_QUEUE_LENGTH = 10
#: Name of the control socket inside a bridge's control directory.
CONTROL_SOCKET = "bridge.sock"

_TAKE_BATCH = 500
_SEND_BATCH = 200
_IDLE_WAIT_S = 0.1
_BLOCKED_WAIT_S = 0.005


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
        Where messages go (default: this module's logger).

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


WaitAck = Literal["0", "1", "all"]


@dataclass(frozen=True)
class BridgeSettings:
    """Everything a bridge needs besides its components.

    Attributes
    ----------
    kafka, registry
        Where to produce and where to register schemas.
    dds
        DDS domain and network.
    partitions
        Partitions of the Kafka topics the bridge creates (> 0).
    replication_factor
        Replication factor of those topics (Rubin's default: 3).
    wait_ack
        Producer acks: ``"0"``, ``"1"`` or ``"all"``.
    queue_length
        Read queue length L of each topic (>= 10).
    dds_depth
        Samples per instance a DDS reader keeps while its read queue is full.
    subname
        Kafka topics are ``lsst.<subname>.<CSC>.<topic>``.
    linger_ms
        How long the producer may wait to fill a batch.
    drain_timeout_s
        On stop or removal, how long to keep taking what DDS still delivers.
    interfaces
        ts_xml directory to load components added by name (default:
        ``SKYSTREAM_SAL_INTERFACES``).
    """

    kafka: KafkaSettings
    registry: RegistrySettings
    dds: DdsSettings = field(default_factory=DdsSettings)
    partitions: int = 1
    replication_factor: int = 3
    wait_ack: WaitAck = "1"
    queue_length: int = 100
    dds_depth: int = 1000
    subname: str = "sal"
    linger_ms: int = 5
    drain_timeout_s: float = 5.0
    interfaces: Path | None = None

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ConfigurationError(f"partitions must be > 0, got {self.partitions}")
        if self.replication_factor < 1:
            raise ConfigurationError(
                f"replication factor must be > 0, got {self.replication_factor}"
            )
        if self.wait_ack not in ("0", "1", "all"):
            raise ConfigurationError(f"wait_ack must be 0, 1 or all, got {self.wait_ack!r}")
        if self.queue_length < MIN_QUEUE_LENGTH:
            raise ConfigurationError(
                f"queue length must be at least {MIN_QUEUE_LENGTH}, got {self.queue_length}"
            )
        if self.dds_depth < 1:
            raise ConfigurationError(f"DDS history depth must be > 0, got {self.dds_depth}")


def with_scram(
    settings: KafkaSettings, username: str | None, password: str | None
) -> KafkaSettings:
    """Return ``settings`` logging in with SASL SCRAM-SHA-512 (Rubin's setup) when asked.

    Either argument may come from ``settings`` (``SKYSTREAM_SASL_USERNAME``,
    ``SKYSTREAM_SASL_PASSWORD``, the config file); with neither given here,
    ``settings`` are returned as they are.

    Raises
    ------
    ConfigurationError
        When a user name or password is given and the other is nowhere.
    """
    if username is None and password is None:
        return settings
    user = username or settings.sasl_username
    secret = pydantic.SecretStr(password) if password is not None else settings.sasl_password
    if not user or secret is None:
        raise ConfigurationError(
            "SASL SCRAM-SHA-512 needs both a user name and a password: pass --username and "
            "--password (or set SKYSTREAM_SASL_USERNAME and SKYSTREAM_SASL_PASSWORD)"
        )
    protocol = "SASL_SSL" if settings.security_protocol in ("SSL", "SASL_SSL") else "SASL_PLAINTEXT"
    return settings.model_copy(
        update={
            "security_protocol": protocol,
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": user,
            "sasl_password": secret,
        }
    )


@dataclass(frozen=True)
class TopicCounts:
    """Samples of one topic: taken from DDS, and handed to the Kafka producer."""

    read: int
    sent: int


@dataclass(frozen=True)
class BridgeStats:
    """What a bridge has moved, per topic label (``MTM2.application``).

    Attributes
    ----------
    topics
        Samples read and sent, per topic.
    failed
        Samples that could not be encoded or whose delivery failed while running.
    undelivered
        The producer's last word when, on stop, messages were still undelivered
        or had failed (``None`` when all was delivered).
    """

    topics: Mapping[str, TopicCounts]
    failed: int = 0
    undelivered: str | None = None

    @property
    def read(self) -> int:
        """Samples taken from DDS."""
        return sum(c.read for c in self.topics.values())

    @property
    def sent(self) -> int:
        """Samples handed to the producer."""
        return sum(c.sent for c in self.topics.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {
            "read": self.read,
            "sent": self.sent,
            "failed": self.failed,
            "undelivered": self.undelivered,
            "topics": {k: {"read": c.read, "sent": c.sent} for k, c in self.topics.items()},
        }


class _Link:
    """One topic's path: DDS reader, read queue, Avro schema and Kafka topic."""

    def __init__(self, topic: SalTopic, settings: BridgeSettings, partitions: int) -> None:
        self.topic = topic
        self.label = f"{topic.component}.{topic.sal_name}"
        self.kafka_topic = topic.kafka_topic(settings.subname)
        self.partitions = partitions
        self.names = dds_field_names(topic)
        self.byte_arrays = byte_array_names(topic)
        self.queue: deque[tuple[Any, float]] = deque()
        self.monitor = ReadQueueMonitor(self.label, settings.queue_length)
        self.schema: AvroSchema | None = None
        self.header = b""
        self.keys: dict[int | None, bytes | None] = {}
        self.reader: Any = None
        self.condition: Any = None
        self.read = 0
        self.sent = 0
        self.drain_until = 0.0

    def key(self, index: int | None) -> bytes | None:
        if index in self.keys:
            return self.keys[index]
        made = self.keys[index] = message_key(self.topic, index)
        return made


@dataclass
class _Request:
    kind: Literal["attach", "detach"]
    links: list[_Link]
    done: threading.Event = field(default_factory=threading.Event)


def _load_component(interfaces: Path | None, name: str) -> SalComponent:
    from skystream.sal.interfaces import load_interfaces

    return load_interfaces(interfaces, components=[name]).component(name)


class Bridge:
    """A running DDS-to-Kafka bridge for any number of components.

    Parameters
    ----------
    settings
        Kafka, registry, DDS and queue settings.
    load_component
        How :meth:`add` finds a component given by name (default: the
        ts_xml directory of ``settings.interfaces``).

    Examples
    --------
    >>> with Bridge(settings) as bridge:                                   # doctest: +SKIP
    ...     bridge.add("MTM2")
    ...     bridge.add("MTM1M3", topics=["forceActuatorData"])
    ...     ...
    ...     stats = bridge.stop()
    """

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        load_component: Callable[[str], SalComponent] | None = None,
    ) -> None:
        self.settings = settings
        self._load = load_component or (lambda name: _load_component(settings.interfaces, name))
        self._participant: DdsParticipant | None = None
        self._producer: Any = None
        self._registry: Any = None
        self._components: dict[str, list[_Link]] = {}
        self._sending: tuple[_Link, ...] = ()
        self._retired: dict[str, TopicCounts] = {}
        self._change_lock = threading.Lock()
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._wake: Any = None
        self._pending = threading.Event()
        self._room = threading.Event()
        self._paused = threading.Event()
        self._stopping = threading.Event()
        self._reader_done = threading.Event()
        self._failed = 0
        self._undelivered: str | None = None
        self._errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to DDS, Kafka and the registry, and start the reader and sender threads.

        Raises
        ------
        BrokerUnavailableError
            When no Kafka broker answers.
        ConfigurationError
            When ``cyclonedds`` is missing or settings cannot work.
        """
        if self._threads:
            return
        require_cyclonedds()
        from cyclonedds.core import GuardCondition

        from skystream.kafka import BatchProducer
        from skystream.registry.client import RegistryClient

        if self.settings.registry.url is None:
            raise ConfigurationError(
                "the bridge needs a schema registry: pass --registry or set SKYSTREAM_REGISTRY_URL"
            )
        self._producer = BatchProducer(
            self.settings.kafka,
            acks=self.settings.wait_ack,
            linger_ms=self.settings.linger_ms,
        )
        try:
            self._registry = RegistryClient(self.settings.registry)
            self._participant = DdsParticipant(self.settings.dds)
            self._wake = GuardCondition(self._participant.participant)
        except BaseException:
            self._close_all()
            raise
        self._threads = [
            threading.Thread(
                target=self._guard(self._read_loop), name="sal-bridge-dds", daemon=True
            ),
            threading.Thread(
                target=self._guard(self._send_loop), name="sal-bridge-kafka", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> Bridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout_s: float = 60.0) -> BridgeStats:
        """Stop gracefully: take what DDS delivered, send every queued sample, flush; return stats.

        Raises
        ------
        SkystreamError
            The first error a bridge thread met, if any (after everything is closed).
        """
        if not self._threads:
            return self.stats()
        self._paused.clear()
        self._stopping.set()
        self._trigger()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        try:
            if self._producer is not None:
                self._producer.flush(max(1.0, deadline - time.monotonic()))
        except SkystreamError as exc:
            # Undelivered or failed messages: the broker's answer, counted in its text.
            _log.error("on stop: %s", exc)
            self._undelivered = str(exc)
        finally:
            self._close_all()
        stats = self.stats()
        if self._errors:
            error = self._errors[0]
            if isinstance(error, SkystreamError):
                raise error
            raise SkystreamError(f"the bridge failed: {error!r}") from error
        return stats

    def _close_all(self) -> None:
        for links in self._components.values():
            for link in links:
                self._delete_reader(link)
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        if self._participant is not None:
            self._participant.close()
            self._participant = None
        self._threads = []

    @property
    def running(self) -> bool:
        """Whether both threads are alive (a thread that failed stops the bridge)."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    @property
    def errors(self) -> list[BaseException]:
        """Errors that stopped a bridge thread."""
        return list(self._errors)

    # -- changes -----------------------------------------------------------------------------

    @property
    def components(self) -> list[str]:
        """Names of the bridged components."""
        return sorted(self._components)

    def add(
        self,
        component: SalComponent | str,
        topics: Iterable[str] | None = None,
        *,
        partitions: int | None = None,
    ) -> list[str]:
        """Start bridging a component (all its topics, or those named); return the topic labels.

        Returns once every reader is up: a sample written after that is bridged.
        Other components are not touched.

        Raises
        ------
        ConfigurationError
            When the component is bridged already, or the bridge is not started.
        SalInterfaceError
            When the component or a named topic does not exist.
        """
        if not self._threads:
            raise ConfigurationError("the bridge is not started: call start() first")
        resolved = self._load(component) if isinstance(component, str) else component
        with self._change_lock:
            if resolved.name in self._components:
                raise ConfigurationError(f"{resolved.name} is bridged already")
            chosen = (
                list(resolved.topics.values())
                if topics is None
                else [resolved.topic(name) for name in topics]
            )
            links = [
                _Link(t, self.settings, partitions or self.settings.partitions) for t in chosen
            ]
            self._register_schemas(links)
            self._create_kafka_topics(links)
            try:
                self._open_readers(links)
            except BaseException:
                for link in links:
                    self._delete_reader(link)
                raise
            self._components[resolved.name] = links
            self._sending = (*self._sending, *links)
            self._request("attach", links)
        _log.info("bridging %s: %d topic(s)", resolved.name, len(links))
        return [link.label for link in links]

    def remove(self, name: str) -> list[str]:
        """Stop bridging a component; return its topic labels.

        What its readers already hold is taken and sent (for up to
        ``drain_timeout_s``); other components are not touched.

        Raises
        ------
        ConfigurationError
            When the component is not bridged.
        """
        with self._change_lock:
            links = self._components.get(name)
            if links is None:
                raise ConfigurationError(
                    f"{name} is not bridged; bridged: {', '.join(self.components) or 'none'}"
                )
            self._request("detach", links)
            deadline = time.monotonic() + self.settings.drain_timeout_s + 5.0
            while any(link.queue for link in links) and time.monotonic() < deadline:
                time.sleep(0.01)
            del self._components[name]
            gone = {id(link) for link in links}
            self._sending = tuple(link for link in self._sending if id(link) not in gone)
            for link in links:
                self._retired[link.label] = TopicCounts(link.read, link.sent)
        _log.info("stopped bridging %s", name)
        return [link.label for link in links]

    def pause(self) -> None:
        """Stop sending to Kafka; readers keep reading until their queues are full."""
        self._paused.set()

    def resume(self) -> None:
        """Send again after :meth:`pause`."""
        self._paused.clear()
        self._pending.set()

    @property
    def paused(self) -> bool:
        """Whether sending is paused."""
        return self._paused.is_set()

    def stats(self) -> BridgeStats:
        """Return samples read and sent per topic, removed components' included."""
        counts = dict(self._retired)
        for links in self._components.values():
            for link in links:
                counts[link.label] = TopicCounts(link.read, link.sent)
        failed = self._failed + (self._producer.failed if self._producer is not None else 0)
        return BridgeStats(counts, failed, self._undelivered)

    # -- setting a topic up ------------------------------------------------------------------

    def _register_schemas(self, links: list[_Link]) -> None:
        for link in links:
            schema = avro.as_schema(avro_schema(link.topic))
            schema_id = self._registry.register(link.topic.subject(self.settings.subname), schema)
            link.schema = schema
            link.header = pack(schema_id, b"")

    def _create_kafka_topics(self, links: list[_Link]) -> None:
        from skystream.kafka import Admin

        async def create() -> None:
            async with Admin(self.settings.kafka) as admin:
                existing = set(await admin.list_topics())
                groups: dict[tuple[tuple[str, str], ...], list[tuple[str, int]]] = {}
                for link in links:
                    if link.kafka_topic not in existing:
                        config = tuple(sorted(topic_config(link.topic).items()))
                        groups.setdefault(config, []).append((link.kafka_topic, link.partitions))
                for config, names in groups.items():
                    await admin.create_topics(
                        names,
                        replication_factor=self.settings.replication_factor,
                        config=dict(config),
                    )

        # A thread of its own: add() may be called where an event loop runs.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, create()).result()

    def _open_readers(self, links: list[_Link]) -> None:
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState

        assert self._participant is not None  # start() made it
        mask = SampleState.NotRead | ViewState.Any | InstanceState.Any
        for link in links:
            link.reader = self._participant.reader(link.topic, self.settings.dds_depth)
            link.condition = ReadCondition(link.reader, mask)

    def _delete_reader(self, link: _Link) -> None:
        reader, link.reader, link.condition = link.reader, None, None
        if reader is not None:
            delete_entity(reader)

    def _request(self, kind: Literal["attach", "detach"], links: list[_Link]) -> None:
        request = _Request(kind, links)
        self._requests.put(request)
        self._trigger()
        while not request.done.wait(0.1):
            if not self.running:
                raise SkystreamError("the bridge stopped while changing its components")

    def _trigger(self) -> None:
        if self._wake is not None:
            self._wake.set(True)

    # -- threads -----------------------------------------------------------------------------

    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except BaseException as exc:
                _log.exception("bridge thread %s failed", threading.current_thread().name)
                self._errors.append(exc)
                self._stopping.set()
                self._reader_done.set()

        return run

    def _read_loop(self) -> None:
        from cyclonedds.core import WaitSet
        from cyclonedds.util import duration

        assert self._participant is not None
        waitset = WaitSet(self._participant.participant)
        waitset.attach(self._wake)
        active: list[_Link] = []
        draining: list[tuple[_Request, float]] = []
        stop_deadline: float | None = None
        idle = duration(seconds=_IDLE_WAIT_S)
        while True:
            self._serve_requests(waitset, active, draining)
            if self._stopping.is_set() and stop_deadline is None:
                stop_deadline = time.monotonic() + self.settings.drain_timeout_s
            taken, blocked = self._take(active)
            for request, _ in draining:
                more, full = self._take(request.links, drain=True)
                taken += more
                blocked = blocked or full
            draining = self._finish_drains(draining)
            if stop_deadline is not None and (
                (taken == 0 and not blocked) or time.monotonic() > stop_deadline
            ):
                break
            if taken:
                continue
            if blocked:
                self._room.wait(_BLOCKED_WAIT_S)
                self._room.clear()
                continue
            waitset.wait(idle)
            self._wake.set(False)
        for request, _ in draining:
            request.done.set()
        self._reader_done.set()
        self._pending.set()

    def _serve_requests(
        self, waitset: Any, active: list[_Link], draining: list[tuple[_Request, float]]
    ) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request.kind == "attach":
                for link in request.links:
                    waitset.attach(link.condition)
                    active.append(link)
                request.done.set()
            else:
                for link in request.links:
                    waitset.detach(link.condition)
                    active.remove(link)
                draining.append((request, time.monotonic() + self.settings.drain_timeout_s))

    def _finish_drains(
        self, draining: list[tuple[_Request, float]]
    ) -> list[tuple[_Request, float]]:
        left = []
        now = time.monotonic()
        for request, deadline in draining:
            idle = all(not link.condition.is_triggered() for link in request.links)
            if idle or now > deadline:
                for link in request.links:
                    self._delete_reader(link)
                request.done.set()
            else:
                left.append((request, deadline))
        return left

    def _take(self, links: Sequence[_Link], *, drain: bool = False) -> tuple[int, bool]:
        taken = 0
        blocked = False
        limit = self.settings.queue_length
        for link in links:
            condition = link.condition
            if condition is None or not condition.is_triggered():
                continue
            room = limit - len(link.queue)
            if room <= 0:
                blocked = True
                continue
            samples = link.reader.take(N=min(room, _TAKE_BATCH), condition=condition)
            received = tai_now()
            count = 0
            for sample in samples:
                if sample.sample_info.valid_data:
                    link.queue.append((sample, received))
                    count += 1
            if count:
                link.read += count
                taken += count
                link.monitor.check(len(link.queue))
                self._pending.set()
        return taken, blocked

    def _send_loop(self) -> None:
        producer = self._producer
        while True:
            if self._paused.is_set() and not self._stopping.is_set():
                self._pending.wait(_IDLE_WAIT_S)
                self._pending.clear()
                producer.poll(0)
                continue
            self._pending.clear()
            sent = 0
            for link in self._sending:
                sent += self._send(link, producer)
            producer.poll(0)
            if sent:
                self._room.set()
                continue
            if self._reader_done.is_set() and not any(link.queue for link in self._sending):
                return
            self._pending.wait(_IDLE_WAIT_S)

    def _send(self, link: _Link, producer: Any) -> int:
        queued = link.queue
        count = min(len(queued), _SEND_BATCH)
        if not count:
            return 0
        schema = link.schema
        assert schema is not None  # registered before the reader existed
        offset = tai_minus_utc()
        names = link.names
        indexed = link.topic.indexed
        for _ in range(count):
            sample, received = queued.popleft()
            record = to_record(sample, names, link.byte_arrays)
            record["private_rcvStamp"] = received
            record["private_efdStamp"] = record["private_sndStamp"] - offset
            record["private_kafkaStamp"] = time.time() + offset
            buffer = BytesIO()
            buffer.write(link.header)
            try:
                avro.write(buffer, record, schema)
            except SkystreamError as exc:
                self._failed += 1
                _log.error(
                    "%s: sample %s not sent: %s", link.label, record.get("private_seqNum"), exc
                )
                continue
            key = link.key(record["salIndex"] if indexed else None)
            producer.produce(link.kafka_topic, buffer.getvalue(), key)
        link.sent += count
        return count


# -- control -------------------------------------------------------------------------------


def _socket_path(control_dir: Path) -> Path:
    path = Path(control_dir) / CONTROL_SOCKET
    if len(str(path)) > 100:
        raise ConfigurationError(
            f"control directory path {str(control_dir)!r} is too long for a Unix socket "
            "(keep it under 90 characters)"
        )
    return path


class _ControlServer:
    """Answers JSON-line requests on ``<control_dir>/bridge.sock`` with ``handle``."""

    def __init__(
        self, control_dir: Path, handle: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> None:
        self.path = _socket_path(control_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.path.exists():
            try:
                control_request(control_dir, "list", timeout_s=2.0)
            except ConfigurationError:
                self.path.unlink()  # left by a bridge that died
            else:
                raise ConfigurationError(
                    f"a bridge already listens on {self.path}: use another --control directory"
                )

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    request = json.loads(self.rfile.readline())
                    answer = handle(request)
                except Exception as exc:
                    answer = {"ok": False, "error": str(exc), "error_type": type(exc).__name__}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self._server = Server(str(self.path), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sal-bridge-control", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def control_request(
    control_dir: Path | str,
    command: str,
    components: Sequence[str] = (),
    *,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Ask the bridge listening in ``control_dir``; return its answer.

    Commands: ``add`` and ``remove`` (with component names), ``list``,
    ``stats``, ``pause``, ``resume``.

    Raises
    ------
    ConfigurationError
        When no bridge listens there.
    SkystreamError
        The error the bridge met doing it (of the same class when it is one of
        skystream's).
    """
    path = _socket_path(Path(control_dir))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout_s)
            connection.connect(str(path))
            request = {"command": command, "components": list(components)}
            connection.sendall(json.dumps(request).encode() + b"\n")
            with connection.makefile("rb") as stream:
                line = stream.readline()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ConfigurationError(
            f"no bridge listens on {path}: start one with `skystream sal bridge ... "
            f"--control {control_dir}`"
        ) from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot talk to the bridge at {path}: {exc}") from exc
    if not line:
        raise ConfigurationError(f"the bridge at {path} closed the connection without answering")
    answer: dict[str, Any] = json.loads(line)
    if not answer.get("ok"):
        kind = getattr(exceptions, str(answer.get("error_type")), SkystreamError)
        if not (isinstance(kind, type) and issubclass(kind, SkystreamError)):
            kind = SkystreamError
        raise kind(answer.get("error", "the bridge refused"))
    return answer


def _bridge_handler(bridge: Bridge) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        names = [str(n) for n in request.get("components", [])]
        answer: dict[str, Any] = {"ok": True}
        if command == "add":
            answer["topics"] = [label for name in names for label in bridge.add(name)]
        elif command == "remove":
            answer["topics"] = [label for name in names for label in bridge.remove(name)]
        elif command == "pause":
            bridge.pause()
        elif command == "resume":
            bridge.resume()
        elif command not in ("list", "stats"):
            raise ConfigurationError(
                f"unknown command {command!r}: add, remove, list, stats, pause or resume"
            )
        answer["components"] = bridge.components
        answer["paused"] = bridge.paused
        if command == "stats":
            answer["stats"] = bridge.stats().to_dict()
        return answer

    return handle


def _write_ready(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(json.dumps(data, indent=2))
    scratch.replace(path)


def run_bridge(
    settings: BridgeSettings,
    selections: Sequence[tuple[SalComponent | str, Sequence[str] | None]],
    *,
    stop: threading.Event,
    ready_file: Path | None = None,
    control_dir: Path | None = None,
    load_component: Callable[[str], SalComponent] | None = None,
) -> BridgeStats:
    """Bridge components until ``stop`` is set, then stop gracefully and return the stats.

    Parameters
    ----------
    settings
        Kafka, registry, DDS and queue settings.
    selections
        ``(component, topic names or None for all)`` pairs.
    stop
        Set it (from a signal handler, say) to stop.
    ready_file
        Written (JSON: pid, components, topics) once every reader is up;
        removed on exit.
    control_dir
        Where ``skystream sal bridge-ctl`` reaches this bridge.
    load_component
        How components given by name, here or through the control socket, are found.
    """
    server: _ControlServer | None = None
    with Bridge(settings, load_component=load_component) as bridge:
        try:
            topics: list[str] = []
            for component, names in selections:
                topics += bridge.add(component, names)
            if control_dir is not None:
                server = _ControlServer(control_dir, _bridge_handler(bridge))
            if ready_file is not None:
                _write_ready(
                    ready_file,
                    {"pid": os.getpid(), "components": bridge.components, "topics": topics},
                )
            while not stop.wait(0.2):
                if not bridge.running:
                    break
        finally:
            if server is not None:
                server.close()
            if ready_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    ready_file.unlink()
        stats = bridge.stop()
    _log.info("bridge stopped: %d read, %d sent, %d failed", stats.read, stats.sent, stats.failed)
    return stats


# -- topic sets ----------------------------------------------------------------------------


class TopicSet(BaseModel):
    """Topics run together in one process (names without ``command_``/``logevent_``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add_ackcmd: bool = False
    commands: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    telemetry: list[str] = Field(default_factory=list)
    partitions: int | None = Field(default=None, gt=0)


class ComponentSets(BaseModel):
    """One component split into topic sets; its remaining topics form one more set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str
    queue_len: int | None = Field(default=None, ge=MIN_QUEUE_LENGTH)
    topic_sets: list[TopicSet] = Field(default_factory=list)


class TopicSetsFile(BaseModel):
    """A topic-sets file: Rubin's one-component layout, or several under ``components``.

    Examples
    --------
    Rubin's layout::

        component: MTM1M3
        queue_len: 1000
        topic_sets:
          - telemetry: [forceActuatorData, forceActuatorPressure]
            partitions: 2
          - events: [forceActuatorState]
            add_ackcmd: true

    Several components; a bare name runs whole, sharing one process with the
    other bare names::

        components:
          - component: MTM1M3
            topic_sets:
              - telemetry: [forceActuatorData]
          - MTM2
          - MTHexapod
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str | None = None
    queue_len: int | None = Field(default=None, ge=MIN_QUEUE_LENGTH)
    topic_sets: list[TopicSet] = Field(default_factory=list)
    components: list[ComponentSets | str] = Field(default_factory=list)

    @classmethod
    def from_file(cls, path: Path | str) -> TopicSetsFile:
        """Read and check a YAML file.

        Raises
        ------
        ConfigurationError
            When it cannot be read or does not fit the layout (all problems listed).
        """
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read topic-sets file {str(path)!r}: {exc}") from exc
        try:
            parsed = cls.model_validate(data or {})
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigurationError(f"topic-sets file {str(path)!r}: {problems}") from exc
        if (parsed.component is None) == (not parsed.components):
            raise ConfigurationError(
                f"topic-sets file {str(path)!r}: give either `component:` (one component, "
                "Rubin's layout) or a `components:` list"
            )
        return parsed

    def entries(self) -> list[ComponentSets | str]:
        """Return the components of the file, in order."""
        if self.component is not None:
            return [
                ComponentSets(
                    component=self.component, queue_len=self.queue_len, topic_sets=self.topic_sets
                )
            ]
        return list(self.components)


@dataclass(frozen=True)
class TopicSetPlan:
    """What one process bridges: ``(component, SAL topic names or None for all)`` pairs."""

    name: str
    selections: tuple[tuple[str, tuple[str, ...] | None], ...]
    partitions: int | None = None
    queue_length: int | None = None

    @property
    def components(self) -> list[str]:
        """Names of the components this process bridges (some, maybe, in part)."""
        return [name for name, _ in self.selections]


def plan_topic_sets(
    sets: TopicSetsFile, load_component: Callable[[str], SalComponent]
) -> list[TopicSetPlan]:
    """Split a topic-sets file into processes, checking every topic name.

    Raises
    ------
    SalInterfaceError
        When a set names a topic twice or a topic the component lacks.
    """
    plans: list[TopicSetPlan] = []
    whole: list[str] = []
    for entry in sets.entries():
        if isinstance(entry, str):
            whole.append(entry)
            continue
        component = load_component(entry.component)
        left = dict(component.topics)
        for number, topic_set in enumerate(entry.topic_sets, start=1):
            names = _set_names(component, topic_set, number)
            taken = [n for n in names if n not in left]
            if taken:
                raise SalInterfaceError(
                    f"{component.name} topic set {number}: {', '.join(taken)} already in an "
                    "earlier set"
                )
            for name in names:
                del left[name]
            plans.append(
                TopicSetPlan(
                    f"{component.name}-{number}",
                    ((component.name, tuple(names)),),
                    topic_set.partitions,
                    entry.queue_len,
                )
            )
        if left:
            rest = None if len(left) == len(component.topics) else tuple(left)
            plans.append(
                TopicSetPlan(
                    f"{component.name}-rest" if rest else component.name,
                    ((component.name, rest),),
                    None,
                    entry.queue_len,
                )
            )
    if whole:
        for name in whole:
            load_component(name)  # fail now on a typo, not in a child process
        plans.append(TopicSetPlan("components", tuple((name, None) for name in whole)))
    return plans


def _set_names(component: SalComponent, topic_set: TopicSet, number: int) -> list[str]:
    names = [f"command_{n}" for n in topic_set.commands]
    names += [f"logevent_{n}" for n in topic_set.events]
    names += list(topic_set.telemetry)
    if topic_set.add_ackcmd:
        names.append("ackcmd")
    unknown = [n for n in names if n not in component.topics]
    if unknown:
        raise SalInterfaceError(
            f"{component.name} topic set {number}: no such topic(s) {', '.join(unknown)} "
            "(names go without command_/logevent_ prefixes)"
        )
    if len(set(names)) != len(names):
        raise SalInterfaceError(f"{component.name} topic set {number} names a topic twice")
    return names


def _child_main(
    plan: TopicSetPlan,
    settings: BridgeSettings,
    ready_file: str,
    control_dir: str | None,
    loglevel: int,
) -> None:
    """Run one topic-set process: bridge the plan until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=loglevel, format=f"%(asctime)s %(levelname)s [{plan.name}] %(name)s: %(message)s"
    )
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    updates: dict[str, Any] = {}
    if plan.partitions is not None:
        updates["partitions"] = plan.partitions
    if plan.queue_length is not None:
        updates["queue_length"] = plan.queue_length
    if updates:
        settings = dataclasses.replace(settings, **updates)
    run_bridge(
        settings,
        [(name, list(topics) if topics is not None else None) for name, topics in plan.selections],
        stop=stop,
        ready_file=Path(ready_file),
        control_dir=Path(control_dir) if control_dir else None,
    )


class _Supervisor:
    """Runs one process per topic set; adds and removes components as processes."""

    def __init__(
        self,
        settings: BridgeSettings,
        state_dir: Path,
        control_dir: Path | None,
        loglevel: int,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.control_dir = control_dir
        self.loglevel = loglevel
        self.children: dict[str, tuple[TopicSetPlan, Any]] = {}
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()

    def _ready_path(self, plan: TopicSetPlan) -> Path:
        return self.state_dir / f"{plan.name}.ready"

    def start(self, plans: Iterable[TopicSetPlan], timeout_s: float = 120.0) -> None:
        started = []
        for plan in plans:
            if plan.name in self.children:
                raise ConfigurationError(f"a topic set named {plan.name!r} runs already")
            control = str(self.control_dir / plan.name) if self.control_dir else None
            process = self._context.Process(
                target=_child_main,
                args=(plan, self.settings, str(self._ready_path(plan)), control, self.loglevel),
                name=f"sal-bridge-{plan.name}",
            )
            process.start()
            self.children[plan.name] = (plan, process)
            started.append(plan)
        deadline = time.monotonic() + timeout_s
        for plan in started:
            process = self.children[plan.name][1]
            while not self._ready_path(plan).exists():
                if not process.is_alive():
                    raise SkystreamError(
                        f"topic set {plan.name} exited (code {process.exitcode}) before it "
                        "was ready; see its log above"
                    )
                if time.monotonic() > deadline:
                    raise SkystreamError(f"topic set {plan.name} not ready after {timeout_s:g} s")
                time.sleep(0.05)

    def stop(self, names: Iterable[str] | None = None, timeout_s: float = 60.0) -> dict[str, int]:
        chosen = list(self.children) if names is None else list(names)
        for name in chosen:
            process = self.children[name][1]
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        codes = {}
        for name in chosen:
            process = self.children.pop(name)[1]
            process.join(timeout_s)
            if process.is_alive():
                process.kill()
                process.join()
            codes[name] = process.exitcode
        return codes

    def components(self) -> list[str]:
        return sorted({c for plan, _ in self.children.values() for c in plan.components})

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        names = [str(n) for n in request.get("components", [])]
        answer: dict[str, Any] = {"ok": True}
        with self._lock:
            if command == "add":
                present = [n for n in names if n in self.components()]
                if present:
                    raise ConfigurationError(f"{', '.join(present)} bridged already")
                self.start([TopicSetPlan(name, ((name, None),)) for name in names])
            elif command == "remove":
                for name in names:
                    self._remove(name)
            elif command in ("pause", "resume"):
                for child in self.children:
                    control_request(self._child_control(child), command)
            elif command not in ("list", "stats"):
                raise ConfigurationError(
                    f"unknown command {command!r}: add, remove, list, stats, pause or resume"
                )
            answer["components"] = self.components()
            answer["processes"] = {n: plan.components for n, (plan, _) in self.children.items()}
        return answer

    def _child_control(self, name: str) -> Path:
        if self.control_dir is None:
            raise ConfigurationError("this bridge runs without a control directory")
        return self.control_dir / name

    def _remove(self, name: str) -> None:
        serving = [n for n, (plan, _) in self.children.items() if name in plan.components]
        if not serving:
            raise ConfigurationError(
                f"{name} is not bridged; bridged: {', '.join(self.components())}"
            )
        alone = [n for n in serving if self.children[n][0].components == [name]]
        self.stop(alone)
        for child in serving:
            if child not in alone:
                control_request(self._child_control(child), "remove", [name])

    def watch(self) -> str | None:
        """Return the name of a child that died unasked, if any."""
        for name, (_, process) in self.children.items():
            if not process.is_alive():
                return name
        return None


def run_topic_sets(
    settings: BridgeSettings,
    plans: Sequence[TopicSetPlan],
    *,
    stop: threading.Event,
    ready_file: Path | None = None,
    control_dir: Path | None = None,
    loglevel: int = logging.INFO,
) -> dict[str, int]:
    """Run each topic set in its own process until ``stop`` is set; return exit codes by set.

    The ready file is written once every process is ready. Through
    ``control_dir``, ``add`` starts one more process for the component and
    ``remove`` stops the processes that serve only it (or asks the shared one).

    Raises
    ------
    SkystreamError
        When a process does not get ready or dies while running.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="skystream-bridge-") as scratch:
        supervisor = _Supervisor(settings, Path(scratch), control_dir, loglevel)
        server: _ControlServer | None = None
        codes: dict[str, int] = {}
        died: str | None = None
        try:
            supervisor.start(plans)
            if control_dir is not None:
                server = _ControlServer(control_dir, supervisor.handle)
            if ready_file is not None:
                _write_ready(
                    ready_file,
                    {
                        "pid": os.getpid(),
                        "components": supervisor.components(),
                        "processes": [plan.name for plan in plans],
                    },
                )
            while not stop.wait(0.2):
                died = supervisor.watch()
                if died is not None:
                    break
        finally:
            if server is not None:
                server.close()
            if ready_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    ready_file.unlink()
            codes = supervisor.stop()
        if died is not None:
            raise SkystreamError(
                f"topic set {died} died (exit code {codes.get(died)}); stopped all"
            )
        return codes
