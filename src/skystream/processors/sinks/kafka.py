"""``KafkaStreamWriter``: the alerts that passed, to a Kafka topic.

When the chain only filtered, each alert goes out as the bytes it arrived in
(:attr:`~skystream.alerts.Alert.raw`): nothing is decoded or encoded again.
An alert with annotations (a cross-match, say) goes out with the same bytes
and its annotations as JSON in the ``skystream-annotations`` header; writing
annotated alerts in an annotations Avro schema registered in the schema
registry is still to come.

In a spec::

    - class: KafkaStreamWriter
      params:
        topic: alerts-no-sso
        partitions: 4        # create the topic when missing
        acks: all
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skystream.config import ConfigValue, KafkaSettings
from skystream.exceptions import ConfigurationError
from skystream.kafka.producer import BatchProducer
from skystream.kafka.records import Acks
from skystream.kafka.topics import create_topic
from skystream.pipeline.names import register
from skystream.pipeline.processor import Annotations

if TYPE_CHECKING:
    from skystream.alerts.model import Alert

__all__ = ["ANNOTATIONS_HEADER", "KafkaStreamWriter"]

#: The header holding an alert's annotations as a JSON object.
ANNOTATIONS_HEADER = "skystream-annotations"

# Alerts with cutouts reach ~160 KB; a generous cap keeps unusual ones going out.
_PRODUCER_CONFIG: dict[str, ConfigValue] = {"message.max.bytes": 16_000_000}


@register("KafkaStreamWriter", kind="sink")
class KafkaStreamWriter:
    """Write passing alerts to a Kafka topic, their original bytes untouched.

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
    name
        The step's name in counts and dead letters (default ``KafkaStreamWriter``).
    extra_config
        Further librdkafka producer properties.

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

    def __init__(
        self,
        settings: KafkaSettings | str,
        topic: str,
        *,
        partitions: int | None = None,
        acks: Acks | str | int = "all",
        name: str | None = None,
        extra_config: dict[str, ConfigValue] | None = None,
    ) -> None:
        if not topic:
            raise ConfigurationError("KafkaStreamWriter needs a topic name (params: topic: NAME)")
        if partitions is not None and partitions < 1:
            raise ConfigurationError(f"partitions must be >= 1, got {partitions}")
        self.name = name or "KafkaStreamWriter"
        self.settings = settings
        self.topic = topic
        self.partitions = partitions
        self.acks = acks
        self.extra_config = {**_PRODUCER_CONFIG, **(extra_config or {})}
        self.written = 0
        """Alerts handed to the producer so far."""
        self._producer: BatchProducer | None = None

    @classmethod
    def from_spec(
        cls, params: KafkaStreamWriter.Params | Mapping[str, Any], context: Any
    ) -> KafkaStreamWriter:
        """Build the writer from spec params and a build context (its ``kafka`` settings).

        ``context`` is a :class:`~skystream.pipeline.spec.BuildContext`: its
        ``kafka`` reaches the cluster and its ``step`` names the step.
        """
        checked = params if isinstance(params, cls.Params) else cls.Params.model_validate(params)
        settings = getattr(context, "kafka", None) or getattr(context, "settings", None)
        if settings is None:
            raise ConfigurationError(
                "KafkaStreamWriter needs Kafka settings to connect: set params.kafka_url in "
                "the spec, or run it with `skystream run` (which passes the command's settings)"
            )
        step = getattr(context, "step", None)
        return cls(
            settings,
            checked.topic,
            partitions=checked.partitions,
            acks=checked.acks,
            name=step if isinstance(step, str) and step else None,
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

    def add(self, alerts: Sequence[Alert], annotations: Sequence[Annotations | None]) -> None:
        """Queue ``alerts`` for the topic (annotations, when any, as a JSON header)."""
        if len(alerts) != len(annotations):
            raise ConfigurationError(
                f"{len(alerts)} alerts but {len(annotations)} annotations: give one per alert"
            )
        producer = self._connect()
        topic = self.topic
        for alert, notes in zip(alerts, annotations, strict=True):
            value = alert.raw
            if value is None:
                raise ConfigurationError(
                    "KafkaStreamWriter forwards alerts as they arrived; this one was built "
                    "from a record and has no bytes"
                )
            headers: list[tuple[str, bytes | None]] | None = (
                [(ANNOTATIONS_HEADER, annotations_json(notes))] if notes else None
            )
            producer.produce(topic, value, None, headers)
        self.written += len(alerts)
        producer.poll(0)

    def flush(self) -> None:
        """Wait until the broker has every queued alert; raise ``DeliveryError`` if not."""
        if self._producer is not None:
            self._producer.flush()

    def close(self) -> None:
        """Flush and release the producer."""
        if self._producer is not None:
            try:
                self._producer.flush()
            finally:
                self._producer.close()
                self._producer = None

    def __repr__(self) -> str:
        return f"KafkaStreamWriter(topic={self.topic!r}, name={self.name!r})"


def annotations_json(annotations: Annotations) -> bytes:
    """Encode annotations as compact JSON (numpy scalars as numbers, anything else as text)."""
    return json.dumps(annotations, separators=(",", ":"), default=_plain).encode()


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(value)
