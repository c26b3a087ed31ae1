"""Alert decoding with the session's schema registry: registry ids, and Rubin's ids without them."""

from __future__ import annotations

import uuid
from pathlib import Path

import fastavro

from skystream.alerts import AlertDecoder, rubin_schema
from skystream.codecs import avro, wire
from skystream.registry.client import RegistryClient


def _rubin_sample() -> dict:
    import lsst.alert.packet

    path = Path(lsst.alert.packet.__file__).parent / "schema/11/1/sample_data/fakeAlert.avro"
    with path.open("rb") as stream:
        return next(iter(fastavro.reader(stream)))


def test_a_registry_id_resolves_to_its_rubin_schema(registry_url: str) -> None:
    schema = rubin_schema("11.1")
    record = _rubin_sample()
    with RegistryClient(registry_url) as registry:
        schema_id = registry.register(f"alerts-{uuid.uuid4().hex[:8]}-value", schema)
        message = wire.pack(schema_id, avro.encode(record, schema))
        alert = AlertDecoder(registry=registry).decode(message)
    assert (alert.survey, alert.schema_version, alert.schema_id) == ("rubin", "11.1", schema_id)
    assert alert.alert_id == record["diaSourceId"]
    assert alert.record == record


def test_rubin_ids_the_registry_lacks_fall_back_to_the_shipped_schemas(registry_url: str) -> None:
    record = _rubin_sample()
    message = wire.pack(1101, avro.encode(record, rubin_schema("11.1")))
    with AlertDecoder(registry=registry_url) as decoder:  # the session registry has no id 1101
        alert = decoder.decode(message)
        assert (alert.survey, alert.schema_version, alert.ra) == (
            "rubin",
            "11.1",
            record["diaSource"]["ra"],
        )
