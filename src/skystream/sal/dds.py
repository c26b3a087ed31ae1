"""SAL topics on DDS (Eclipse Cyclone DDS): types made at run time, names, QoS, participants.

A :class:`~skystream.sal.model.SalTopic` becomes a Cyclone DDS struct type
when it is first needed (:func:`dds_type`), so nothing is generated or
compiled ahead of time. Names follow SAL's DDS conventions:

- DDS topic ``<CSC>_<sal_name>`` (``MTM1M3_forceActuatorData``,
  ``MTM1M3_logevent_summaryState``, ``MTM1M3_command_start``, ``MTM1M3_ackcmd``);
- DDS type ``<CSC>::<sal_name>``;
- fields: ``salIndex`` (indexed components only, the key), then
  ``private_revCode``, ``private_sndStamp``, ``private_rcvStamp``,
  ``private_seqNum``, ``private_identity``, ``private_origin``, then the items.
  ``private_efdStamp`` and ``private_kafkaStamp`` exist only on Kafka: the
  bridge adds them.

IDL types map to Cyclone's: boolean->bool, byte->uint8, short->int16,
int/long->int32, long long->int64, unsigned short->uint16, unsigned int and
unsigned long->uint32, unsigned long long->uint64, float->float32,
double->float64, string->str (bounded when ``size > 1``); ``count > 1`` makes
a fixed-size array.

Where DDS runs is a :class:`DdsSettings`: a domain id (``SKYSTREAM_DDS_DOMAIN``,
default 0) and either Cyclone's own configuration (``CYCLONEDDS_URI``) or
``loopback=True`` (``SKYSTREAM_DDS_LOOPBACK=1``), which keeps all traffic on
127.0.0.1 with unicast discovery: lo has no multicast, and tests must not
reach the network.

The ``cyclonedds`` package is an optional dependency (``pip install
skystream[dds]``), imported only when a DDS type or participant is made.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from skystream.exceptions import ConfigurationError, SalInterfaceError
from skystream.sal.model import SalField, SalTopic

__all__ = [
    "DDS_PRIVATE_FIELDS",
    "DOMAIN_ENV",
    "LOOPBACK_ENV",
    "DdsParticipant",
    "DdsSettings",
    "QosRole",
    "byte_array_names",
    "dds_field_names",
    "dds_qos",
    "dds_topic_name",
    "dds_type",
    "dds_type_name",
    "delete_entity",
    "require_cyclonedds",
    "to_record",
]

#: Environment variable with the DDS domain id.
DOMAIN_ENV = "SKYSTREAM_DDS_DOMAIN"
#: Environment variable that keeps DDS on loopback when ``1``/``true``/``yes``.
LOOPBACK_ENV = "SKYSTREAM_DDS_LOOPBACK"

#: Private fields of every DDS sample (after ``salIndex``), with their IDL types.
DDS_PRIVATE_FIELDS: tuple[tuple[str, str], ...] = (
    ("private_revCode", "string"),
    ("private_sndStamp", "double"),
    ("private_rcvStamp", "double"),
    ("private_seqNum", "long"),
    ("private_identity", "string"),
    ("private_origin", "long"),
)

_EXTRA_HINT = "the DDS features need Cyclone DDS: pip install 'skystream[dds]'"
_MAX_DOMAIN_ID = 232  # Cyclone's port mapping leaves room for ids 0..232
# Participants per host and domain that loopback discovery reaches: each
# process on a domain takes one index (one port).
_LOOPBACK_PARTICIPANTS = 40

_TYPE_NAMES = {
    "boolean": "bool",
    "byte": "uint8",
    "short": "int16",
    "int": "int32",
    "long": "int32",
    "long long": "int64",
    "unsigned short": "uint16",
    "unsigned int": "uint32",
    "unsigned long": "uint32",
    "unsigned long long": "uint64",
    "float": "float32",
    "double": "float64",
    "string": "str",
}


def require_cyclonedds() -> ModuleType:
    """Import and return :mod:`cyclonedds`.

    Raises
    ------
    ConfigurationError
        When it is not installed; the message names the extra to install.
    """
    try:
        import cyclonedds
        import cyclonedds.core
        import cyclonedds.domain
        import cyclonedds.idl
        import cyclonedds.pub
        import cyclonedds.sub
        import cyclonedds.topic
        import cyclonedds.util
    except ImportError as exc:
        raise ConfigurationError(f"{_EXTRA_HINT} ({exc})") from exc
    return cyclonedds


@dataclass(frozen=True)
class DdsSettings:
    """Where DDS traffic goes.

    Attributes
    ----------
    domain_id
        DDS domain (0..232); participants in different domains never see each other.
    loopback
        Keep traffic on 127.0.0.1, with unicast discovery (for tests and one-host runs).
    config
        Cyclone DDS XML configuration (text or ``file://`` URI); wins over
        ``loopback``. With neither, Cyclone reads ``CYCLONEDDS_URI`` itself.

    Examples
    --------
    >>> DdsSettings(domain_id=17, loopback=True).domain_id
    17
    """

    domain_id: int = 0
    loopback: bool = False
    config: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.domain_id <= _MAX_DOMAIN_ID:
            raise ConfigurationError(
                f"DDS domain id must be between 0 and {_MAX_DOMAIN_ID}, got {self.domain_id}"
            )

    @classmethod
    def from_env(cls, *, domain_id: int | None = None, loopback: bool | None = None) -> DdsSettings:
        """Build settings from explicit values, then ``SKYSTREAM_DDS_DOMAIN``/``_LOOPBACK``.

        Raises
        ------
        ConfigurationError
            When the environment holds a value that is not a domain id or a boolean.
        """
        if domain_id is None:
            raw = os.environ.get(DOMAIN_ENV, "").strip()
            try:
                domain_id = int(raw) if raw else 0
            except ValueError as exc:
                raise ConfigurationError(
                    f"{DOMAIN_ENV} must be an integer DDS domain id such as 0, got {raw!r}"
                ) from exc
        if loopback is None:
            raw = os.environ.get(LOOPBACK_ENV, "").strip().lower()
            if raw not in ("", "0", "1", "true", "false", "yes", "no"):
                raise ConfigurationError(f"{LOOPBACK_ENV} must be 1 or 0, got {raw!r}")
            loopback = raw in ("1", "true", "yes")
        return cls(domain_id=domain_id, loopback=loopback)

    def cyclone_config(self) -> str | None:
        """Return the Cyclone configuration to create the domain with (``None``: Cyclone's own)."""
        if self.config is not None:
            return self.config
        if not self.loopback:
            return None
        return (
            '<CycloneDDS><Domain id="any">'
            '<General><Interfaces><NetworkInterface address="127.0.0.1"/></Interfaces>'
            "<AllowMulticast>false</AllowMulticast></General>"
            "<Discovery><ParticipantIndex>auto</ParticipantIndex>"
            f"<MaxAutoParticipantIndex>{_LOOPBACK_PARTICIPANTS}</MaxAutoParticipantIndex>"
            '<Peers><Peer address="127.0.0.1"/></Peers></Discovery>'
            "</Domain></CycloneDDS>"
        )


def dds_topic_name(topic: SalTopic) -> str:
    """SAL's DDS topic name: ``<CSC>_<sal_name>``."""
    return f"{topic.component}_{topic.sal_name}"


def dds_type_name(topic: SalTopic) -> str:
    """Return the DDS type name: ``<CSC>::<sal_name>``."""
    return f"{topic.component}::{topic.sal_name}"


def dds_field_names(topic: SalTopic) -> tuple[str, ...]:
    """Names of the fields of the topic's DDS type, in order."""
    names = [name for name, _ in DDS_PRIVATE_FIELDS] + [field.name for field in topic.fields]
    return ("salIndex", *names) if topic.indexed else tuple(names)


_types: dict[SalTopic, Any] = {}
_types_lock = threading.Lock()


def dds_type(topic: SalTopic) -> Any:
    """Return the Cyclone DDS struct type of ``topic`` (made once per topic and process).

    Instances are dataclasses with one attribute per :func:`dds_field_names`.

    Raises
    ------
    SalInterfaceError
        When a field has an IDL type that is not a SAL type.
    ConfigurationError
        When ``cyclonedds`` is not installed.
    """
    with _types_lock:
        made = _types.get(topic)
        if made is None:
            made = _make_type(topic)
            _types[topic] = made
        return made


def _make_type(topic: SalTopic) -> Any:
    require_cyclonedds()
    from cyclonedds.idl import make_idl_struct

    fields: dict[str, Any] = {}
    if topic.indexed:
        fields["salIndex"] = _idl_type(SalField("salIndex", "long"), topic)
    for name, idl in DDS_PRIVATE_FIELDS:
        fields[name] = _idl_type(SalField(name, idl), topic)
    for field in topic.fields:
        if field.name in fields:
            raise SalInterfaceError(
                f"{topic.component}.{topic.sal_name}: item {field.name!r} repeats a field name"
            )
        fields[field.name] = _idl_type(field, topic)
    annotations = {"salIndex": {"key": True}} if topic.indexed else None
    class_name = f"{topic.component}_{topic.sal_name}"
    return make_idl_struct(class_name, dds_type_name(topic), fields, field_annotations=annotations)


def _idl_type(field: SalField, topic: SalTopic) -> Any:
    from cyclonedds.idl import types

    name = _TYPE_NAMES.get(field.idl_type)
    if name is None:
        raise SalInterfaceError(
            f"{topic.component}.{topic.sal_name}.{field.name}: unknown IDL type "
            f"{field.idl_type!r}; SAL types: {', '.join(_TYPE_NAMES)}"
        )
    if name == "str":
        if field.size is not None and field.size > 1:
            return types.bounded_str[field.size]  # type: ignore[misc]
        return str
    element: Any = bool if name == "bool" else getattr(types, name)
    if field.count > 1:
        return types.array[element, field.count]  # type: ignore[misc]
    return element


def to_record(
    sample: Any, names: tuple[str, ...], byte_arrays: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Return a DDS sample's fields as a dict ready for Avro (byte arrays become int lists).

    ``names`` are :func:`dds_field_names`; ``byte_arrays`` the names of
    ``byte`` arrays, which Cyclone returns as :class:`bytes`.
    """
    record = {name: getattr(sample, name) for name in names}
    for name in byte_arrays:
        record[name] = list(record[name])
    return record


_domains: dict[int, tuple[str | None, Any]] = {}
_domains_lock = threading.Lock()


def _ensure_domain(settings: DdsSettings) -> None:
    """Create the process's domain with the settings' configuration (once per domain id)."""
    config = settings.cyclone_config()
    if config is None:
        return
    with _domains_lock:
        existing = _domains.get(settings.domain_id)
        if existing is not None:
            if existing[0] != config:
                raise ConfigurationError(
                    f"DDS domain {settings.domain_id} already runs in this process with "
                    "another configuration; use one DdsSettings per domain and process"
                )
            return
        from cyclonedds.domain import Domain

        # Kept for the life of the process: deleting a Domain deletes its participants.
        _domains[settings.domain_id] = (config, Domain(settings.domain_id, config))


QosRole = Literal["reader", "writer"]


def dds_qos(topic: SalTopic, role: QosRole, depth: int) -> Any:
    """Return the QoS SAL uses for ``topic``: reliable; events transient-local for writers.

    Readers are volatile (a bridge must not re-send what it sent before a
    restart) and keep the last ``depth`` samples per instance: a reader that
    falls further behind loses the oldest, as SAL's readers do, and never
    slows the writer down.
    """
    require_cyclonedds()
    from cyclonedds.core import Policy, Qos
    from cyclonedds.util import duration

    durability = (
        Policy.Durability.TransientLocal
        if role == "writer" and topic.kind == "event"
        else Policy.Durability.Volatile
    )
    return Qos(
        Policy.Reliability.Reliable(duration(seconds=1)),
        Policy.History.KeepLast(depth),
        durability,
    )


class DdsParticipant:
    """A DDS domain participant that makes readers and writers for SAL topics.

    Parameters
    ----------
    settings
        Domain and network; ``None`` reads :meth:`DdsSettings.from_env`.

    Examples
    --------
    >>> settings = DdsSettings(domain_id=42, loopback=True)
    >>> with DdsParticipant(settings) as participant:                     # doctest: +SKIP
    ...     writer = participant.writer(topic)
    ...     writer.write(dds_type(topic)(**values))
    """

    def __init__(self, settings: DdsSettings | None = None) -> None:
        require_cyclonedds()
        from cyclonedds.domain import DomainParticipant

        self.settings = settings if settings is not None else DdsSettings.from_env()
        _ensure_domain(self.settings)
        self._participant: Any = DomainParticipant(self.settings.domain_id)
        self._topics: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def participant(self) -> Any:
        """The Cyclone ``DomainParticipant``."""
        return self._participant

    def topic(self, topic: SalTopic) -> Any:
        """Return the Cyclone ``Topic`` of a SAL topic (made once per participant)."""
        name = dds_topic_name(topic)
        with self._lock:
            made = self._topics.get(name)
            if made is None:
                from cyclonedds.topic import Topic

                made = Topic(self._participant, name, dds_type(topic))
                self._topics[name] = made
            return made

    def writer(self, topic: SalTopic, depth: int = 100) -> Any:
        """Return a new Cyclone ``DataWriter`` for ``topic`` with SAL's QoS."""
        from cyclonedds.pub import DataWriter

        return DataWriter(self._participant, self.topic(topic), qos=dds_qos(topic, "writer", depth))

    def reader(self, topic: SalTopic, depth: int = 1000) -> Any:
        """Return a new Cyclone ``DataReader`` for ``topic`` (volatile, keeps ``depth``)."""
        from cyclonedds.sub import DataReader

        return DataReader(self._participant, self.topic(topic), qos=dds_qos(topic, "reader", depth))

    def close(self) -> None:
        """Delete the participant and everything it made."""
        participant, self._participant = self._participant, None
        self._topics.clear()
        if participant is not None:
            delete_entity(participant)

    def __enter__(self) -> DdsParticipant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def delete_entity(entity: Any) -> None:
    """Delete a Cyclone entity now (the binding otherwise waits for garbage collection)."""
    # The binding deletes in __del__ and forgets the handle, so a later
    # collection does not delete twice.
    entity.__del__()


def byte_array_names(topic: SalTopic) -> tuple[str, ...]:
    """Names of the topic's ``byte`` arrays (Cyclone hands them over as ``bytes``)."""
    return tuple(f.name for f in topic.fields if f.idl_type == "byte" and f.count > 1)
