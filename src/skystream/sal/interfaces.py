"""Read SAL interface definitions (a ts_xml directory) into :mod:`skystream.sal.model` values.

A ts_xml interfaces directory holds ``SALSubsystems.xml`` (the components),
``SALGenerics.xml`` (topics every component may share) and, per component,
``<CSC>/<CSC>_Commands.xml``, ``_Events.xml`` and ``_Telemetry.xml`` (each
optional). :func:`load_interfaces` reads them the way Rubin's own code does:

- a component's topics are, in order, the generic topics its ``AddedGenerics``
  asks for (``mandatory`` first, then each listed category or single topic
  name, renamed from ``SALGeneric_...`` to the component), its commands, its
  events, its telemetry, and ``ackcmd``;
- generic topics keep their ``SALGenerics.xml`` ``<Category>`` in
  :attr:`SalTopic.category <skystream.sal.model.SalTopic.category>`
  (``mandatory``, ``csc``, ``configurable``, or ``generic`` when they have none);
  the component's own topics and ``ackcmd`` have ``None``;
- descriptions and units are kept exactly as written (whitespace included),
  because the Avro schemas Rubin generates carry them verbatim;
- strings are never arrays (a ``Count`` above 1 on a string is ignored, as ts_sal
  does) and ``IDL_Size`` 1 on a string means unbounded;
- legacy or unknown elements (``Alias``, ``Explanation``, ``IsJavaArray``,
  ``File_Reference``, ``Category`` outside the generics, ...) are ignored.

Global ``<Enumeration>`` elements become :attr:`SalComponent.enumerations
<skystream.sal.model.SalComponent.enumerations>`: entries ``Prefix_Name`` or
``Prefix_Name=value`` are grouped by the prefix before the first underscore;
an entry without a value takes the previous value plus one, the first taking 1
(as ts_xml's own Python enums do: ``Enum_One, Enum_Two`` are 1 and 2, and
``SummaryStates_DisabledState`` is salobj's ``State.DISABLED`` = 1). Values are
read as C literals: ``0x05`` is hexadecimal and a leading zero (``04``, ``010``)
means octal, because ts_sal pasted them into the C++ and Java code that put
them on the wire. Index names (``IndexEnumeration`` ``A,B``) count from 1 too
(SAL index 0 means "any").

Anything that cannot be read raises :class:`~skystream.exceptions.SalInterfaceError`
naming the file, the topic and the element, e.g.
``MTM1M3_Telemetry.xml: topic MTM1M3_forceActuatorData, item 'foo': unknown IDL_Type 'quad'``.

For example::

    interfaces = load_interfaces("ts_xml/python/lsst/ts/xml/data/sal_interfaces")
    topic = interfaces.component("MTM1M3").topic("tel_forceActuatorData")
    topic.kafka_topic()  # 'lsst.sal.MTM1M3.forceActuatorData'
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from skystream.exceptions import SalInterfaceError
from skystream.sal.model import IDL_TYPES, SalComponent, SalField, SalTopic, TopicKind

__all__ = ["INTERFACES_ENV", "SalInterfaces", "load_interfaces"]

#: Environment variable naming the ts_xml interfaces directory (read by :func:`load_interfaces`).
INTERFACES_ENV = "SKYSTREAM_SAL_INTERFACES"

#: Where the interfaces live inside a ts_xml checkout, newest layout first.
_CHECKOUT_LAYOUTS = ("python/lsst/ts/xml/data/sal_interfaces", "sal_interfaces")

#: (file suffix, topic element, kind) of a component's files, in Rubin's order.
_COMPONENT_FILES: tuple[tuple[str, str, TopicKind], ...] = (
    ("Commands", "SALCommand", "command"),
    ("Events", "SALEvent", "event"),
    ("Telemetry", "SALTelemetry", "telemetry"),
)
_KIND_OF_ELEMENT: dict[str, TopicKind] = {tag: kind for _, tag, kind in _COMPONENT_FILES}
_SAL_PREFIX: dict[TopicKind, str] = {"command": "command_", "event": "logevent_"}

#: Categories of generic topics every component gets, whatever its AddedGenerics say.
_ALWAYS_ADDED = "mandatory"
#: The category of a generic topic SALGenerics.xml gives none (added by name only).
_UNCATEGORISED = "generic"

#: Names the private fields (and salIndex) take: an item must not reuse them.
_RESERVED_FIELD_NAMES = frozenset(
    {
        "salIndex",
        "private_sndStamp",
        "private_rcvStamp",
        "private_efdStamp",
        "private_kafkaStamp",
        "private_seqNum",
        "private_revCode",
        "private_identity",
        "private_origin",
    }
)
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_C_INTEGER = re.compile(r"(?P<sign>[+-]?)(?P<digits>0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")
_ENUM_ENTRY = re.compile(r"(?P<name>[^=\s]+)\s*(?:=\s*(?P<value>\S+))?\Z")

_ACKCMD_DESCRIPTION = "Command acknowledgement"
_ACKCMD_FIELDS = (
    SalField("ack", "long", description="Acknowledgement code"),
    SalField("error", "long", description="An error code; only relevant if ack=FAILED"),
    SalField("result", "string", description="Message"),
    SalField(
        "identity",
        "string",
        description="private_identity field of the command being acknowledged",
    ),
    SalField(
        "origin", "long", description="private_origin field of the command being acknowledged"
    ),
    SalField(
        "cmdtype",
        "long",
        description="Index of command in alphabetical list of commands, with 0 being the first",
    ),
    SalField(
        "timeout",
        "double",
        units="second",
        description="Estimated remaining duration of command; only relevant if ack=INPROGRESS",
    ),
)


@dataclass(frozen=True)
class SalInterfaces:
    """The components of a ts_xml interfaces directory, as :class:`SalComponent` values.

    Attributes
    ----------
    root
        The interfaces directory (the one holding ``SALSubsystems.xml``).
    components
        Component name to component, in ``SALSubsystems.xml`` order (only those
        asked for when :func:`load_interfaces` was given ``components``).
    generic_enumerations
        The global enumerations of ``SALGenerics.xml`` (``SummaryStates``, ...),
        grouped by prefix like :attr:`SalComponent.enumerations`.
    """

    root: Path
    components: Mapping[str, SalComponent]
    generic_enumerations: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def component(self, name: str) -> SalComponent:
        """Find the component called ``name``.

        Raises
        ------
        SalInterfaceError
            If there is none; the message lists the components there are.
        """
        found = self.components.get(name)
        if found is not None:
            return found
        raise SalInterfaceError(
            f"no SAL component {name!r} in {self.root}{_suggest(name, self.components)}; "
            f"components: {', '.join(self.components) or '(none)'}"
        )


def load_interfaces(
    root: str | Path | None = None, components: Iterable[str] | None = None
) -> SalInterfaces:
    """Parse a ts_xml interfaces directory.

    Parameters
    ----------
    root
        The directory holding ``SALSubsystems.xml`` and ``SALGenerics.xml`` (a ts_xml
        checkout works too). Default: ``$SKYSTREAM_SAL_INTERFACES``.
    components
        Parse only these components (default: all of ``SALSubsystems.xml``).

    Raises
    ------
    SalInterfaceError
        If no directory is given, it does not hold interface files, a component is
        unknown, or a file cannot be read; the message says which and how to fix it.
    """
    directory = _interfaces_directory(root)
    subsystems = _parse_subsystems(directory / "SALSubsystems.xml")
    if components is None:
        wanted = list(subsystems)
    else:
        wanted = list(dict.fromkeys(components))
        unknown = [name for name in wanted if name not in subsystems]
        if unknown:
            raise SalInterfaceError(
                f"unknown SAL component(s) {', '.join(map(repr, unknown))} in "
                f"{directory / 'SALSubsystems.xml'}{_suggest(unknown[0], subsystems)}; "
                f"components: {', '.join(subsystems)}"
            )
    generics = _parse_generics(directory / "SALGenerics.xml")
    parsed = {name: _parse_component(directory, subsystems[name], generics) for name in wanted}
    return SalInterfaces(
        root=directory, components=parsed, generic_enumerations=generics.enumerations
    )


# --- the directory ------------------------------------------------------------------------------


def _interfaces_directory(root: str | Path | None) -> Path:
    if root is None:
        root = os.environ.get(INTERFACES_ENV) or None
        if root is None:
            raise SalInterfaceError(
                "no SAL interfaces directory: pass --interfaces DIR (a ts_xml "
                f"sal_interfaces directory) or set {INTERFACES_ENV}"
            )
    directory = Path(root).expanduser()
    if not directory.is_dir():
        raise SalInterfaceError(
            f"SAL interfaces directory {str(directory)!r} does not exist; pass --interfaces DIR "
            f"or set {INTERFACES_ENV} to a directory holding SALSubsystems.xml"
        )
    for candidate in (directory, *(directory / layout for layout in _CHECKOUT_LAYOUTS)):
        if (candidate / "SALSubsystems.xml").is_file():
            return candidate
    raise SalInterfaceError(
        f"{directory} is not a SAL interfaces directory: it has no SALSubsystems.xml "
        "(expected the ts_xml layout: SALSubsystems.xml, SALGenerics.xml, <CSC>/<CSC>_*.xml)"
    )


def _read_xml(path: Path) -> ElementTree.Element:
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise SalInterfaceError(f"{path.name}: malformed XML: {exc}") from exc
    except OSError as exc:
        raise SalInterfaceError(f"{path.name}: cannot read {path}: {exc.strerror}") from exc


def _children_text(element: ElementTree.Element) -> dict[str, str | None]:
    """Text of the first child of each tag (items excluded): one pass, no repeated finds."""
    texts: dict[str, str | None] = {}
    for child in element:
        tag = child.tag
        if tag != "item" and tag not in texts:
            texts[tag] = child.text
    return texts


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- SALSubsystems.xml ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subsystem:
    name: str
    indexed: bool
    index_enumeration: Mapping[str, int]
    added_generics: tuple[str, ...]


def _parse_subsystems(path: Path) -> dict[str, _Subsystem]:
    subsystems: dict[str, _Subsystem] = {}
    for number, element in enumerate(_read_xml(path).iter("SALSubsystem"), start=1):
        texts = _children_text(element)
        name = (texts.get("Name") or "").strip()
        if not name:
            raise SalInterfaceError(f"{path.name}: SALSubsystem #{number} has no <Name>")
        where = f"{path.name}: component {name}"
        if name in subsystems:
            raise SalInterfaceError(f"{where}: listed twice")
        index_text = (texts.get("IndexEnumeration") or "no").strip()
        indexed = index_text != "no"
        index_enumeration: dict[str, int] = {}
        if indexed and index_text != "any":
            for entry_name, value in _enumeration_entries(
                index_text, first=1, where=f"{where}, IndexEnumeration"
            ):
                index_enumeration[entry_name] = value
        added = (texts.get("AddedGenerics") or "").split(",")
        generics = (_ALWAYS_ADDED, *(item.strip() for item in added if item.strip()))
        subsystems[name] = _Subsystem(
            name=name,
            indexed=indexed,
            index_enumeration=index_enumeration,
            added_generics=tuple(dict.fromkeys(generics)),
        )
    return subsystems


# --- SALGenerics.xml ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Generics:
    topics: Mapping[str, SalTopic]  # by sal_name, component "SALGeneric"
    categories: Mapping[str, tuple[str, ...]]  # category -> sal_names, in file order
    enumerations: Mapping[str, Mapping[str, int]]


def _parse_generics(path: Path) -> _Generics:
    if not path.is_file():
        raise SalInterfaceError(
            f"{path.parent} has no SALGenerics.xml: the generic topics (summaryState, "
            "heartbeat, ...) every component has are defined there"
        )
    root = _read_xml(path)
    topics: dict[str, SalTopic] = {}
    categories: dict[str, list[str]] = {}
    enumerations: dict[str, dict[str, int]] = {}
    # The topics sit in SALCommandSet/SALEventSet/SALTelemetrySet under one root;
    # accept a bare set as the root too.
    containers = [root] if root.tag.endswith("Set") else list(root)
    for container in containers:
        for element in container:
            if element.tag == "Enumeration":
                _add_enumeration(enumerations, element.text, where=path.name)
                continue
            kind = _KIND_OF_ELEMENT.get(element.tag)
            if kind is None:
                continue
            topic = _parse_topic(
                element, kind, file_name=path.name, component="SALGeneric", generic=True
            )
            if topic.sal_name in topics:
                raise SalInterfaceError(f"{path.name}: topic {topic.sal_name} defined twice")
            topics[topic.sal_name] = topic
            categories.setdefault(topic.category or _UNCATEGORISED, []).append(topic.sal_name)
    return _Generics(
        topics=topics,
        categories={name: tuple(members) for name, members in categories.items()},
        enumerations=enumerations,
    )


# --- one component --------------------------------------------------------------------------------


def _parse_component(directory: Path, subsystem: _Subsystem, generics: _Generics) -> SalComponent:
    name = subsystem.name
    indexed = subsystem.indexed
    topics: dict[str, SalTopic] = {}
    origin: dict[str, str] = {}  # sal_name -> where it came from, for duplicate errors

    def add(topic: SalTopic, where: str) -> None:
        if topic.sal_name in topics:
            raise SalInterfaceError(
                f"{where}: topic {name}_{topic.sal_name} is already defined by "
                f"{origin[topic.sal_name]}"
            )
        topics[topic.sal_name] = topic
        origin[topic.sal_name] = where

    for added in subsystem.added_generics:
        if "_" in added:  # a single topic, e.g. logevent_clockOffset
            if added not in generics.topics:
                raise SalInterfaceError(
                    f"SALSubsystems.xml: component {name}, AddedGenerics: unknown generic topic "
                    f"{added!r}{_suggest(added, generics.topics)}; generic topics: "
                    f"{', '.join(generics.topics)}"
                )
            members: tuple[str, ...] = (added,)
        else:
            if added not in generics.categories or added == _UNCATEGORISED:
                known = sorted(set(generics.categories) - {_UNCATEGORISED})
                raise SalInterfaceError(
                    f"SALSubsystems.xml: component {name}, AddedGenerics: unknown generic "
                    f"category {added!r}{_suggest(added, known)}; categories: {', '.join(known)} "
                    "(or a generic topic name such as logevent_clockOffset)"
                )
            members = generics.categories[added]
        for sal_name in members:
            if sal_name not in topics:  # a generic asked for twice is harmless
                generic = generics.topics[sal_name]
                add(
                    dataclasses.replace(generic, component=name, indexed=indexed), "SALGenerics.xml"
                )

    enumerations: dict[str, dict[str, int]] = {}
    for suffix, topic_tag, kind in _COMPONENT_FILES:
        path = directory / name / f"{name}_{suffix}.xml"
        if not path.is_file():
            continue
        for element in _read_xml(path):
            tag = element.tag
            if tag == topic_tag:
                topic = _parse_topic(
                    element, kind, file_name=path.name, component=name, indexed=indexed
                )
                add(topic, path.name)
            elif tag == "Enumeration":
                _add_enumeration(enumerations, element.text, where=path.name)
            elif tag in _KIND_OF_ELEMENT:
                raise SalInterfaceError(
                    f"{path.name}: <{tag}> in a {suffix.lower()} file (expected <{topic_tag}>)"
                )
    add(
        SalTopic(name, "ackcmd", "ackcmd", _ACKCMD_DESCRIPTION, _ACKCMD_FIELDS, indexed=indexed),
        "ackcmd",
    )
    return SalComponent(
        name=name,
        topics=topics,
        indexed=indexed,
        index_enumeration=subsystem.index_enumeration,
        enumerations=enumerations,
    )


def _parse_topic(
    element: ElementTree.Element,
    kind: TopicKind,
    *,
    file_name: str,
    component: str,
    indexed: bool = False,
    generic: bool = False,
) -> SalTopic:
    texts = _children_text(element)
    full_name = (texts.get("EFDB_Topic") or "").strip()
    if not full_name:
        raise SalInterfaceError(f"{file_name}: a <{element.tag}> has no <EFDB_Topic>")
    where = f"{file_name}: topic {full_name}"
    prefix = f"{component}_"
    if not full_name.startswith(prefix) or len(full_name) == len(prefix):
        raise SalInterfaceError(f"{where}: EFDB_Topic must be {prefix}<name>")
    sal_name = full_name[len(prefix) :]
    kind_prefix = _SAL_PREFIX.get(kind)
    if kind_prefix is not None and not sal_name.startswith(kind_prefix):
        raise SalInterfaceError(f"{where}: a {kind} name must start with {prefix}{kind_prefix}")
    if kind == "telemetry" and (
        sal_name == "ackcmd" or sal_name.startswith(("logevent_", "command_"))
    ):
        raise SalInterfaceError(f"{where}: a telemetry name cannot look like an event or command")
    category = None
    if generic:
        category = (texts.get("Category") or "").strip() or _UNCATEGORISED
    fields: list[SalField] = []
    seen: set[str] = set()
    for number, item in enumerate(element.iterfind("item"), start=1):
        parsed = _parse_item(item, where, number)
        if parsed.name in seen:
            raise SalInterfaceError(f"{where}, item {parsed.name!r}: defined twice")
        seen.add(parsed.name)
        fields.append(parsed)
    return SalTopic(
        component=component,
        sal_name=sal_name,
        kind=kind,
        description=texts.get("Description") or "",
        fields=tuple(fields),
        indexed=indexed,
        category=category,
    )


def _parse_item(item: ElementTree.Element, where: str, number: int) -> SalField:
    texts = _children_text(item)
    name = (texts.get("EFDB_Name") or "").strip()
    if not name:
        raise SalInterfaceError(f"{where}, item #{number}: no <EFDB_Name>")
    where = f"{where}, item {name!r}"
    if not _FIELD_NAME.match(name):
        raise SalInterfaceError(f"{where}: EFDB_Name must be letters, digits and underscores")
    if name in _RESERVED_FIELD_NAMES:
        raise SalInterfaceError(f"{where}: the name of a private field every topic has")
    raw_type = texts.get("IDL_Type")
    if raw_type is None or not raw_type.strip():
        raise SalInterfaceError(f"{where}: no <IDL_Type>")
    idl_type = " ".join(raw_type.split())
    if idl_type not in IDL_TYPES:
        raise SalInterfaceError(
            f"{where}: unknown IDL_Type {raw_type.strip()!r}; known: {', '.join(IDL_TYPES)}"
        )
    count = _positive_int(texts.get("Count"), "Count", where)
    size = _positive_int(texts.get("IDL_Size"), "IDL_Size", where)
    if idl_type == "string":
        count = 1  # strings are never arrays (ts_sal ignores Count on them)
        if size == 1:
            size = None  # IDL_Size 1 on a string: unbounded
    else:
        size = None  # meaningless on numbers; some files carry it anyway
    enumeration = (texts.get("Enumeration") or "").strip() or None
    return SalField(
        name=name,
        idl_type=idl_type,
        count=count or 1,
        size=size,
        units=texts.get("Units") or "unitless",
        description=texts.get("Description") or "",
        enumeration=enumeration,
    )


def _positive_int(text: str | None, element: str, where: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SalInterfaceError(f"{where}: {element} must be a positive integer, not {text!r}")
    return value


# --- enumerations ---------------------------------------------------------------------------------


def _c_integer(text: str, where: str) -> int:
    """Read an integer literal the way C does: ``0x`` hexadecimal, a leading ``0`` octal."""
    match = _C_INTEGER.match(text.strip())
    if match is None:
        raise SalInterfaceError(
            f"{where}: value {text!r} is not an integer (decimal, 0x hexadecimal or 0 octal)"
        )
    sign, digits = match["sign"], match["digits"].lower()
    if digits.startswith("0x"):
        value = int(digits[2:], 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value


def _enumeration_entries(text: str, *, first: int, where: str) -> list[tuple[str, int]]:
    """Split ``A, B=5, C`` into ``[("A", first), ("B", 5), ("C", 6)]``."""
    entries: list[tuple[str, int]] = []
    value = first
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue  # a trailing comma
        match = _ENUM_ENTRY.match(entry)
        if match is None:
            raise SalInterfaceError(
                f"{where}: cannot read entry {entry!r} (expected Name or Name=value)"
            )
        if match["value"] is not None:
            value = _c_integer(match["value"], f"{where}, entry {match['name']!r}")
        entries.append((match["name"], value))
        value += 1
    return entries


def _add_enumeration(
    enumerations: dict[str, dict[str, int]], text: str | None, *, where: str
) -> None:
    """Add one global ``<Enumeration>`` (``Prefix_Name[=value], ...``) grouped by prefix."""
    where = f"{where}: Enumeration"
    for entry, value in _enumeration_entries(text or "", first=1, where=where):
        prefix, _, name = entry.partition("_")
        if not prefix or not name:
            raise SalInterfaceError(f"{where}: entry {entry!r} must be Prefix_Name[=value]")
        group = enumerations.setdefault(prefix, {})
        if group.get(name, value) != value:
            raise SalInterfaceError(
                f"{where}: {entry} = {value} contradicts an earlier {entry} = {group[name]}"
            )
        group[name] = value
