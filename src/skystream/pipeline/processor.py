"""Processors and sinks: what a component's chain is made of.

A processor takes a batch of alerts and answers, for each, PASS or SKIP, with
optional annotations (what a cross-match found, say). Batches are the unit so
that filters and cross-matches can be vectorised; :class:`AlertProcessor`
gives users the per-alert form, ``process(alert) -> Verdict``. A processor
declares the :class:`~skystream.alerts.Alert` fields it reads, so the runner
decodes only those (reading an alert's id and position never touches its
history and cutouts).

A sink receives the alerts that passed the whole chain, with their
annotations, and writes them somewhere; ``flush`` makes what was added
durable (the runner commits offsets only after every sink has flushed).

A processor that annotates may declare the Avro type of what it files under
its own name, as an optional ``annotation_schema`` attribute (see
:class:`Processor`); sinks that write Avro (the Kafka sink's annotated
alerts) then write those annotations typed, and as JSON text otherwise.

>>> class Bright(AlertProcessor):
...     fields = frozenset({"mag"})
...     def process(self, alert):
...         return Verdict.PASS if alert.mag is not None and alert.mag < 18 else Verdict.SKIP
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import pydantic

from skystream.exceptions import ConfigurationError

if TYPE_CHECKING:
    from skystream.alerts.model import Alert

__all__ = [
    "AlertProcessor",
    "Annotations",
    "BatchResult",
    "Processor",
    "Sink",
    "StepCounts",
    "Verdict",
    "annotation_field_name",
    "annotation_schema_of",
    "validate_params",
]

#: What a processor adds to an alert: plain, JSON-able values by name.
Annotations = Mapping[str, Any]


class Verdict(enum.Enum):
    """A processor's answer for one alert."""

    PASS = "pass"
    SKIP = "skip"


@dataclass(frozen=True)
class BatchResult:
    """A processor's answers for a batch, in the batch's order.

    ``annotations`` is ``None`` when the processor annotates nothing, else one
    entry per alert (``None`` for an alert without annotations).
    """

    verdicts: Sequence[Verdict]
    annotations: Sequence[Annotations | None] | None = None


@runtime_checkable
class Processor(Protocol):
    """A step of a chain: a batch in, a verdict (and annotations) per alert out.

    A processor may also have an ``annotation_schema`` attribute (not part of
    the protocol: most steps annotate nothing): the Avro type, as its JSON
    definition (``"double"``, ``{"type": "array", "items": {...}}``), of the
    value it files under its own name, ``{self.name: value}``. Named types in
    it need a namespace of their own (the step's name in it, so two steps of
    one class do not clash) and may not refer to types defined elsewhere.
    Read it with :func:`annotation_schema_of`.
    """

    #: The step's name in the spec and in counts and dead-letter headers.
    name: str
    #: The Alert fields the step reads (see ``skystream.alerts.UNIFORM_FIELDS``);
    #: ``{"record"}`` when it needs the whole decoded alert.
    fields: frozenset[str]

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        """Answer for every alert of the batch."""
        ...


class AlertProcessor(ABC):
    """Write ``process(alert)`` for one alert; the batch form loops over it.

    ``process`` returns a :class:`Verdict`, or ``(Verdict, annotations)``.
    """

    name: str = ""
    fields: frozenset[str] = frozenset({"record"})

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.name or type(self).__name__

    @abstractmethod
    def process(self, alert: Alert) -> Verdict | tuple[Verdict, Annotations]:
        """Answer for one alert."""

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        """Answer for every alert by calling :meth:`process` on each."""
        verdicts: list[Verdict] = []
        annotations: list[Annotations | None] = []
        annotated = False
        for alert in alerts:
            answer = self.process(alert)
            if isinstance(answer, tuple):
                verdict, notes = answer
                annotated = True
            else:
                verdict, notes = answer, None
            verdicts.append(verdict)
            annotations.append(notes)
        return BatchResult(verdicts, annotations if annotated else None)


@runtime_checkable
class Sink(Protocol):
    """Where passing alerts go: ``add`` buffers, ``flush`` makes durable."""

    name: str

    def add(self, alerts: Sequence[Alert], annotations: Sequence[Annotations | None]) -> None:
        """Buffer alerts that passed the chain, with their merged annotations.

        A sink whose ``add`` also takes a ``positions`` keyword gets each
        alert's Kafka record (``topic``, ``partition``, ``offset``), to name
        what it writes by position so that a replay overwrites, not duplicates.
        """
        ...

    def flush(self) -> None:
        """Make everything added durable; raise if that failed."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


@dataclass
class StepCounts:
    """What one step saw: alerts in, passed, skipped, failed, and time spent."""

    name: str
    received: int = 0
    passed: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Alerts per second through this step (time inside the step only)."""
        return self.received / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and summaries."""
        return {
            "name": self.name,
            "received": self.received,
            "passed": self.passed,
            "skipped": self.skipped,
            "failed": self.failed,
            "seconds": round(self.seconds, 6),
            "rate": round(self.rate, 1),
            **self.extra,
        }


def annotation_schema_of(processor: object) -> Any | None:
    """Return the Avro type a processor declares for its annotations, or ``None``.

    See :class:`Processor` for the optional ``annotation_schema`` attribute.
    """
    return getattr(processor, "annotation_schema", None)


_NOT_IN_AVRO_NAME = re.compile(r"[^A-Za-z0-9_]")


def annotation_field_name(step: str) -> str:
    """Return the Avro name of a step's annotations: the step's name made a valid Avro name.

    Characters other than letters, digits and ``_`` become ``_``, and a
    leading digit gets a ``_`` before it (``"nearby-galaxies"`` ->
    ``"nearby_galaxies"``).

    >>> annotation_field_name("2mass-xm")
    '_2mass_xm'
    """
    name = _NOT_IN_AVRO_NAME.sub("_", step) or "_"
    return f"_{name}" if name[0].isdigit() else name


_Params = TypeVar("_Params", bound=pydantic.BaseModel)


def validate_params(model: type[_Params], values: dict[str, Any], owner: str) -> _Params:
    """Check a step's constructor arguments with its ``Params`` model (the spec's rules).

    Raises
    ------
    ConfigurationError
        Naming ``owner`` and every parameter at fault.
    """
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'params'}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"{owner}: {problems}") from exc
