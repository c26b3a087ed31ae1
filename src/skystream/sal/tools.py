"""Write and read SAL topics on Kafka, with timing: the prototype's read/write tools.

The writer sends full packets (every item set to a non-default value, or the
data given), fills the private fields as Rubin's writers do, checks each
message in one of the validation modes of :mod:`skystream.sal.validation`,
registers the topic's schema and writes the Confluent wire format. Topics
are created when missing, with Rubin's settings (one partition, events
compacted and keyed).

Encoding is split at the private fields: an Avro record is its fields one
after the other, so the items are encoded once per distinct packet and only
the private fields (stamps, sequence number) are encoded per message. With a
validation mode the checked packet is encoded every time, as the check may
change it.

The reader starts at the first message written after it starts (found by
timestamp, so the embedded broker's wrong end offsets do not matter) and,
with ``max_history_read``, first gives up to that many earlier messages of
each topic. It sets ``private_rcvStamp`` and turns each message into a dict,
a dataclass, a pydantic model or a ``SimpleNamespace``.
"""

from __future__ import annotations

import collections
import io
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from skystream.codecs import wire
from skystream.config import KafkaSettings
from skystream.exceptions import ConfigurationError, ValidationError
from skystream.kafka.consumer import BatchConsumer
from skystream.kafka.producer import BatchProducer
from skystream.kafka.topics import create_topic
from skystream.registry.client import RegistryClient
from skystream.registry.serde import AvroDeserializer
from skystream.sal.avro import avro_schema, message_key, rev_code, topic_config
from skystream.sal.model import SalTopic
from skystream.sal.samples import PrivateFields, sample_items, tai_now
from skystream.sal.validation import Postprocess, Validation, postprocessor, validator
from skystream.schemas.avro import AvroSchema

__all__ = [
    "ReadReport",
    "SalMessage",
    "WriteReport",
    "prepare_topic",
    "read_topics",
    "time_read",
    "write_topic",
]

_BATCH = 1000
_POLL_S = 0.2
_HISTORY_QUIET_S = 1.0  # no record for this long after some: the history is read
_HISTORY_WAIT_S = 5.0  # no record at all for this long: there is no history


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_topic` sent."""

    topic: str
    messages: int
    bytes: int
    seconds: float

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def message(self) -> str:
        """One line: ``wrote N messages (B bytes) to T in S s (R msgs/s)``."""
        return (
            f"wrote {self.messages:,} messages ({self.bytes:,} bytes) to {self.topic} in "
            f"{self.seconds:.3f} s ({self.rate:,.1f} msgs/s)"
        )


@dataclass(frozen=True)
class SalMessage:
    """One message read: its topic, Kafka position, and the data (postprocessed)."""

    topic: SalTopic
    partition: int
    offset: int
    data: Any


@dataclass(frozen=True)
class ReadReport:
    """What :func:`read_topics` timed."""

    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        """Messages per second, from the first message to the last."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def message(self) -> str:
        """One line: ``read N messages in S s (R msgs/s)``."""
        return f"read {self.messages:,} messages in {self.seconds:.3f} s ({self.rate:,.1f} msgs/s)"


def prepare_topic(
    settings: KafkaSettings | str, registry: RegistryClient, topic: SalTopic, subname: str = "sal"
) -> tuple[AvroSchema, int]:
    """Create the topic if missing (Rubin's settings) and register its schema.

    Returns
    -------
    tuple
        The schema and its registry id.
    """
    schema = AvroSchema.from_definition(avro_schema(topic))
    schema_id = registry.register(topic.subject(subname), schema)
    create_topic(
        settings,
        topic.kafka_topic(subname),
        partitions=1,
        config=topic_config(topic),
        must_be_new=False,
    )
    return schema, schema_id


def write_topic(
    settings: KafkaSettings | str,
    registry: RegistryClient,
    topic: SalTopic,
    count: int,
    *,
    index: int | None = None,
    acks: str = "all",
    validation: Validation = "none",
    data: dict[str, Any] | None = None,
    identity: str | None = None,
    subname: str = "sal",
    linger_ms: int = 5,
) -> WriteReport:
    """Send ``count`` messages of ``topic``.

    Parameters
    ----------
    settings, registry
        Where to send, and the registry to register the schema in.
    topic
        The SAL topic.
    count
        Messages to send.
    index
        ``salIndex`` for an indexed component (required there, refused otherwise).
    acks
        ``"0"`` (``--nowait-ack``), ``"1"`` or ``"all"``.
    validation
        How each message is checked (see :mod:`skystream.sal.validation`).
    data
        The items to send (default: every item non-default).
    identity
        ``private_identity`` (default: the component name).

    Raises
    ------
    ValidationError
        A message fails its check (nothing more is sent).
    ConfigurationError
        ``count`` < 0, or an index where none belongs (or none where one must).
    """
    if count < 0:
        raise ConfigurationError(f"count {count} must be >= 0")
    if topic.indexed and index is None:
        raise ConfigurationError(f"{topic.component} is indexed: pass --index (salIndex)")
    if not topic.indexed and index not in (None, 0):
        raise ConfigurationError(
            f"{topic.component} is not indexed: --index {index} is not allowed"
        )
    schema, schema_id = prepare_topic(settings, registry, topic, subname)
    split = _SplitEncoder(schema, schema_id, indexed=topic.indexed)
    items = dict(data) if data is not None else sample_items(topic)
    check = validator(topic, validation)
    decode_back = validation.endswith("_and_decode")
    private = PrivateFields(identity or topic.component, rev_code(schema.definition), index)
    key = message_key(topic, index)
    name = topic.kafka_topic(subname)
    size = 0
    with BatchProducer(settings, acks=acks, linger_ms=linger_ms) as producer:
        started = time.perf_counter()
        produce = producer.produce
        items_bytes = split.items(items) if validation == "none" else None
        for _ in range(count):
            fields = private.next()
            if items_bytes is not None:
                value = split.message(fields, items_bytes)
            else:
                checked = check({**fields, **items})
                value = split.message(checked, split.items(checked))
                if decode_back:
                    _check_round_trip(topic, schema, checked, value)
            produce(name, value, key)
            size += len(value)
        producer.flush()
        seconds = time.perf_counter() - started
    return WriteReport(name, count, size, seconds)


class _SplitEncoder:
    """Encodes a SAL message as its private fields' bytes + its items' bytes."""

    def __init__(self, schema: AvroSchema, schema_id: int, *, indexed: bool) -> None:
        fields = schema.definition["fields"]
        cut = sum(1 for f in fields if f["name"].startswith("private_")) + int(indexed)
        name = schema.definition["name"]
        self._private = fastavro.parse_schema(
            {"type": "record", "name": f"{name}_private", "fields": fields[:cut]}
        )
        self._items = fastavro.parse_schema(
            {"type": "record", "name": f"{name}_items", "fields": fields[cut:]}
        )
        self._header = wire.pack(schema_id, b"")

    def items(self, data: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self._items, data)
        return buffer.getvalue()

    def message(self, data: dict[str, Any], items: bytes) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        fastavro.schemaless_writer(buffer, self._private, data)
        buffer.write(items)
        return buffer.getvalue()


def _check_round_trip(
    topic: SalTopic, schema: AvroSchema, sent: dict[str, Any], value: bytes
) -> None:
    stream = io.BytesIO(value)
    stream.seek(wire.HEADER_SIZE)
    decoded = fastavro.schemaless_reader(stream, schema.parsed, None)
    if not isinstance(decoded, dict):
        raise ValidationError(f"{topic.component}.{topic.sal_name}", ["decoded a non-record"])
    differ = [
        name
        for name, value in sent.items()
        if decoded.get(name) != value and not _close(decoded.get(name), value)
    ]
    if differ:
        raise ValidationError(
            f"{topic.component}.{topic.sal_name}",
            [
                f"{name}: changed by encoding ({sent[name]!r} -> {decoded.get(name)!r})"
                for name in differ
            ],
        )


def _close(decoded: Any, sent: Any) -> bool:
    """Float fields lose precision in Avro ``float``: compare at single precision."""
    if isinstance(sent, list) and isinstance(decoded, list) and len(sent) == len(decoded):
        return all(a == b or _close(a, b) for a, b in zip(decoded, sent, strict=True))
    if isinstance(sent, float) and isinstance(decoded, float):
        return abs(decoded - sent) <= 1e-6 * max(1.0, abs(sent))
    return False


def read_topics(
    settings: KafkaSettings | str,
    registry: RegistryClient,
    topics: Sequence[SalTopic],
    *,
    count: int | None = None,
    postprocess: Postprocess = "none",
    max_history_read: int = 0,
    from_beginning: bool = False,
    timeout_s: float | None = None,
    subname: str = "sal",
) -> Iterator[SalMessage]:
    """Yield messages of ``topics``: up to ``max_history_read`` earlier ones each, then new ones.

    With ``from_beginning`` every message of the topics is read, oldest
    first. Stops after ``count`` messages, or ``timeout_s`` without one.

    Raises
    ------
    ConfigurationError
        ``count`` or ``max_history_read`` < 0, or no topics.
    """
    if not topics:
        raise ConfigurationError("read needs at least one topic")
    if (count is not None and count < 0) or max_history_read < 0:
        raise ConfigurationError("count and max_history_read must be >= 0")
    by_name = {topic.kafka_topic(subname): topic for topic in topics}
    for topic in topics:
        prepare_topic(settings, registry, topic, subname)
    deserializer = AvroDeserializer(registry)
    process = {name: postprocessor(topic, postprocess) for name, topic in by_name.items()}
    started_ms = 0 if from_beginning else int(time.time() * 1000)
    max_history_read = 0 if from_beginning else max_history_read
    seen = 0
    with BatchConsumer(settings, start="earliest") as consumer:
        consumer.assign((name, 0) for name in by_name)
        history: dict[str, collections.deque[Any]] = {}
        for name in by_name:
            history[name] = collections.deque(maxlen=max_history_read or None)
            if not from_beginning:
                start = _start_offset(consumer, name, started_ms, max_history_read)
                consumer.seek(name, 0, start)
        # A topic's history is complete once a new message of it arrives, or once
        # nothing has arrived for a while after the first records (or at all for
        # longer): the embedded broker's end offsets cannot say where it ends.
        waiting = set(history) if max_history_read else set()
        opened = last_record = time.monotonic()
        received = False

        def earlier(names: Iterable[str]) -> Iterator[SalMessage]:
            for name in sorted(names):
                waiting.discard(name)
                for old in history[name]:
                    yield _message(old, by_name[name], deserializer, process[name])
                history[name].clear()

        while count is None or seen < count:
            records = consumer.consume_batch(_BATCH, _POLL_S)
            now = time.monotonic()
            if not records:
                quiet = now - last_record >= _HISTORY_QUIET_S if received else False
                if waiting and (quiet or now - opened >= _HISTORY_WAIT_S):
                    for message in earlier(list(waiting)):
                        yield message
                        seen += 1
                        if count is not None and seen >= count:
                            return
                if timeout_s is not None and now - last_record > timeout_s:
                    return
                continue
            last_record, received = now, True
            for record in records:
                stamp = record.timestamp_ms or 0
                if stamp < started_ms:
                    if max_history_read:
                        history[record.topic].append(record)
                    continue
                for message in earlier([record.topic] if record.topic in waiting else []):
                    yield message
                    seen += 1
                    if count is not None and seen >= count:
                        return
                yield _message(record, by_name[record.topic], deserializer, process[record.topic])
                seen += 1
                if count is not None and seen >= count:
                    return


def time_read(messages: Iterator[SalMessage]) -> ReadReport:
    """Consume ``messages``, timing from the first to the last."""
    first: float | None = None
    count = 0
    for _ in messages:
        if first is None:
            first = time.perf_counter()
        count += 1
    seconds = time.perf_counter() - first if first is not None else 0.0
    return ReadReport(count, seconds)


def _start_offset(consumer: BatchConsumer, topic: str, started_ms: int, history: int) -> int:
    """Where to start so that every message written from now on (and the history) is read."""
    low, high = consumer.watermarks(topic, 0)
    if history:
        # On the embedded broker the high watermark is too low: starting early is safe,
        # the timestamp filter keeps the last ``history`` messages before now.
        return max(low, high - history - 1)
    found = consumer.offset_for_time(topic, 0, started_ms)
    return found if found is not None else max(low, high - 1)


def _message(
    record: Any, topic: SalTopic, deserializer: AvroDeserializer, process: Any
) -> SalMessage:
    data = deserializer.deserialize(record.value)
    if isinstance(data, dict):
        data["private_rcvStamp"] = tai_now()
    return SalMessage(topic, record.partition, record.offset, process(data))
