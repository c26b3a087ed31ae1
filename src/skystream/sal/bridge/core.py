"""The bridge itself: :class:`Bridge`, its :class:`BridgeStats`, and :func:`run_bridge`.

::

    DDS reader ──take──▶ read queue (L samples) ──▶ Avro (Confluent wire format) ──▶ Kafka
    (one per topic)       monitored: 10, L/2, 9L/10, L

One reader thread takes the samples of every bridged topic into the topics'
read queues; one sender thread stamps them, writes them as Avro and produces
them. Components are added and removed by asking the reader thread (through
a request queue and a DDS guard condition), so the readers of other
components are never touched. :func:`run_bridge` runs a bridge until told
to stop, reachable through its control socket (:mod:`.control`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from skystream.codecs import avro
from skystream.codecs.wire import pack
from skystream.exceptions import ConfigurationError, SkystreamError
from skystream.sal.avro import avro_schema, message_key, topic_config
from skystream.sal.bridge.control import _ControlServer, _write_ready
from skystream.sal.bridge.monitor import ReadQueueMonitor
from skystream.sal.bridge.settings import BridgeSettings
from skystream.sal.dds import (
    DdsParticipant,
    byte_array_names,
    dds_field_names,
    delete_entity,
    require_cyclonedds,
    to_record,
)
from skystream.sal.model import SalComponent, SalTopic
from skystream.sal.samples import tai_minus_utc, tai_now
from skystream.schemas.avro import AvroSchema

__all__ = ["Bridge", "BridgeStats", "TopicCounts", "run_bridge"]

# The package's name, not this module's: see the monitor's logger.
_log = logging.getLogger("skystream.sal.bridge")

_TAKE_BATCH = 500
_SEND_BATCH = 200
_IDLE_WAIT_S = 0.1
_BLOCKED_WAIT_S = 0.005


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
