"""Avro schemas of SAL topics: Rubin's golden schema, every type, both eras, keys and configs."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest
from _fake_ts_xml import EVERY_IDL_TYPE, write_fake_ts_xml

from skystream.exceptions import SalInterfaceError
from skystream.sal.avro import (
    DDS_ONLY_FIELDS,
    PRIVATE_FIELD_NAMES,
    TOPIC_PARTITIONS,
    avro_schema,
    message_key,
    normalise_schema,
    rev_code,
    schema_era,
    topic_config,
)
from skystream.sal.interfaces import SalInterfaces, load_interfaces
from skystream.sal.model import SalField, SalTopic

SHARED = Path("/work/shared/data/sal_interfaces")
GOLDEN = Path("/work/shared/data/golden/lsst.sal.MTM1M3.forceActuatorData.avsc")

EXPECTED_AVRO_TYPE = {
    "boolean": "boolean",
    "byte": "int",
    "short": "int",
    "int": "int",
    "long": "int",
    "unsigned short": "int",
    "long long": "long",
    "unsigned int": "long",
    "unsigned long": "long",
    "unsigned long long": "long",
    "float": "float",
    "double": "double",
    "string": "string",
}
EXPECTED_DEFAULT = {
    "boolean": False,
    "int": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
}
PRIVATE = [
    "private_sndStamp",
    "private_rcvStamp",
    "private_efdStamp",
    "private_kafkaStamp",
    "private_seqNum",
    "private_revCode",
    "private_identity",
    "private_origin",
]


@pytest.fixture(scope="module")
def shared() -> SalInterfaces:
    return load_interfaces(SHARED)


@pytest.fixture
def fake(tmp_path: Path) -> SalInterfaces:
    return load_interfaces(write_fake_ts_xml(tmp_path / "sal_interfaces"))


def _encode(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def _decode(data: bytes, writer: dict[str, Any], reader: dict[str, Any]) -> Any:
    return fastavro.schemaless_reader(
        io.BytesIO(data), fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    )


# --- Rubin's schema ---------------------------------------------------------------------------


def test_golden_schema_is_reproduced_exactly(shared: SalInterfaces) -> None:
    golden = json.loads(GOLDEN.read_text())
    schema = avro_schema(shared.component("MTM1M3").topic("tel_forceActuatorData"))
    assert schema == golden
    # Key order too: the same JSON text, record keys and field keys alike.
    assert json.dumps(schema) == json.dumps(golden)
    assert list(schema) == ["type", "name", "namespace", "fields", "description"]
    assert {tuple(field) for field in schema["fields"]} == {
        ("name", "type", "default", "description", "units")
    }


def test_not_indexed_schema_starts_with_the_private_fields(shared: SalInterfaces) -> None:
    schema = avro_schema(shared.component("MTM2").topic("evt_summaryState"))
    names = [field["name"] for field in schema["fields"]]
    assert names == [*PRIVATE, "summaryState"]
    assert ("salIndex", *PRIVATE) == PRIVATE_FIELD_NAMES
    assert schema["namespace"] == "lsst.sal.MTM2"
    assert schema["name"] == "logevent_summaryState"


def test_indexed_schema_has_sal_index_first(shared: SalInterfaces) -> None:
    topic = shared.component("MTHexapod").topic("tel_actuators")
    schema = avro_schema(topic)
    names = [field["name"] for field in schema["fields"]]
    assert names[: len(PRIVATE) + 1] == ["salIndex", *PRIVATE]
    assert names[len(PRIVATE) + 1 :] == [field.name for field in topic.fields]
    assert schema["fields"][0] == {
        "name": "salIndex",
        "type": "int",
        "default": 0,
        "description": "SAL index (only present for indexed SAL components)",
        "units": "unitless",
    }


def test_namespace_does_not_depend_on_the_subname(shared: SalInterfaces) -> None:
    topic = shared.component("MTM2").topic("ackcmd")
    assert topic.kafka_topic("test") == "lsst.test.MTM2.ackcmd"
    assert avro_schema(topic)["namespace"] == "lsst.sal.MTM2"


# --- types and defaults ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "idl_type"), EVERY_IDL_TYPE.items())
def test_every_idl_type_has_its_avro_type(fake: SalInterfaces, name: str, idl_type: str) -> None:
    fields = {f["name"]: f for f in avro_schema(fake.component("Fake").topic("scalars"))["fields"]}
    expected = EXPECTED_AVRO_TYPE[idl_type]
    assert fields[name]["type"] == expected
    assert fields[name]["default"] == EXPECTED_DEFAULT[expected]
    assert type(fields[name]["default"]) is type(EXPECTED_DEFAULT[expected])
    assert fields[name]["description"] == f"The {idl_type} {name}."
    if idl_type == "string":
        return
    arrays = {f["name"]: f for f in avro_schema(fake.component("Fake").topic("arrays"))["fields"]}
    array = arrays[f"{name}Array"]
    assert array["type"] == {"type": "array", "items": expected}
    assert array["default"] == [EXPECTED_DEFAULT[expected]] * 3
    assert all(type(value) is type(EXPECTED_DEFAULT[expected]) for value in array["default"])


def test_big_arrays_and_strings(fake: SalInterfaces) -> None:
    schema = avro_schema(fake.component("Fake").topic("arrays"))
    fields = {field["name"]: field for field in schema["fields"]}
    assert len(fields["bigArray"]["default"]) == 14000
    assert fields["notAnArray"]["type"] == "string"  # Count 5 on a string is ignored
    assert fields["bounded"]["type"] == "string"
    fastavro.parse_schema(schema)


def test_ackcmd_schema(shared: SalInterfaces) -> None:
    schema = avro_schema(shared.component("MTM1M3").topic("ack_ackcmd"))
    items = [(f["name"], f["type"], f["units"]) for f in schema["fields"][len(PRIVATE) :]]
    assert items == [
        ("ack", "int", "unitless"),
        ("error", "int", "unitless"),
        ("result", "string", "unitless"),
        ("identity", "string", "unitless"),
        ("origin", "int", "unitless"),
        ("cmdtype", "int", "unitless"),
        ("timeout", "double", "second"),
    ]
    assert schema["description"] == "Command acknowledgement"


def test_unknown_idl_type_is_an_error() -> None:
    topic = SalTopic("X", "thing", "telemetry", "", (SalField("foo", "quad"),))
    with pytest.raises(SalInterfaceError, match=r"X_thing, item 'foo': unknown IDL_Type 'quad'"):
        avro_schema(topic)


def test_every_schema_of_the_shared_subset_parses_and_round_trips(shared: SalInterfaces) -> None:
    count = 0
    for component in shared.components.values():
        for topic in component.topics.values():
            schema = avro_schema(topic)
            defaults = {field["name"]: field["default"] for field in schema["fields"]}
            assert _decode(_encode(schema, defaults), schema, schema) == defaults
            count += 1
    assert count > 1000


# --- revCode ------------------------------------------------------------------------------------


def test_rev_code_is_md5_of_the_schema_json(shared: SalInterfaces) -> None:
    schema = avro_schema(shared.component("MTM1M3").topic("forceActuatorData"))
    code = rev_code(schema)
    assert code == hashlib.md5(json.dumps(schema).encode()).hexdigest()[:8]
    assert len(code) == 8 and int(code, 16) >= 0
    assert rev_code(json.loads(GOLDEN.read_text())) == code
    changed = {**schema, "description": schema["description"] + "!"}
    assert rev_code(changed) != code


# --- the DDS era -------------------------------------------------------------------------------


def _dds_era_schema(topic: SalTopic) -> dict[str, Any]:
    """A schema like the DDS-to-Kafka producer's, built from the rules in sal.md."""
    widen = {"int": "long", "float": "double"}
    fields = []
    for field in avro_schema(topic)["fields"]:
        avro_type = field["type"]
        if isinstance(avro_type, dict):
            avro_type = {
                "type": "array",
                "items": widen.get(avro_type["items"], avro_type["items"]),
            }
        else:
            avro_type = widen.get(avro_type, avro_type)
        fields.append({"name": field["name"], "type": avro_type})
    fields += [{"name": "sal_version", "type": "string"}, {"name": "xml_version", "type": "string"}]
    return {
        "name": f"lsst.sal.{topic.component}.{topic.sal_name}",
        "type": "record",
        "fields": fields,
    }


def test_schema_era(shared: SalInterfaces) -> None:
    topic = shared.component("MTHexapod").topic("tel_actuators")
    assert schema_era(avro_schema(topic)) == "kafka"
    assert schema_era(_dds_era_schema(topic)) == "dds"
    versions_only = {**avro_schema(topic)}
    versions_only["fields"] = [*versions_only["fields"], {"name": "xml_version", "type": "string"}]
    assert schema_era(versions_only) == "dds"


def test_both_eras_decode_with_the_normalised_reader(fake: SalInterfaces) -> None:
    topic = fake.component("FakeAny").topic("tel_position")  # indexed
    kafka = avro_schema(topic)
    dds = _dds_era_schema(topic)
    reader = normalise_schema(kafka)
    assert reader["name"] == "position" and reader["namespace"] == "lsst.sal.FakeAny"

    values = {
        "salIndex": 3,
        "private_sndStamp": 1.5,
        "private_rcvStamp": 0.0,
        "private_efdStamp": 1.25,
        "private_kafkaStamp": 1.5,
        "private_seqNum": 7,
        "private_revCode": rev_code(kafka),
        "private_identity": "FakeAny:3",
        "private_origin": 1234,
        "xyz": [1.0, 2.5, -3.0],
    }
    dds_record = {**values, "sal_version": "9.0.0", "xml_version": "28.0.0"}
    from_dds = _decode(_encode(dds, dds_record), dds, reader)
    from_kafka = _decode(_encode(kafka, values), kafka, reader)
    assert from_dds == from_kafka == values
    # The Kafka-era schema alone cannot read DDS-era data: long does not narrow to int.
    with pytest.raises(fastavro.read.SchemaResolutionError):
        _decode(_encode(dds, dds_record), dds, kafka)


def test_normalise_a_dds_era_schema(fake: SalInterfaces) -> None:
    topic = fake.component("Fake").topic("scalars")
    from_dds = normalise_schema(_dds_era_schema(topic))
    from_kafka = normalise_schema(avro_schema(topic))
    assert (from_dds["name"], from_dds["namespace"]) == ("scalars", "lsst.sal.Fake")
    assert not DDS_ONLY_FIELDS & {field["name"] for field in from_dds["fields"]}
    assert [(f["name"], f["type"]) for f in from_dds["fields"]] == [
        (f["name"], f["type"]) for f in from_kafka["fields"]
    ]
    assert all("default" in field for field in from_dds["fields"])
    types = {field["name"]: field["type"] for field in from_kafka["fields"]}
    assert types["anInt"] == "long" and types["aFloat"] == "double"
    assert types["aBoolean"] == "boolean" and types["aString"] == "string"


def test_normalise_strips_the_transitional_namespace_and_aliases() -> None:
    schema = {
        "type": "record",
        "name": "logevent_x",
        "namespace": "lsst.sal.kafka_MTM2",
        "fields": [
            {"name": "a", "type": {"type": "array", "items": "float"}},
            {"name": "b", "type": ["null", "int"]},
            {"name": "c", "type": "double", "aliases": ["old"]},
        ],
    }
    reader = normalise_schema(schema)
    assert reader["namespace"] == "lsst.sal.MTM2"
    assert reader["fields"] == [
        {"name": "a", "type": {"type": "array", "items": "double"}, "default": []},
        {"name": "b", "type": ["null", "long"], "default": None},
        {"name": "c", "type": "double", "default": 0.0},
    ]
    fastavro.parse_schema(reader)


# --- Kafka topics: configs and keys -----------------------------------------------------------


def test_topic_config(shared: SalInterfaces) -> None:
    component = shared.component("MTM1M3")
    assert topic_config(component.topic("evt_summaryState")) == {"cleanup.policy": "compact"}
    for name in ("tel_forceActuatorData", "cmd_start", "ack_ackcmd"):
        assert topic_config(component.topic(name)) == {"cleanup.policy": "delete"}
    assert TOPIC_PARTITIONS == 1


def test_message_keys(shared: SalInterfaces) -> None:
    m1m3 = shared.component("MTM1M3")
    key = message_key(m1m3.topic("evt_summaryState"))
    assert key is not None
    assert json.loads(key) == {"component": "MTM1M3", "topic": "logevent_summaryState"}
    for name in ("tel_forceActuatorData", "cmd_start", "ack_ackcmd"):
        assert message_key(m1m3.topic(name), 0) is None

    hexapod = shared.component("MTHexapod")
    key = message_key(hexapod.topic("evt_summaryState"), 2)
    assert key == b'{"component":"MTHexapod","topic":"logevent_summaryState","salIndex":2}'
    assert message_key(hexapod.topic("tel_actuators"), 2) is None
    with pytest.raises(SalInterfaceError, match="MTHexapod is indexed"):
        message_key(hexapod.topic("evt_summaryState"))
