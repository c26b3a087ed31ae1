"""Annotated alerts: the alert's own schema with one more field, ``annotations``.

An annotated alert is the survey's alert record with a last, optional field
appended, the way Fink adds its fields to alerts::

    {"name": "annotations", "default": null,
     "type": ["null", {"type": "record", "name": "Annotations", "namespace": "skystream",
                       "fields": [
                           {"name": "nearby_galaxies", "default": null,
                            "type": ["null", <what the step declares>]},
                           ...,
                           {"name": "other", "default": null,
                            "type": ["null", {"type": "map", "values": "string"}]}]}]}

The record has one field per step that declares the Avro type of its
annotations (``annotation_schema``, see :class:`~skystream.pipeline.Processor`),
named after the step (:func:`~skystream.pipeline.processor.annotation_field_name`:
``nearby-galaxies`` -> ``nearby_galaxies``), and ``other``: every other
annotation, by key, as JSON text (steps that declare no type, or file their
annotations under other keys).

An Avro record's binary form is its fields in order, so the annotated alert's
bytes are the original record's bytes followed by the encoded ``annotations``
union: the 160 KB alert is never decoded nor encoded again
(:meth:`AnnotatedSchema.body`). Because the record keeps its name
(``lsst.v11_1.alert``, ``ztf.alert``), :class:`~skystream.alerts.AlertDecoder`
still knows the survey and version, and a consumer that reads with the
survey's own schema gets the original alert (schema resolution skips the extra
writer field).

Input that is already annotated (a second component) keeps its annotations:
its ``annotations`` record is extended with this chain's fields, and the values
merged (this chain's win where both have one). Only the original fields are
skipped over, not decoded.

>>> encoder = AnnotatedAlertEncoder({"xm": {"type": "array", "items": "long"}})
>>> [field["name"] for field in encoder.record["fields"]]
['xm', 'other']
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from typing import TYPE_CHECKING, Any

import fastavro

from skystream.alerts.decoder import CONTAINER_MAGIC
from skystream.exceptions import ConfigurationError, EncodeError, SchemaError
from skystream.pipeline.processor import Annotations, annotation_field_name
from skystream.schemas.avro import AvroSchema

if TYPE_CHECKING:
    from skystream.alerts.model import Alert, AlertLayout

__all__ = [
    "ANNOTATIONS_FIELD",
    "ANNOTATIONS_RECORD",
    "OTHER_FIELD",
    "AnnotatedAlertEncoder",
    "AnnotatedSchema",
    "alert_annotations",
    "annotations_record",
    "extend_schema",
    "record_body",
    "split_schema",
]

#: The field appended to the alert record.
ANNOTATIONS_FIELD = "annotations"
#: The full name of the annotations record: how annotated schemas are recognised.
ANNOTATIONS_RECORD = "skystream.Annotations"
#: The field of the annotations record holding undeclared annotations as JSON text.
OTHER_FIELD = "other"

_NAMESPACE, _, _RECORD_NAME = ANNOTATIONS_RECORD.rpartition(".")
_NULL = b"\x00"  # union branch 0 (null), zig-zag encoded
_RECORD = b"\x02"  # union branch 1 (the annotations record)
_SYNC_SIZE = 16


def annotations_record(types: Mapping[str, Any]) -> dict[str, Any]:
    """Return the definition of the annotations record for declared step types.

    Parameters
    ----------
    types
        Step name -> the Avro type its annotations declare.

    Raises
    ------
    ConfigurationError
        If two steps get the same field name, or a step's name becomes ``other``.
    """
    fields: list[dict[str, Any]] = []
    owner: dict[str, str] = {}
    for step, declared in types.items():
        name = annotation_field_name(step)
        if name == OTHER_FIELD or name in owner:
            clash = "the field of undeclared annotations" if name == OTHER_FIELD else owner[name]
            raise ConfigurationError(
                f"steps {step!r} and {clash!r} would both write their annotations in the "
                f"Avro field {name!r}; rename one of them (names differing in more than "
                "punctuation)"
            )
        owner[name] = step
        fields.append(
            {
                "name": name,
                "type": _optional(copy.deepcopy(declared)),
                "default": None,
                "doc": f"Annotations of step {step!r}.",
            }
        )
    fields.append(_other_field())
    return {
        "type": "record",
        "name": _RECORD_NAME,
        "namespace": _NAMESPACE,
        "doc": "What the steps of skystream components found, by step.",
        "fields": fields,
    }


def extend_schema(base: AvroSchema, record: Mapping[str, Any]) -> AvroSchema:
    """Return ``base`` (an alert record schema) with the optional ``annotations`` field appended.

    Raises
    ------
    EncodeError
        If ``base`` is not a self-contained record schema, already has a field
        ``annotations``, or the result is not valid Avro.
    """
    definition = base.definition
    if not isinstance(definition, dict) or definition.get("type") != "record":
        raise EncodeError(f"annotations extend a record schema; {base.name or 'this'} is not one")
    if base.references:
        raise EncodeError(
            f"schema {base.name!r} takes types from other subjects (schema references); "
            "annotated output needs a self-contained alert schema"
        )
    if any(f.get("name") == ANNOTATIONS_FIELD for f in definition["fields"]):
        raise EncodeError(
            f"schema {base.name!r} already has a field {ANNOTATIONS_FIELD!r}; annotated output "
            "appends its own"
        )
    extended = dict(definition)
    extended["fields"] = [
        *definition["fields"],
        {
            "name": ANNOTATIONS_FIELD,
            "type": ["null", copy.deepcopy(dict(record))],
            "default": None,
            "doc": "Added by skystream: what the components' steps found (null: nothing).",
        },
    ]
    try:
        return AvroSchema.from_definition(extended)
    except SchemaError as exc:
        raise EncodeError(f"annotated schema of {base.name!r} is not valid Avro: {exc}") from exc


def split_schema(schema: AvroSchema) -> tuple[AvroSchema, dict[str, Any]] | None:
    """Split an annotated schema into the alert's own schema and its annotations record.

    Returns ``None`` for a schema without annotations.

    Raises
    ------
    EncodeError
        If the schema has a last field ``annotations`` that skystream did not write.
    """
    definition = schema.definition
    if not isinstance(definition, dict) or not definition.get("fields"):
        return None
    last = definition["fields"][-1]
    if last.get("name") != ANNOTATIONS_FIELD:
        return None
    branches = last.get("type")
    ours = (
        isinstance(branches, list)
        and len(branches) == 2
        and branches[0] == "null"
        and isinstance(branches[1], dict)
        and _full_name(branches[1]) == ANNOTATIONS_RECORD
    )
    if not ours:
        raise EncodeError(
            f"schema {schema.name!r} ends with a field {ANNOTATIONS_FIELD!r} that is not "
            f"skystream's ([null, {ANNOTATIONS_RECORD}]); its alerts cannot be annotated again"
        )
    base = dict(definition)
    base["fields"] = definition["fields"][:-1]
    record: dict[str, Any] = branches[1]
    return AvroSchema(base, schema.references), record


def record_body(alert: Alert) -> bytes:
    """Return the alert's record as schemaless Avro bytes, whatever its framing.

    The bytes it arrived in are sliced (after a wire-format header, or the
    one datum of an Avro container); an alert built from a record, or a
    container of an unusual shape, is encoded again.
    """
    raw = alert.raw
    if raw is not None:
        offset = alert.record_offset
        if raw[:4] != CONTAINER_MAGIC:
            return raw[offset:]
        datum = _container_datum(raw, offset)
        if datum is not None:
            return datum
    stream = BytesIO()
    fastavro.schemaless_writer(stream, alert.layout.schema.parsed, dict(alert.record))
    return stream.getvalue()


@dataclass(eq=False)
class AnnotatedSchema:
    """How alerts of one input schema are written annotated.

    Attributes
    ----------
    base
        The alert's own schema (the input's, less any annotations).
    schema
        The annotated schema: ``base`` with ``annotations`` appended (what is
        registered, and what the output is written with).
    fields
        Annotation key (a step's name) -> its field in the annotations record,
        for the steps that declare a type.
    input_annotations
        The annotations record of input that is already annotated (its values
        are merged into the output), else ``None``.
    """

    base: AvroSchema
    schema: AvroSchema
    fields: Mapping[str, str]
    input_annotations: Mapping[str, Any] | None = None

    @cached_property
    def record(self) -> dict[str, Any]:
        """The definition of the annotations record :attr:`schema` appends."""
        definition: dict[str, Any] = self.schema.definition["fields"][-1]["type"][1]
        return definition

    @cached_property
    def _field_names(self) -> tuple[str, ...]:
        return tuple(str(f["name"]) for f in self.record["fields"])

    @cached_property
    def _writer(self) -> Any:
        # The record has an explicit namespace, so it parses alone as it does in place.
        return fastavro.parse_schema(copy.deepcopy(self.record))

    @cached_property
    def _input_union(self) -> Any:
        return fastavro.parse_schema(["null", copy.deepcopy(dict(self.input_annotations or {}))])

    @cached_property
    def _skip(self) -> Any:
        # A reader of the base record that keeps no field: reading with it skips to the end.
        return fastavro.parse_schema({"type": "record", "name": self.base.name, "fields": []})

    def body(self, alert: Alert, notes: Annotations | None) -> bytes:
        """Return the annotated record of ``alert`` as schemaless Avro (no wire header).

        Raises
        ------
        EncodeError
            If an annotation does not fit the type its step declares, or the
            input's annotations cannot be read.
        """
        body = record_body(alert)
        existing: Mapping[str, Any] | None = None
        if self.input_annotations is not None:
            body, existing = self.split_body(body)
        return body + self.encode(self.value(notes, existing))

    def value(
        self, notes: Annotations | None, existing: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Return the ``annotations`` value of ``notes`` merged over ``existing`` (or ``None``).

        Values of steps with a field go there; the others go to ``other`` as
        JSON text. Where both have a value, ``notes`` wins.
        """
        if not notes and not existing:
            return None
        value: dict[str, Any] = dict.fromkeys(self._field_names)
        other: dict[str, str] = {}
        if existing:
            value.update({k: v for k, v in existing.items() if k != OTHER_FIELD})
            other.update(existing.get(OTHER_FIELD) or {})
        for key, note in (notes or {}).items():
            name = self.fields.get(key)
            if name is not None:
                value[name] = note
            else:
                other[key] = annotations_text(note)
        value[OTHER_FIELD] = other or None
        return value

    def encode(self, value: Mapping[str, Any] | None) -> bytes:
        """Encode the ``annotations`` union of ``value`` (``None``: null).

        Raises
        ------
        EncodeError
            If ``value`` does not fit the annotations record.
        """
        if value is None:
            return _NULL
        stream = BytesIO()
        stream.write(_RECORD)
        try:
            fastavro.schemaless_writer(stream, self._writer, dict(value), strict=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(
                f"annotations do not fit their declared Avro types ({type(exc).__name__}: "
                f"{exc}); a step's annotation_schema must describe what it annotates: "
                f"{value!r:.300}"
            ) from exc
        return stream.getvalue()

    def split_body(self, body: bytes) -> tuple[bytes, Mapping[str, Any] | None]:
        """Split an annotated input record into its own fields' bytes and its annotations.

        Raises
        ------
        EncodeError
            If the bytes do not hold the input's schema.
        """
        stream = BytesIO(body)
        try:
            fastavro.schemaless_reader(stream, self.base.parsed, self._skip)
            start = stream.tell()
            existing = fastavro.schemaless_reader(stream, self._input_union)
        except (EOFError, ValueError, IndexError, TypeError, KeyError) as exc:
            raise EncodeError(f"the alert's annotations cannot be read: {exc!r}") from exc
        if stream.tell() != len(body):
            raise EncodeError(
                f"the annotated alert has {len(body) - stream.tell()} bytes after its "
                "annotations: it is not in the schema it names"
            )
        if existing is not None and not isinstance(existing, Mapping):
            raise EncodeError(f"the alert's annotations are a {type(existing).__name__}")
        return body[:start], existing


class AnnotatedAlertEncoder:
    """Write alerts annotated, in their own schema extended with ``annotations``.

    Sans-I/O: it builds the annotated schema of each input schema (cached) and
    the record bytes; registering the schema and framing the message is the
    caller's (see :class:`~skystream.processors.sinks.KafkaStreamWriter`).

    Parameters
    ----------
    types
        Step name -> the Avro type of its annotations (the chain's
        ``annotation_schema``); annotations of other keys go to ``other``.

    Raises
    ------
    ConfigurationError
        If the declared types clash or are not valid Avro.
    """

    def __init__(self, types: Mapping[str, Any]) -> None:
        self.types = dict(types)
        self.record = annotations_record(self.types)
        self.fields = {step: annotation_field_name(step) for step in self.types}
        try:
            fastavro.parse_schema(["null", copy.deepcopy(self.record)])
        except Exception as exc:  # fastavro raises several kinds for a bad schema
            raise ConfigurationError(
                f"the annotation_schema of steps {', '.join(map(repr, self.types))} is not "
                f"valid Avro ({type(exc).__name__}: {exc}); each must be a self-contained "
                "Avro type with named types in a namespace of the step's own"
            ) from exc
        self._by_layout: dict[int, tuple[AlertLayout, AnnotatedSchema]] = {}
        self._by_schema: dict[str, AnnotatedSchema] = {}

    def schema_for(self, layout: AlertLayout) -> AnnotatedSchema:
        """Return how alerts of ``layout`` are written (built once per input schema).

        Raises
        ------
        EncodeError
            If the input schema cannot be extended (see :func:`extend_schema`),
            or its annotations clash with this chain's.
        """
        known = self._by_layout.get(id(layout))
        if known is not None and known[0] is layout:
            return known[1]
        key = layout.schema.canonical
        annotated = self._by_schema.get(key)
        if annotated is None:
            annotated = self._by_schema[key] = self._build(layout.schema)
        self._by_layout[id(layout)] = (layout, annotated)
        return annotated

    def _build(self, schema: AvroSchema) -> AnnotatedSchema:
        split = split_schema(schema)
        if split is None:
            return AnnotatedSchema(schema, extend_schema(schema, self.record), self.fields)
        base, existing = split
        record = _merged_record(existing, self.record, schema.name)
        return AnnotatedSchema(base, extend_schema(base, record), self.fields, existing)


def alert_annotations(alert: Alert) -> dict[str, Any] | None:
    """Return the annotations of an annotated alert, by name (``None`` when it has none).

    Typed annotations are keyed by their Avro field (a step's name made an
    Avro name); those kept as JSON text in ``other`` are decoded, by their key.
    Only the alert's own fields are skipped over, not decoded.

    Raises
    ------
    EncodeError
        If the alert's schema ends with an ``annotations`` field that is not
        skystream's, or its annotations cannot be read.
    """
    split = split_schema(alert.layout.schema)
    if split is None:
        return None
    base, record = split
    reader = AnnotatedSchema(base, alert.layout.schema, {}, record)
    _, value = reader.split_body(record_body(alert))
    if value is None:
        return None
    found = {k: v for k, v in value.items() if k != OTHER_FIELD and v is not None}
    found.update({k: json.loads(v) for k, v in (value.get(OTHER_FIELD) or {}).items()})
    return found


def annotations_text(value: Any) -> str:
    """Encode an annotation as compact JSON text (numpy values as numbers, others as text)."""
    return json.dumps(value, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(value)


def _optional(declared: Any) -> Any:
    """Make a declared type nullable, null first (so that the field's default is null)."""
    if isinstance(declared, list):
        rest = [branch for branch in declared if branch != "null"]
        return ["null", *rest]
    return ["null", declared]


def _other_field() -> dict[str, Any]:
    return {
        "name": OTHER_FIELD,
        "type": ["null", {"type": "map", "values": "string"}],
        "default": None,
        "doc": "Annotations of steps that declare no Avro type, by key, as JSON text.",
    }


def _full_name(definition: Mapping[str, Any]) -> str:
    name = str(definition.get("name", ""))
    namespace = definition.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _merged_record(
    existing: Mapping[str, Any], ours: Mapping[str, Any], schema_name: str | None
) -> dict[str, Any]:
    """Return the input's annotations record plus this chain's fields (same name: same type)."""
    fields = [dict(f) for f in existing["fields"]]
    present = {f["name"]: f for f in fields}
    for new in ours["fields"]:
        old = present.get(new["name"])
        if old is None:
            fields.append(dict(new))
        elif _canonical(old["type"]) != _canonical(new["type"]):
            raise EncodeError(
                f"alerts of {schema_name!r} already carry annotations {new['name']!r} of "
                f"another type than this chain declares; rename the step (two components "
                "annotating under one name must declare the same type)"
            )
    merged = dict(existing)
    merged["fields"] = fields
    return merged


def _canonical(definition: Any) -> str:
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def _container_datum(data: bytes, offset: int) -> bytes | None:
    """Return the one datum of a null-codec Avro container message, or ``None`` if unsure.

    The decoder leaves ``offset`` just past the first block's header: the
    varint count (1, one byte ``0x02``) and the varint size of the block. The
    size is read back from there: its last byte is below 0x80, the ones
    before it are 0x80 or more, and the count's byte comes before them.
    """
    end = offset - 1
    if offset < 2 or data[end] >= 0x80:
        return None
    start = end
    while start > 0 and data[start - 1] >= 0x80:
        start -= 1
    if start < 1 or data[start - 1] != 0x02:
        return None
    encoded = 0
    for shift, byte in enumerate(data[start:offset]):
        encoded |= (byte & 0x7F) << (7 * shift)
    size = (encoded >> 1) ^ -(encoded & 1)
    if size < 0 or offset + size + _SYNC_SIZE > len(data):
        return None
    return data[offset : offset + size]
