"""SAL interfaces as values: components, their topics, and the topics' fields.

What :mod:`skystream.sal.interfaces` builds from a ts_xml directory and what
everything else (Avro schemas, DDS types, the read/write tools, the bridge)
works from. Names follow Rubin's conventions:

- ``sal_name``: ``forceActuatorData`` (telemetry), ``logevent_summaryState``,
  ``command_start``, ``ackcmd``;
- ``attr_name``: ``tel_forceActuatorData``, ``evt_summaryState``,
  ``cmd_start``, ``ack_ackcmd`` (what command lines and salobj use);
- Kafka topic ``lsst.<subname>.<CSC>.<sal_name>``, subject ``<topic>-value``.

>>> field = SalField("position", "double", count=3, units="m")
>>> topic = SalTopic("MTM2", "logevent_summaryState", "event", "State", (field,), indexed=False)
>>> topic.attr_name, topic.kafka_topic()
('evt_summaryState', 'lsst.sal.MTM2.logevent_summaryState')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from skystream.exceptions import SalInterfaceError

__all__ = [
    "IDL_TYPES",
    "IdlType",
    "SalComponent",
    "SalField",
    "SalTopic",
    "TopicKind",
]

#: The IDL types of ts_xml items (``long`` is 32-bit; the last two only in older files).
IdlType = Literal[
    "boolean",
    "byte",
    "short",
    "int",
    "long",
    "long long",
    "unsigned short",
    "unsigned int",
    "unsigned long",
    "unsigned long long",
    "float",
    "double",
    "string",
]
IDL_TYPES: tuple[str, ...] = IdlType.__args__  # type: ignore[attr-defined]

#: What a topic is.
TopicKind = Literal["telemetry", "event", "command", "ackcmd"]

_ATTR_PREFIX = {"telemetry": "tel_", "event": "evt_", "command": "cmd_", "ackcmd": "ack_"}
_SAL_PREFIX = {"telemetry": "", "event": "logevent_", "command": "command_", "ackcmd": ""}


@dataclass(frozen=True)
class SalField:
    """One item of a topic.

    Attributes
    ----------
    name
        ``EFDB_Name``.
    idl_type
        One of :data:`IDL_TYPES`.
    count
        Array length; 1 for a scalar (strings are never arrays).
    size
        ``IDL_Size`` of a string (``None`` or 1: unbounded).
    units, description
        As in the XML (``unitless`` and ``""`` when absent).
    enumeration
        The item's ``Enumeration`` text, when it has one.
    """

    name: str
    idl_type: str
    count: int = 1
    size: int | None = None
    units: str = "unitless"
    description: str = ""
    enumeration: str | None = None

    @property
    def is_array(self) -> bool:
        """Whether the field holds ``count`` values."""
        return self.count > 1


@dataclass(frozen=True)
class SalTopic:
    """One topic of a component: its kind, description and XML items.

    ``fields`` are the items of the XML (or of the generic, or ackcmd's),
    without the private fields and ``salIndex`` that every message carries;
    :mod:`skystream.sal.avro` adds those.
    """

    component: str
    sal_name: str
    kind: TopicKind
    description: str
    fields: tuple[SalField, ...]
    indexed: bool = False
    category: str | None = None

    @property
    def short_name(self) -> str:
        """The name without its kind prefix: ``summaryState`` for ``logevent_summaryState``."""
        prefix = _SAL_PREFIX[self.kind]
        return self.sal_name[len(prefix) :] if prefix else self.sal_name

    @property
    def attr_name(self) -> str:
        """``tel_x``, ``evt_x``, ``cmd_x`` or ``ack_ackcmd``."""
        return _ATTR_PREFIX[self.kind] + self.short_name

    def kafka_topic(self, subname: str = "sal") -> str:
        """Return the Kafka topic: ``lsst.<subname>.<CSC>.<sal_name>``."""
        return f"lsst.{subname}.{self.component}.{self.sal_name}"

    def subject(self, subname: str = "sal") -> str:
        """Return the registry subject: ``<topic>-value``."""
        return f"{self.kafka_topic(subname)}-value"


@dataclass(frozen=True)
class SalComponent:
    """A CSC: its topics by SAL name, whether it is indexed, its enumerations."""

    name: str
    topics: Mapping[str, SalTopic]
    indexed: bool = False
    index_enumeration: Mapping[str, int] = field(default_factory=dict)
    enumerations: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def topic(self, name: str) -> SalTopic:
        """Find a topic by SAL name (``logevent_x``) or attribute name (``evt_x``).

        Raises
        ------
        SalInterfaceError
            If the component has no such topic; the message lists some it has.
        """
        found = self.topics.get(name)
        if found is not None:
            return found
        for topic in self.topics.values():
            if topic.attr_name == name or (topic.kind == "telemetry" and topic.short_name == name):
                return topic
        names = sorted(topic.attr_name for topic in self.topics.values())
        shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
        raise SalInterfaceError(f"{self.name} has no topic {name!r}; topics: {shown}")
