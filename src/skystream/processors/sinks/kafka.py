"""``KafkaStreamWriter``: the alerts that passed, to a Kafka topic.

What goes out depends on ``annotations``:

``"avro"``
    Every alert goes out *annotated*: in its own schema with one more field,
    ``annotations``, appended (see :mod:`skystream.processors.sinks.annotated`;
    ``null`` for an alert without annotations, so the topic has one schema per
    input schema). The bytes are the original record's followed by the
    encoded annotations: the alert is not decoded nor encoded again. The
    message is in the Confluent wire format, with the id of the annotated
    schema, registered once under the subject ``<topic>-value``
    (TopicNameStrategy) in the writer's schema registry. Steps that declare the
    Avro type of their annotations (``annotation_schema``, as
    :class:`~skystream.processors.CrossmatchProcessor` does) get a typed field;
    other annotations are kept as JSON text. Input already annotated by another
    component keeps its annotations, merged with this chain's.
``"header"``
    Each alert goes out as the bytes it arrived in
    (:attr:`~skystream.alerts.Alert.raw`), and an alert with annotations
    carries them as JSON in the ``skystream-annotations`` header.
``"auto"`` (the default)
    ``"avro"`` when the writer has a schema registry and a step of its chain
    declares an annotation type; ``"header"`` otherwise. So a chain that only
    filters forwards the original bytes untouched, with no registration.

Either way each message keeps its input message's key and headers (the
runner hands the sink the Kafka records), and a forwarded alert is the input
message's value byte for byte. Annotated output carries no JSON annotations
header: the record holds the annotations. In header mode an upstream
component's annotations header is merged with this chain's.
The writer learns the chain's declared types from ``processors`` (a spec's
sinks get them from the build context).

In a spec::

    - class: KafkaStreamWriter
      params:
        topic: alerts-no-sso
        partitions: 4        # create the topic when missing
        acks: all
        annotations: auto    # or avro, header
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skystream.codecs import wire
from skystream.config import ConfigValue, KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError
from skystream.kafka.producer import BatchProducer
from skystream.kafka.records import Acks, Record
from skystream.kafka.topics import create_topic
from skystream.pipeline.names import register
from skystream.pipeline.processor import Annotations, annotation_schema_of
from skystream.processors.sinks.annotated import (
    AnnotatedAlertEncoder,
    AnnotatedSchema,
    annotations_text,
)
from skystream.registry.client import RegistryClient

if TYPE_CHECKING:
    from skystream.alerts.model import Alert

__all__ = ["ANNOTATIONS_HEADER", "AnnotationsOutput", "KafkaStreamWriter", "annotations_json"]

#: The header holding an alert's annotations as a JSON object (``annotations="header"``).
ANNOTATIONS_HEADER = "skystream-annotations"

#: How annotated alerts are written: see the module's documentation.
AnnotationsOutput = Literal["auto", "avro", "header"]

# Alerts with cutouts reach ~160 KB; a generous cap keeps unusual ones going out.
_PRODUCER_CONFIG: dict[str, ConfigValue] = {"message.max.bytes": 16_000_000}


@register("KafkaStreamWriter", kind="sink")
class KafkaStreamWriter:
    """Write passing alerts to a Kafka topic: as they came, or annotated in Avro.

    Parameters
    ----------
    settings
        How to reach Kafka.
    topic
        Where to write.
    partitions
        Create ``topic`` with this many partitions if it does not exist
        (``None``: it must exist, or the broker's auto-creation decides).
    acks
        ``0``, ``1`` or ``"all"`` (the default: durable before offsets commit).
    idempotent
        Turn on the idempotent producer (needs ``acks="all"``). Off by default:
        the component is at-least-once anyway (a replay after a crash repeats
        the uncommitted batch), and on the embedded broker an idempotent
        producer is 2-3 times slower.
    name
        The step's name in counts and dead letters (default ``KafkaStreamWriter``).
    extra_config
        Further librdkafka producer properties.
    registry
        The schema registry annotated schemas are registered in (a URL,
        settings or a client, which the writer then does not close).
    processors
        The chain before the writer, for the Avro types its steps declare
        for their annotations (``annotation_schema``).
    annotations
        ``"auto"``, ``"avro"`` or ``"header"``: see the module's documentation.

    Attributes
    ----------
    output
        ``"avro"`` or ``"header"``: what ``annotations`` came to.

    Raises
    ------
    ConfigurationError
        For bad parameters, ``annotations="avro"`` without a registry, or
        declared annotation types that are not valid Avro or clash.

    Examples
    --------
    >>> writer = KafkaStreamWriter(settings, "alerts-no-sso", partitions=4)  # doctest: +SKIP
    >>> writer.add(alerts, [None] * len(alerts)); writer.flush()           # doctest: +SKIP
    """

    class Params(BaseModel):
        """What a spec may set."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        topic: str = Field(min_length=1, description="Output topic.")
        partitions: int | None = Field(
            default=None, ge=1, description="Create the topic with this many partitions if missing."
        )
        acks: Literal[0, 1, "all"] = Field(
            default="all", description="Acknowledgements to wait for."
        )
        idempotent: bool = Field(
            default=False, description="Idempotent producer (no duplicates from retried sends)."
        )
        annotations: AnnotationsOutput = Field(
            default="auto", description="Annotated alerts as Avro (registered), or a JSON header."
        )

    def __init__(
        self,
        settings: KafkaSettings | str,
        topic: str,
        *,
        partitions: int | None = None,
        acks: Acks | str | int = "all",
        idempotent: bool = False,
        name: str | None = None,
        extra_config: dict[str, ConfigValue] | None = None,
        registry: RegistryClient | RegistrySettings | str | None = None,
        processors: Sequence[object] = (),
        annotations: AnnotationsOutput = "auto",
    ) -> None:
        if not topic:
            raise ConfigurationError("KafkaStreamWriter needs a topic name (params: topic: NAME)")
        if partitions is not None and partitions < 1:
            raise ConfigurationError(f"partitions must be >= 1, got {partitions}")
        if annotations not in ("auto", "avro", "header"):
            raise ConfigurationError(
                f"annotations must be 'auto', 'avro' or 'header', got {annotations!r}"
            )
        if isinstance(registry, RegistrySettings) and registry.url is None:
            registry = None
        if annotations == "avro" and registry is None:
            raise ConfigurationError(
                f"KafkaStreamWriter {name or topic!r}: annotations: avro registers the annotated "
                "schema, so it needs a schema registry: set registry_url in the component's "
                "params (or SKYSTREAM_REGISTRY_URL), or use annotations: header"
            )
        self.name = name or "KafkaStreamWriter"
        self.settings = settings
        self.topic = topic
        self.partitions = partitions
        self.acks = acks
        self.idempotent = idempotent
        self.extra_config = {
            **_PRODUCER_CONFIG,
            "enable.idempotence": idempotent,
            **(extra_config or {}),
        }
        self.written = 0
        """Alerts handed to the producer so far."""
        self.registry = registry
        self._producer: BatchProducer | None = None
        self._registry: RegistryClient | None = None
        self._schema_ids: dict[str, int] = {}
        self._encoder: AnnotatedAlertEncoder | None = None
        if registry is not None and annotations != "header":
            # Types are only asked for when they can be used (a column type without
            # an Avro counterpart must not stop a writer that writes headers).
            try:
                types = {
                    str(getattr(step, "name", "")): declared
                    for step in processors
                    if (declared := annotation_schema_of(step)) is not None
                }
                if annotations == "avro" or types:
                    self._encoder = AnnotatedAlertEncoder(types)
            except ConfigurationError as exc:
                raise ConfigurationError(
                    f"KafkaStreamWriter {self.name!r} cannot write annotated alerts: {exc} "
                    "(or keep the alerts' bytes and send annotations as JSON: annotations: header)"
                ) from exc
        self.output: Literal["avro", "header"] = "header" if self._encoder is None else "avro"

    @classmethod
    def from_spec(
        cls, params: KafkaStreamWriter.Params | Mapping[str, Any], context: Any
    ) -> KafkaStreamWriter:
        """Build the writer from spec params and a build context (its ``kafka`` settings).

        ``context`` is a :class:`~skystream.pipeline.spec.BuildContext`: its
        ``kafka`` reaches the cluster, its ``registry`` the schema registry,
        its ``step`` names the step and its ``processors`` are the chain.
        """
        checked = params if isinstance(params, cls.Params) else cls.Params.model_validate(params)
        settings = getattr(context, "kafka", None) or getattr(context, "settings", None)
        if settings is None:
            raise ConfigurationError(
                "KafkaStreamWriter needs Kafka settings to connect: set params.kafka_url in "
                "the spec, or run it with `skystream run` (which passes the command's settings)"
            )
        step = getattr(context, "step", None)
        registry = getattr(context, "registry", None)
        return cls(
            settings,
            checked.topic,
            partitions=checked.partitions,
            acks=checked.acks,
            idempotent=checked.idempotent,
            name=step if isinstance(step, str) and step else None,
            registry=registry if isinstance(registry, RegistrySettings | str) else None,
            processors=tuple(getattr(context, "processors", ())),
            annotations=checked.annotations,
        )

    def _connect(self) -> BatchProducer:
        # Connecting at first use keeps building a chain free of network calls.
        if self._producer is None:
            if self.partitions is not None:
                create_topic(
                    self.settings, self.topic, partitions=self.partitions, must_be_new=False
                )
            self._producer = BatchProducer(
                self.settings, acks=self.acks, extra_config=self.extra_config
            )
        return self._producer

    def add(
        self,
        alerts: Sequence[Alert],
        annotations: Sequence[Annotations | None],
        positions: Sequence[Record] | None = None,
    ) -> None:
        """Queue ``alerts`` for the topic, annotated or as they came (see the module's docs).

        With ``positions`` (the Kafka records the alerts came in, as the
        runner gives them), each output message keeps its input's key and
        headers, and an alert forwarded as it came is the input message's
        value byte for byte (even from a compressed Avro container).

        Raises
        ------
        EncodeError
            If an alert cannot be written annotated (an annotation that does
            not fit its declared type, a schema that cannot be extended).
        RegistryError
            If the annotated schema cannot be registered.
        """
        if len(alerts) != len(annotations) or (
            positions is not None and len(positions) != len(alerts)
        ):
            raise ConfigurationError(
                f"{len(alerts)} alerts but {len(annotations)} annotations"
                f"{'' if positions is None else f' and {len(positions)} records'}: "
                "give one of each per alert"
            )
        producer = self._connect()
        topic = self.topic
        encoder = self._encoder
        for index, (alert, notes) in enumerate(zip(alerts, annotations, strict=True)):
            source = positions[index] if positions is not None else None
            key = source.key if source is not None else None
            headers = list(source.headers) if source is not None else []
            if encoder is not None:
                annotated = encoder.schema_for(alert.layout)
                value = wire.pack(self._schema_id(annotated), annotated.body(alert, notes))
                producer.produce(topic, value, key, headers or None)
                continue
            raw = source.value if source is not None else alert.raw
            if raw is None:
                raise ConfigurationError(
                    "KafkaStreamWriter forwards alerts as they arrived; this one was built "
                    "from a record and has no bytes (write it annotated: annotations: avro)"
                )
            if notes:
                headers = _with_annotations(headers, notes)
            producer.produce(topic, raw, key, headers or None)
        self.written += len(alerts)
        producer.poll(0)

    @property
    def subject(self) -> str:
        """The registry subject of annotated output: ``<topic>-value`` (TopicNameStrategy)."""
        return f"{self.topic}-value"

    def _schema_id(self, annotated: AnnotatedSchema) -> int:
        key = annotated.schema.canonical
        schema_id = self._schema_ids.get(key)
        if schema_id is None:
            schema_id = self._schema_ids[key] = self._registry_client().register(
                self.subject, annotated.schema
            )
        return schema_id

    def _registry_client(self) -> RegistryClient:
        # Made at first use, like the producer: building a chain makes no connection.
        if self._registry is None:
            given = self.registry
            if given is None:  # cannot happen: avro output needs a registry
                raise ConfigurationError("annotated output needs a schema registry")
            self._registry = given if isinstance(given, RegistryClient) else RegistryClient(given)
        return self._registry

    def flush(self) -> None:
        """Wait until the broker has every queued alert; raise ``DeliveryError`` if not."""
        if self._producer is not None:
            self._producer.flush()

    def close(self) -> None:
        """Flush and release the producer (and the registry client the writer made)."""
        try:
            if self._producer is not None:
                try:
                    self._producer.flush()
                finally:
                    self._producer.close()
                    self._producer = None
        finally:
            if self._registry is not None and self._registry is not self.registry:
                self._registry.close()
            self._registry = None

    def __repr__(self) -> str:
        return (
            f"KafkaStreamWriter(topic={self.topic!r}, name={self.name!r}, output={self.output!r})"
        )


def _with_annotations(
    headers: list[tuple[str, bytes | None]], notes: Annotations
) -> list[tuple[str, bytes | None]]:
    """Return ``headers`` with one annotations header: an upstream component's merged with ours."""
    merged: dict[str, Any] = {}
    kept: list[tuple[str, bytes | None]] = []
    for name, value in headers:
        if name != ANNOTATIONS_HEADER:
            kept.append((name, value))
            continue
        with contextlib.suppress(ValueError, TypeError):  # not JSON: replaced by ours
            earlier = json.loads(value or b"{}")
            if isinstance(earlier, dict):
                merged.update(earlier)
    merged.update(notes)
    return [*kept, (ANNOTATIONS_HEADER, annotations_json(merged))]


def annotations_json(annotations: Annotations) -> bytes:
    """Encode annotations as compact JSON (numpy scalars as numbers, anything else as text)."""
    return annotations_text(annotations).encode()
