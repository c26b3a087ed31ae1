"""Consumers: the high-throughput :class:`BatchConsumer` and the async data-queue :class:`Consumer`.

Both hand out only messages the caller asked for and mark an offset as done
only once its message was handed out, so automatic commits never skip a
message the caller has not seen (at-least-once). Topics that do not exist yet
are waited for without stalling the others.

Where a read starts (``start``):

``"committed"``
    the group's committed offset; where there is none, ``reset`` decides
    (``"latest"`` as in Kafka, or ``"earliest"``).
``"earliest"`` / ``"latest"``
    the beginning or end of each partition, the first time this consumer gets it.
an ``int``
    that offset in every partition, the first time this consumer gets it.

On the embedded broker "latest" is unreliable (its end offsets are wrong; see
the README): prefer ``"earliest"`` or committed offsets there.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaException, TopicPartition
from confluent_kafka import Consumer as ClientConsumer
from confluent_kafka import KafkaError as ClientKafkaError

from skystream.codecs import Encoding, avro
from skystream.config import ConfigValue, KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError, KafkaError
from skystream.kafka.connection import (
    DEFAULT_CONNECT_TIMEOUT_S,
    AsyncClient,
    as_settings,
    client_config,
    ensure_reachable,
    is_embedded_broker,
    to_skystream_error,
)
from skystream.kafka.records import Record, StartFrom
from skystream.registry.client import AsyncRegistryClient, RegistryClient
from skystream.registry.serde import AvroDeserializer
from skystream.schemas.avro import AvroSchema

__all__ = ["BatchConsumer", "Consumer"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Errors a consumer reports while it waits for something that will sort itself out.
_TRANSIENT = {
    ClientKafkaError.UNKNOWN_TOPIC_OR_PART,
    ClientKafkaError._PARTITION_EOF,
    ClientKafkaError._TRANSPORT,
    ClientKafkaError._ALL_BROKERS_DOWN,
}


def _topic_list(topics: str | Sequence[str] | None) -> list[str]:
    if topics is None:
        return []
    return [topics] if isinstance(topics, str) else list(topics)


def _check_start(start: StartFrom) -> StartFrom:
    if isinstance(start, int) and not isinstance(start, bool):
        if start < 0:
            raise ConfigurationError(f"start offset must be >= 0, got {start}")
        return start
    if start not in ("earliest", "latest", "committed"):
        raise ConfigurationError(
            f"start must be 'earliest', 'latest', 'committed' or an offset, got {start!r}"
        )
    return start


class BatchConsumer:
    """Synchronous consumer that reads messages in batches.

    Parameters
    ----------
    settings
        Connection settings, or a bootstrap address.
    topics
        Topics to subscribe to (a regex when a name starts with ``^``).
    group_id
        Consumer group; ``None`` makes a private group that never commits.
    start
        Where to start reading: see the module documentation.
    reset
        Where a group without a committed offset starts.
    auto_commit
        Commit handed-out offsets in the background (every 5 s) and on close.
    extra_config
        Further librdkafka properties.

    Examples
    --------
    >>> with BatchConsumer(settings, ["alerts"], group_id="filter", start="earliest") as c:
    ...     for record in c.consume_batch(1000, timeout_s=1.0):           # doctest: +SKIP
    ...         handle(record.value)
    ...     c.commit()
    """

    def __init__(
        self,
        settings: KafkaSettings | str,
        topics: str | Sequence[str] | None = None,
        *,
        group_id: str | None = None,
        start: StartFrom = "committed",
        reset: Literal["earliest", "latest"] = "latest",
        auto_commit: bool = True,
        extra_config: dict[str, ConfigValue] | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        resolved = as_settings(settings)
        self.start = _check_start(start)
        self.reset = reset
        self.group_id = group_id or f"skystream-private-{uuid.uuid4().hex}"
        self.private_group = group_id is None
        group_config: dict[str, ConfigValue] = {
            "group.id": self.group_id,
            "auto.offset.reset": reset,
            "enable.auto.commit": auto_commit and not self.private_group,
            # Offsets are stored when a message is handed out, not when fetched.
            "enable.auto.offset.store": False,
        }
        self._client: Any = ClientConsumer(
            client_config({**resolved.consumer_config(), **group_config}, extra_config)
        )
        self._started: set[tuple[str, int]] = set()
        self._closed = False
        try:
            cluster_id = ensure_reachable(
                self._client, resolved.require_bootstrap(), connect_timeout_s
            )
            if resolved.profile == "auto" and is_embedded_broker(cluster_id):
                # The embedded broker makes a group join wait half the session
                # timeout: reconnect with its short timings before joining.
                self._client.close()
                resolved = resolved.model_copy(update={"profile": "embedded"})
                self._client = ClientConsumer(
                    client_config({**resolved.consumer_config(), **group_config}, extra_config)
                )
        except BaseException:
            self._client.close()
            raise
        self.settings = resolved
        """The settings in effect (``profile`` says whether the embedded broker was detected)."""
        self.topics: list[str] = []
        if topics:
            self.subscribe(topics)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def subscribe(self, topics: str | Sequence[str]) -> None:
        """Replace the subscription with ``topics`` (the group rebalances)."""
        names = _topic_list(topics)
        if not names:
            raise ConfigurationError("subscribe needs at least one topic name")
        self.topics = names
        try:
            self._client.subscribe(names, on_assign=self._on_assign)
        except KafkaException as exc:
            raise to_skystream_error(exc, f"subscribing to {names}") from exc

    def assign(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Read exactly these ``(topic, partition)`` pairs, without group balancing."""
        pairs = list(partitions)
        self.topics = sorted({topic for topic, _ in pairs})
        assignment = [TopicPartition(topic, partition) for topic, partition in pairs]
        if not self.private_group and self.start == "committed":
            assignment = self._client.committed(assignment, timeout=10)
            for tp in assignment:
                if tp.offset < 0:
                    tp.offset = self._start_offset()
        else:
            for tp in assignment:
                tp.offset = self._start_offset()
        self._started.update(pairs)
        self._client.assign(assignment)

    def consume_batch(
        self,
        max_messages: int = 1000,
        timeout_s: float = 1.0,
        *,
        mark_done: bool = True,
        fill_timeout_s: float | None = None,
    ) -> list[Record]:
        """Return up to ``max_messages`` records within ``timeout_s``.

        By default this is the client's own batching: the call returns when
        ``max_messages`` have arrived or ``timeout_s`` has passed, which gives
        the best throughput. For low latency at low rates, ``fill_timeout_s``
        bounds how long a batch waits to fill once its first record is there
        (``0``: return what has already arrived). With ``mark_done`` the
        returned records count as handed out: their offsets are the ones
        :meth:`commit` (or auto-commit) will commit. Otherwise call
        :meth:`mark_done` once they are handled.
        """
        if fill_timeout_s is None or fill_timeout_s >= timeout_s:
            messages = self._client.consume(max_messages, timeout_s)
        else:
            # Wait for one message, then give the rest only the fill time.
            messages = self._client.consume(max_messages, 0)
            if not messages:
                first = self._client.poll(timeout_s)
                if first is None:
                    return []
                messages = [first]
            if len(messages) < max_messages and fill_timeout_s > 0:
                messages += self._client.consume(max_messages - len(messages), fill_timeout_s)
        records: list[Record] = []
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            if message.error() is not None:
                self._handle_error(message.error())
                continue
            records.append(Record(message))
            if mark_done:  # the async consumer marks later, batch by batch
                last[message.topic(), message.partition()] = message.offset()
        if last:
            self._store(last)
        return records

    def mark_done(self, records: Sequence[Record]) -> None:
        """Mark ``records`` (and everything before each in its partition) as handled."""
        last = {(r.topic, r.partition): r.offset for r in records}
        if last:
            self._store(last)

    def _store(self, last_offsets: dict[tuple[str, int], int]) -> None:
        offsets = [TopicPartition(t, p, offset + 1) for (t, p), offset in last_offsets.items()]
        try:
            self._client.store_offsets(offsets=offsets)
        except KafkaException as exc:
            if exc.args[0].code() != ClientKafkaError._STATE:
                raise to_skystream_error(exc, "storing consumed offsets") from exc
            # A rebalance took some of these partitions away; their new owner
            # resumes from the last commit (at-least-once). Keep the rest.
            assigned = set(self.assignment())
            kept = [tp for tp in offsets if (tp.topic, tp.partition) in assigned]
            _log.debug("not storing offsets of revoked partitions: %s", offsets)
            if kept:
                self._client.store_offsets(offsets=kept)

    def commit(self) -> None:
        """Commit the offsets of every record handed out so far (synchronously)."""
        if self.private_group:
            return
        try:
            self._client.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == ClientKafkaError._NO_OFFSET:
                return  # nothing handed out since the last commit
            raise to_skystream_error(exc, f"committing offsets of group {self.group_id!r}") from exc

    def committed(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        """Return the group's committed offset for each ``(topic, partition)`` (``None``: none)."""
        asked = [TopicPartition(t, p) for t, p in partitions]
        answer = self._client.committed(asked, timeout=10)
        return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in answer}

    def seek(self, topic: str, partition: int, offset: int) -> None:
        """Move the read position of one assigned partition."""
        self._client.seek(TopicPartition(topic, partition, offset))

    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        """Return the first offset whose timestamp is at or after ``timestamp_ms`` (``None``: none).

        The embedded broker matches write times, not record timestamps (the
        same for records written without an explicit timestamp).
        """
        asked = [TopicPartition(topic, partition, timestamp_ms)]
        (answer,) = self._client.offsets_for_times(asked, timeout=10)
        return answer.offset if answer.offset >= 0 else None

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """Return the low and high watermark offsets of one partition.

        The embedded broker reports a high watermark below the real end (the
        last batch's first offset + 1): never use it to decide that a read is
        complete.
        """
        low, high = self._client.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=10, cached=False
        )
        return int(low), int(high)

    def assignment(self) -> list[tuple[str, int]]:
        """Return the ``(topic, partition)`` pairs this consumer currently reads."""
        return [(tp.topic, tp.partition) for tp in self._client.assignment()]

    def close(self) -> None:
        """Leave the group (committing handed-out offsets when auto-commit is on)."""
        if not self._closed:
            self._closed = True
            self._client.close()

    def _start_offset(self) -> int:
        if isinstance(self.start, int):
            return self.start
        position = self.reset if self.start == "committed" else self.start
        return int(OFFSET_BEGINNING if position == "earliest" else OFFSET_END)

    def _on_assign(self, client: Any, partitions: list[Any]) -> None:
        # An explicit start applies once per partition: after a rebalance hands
        # a partition back, reading resumes where the group left it.
        if self.start == "committed":
            return
        changed = False
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if key not in self._started:
                self._started.add(key)
                tp.offset = self._start_offset()
                changed = True
        if changed:
            client.assign(partitions)

    def _handle_error(self, error: Any) -> None:
        if error.code() in _TRANSIENT:
            _log.debug("consumer waiting: %s", error.str())
            return
        if error.fatal() or not error.retriable():
            raise KafkaError(f"consumer error: {error.str()} ({error.name()})")
        _log.warning("consumer error (retrying): %s", error.str())


class Consumer(AsyncClient):
    """Async consumer with the data-queue semantics.

    Iterating yields ``(topic, message)`` with the message decoded by
    ``encoding`` (raw bytes when ``None``); :meth:`records` yields full
    :class:`~skystream.kafka.records.Record` objects instead (decode them with
    :meth:`decode`). Client calls run on one worker thread, so the event loop
    never blocks.

    With ``encoding="avro"`` and a ``registry`` (a URL,
    :class:`~skystream.config.RegistrySettings` or registry client), messages
    are read in the Confluent wire format by schema id (each schema fetched
    once), into ``schema`` when one is given; without a registry, ``schema``
    is the writer schema of schemaless Avro messages.

    Examples
    --------
    >>> async with Consumer("127.0.0.1:9092", ["pointing"], "msgpack_numpy",
    ...                     start="earliest") as consumer:                # doctest: +SKIP
    ...     async for topic, array in consumer:
    ...         print(topic, array.shape)
    """

    def __init__(
        self,
        settings: KafkaSettings | str,
        topics: str | Sequence[str] | None = None,
        encoding: Encoding | str | None = None,
        *,
        group_id: str | None = None,
        start: StartFrom = "committed",
        reset: Literal["earliest", "latest"] = "latest",
        auto_commit: bool = True,
        batch_size: int = 500,
        poll_timeout_s: float = 0.2,
        extra_config: dict[str, ConfigValue] | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        registry: RegistrySettings | str | RegistryClient | AsyncRegistryClient | None = None,
        schema: AvroSchema | dict[str, Any] | str | None = None,
    ) -> None:
        self._settings = as_settings(settings)
        self.encoding = Encoding.parse(encoding) if encoding is not None else None
        self._owned_registry: AsyncRegistryClient | None = None
        self._deserializer: AvroDeserializer | None = None
        self._avro_schema: AvroSchema | None = None
        if self.encoding is Encoding.AVRO:
            self._setup_avro(registry, schema)
        elif registry is not None or schema is not None:
            raise ConfigurationError(
                f"registry= and schema= apply to the avro encoding, not to {self.encoding}"
            )
        self._options: dict[str, Any] = {
            "group_id": group_id,
            "start": _check_start(start),
            "reset": reset,
            "auto_commit": auto_commit,
            "extra_config": extra_config,
            "connect_timeout_s": connect_timeout_s,
        }
        self._initial_topics = _topic_list(topics)
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skystream-consumer")
        self._consumer: BatchConsumer | None = None
        # The current batch and how far into it the caller has read. Offsets are
        # stored for what was handed out: a whole batch when the next is
        # fetched, the read part of the current one on commit and close.
        self._batch: list[Record] = []
        self._read = 0

    async def start(self) -> None:
        """Connect and subscribe to the initial topics."""
        if self._consumer is None:
            self._consumer = await self._call(
                lambda: BatchConsumer(self._settings, self._initial_topics, **self._options)
            )

    @property
    def topics(self) -> list[str]:
        """Topics currently subscribed to or assigned."""
        return list(self._consumer.topics) if self._consumer else list(self._initial_topics)

    @property
    def group_id(self) -> str:
        """The consumer group (a private one when none was given)."""
        return self._require().group_id

    async def update_topics(self, topics: str | Sequence[str]) -> None:
        """Change the subscription; safe while another task is iterating."""
        consumer = self._require()
        names = _topic_list(topics)
        self._mark_read_done(consumer)  # what was handed out stays handed out
        await self._call(lambda: consumer.subscribe(names))
        self._keep_unread(lambda r: r.topic in names)

    async def assign_topics(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Read exactly these ``(topic, partition)`` pairs, without group balancing."""
        consumer = self._require()
        pairs = list(partitions)
        self._mark_read_done(consumer)  # what was handed out stays handed out
        await self._call(lambda: consumer.assign(pairs))
        self._keep_unread(lambda r: False)

    async def commit(self) -> None:
        """Commit the offsets of every message handed out so far."""
        consumer = self._require()
        self._mark_read_done(consumer)
        await self._call(consumer.commit)

    async def committed(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], int | None]:
        """Return the group's committed offsets for ``partitions``."""
        consumer = self._require()
        pairs = list(partitions)
        return await self._call(lambda: consumer.committed(pairs))

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        """Move the read position of one assigned partition."""
        consumer = self._require()
        self._mark_read_done(consumer)  # what was handed out stays handed out
        await self._call(lambda: consumer.seek(topic, partition, offset))
        self._keep_unread(lambda r: (r.topic, r.partition) != (topic, partition))

    async def getone(self) -> Record:
        """Return the next record, waiting as long as it takes."""
        consumer = self._require()
        while self._read >= len(self._batch):
            self._mark_read_done(consumer)
            self._batch = await self._call(
                lambda: consumer.consume_batch(
                    self._batch_size, self._poll_timeout_s, mark_done=False
                )
            )
            self._read = 0
        record = self._batch[self._read]
        self._read += 1
        return record

    async def records(self) -> AsyncIterator[Record]:
        """Yield records (raw bytes with topic, partition, offset, key, headers)."""
        while True:
            yield await self.getone()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> tuple[str, object]:
        record = await self.getone()
        if self.encoding is not Encoding.AVRO:
            return record.topic, record.decode(self.encoding)
        return record.topic, await self.decode(record)

    async def decode(self, record: Record) -> object:
        """Return ``record``'s value decoded as this consumer decodes what it yields.

        Raises
        ------
        DecodeError
            If the value is not in the encoding (or, for Avro, not a datum of
            its schema, or not in the wire format when a registry is used).
        RegistryError
            When the registry has no schema with the message's id.
        """
        if self._deserializer is not None:
            return await self._deserializer.deserialize_async(record.value)
        if self._avro_schema is not None:
            return avro.decode(record.value, self._avro_schema)
        return record.decode(self.encoding)

    def _setup_avro(
        self,
        registry: RegistrySettings | str | RegistryClient | AsyncRegistryClient | None,
        schema: AvroSchema | dict[str, Any] | str | None,
    ) -> None:
        if registry is None:
            if schema is None:
                raise ConfigurationError(
                    "the avro encoding needs registry= (messages in the Confluent wire "
                    "format) or schema= (schemaless Avro written with that schema)"
                )
            self._avro_schema = avro.as_schema(schema)
            return
        client: RegistryClient | AsyncRegistryClient
        if isinstance(registry, RegistryClient | AsyncRegistryClient):
            client = registry
        else:
            client = self._owned_registry = AsyncRegistryClient(registry)
        self._deserializer = AvroDeserializer(client, reader_schema=schema)

    async def close(self) -> None:
        """Leave the group and stop the worker thread."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            self._mark_read_done(consumer)
            await self._call(consumer.close)
        self._executor.shutdown(wait=True)
        if self._owned_registry is not None:
            await self._owned_registry.close()

    def _mark_read_done(self, consumer: BatchConsumer) -> None:
        if self._read:
            consumer.mark_done(self._batch[: self._read])
            self._batch, self._read = self._batch[self._read :], 0

    def _keep_unread(self, keep: Callable[[Record], bool]) -> None:
        self._batch = [r for r in self._batch[self._read :] if keep(r)]
        self._read = 0

    def _require(self) -> BatchConsumer:
        if self._consumer is None:
            raise ConfigurationError(
                "consumer not started: use `async with Consumer(...)` or await start()"
            )
        return self._consumer

    async def _call(self, function: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)
