"""Avro schemas, Kafka topic settings and message keys of SAL topics, as Rubin makes them.

:func:`avro_schema` writes exactly the schema Rubin's Kafka-era middleware
generates for a topic (same keys, same key order, same descriptions)::

    {"type": "record", "name": <sal_name>, "namespace": "lsst.sal.<CSC>",
     "fields": [salIndex (indexed components only), private_sndStamp,
                private_rcvStamp, private_efdStamp, private_kafkaStamp,
                private_seqNum, private_revCode, private_identity,
                private_origin, <the XML items>...],
     "description": <the topic's Description>}

each field being ``{"name", "type", "default", "description", "units"}``.

Reading both eras
-----------------
The older DDS-to-Kafka producer wrote other schemas for the same topics: the
record is named ``lsst.sal.MTM1M3.forceActuatorData`` with no namespace (the
same full name), every integer is ``long`` and every float ``double``, and
``sal_version``/``xml_version`` fields are added. Avro schema resolution cannot
read such data with the Kafka-era schema as it is (``long`` does not narrow to
``int``), so :func:`normalise_schema` turns either era's schema into one
*reader* schema: Kafka-era name and namespace, integers widened to ``long`` and
floats to ``double`` (Avro promotes Kafka-era ``int``/``float`` data to those),
the DDS-only fields dropped (resolution skips writer fields the reader lacks)
and defaults for every field (fields one era lacks take them)::

    reader = normalise_schema(avro_schema(topic))
    record = fastavro.schemaless_reader(buffer, writer_schema, reader)

decodes a message whatever schema (``writer_schema``, from the registry) wrote
it. The values are the same Python ``int``/``float`` either way.

Kafka topics
------------
One partition per topic (:data:`TOPIC_PARTITIONS`). Event topics are compacted
and keyed by a JSON string naming the component, the topic and, for indexed
components, the SAL index (:func:`message_key`), so the latest event of each
writer survives; telemetry, commands and ``ackcmd`` are not keyed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from skystream.exceptions import SalInterfaceError
from skystream.sal.model import SalTopic

__all__ = [
    "AVRO_TYPES",
    "DDS_ONLY_FIELDS",
    "PRIVATE_FIELD_NAMES",
    "TOPIC_PARTITIONS",
    "avro_schema",
    "message_key",
    "normalise_schema",
    "rev_code",
    "schema_era",
    "topic_config",
]

#: Avro type of each IDL type (IDL ``long`` is 32-bit, hence ``int``).
AVRO_TYPES: Mapping[str, str] = {
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

_DEFAULTS: Mapping[str, Any] = {
    "boolean": False,
    "int": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
}


def _private(name: str, avro_type: str, description: str, units: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": avro_type,
        "default": _DEFAULTS[avro_type],
        "description": description,
        "units": units,
    }


_SAL_INDEX_FIELD = _private(
    "salIndex", "int", "SAL index (only present for indexed SAL components)", "unitless"
)
_PRIVATE_FIELDS = (
    _private("private_sndStamp", "double", "Time of instance publication", "second"),
    _private("private_rcvStamp", "double", "Time of instance reception", "second"),
    _private(
        "private_efdStamp",
        "double",
        "UTC time for EFD timestamp. An integer (the number of leap seconds) "
        "different from private_sndStamp.",
        "second",
    ),
    _private(
        "private_kafkaStamp", "double", "TAI time at which the Kafka message was created.", "second"
    ),
    _private("private_seqNum", "int", "Sequence number", "unitless"),
    _private("private_revCode", "string", "Revision hashcode", "unitless"),
    _private(
        "private_identity",
        "string",
        "Identity of publisher: SAL component name for a CSC or user@host for a user",
        "unitless",
    ),
    _private("private_origin", "int", "Process ID of publisher", "unitless"),
)

#: The fields every message carries before the items, in order (``salIndex`` only when indexed).
PRIVATE_FIELD_NAMES: tuple[str, ...] = tuple(
    str(entry["name"]) for entry in (_SAL_INDEX_FIELD, *_PRIVATE_FIELDS)
)

#: Fields only the DDS-era producer wrote.
DDS_ONLY_FIELDS = frozenset({"sal_version", "xml_version"})

#: Partitions of every SAL topic (one, so a topic's messages stay in order).
TOPIC_PARTITIONS = 1

_TRANSITIONAL_NAMESPACE = re.compile(r"^lsst\.sal\.kafka[_-]")
_WIDER = {"int": "long", "float": "double"}


def avro_schema(topic: SalTopic) -> dict[str, Any]:
    """Build the Avro schema of ``topic``, equal (keys and their order included) to Rubin's.

    The namespace is ``lsst.sal.<CSC>`` whatever Kafka subname the topic is written
    under. Array fields default to ``count`` zeros. Each call builds a new dict.

    Raises
    ------
    SalInterfaceError
        If a field has an IDL type that has no Avro equivalent.
    """
    fields: list[dict[str, Any]] = []
    if topic.indexed:
        fields.append(dict(_SAL_INDEX_FIELD))
    fields.extend(dict(entry) for entry in _PRIVATE_FIELDS)
    for item in topic.fields:
        scalar = AVRO_TYPES.get(item.idl_type)
        if scalar is None:
            raise SalInterfaceError(
                f"{topic.component}_{topic.sal_name}, item {item.name!r}: unknown IDL_Type "
                f"{item.idl_type!r}; known: {', '.join(AVRO_TYPES)}"
            )
        avro_type: Any = scalar
        default: Any = _DEFAULTS[scalar]
        if item.count > 1 and scalar != "string":
            avro_type = {"type": "array", "items": scalar}
            default = [default] * item.count
        fields.append(
            {
                "name": item.name,
                "type": avro_type,
                "default": default,
                "description": item.description,
                "units": item.units,
            }
        )
    return {
        "type": "record",
        "name": topic.sal_name,
        "namespace": f"lsst.sal.{topic.component}",
        "fields": fields,
        "description": topic.description,
    }


def rev_code(schema: Mapping[str, Any]) -> str:
    """Compute the ``private_revCode`` of messages written with ``schema``.

    The first 8 hexadecimal characters of the MD5 digest of ``json.dumps(schema)``:
    the schema exactly as :func:`avro_schema` built it, serialised with the
    standard library's defaults (key order kept, ``", "``/``": "`` separators,
    ASCII escapes), encoded as UTF-8. Any change to the topic's definition
    (a field, a type, a description) changes the code.
    """
    return hashlib.md5(json.dumps(schema).encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def schema_era(schema: Mapping[str, Any]) -> Literal["kafka", "dds"]:
    """Which producer wrote ``schema``: Rubin's Kafka-era middleware or the older DDS bridge.

    A DDS-era schema has a dotted record name and no namespace, or the
    ``sal_version``/``xml_version`` fields.
    """
    if "namespace" not in schema and "." in str(schema.get("name", "")):
        return "dds"
    names = {entry.get("name") for entry in schema.get("fields", ())}
    return "dds" if names & DDS_ONLY_FIELDS else "kafka"


def normalise_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Make a reader schema that decodes a topic's messages, whichever era wrote them.

    Takes either era's schema of the topic and returns it with the Kafka-era name
    and namespace (``lsst.sal.kafka_<CSC>``, a transitional namespace, becomes
    ``lsst.sal.<CSC>``), ``int`` widened to ``long`` and ``float`` to ``double``
    (arrays and unions included), the DDS-only fields and field aliases dropped,
    and a default on every field. See the module notes for how to use it.
    """
    name = str(schema["name"])
    namespace = schema.get("namespace")
    if namespace is None and "." in name:
        namespace, name = name.rsplit(".", 1)
    reader: dict[str, Any] = {"type": "record", "name": name}
    if namespace:
        reader["namespace"] = _TRANSITIONAL_NAMESPACE.sub("lsst.sal.", str(namespace))
    reader["fields"] = [
        _widen_field(entry) for entry in schema["fields"] if entry["name"] not in DDS_ONLY_FIELDS
    ]
    if "description" in schema:
        reader["description"] = schema["description"]
    return reader


def _widen_type(avro_type: Any) -> Any:
    if isinstance(avro_type, str):
        return _WIDER.get(avro_type, avro_type)
    if isinstance(avro_type, list):
        return [_widen_type(branch) for branch in avro_type]
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        return {**avro_type, "items": _widen_type(avro_type["items"])}
    return avro_type


_NO_DEFAULT = object()


def _default_for(avro_type: Any) -> Any:
    if isinstance(avro_type, str):
        return _DEFAULTS.get(avro_type, _NO_DEFAULT)
    if isinstance(avro_type, list) and avro_type:
        # A union's default belongs to its first branch.
        return None if avro_type[0] == "null" else _default_for(avro_type[0])
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        return []
    return _NO_DEFAULT


def _widen_field(entry: Mapping[str, Any]) -> dict[str, Any]:
    widened = {key: value for key, value in entry.items() if key != "aliases"}
    widened["type"] = _widen_type(entry["type"])
    if "default" not in entry:
        default = _default_for(widened["type"])
        if default is not _NO_DEFAULT:
            widened["default"] = default
    return widened


def topic_config(topic: SalTopic) -> dict[str, str]:
    """Kafka topic configuration for ``topic``: events compacted, the rest deleted by age."""
    return {"cleanup.policy": "compact" if topic.kind == "event" else "delete"}


def message_key(topic: SalTopic, index: int | None = None) -> bytes | None:
    """Make the Kafka key of a message of ``topic`` written with SAL index ``index``.

    Events: the UTF-8 JSON ``{"component": ..., "topic": <sal_name>}``, plus
    ``"salIndex"`` for indexed components, so compaction keeps the latest event of
    each writer. Telemetry, commands and ``ackcmd``: ``None`` (no key).

    Raises
    ------
    SalInterfaceError
        If ``topic`` is an event of an indexed component and ``index`` is ``None``.
    """
    if topic.kind != "event":
        return None
    key: dict[str, Any] = {"component": topic.component, "topic": topic.sal_name}
    if topic.indexed:
        if index is None:
            raise SalInterfaceError(
                f"{topic.component} is indexed: the key of {topic.attr_name} needs the "
                "writer's SAL index"
            )
        key["salIndex"] = int(index)
    return json.dumps(key, separators=(",", ":")).encode("utf-8")
