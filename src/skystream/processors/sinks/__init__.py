"""Sinks: where the alerts that passed a chain are written.

Importing this package registers the built-in sinks by name
(``KafkaStreamWriter``), so specs can name them.
"""

from skystream.processors.sinks.kafka import ANNOTATIONS_HEADER, KafkaStreamWriter

__all__ = ["ANNOTATIONS_HEADER", "KafkaStreamWriter"]
