"""Checking a message against its SAL topic before it is sent, in the prototype's modes.

========================= ====================================================
``none``                  no check (the Avro writer still refuses what does not fit)
``custom``                skystream's own check: types, integer ranges, array
                          lengths and string sizes, every problem named at once
``dataclass``             a dataclass per topic (array lengths checked, as salobj)
``pydantic``              a pydantic model per topic (types coerced strictly)
``*_and_decode``          the same, then the encoded bytes are decoded again and
                          compared with what was meant to be sent
========================= ====================================================

Readers turn messages into ``dict`` (``none``), dataclasses, pydantic models
or ``types.SimpleNamespace`` (:func:`postprocessor`).

>>> from skystream.sal.model import SalField, SalTopic
>>> topic = SalTopic("Test", "scalars", "telemetry", "", (SalField("n", "short"),))
>>> check_custom(topic, {"n": 40000})
Traceback (most recent call last):
...
skystream.exceptions.ValidationError: 1 problem(s) with Test.scalars data:
  - n: 40000 is out of range for short (-32768..32767)
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Any, Literal

import pydantic

from skystream.exceptions import ValidationError
from skystream.sal.model import SalField, SalTopic
from skystream.sal.samples import INT_RANGES

__all__ = [
    "Postprocess",
    "Validation",
    "check_custom",
    "dataclass_for",
    "model_for",
    "postprocessor",
    "validator",
]

#: How a writer checks each message.
Validation = Literal[
    "none", "custom", "dataclass", "dataclass_and_decode", "pydantic", "pydantic_and_decode"
]
#: What a reader turns each message into.
Postprocess = Literal["none", "dataclass", "pydantic", "simple_namespace"]

_PRIVATE: dict[str, type] = {
    "salIndex": int,
    "private_sndStamp": float,
    "private_rcvStamp": float,
    "private_efdStamp": float,
    "private_kafkaStamp": float,
    "private_seqNum": int,
    "private_revCode": str,
    "private_identity": str,
    "private_origin": int,
}


def _python_type(field: SalField) -> type:
    if field.idl_type == "boolean":
        return bool
    if field.idl_type == "string":
        return str
    if field.idl_type in ("float", "double"):
        return float
    return int


def _problem(field: SalField, value: Any) -> str | None:
    """Say what is wrong with ``value`` for ``field`` (``None``: nothing)."""
    if field.is_array:
        if not isinstance(value, list | tuple):
            return f"expected a list of {field.count} {field.idl_type}, got {type(value).__name__}"
        if len(value) != field.count:
            return f"expected {field.count} elements, got {len(value)}"
        for position, item in enumerate(value):
            problem = _scalar_problem(field, item)
            if problem is not None:
                return f"[{position}] {problem}"
        return None
    return _scalar_problem(field, value)


def _scalar_problem(field: SalField, value: Any) -> str | None:
    kind = field.idl_type
    if kind == "boolean":
        return None if isinstance(value, bool) else _wrong(value, "boolean")
    if kind == "string":
        if not isinstance(value, str):
            return _wrong(value, "string")
        if field.size and field.size > 1 and len(value) > field.size:
            return f"{len(value)} characters, more than the {field.size} allowed"
        return None
    if kind in ("float", "double"):
        ok = isinstance(value, float | int) and not isinstance(value, bool)
        return None if ok else _wrong(value, kind)
    if not isinstance(value, int) or isinstance(value, bool):
        return _wrong(value, kind)
    low, high = INT_RANGES[kind]
    if not low <= value <= high:
        return f"{value} is out of range for {kind} ({low}..{high})"
    return None


def _wrong(value: Any, expected: str) -> str:
    return f"{value!r} is a {type(value).__name__}, expected {expected}"


def check_custom(topic: SalTopic, data: Mapping[str, Any]) -> None:
    """Check every item of ``data`` against ``topic``; report all problems at once.

    Raises
    ------
    ValidationError
        Naming each field: a missing or unknown one, a wrong type, an integer
        out of its IDL range, an array of the wrong length, a string too long.
    """
    problems = []
    known = {field.name for field in topic.fields}
    for field in topic.fields:
        if field.name not in data:
            problems.append(f"{field.name}: missing")
            continue
        problem = _problem(field, data[field.name])
        if problem is not None:
            problems.append(f"{field.name}: {problem}")
    problems += [
        f"{name}: not a field of {topic.attr_name}"
        for name in data
        if name not in known and name not in _PRIVATE
    ]
    if problems:
        raise ValidationError(f"{topic.component}.{topic.sal_name}", problems)


@cache
def dataclass_for(topic: SalTopic) -> type:
    """Make a dataclass of the topic's fields (private ones too) that checks array lengths."""
    arrays = {field.name: field.count for field in topic.fields if field.is_array}
    fields: list[tuple[str, Any, Any]] = [
        (name, kind, dataclasses.field(default=kind()))
        for name, kind in _PRIVATE.items()
        if name != "salIndex" or topic.indexed
    ]
    for field in topic.fields:
        kind: Any = _python_type(field)
        if field.is_array:
            zeros = [kind()] * field.count
            fields.append((field.name, list[kind], dataclasses.field(default_factory=zeros.copy)))
        else:
            fields.append((field.name, kind, dataclasses.field(default=kind())))

    def check_arrays(self: Any) -> None:
        wrong = [name for name, count in arrays.items() if len(getattr(self, name)) != count]
        if wrong:
            raise ValidationError(
                f"{topic.component}.{topic.sal_name}",
                [f"{name}: expected {arrays[name]} elements" for name in wrong],
            )

    return dataclasses.make_dataclass(
        topic.attr_name, fields, namespace={"__post_init__": check_arrays}
    )


@cache
def model_for(topic: SalTopic) -> type[pydantic.BaseModel]:
    """Make a strict pydantic model of the topic's fields (private ones included)."""
    definitions: dict[str, Any] = {
        name: (kind, kind())
        for name, kind in _PRIVATE.items()
        if name != "salIndex" or topic.indexed
    }
    for field in topic.fields:
        kind: Any = _python_type(field)
        if field.idl_type in INT_RANGES:
            low, high = INT_RANGES[field.idl_type]
            kind = Annotated[int, pydantic.Field(ge=low, le=high)]
        elif field.idl_type == "string" and field.size and field.size > 1:
            kind = Annotated[str, pydantic.Field(max_length=field.size)]
        if field.is_array:
            kind = Annotated[
                list[kind], pydantic.Field(min_length=field.count, max_length=field.count)
            ]
        definitions[field.name] = (kind, ...)
    return pydantic.create_model(
        topic.attr_name,
        __config__=pydantic.ConfigDict(strict=True, extra="forbid"),
        **definitions,
    )


def validator(topic: SalTopic, mode: Validation) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Return the check of ``mode``: it takes a message and returns what to encode.

    Raises
    ------
    ValidationError
        From the returned function, when a message fails the check.
    """
    if mode == "none":
        return lambda data: data
    if mode == "custom":

        def custom(data: dict[str, Any]) -> dict[str, Any]:
            check_custom(topic, data)
            return data

        return custom
    if mode.startswith("dataclass"):
        cls = dataclass_for(topic)

        def via_dataclass(data: dict[str, Any]) -> dict[str, Any]:
            try:
                return dataclasses.asdict(cls(**data))
            except TypeError as exc:
                raise ValidationError(f"{topic.component}.{topic.sal_name}", [str(exc)]) from exc

        return via_dataclass
    model = model_for(topic)

    def via_pydantic(data: dict[str, Any]) -> dict[str, Any]:
        try:
            return model.model_validate(data).model_dump()
        except pydantic.ValidationError as exc:
            raise ValidationError(
                f"{topic.component}.{topic.sal_name}",
                [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()],
            ) from exc

    return via_pydantic


def postprocessor(topic: SalTopic, mode: Postprocess) -> Callable[[dict[str, Any]], Any]:
    """Return what a reader does with each decoded message."""
    if mode == "none":
        return lambda data: data
    if mode == "simple_namespace":
        return lambda data: types.SimpleNamespace(**data)
    if mode == "dataclass":
        cls = dataclass_for(topic)
        names = {f.name for f in dataclasses.fields(cls)}
        return lambda data: cls(**{k: v for k, v in data.items() if k in names})
    model = model_for(topic)
    return lambda data: model.model_validate(data, strict=False)
