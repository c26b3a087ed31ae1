"""Sinks: where the alerts that passed a chain are written.

Importing this package registers the built-in sinks by name
(``KafkaStreamWriter``, ``AvroFileWriter``, ``ParquetWriter`` alias
``ParquetFileWriter``), so specs can name them.
"""

from skystream.processors.sinks.annotated import alert_annotations
from skystream.processors.sinks.avro_files import (
    ANNOTATIONS_METADATA,
    AvroFileWriter,
    read_annotations,
)
from skystream.processors.sinks.files import SourcePosition, observing_night
from skystream.processors.sinks.kafka import ANNOTATIONS_HEADER, KafkaStreamWriter
from skystream.processors.sinks.parquet import ParquetWriter

__all__ = [
    "ANNOTATIONS_HEADER",
    "ANNOTATIONS_METADATA",
    "AvroFileWriter",
    "KafkaStreamWriter",
    "ParquetWriter",
    "SourcePosition",
    "alert_annotations",
    "observing_night",
    "read_annotations",
]
