"""Rubin SAL on Kafka: interfaces (ts_xml), Avro schemas, read/write tools, the DDS bridge."""
