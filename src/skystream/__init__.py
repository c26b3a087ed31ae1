"""skystream: move astronomy data through Kafka.

The curated public names live here; everything else is reachable through its
own module (``skystream.codecs``, ``skystream.schemas``, ``skystream.local``, ...).
"""

from skystream.alerts import Alert, AlertDecoder
from skystream.codecs import Encoding
from skystream.config import KafkaSettings
from skystream.exceptions import (
    AlertDecodeError,
    BrokerUnavailableError,
    CodecError,
    ConfigurationError,
    DecodeError,
    DeliveryError,
    EncodeError,
    KafkaError,
    SkystreamError,
    TopicError,
    ValidationError,
)
from skystream.kafka import (
    Admin,
    BatchConsumer,
    BatchProducer,
    Consumer,
    Producer,
    Record,
    RecordMetadata,
    TopicDescription,
)
from skystream.schemas.pointing import PointingData

__all__ = [
    "Admin",
    "Alert",
    "AlertDecodeError",
    "AlertDecoder",
    "BatchConsumer",
    "BatchProducer",
    "BrokerUnavailableError",
    "CodecError",
    "ConfigurationError",
    "Consumer",
    "DecodeError",
    "DeliveryError",
    "EncodeError",
    "Encoding",
    "KafkaError",
    "KafkaSettings",
    "PointingData",
    "Producer",
    "Record",
    "RecordMetadata",
    "SkystreamError",
    "TopicDescription",
    "TopicError",
    "ValidationError",
]
