"""The filling plan of an alert schema: which rule fills which field.

:func:`compile_plan` walks an expanded alert schema (named types inlined at
their first use, as ``lsst-alert-packet`` and ZTF ship them) once and
flattens it into an :class:`AlertPlan`: the alert's top-level fields, each a
scalar, a record, an array of records or an image cutout, and for every record
type its primitive fields (:class:`Leaf`) with the fill rule the survey's
:data:`~skystream.alerts.synthetic.rules.FillRule` chose for it. Generating
alerts is then a loop over the plan, not over the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from skystream.alerts.synthetic.rules import Fill, FillRule, leave_null
from skystream.exceptions import SchemaError

__all__ = ["AlertPlan", "Leaf", "RecordPlan", "TopField", "compile_plan"]

_PRIMITIVES = frozenset({"boolean", "int", "long", "float", "double", "string", "bytes"})


@dataclass(frozen=True)
class Leaf:
    """A primitive field of a record, with the rule that fills it.

    ``kind`` is the Avro primitive type, or ``"timestamp-micros"`` for a
    ``long`` with that logical type.
    """

    name: str
    kind: str
    nullable: bool
    fill: Fill


@dataclass(frozen=True)
class RecordPlan:
    """A flat record type: its name and its fields in schema order."""

    name: str
    fields: tuple[Leaf, ...]


@dataclass(frozen=True)
class TopField:
    """A field of the alert record: a scalar, a record, an array of records or a cutout.

    Scalars have a ``kind`` and a ``fill``; records and arrays a ``record``
    plan; a cutout (a ``fileName``/``stampData`` record) takes its values from
    the model's column of the field's name.
    """

    name: str
    shape: Literal["scalar", "record", "array", "cutout"]
    nullable: bool
    kind: str = ""
    fill: Fill | None = None
    record: RecordPlan | None = None


@dataclass(frozen=True)
class AlertPlan:
    """The alert's top-level fields in schema order."""

    fields: tuple[TopField, ...]

    @property
    def names(self) -> frozenset[str]:
        """Names of the top-level fields."""
        return frozenset(top.name for top in self.fields)


class _SchemaWalker:
    """Resolves the types of an expanded schema (named types inlined at first use)."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def resolve(self, schema: Any, namespace: str) -> tuple[bool, Any, str]:
        """Return (nullable, type, namespace) with a ``["null", T]`` union unwrapped."""
        nullable = False
        if isinstance(schema, list):
            branches = [branch for branch in schema if branch != "null"]
            if len(branches) != 1 or schema[0] != "null":
                raise SchemaError(f"cannot generate values for the union {schema!r}")
            nullable, schema = True, branches[0]
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            full = schema if "." in schema else f"{namespace}.{schema}"
            if full not in self.named:
                raise SchemaError(f"unknown named type {schema!r} in the alert schema")
            return nullable, self.named[full], full.rpartition(".")[0]
        if isinstance(schema, dict) and schema.get("type") == "record":
            name = str(schema["name"])
            space = str(schema.get("namespace", namespace))
            full = name if "." in name else f"{space}.{name}"
            self.named[full] = schema
            return nullable, schema, full.rpartition(".")[0]
        return nullable, schema, namespace

    @staticmethod
    def kind(schema: Any) -> str | None:
        """Return the primitive kind of a resolved type, or ``None`` if it is not primitive."""
        if isinstance(schema, str):
            return schema if schema in _PRIMITIVES else None
        if isinstance(schema, dict):
            if schema.get("logicalType") == "timestamp-micros" and schema.get("type") == "long":
                return "timestamp-micros"
            if isinstance(schema.get("type"), str) and schema["type"] in _PRIMITIVES:
                return str(schema["type"])
        return None


def _leaf(name: str, kind: str, nullable: bool, rule: FillRule, where: str) -> Leaf:
    fill = rule(name, kind)
    if fill is leave_null and not nullable:
        raise SchemaError(
            f"field {where}{name} is to stay null, but the schema does not allow null"
        )
    return Leaf(name, kind, nullable, fill)


def _compile_record(
    walker: _SchemaWalker, schema: Any, namespace: str, rule: FillRule
) -> RecordPlan:
    leaves = []
    for entry in schema["fields"]:
        nullable, inner, _ = walker.resolve(entry["type"], namespace)
        kind = walker.kind(inner)
        if kind is None:
            raise SchemaError(
                f"field {schema['name']}.{entry['name']} is not a primitive type; "
                "the alert generator fills flat records only"
            )
        leaves.append(_leaf(entry["name"], kind, nullable, rule, f"{schema['name']}."))
    return RecordPlan(str(schema["name"]), tuple(leaves))


def compile_plan(definition: Any, rule: FillRule) -> AlertPlan:
    """Flatten an expanded alert schema into a plan, choosing each field's rule with ``rule``.

    Raises
    ------
    SchemaError
        If the schema has a shape the generator cannot fill: a union other
        than ``["null", T]``, nested records inside records, or a field the
        rule leaves null that is not nullable.
    """
    walker = _SchemaWalker()
    _, alert, namespace = walker.resolve(definition, "")
    plans: dict[int, RecordPlan] = {}
    fields: list[TopField] = []
    for entry in alert["fields"]:
        name = entry["name"]
        nullable, inner, space = walker.resolve(entry["type"], namespace)
        kind = walker.kind(inner)
        if kind is not None:
            leaf = _leaf(name, kind, nullable, rule, "")
            fields.append(TopField(name, "scalar", nullable, kind, fill=leaf.fill))
            continue
        shape: Literal["record", "array"] = "record"
        if isinstance(inner, dict) and inner.get("type") == "array":
            shape = "array"
            _, inner, space = walker.resolve(inner["items"], space)
        if not (isinstance(inner, dict) and inner.get("type") == "record"):
            raise SchemaError(f"cannot generate values for the alert field {name!r}")
        if {item["name"] for item in inner["fields"]} == {"fileName", "stampData"}:
            fields.append(TopField(name, "cutout", nullable))
            continue
        if id(inner) not in plans:
            plans[id(inner)] = _compile_record(walker, inner, space, rule)
        fields.append(TopField(name, shape, nullable, record=plans[id(inner)]))
    return AlertPlan(tuple(fields))
