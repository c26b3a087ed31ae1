"""Component specs: the YAML that says what a component reads, runs and writes.

A spec is validated completely, before anything connects: every problem is
collected and reported at once by :class:`~skystream.exceptions.SpecError`,
each with its YAML line and the fix. The shape follows the LSST:UK seed; its
list-of-dicts ``params`` style and plain mappings are both accepted::

    component:
      name: sso-split                 # optional: default from the file name
      type: AlertFilterComponent      # optional label
      params:
        kafka_url: 127.0.0.1:9092     # optional: else the command's settings
        registry_url: http://127.0.0.1:8081   # optional
        input_topic: alerts           # or topics: [a, b]
        group_id: sso-split           # default: the component's name
        batch_size: 1000              # alerts per batch (default 1000)
        batch_timeout_s: 1.0          # wait at most this long to fill a batch
        dead_letter_topic: sso-split-dead-letters   # default <name>-dead-letters
      processors:
        - name: solar-system
          class: uk.org.lsst.SolarSystemFilter      # or type:; a prefix is tolerated
          params:
            - include: false
        - name: out
          class: KafkaStreamWriter
          params: [{topic: alerts-no-sso}]

Steps are found by name (:func:`skystream.pipeline.names.resolve`). Processors
and sinks may both sit under ``processors`` (the seed lists its writers last);
each is classified by what its class is. A separate ``sinks:`` list is accepted
too. Every sink receives what passed the whole chain, so sinks come after the
last processor.

Parameters are checked without instantiating anything: a class declares them
as a pydantic model, ``Params`` (``extra="forbid"``); a class without one has
its ``__init__`` keyword arguments checked by signature (names, and types where
annotated).

Building: :func:`build_steps` instantiates the steps (the runner calls it after
validation). A class with a classmethod ``from_spec(params, context)`` is built
by it; otherwise by ``cls(**params)``, adding the keyword arguments its
``__init__`` names among ``name`` (the step's name), ``settings`` (the
:class:`~skystream.config.KafkaSettings`), ``registry`` (the
:class:`~skystream.config.RegistrySettings`) and ``context`` (the
:class:`BuildContext`). These four are never taken from the spec's params.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import inspect
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from skystream.config import KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError, SkystreamError, SpecError
from skystream.pipeline.names import Kind, kind_of, resolve
from skystream.pipeline.processor import Processor, Sink

__all__ = [
    "INJECTED_ARGUMENTS",
    "BuildContext",
    "ComponentParams",
    "ComponentSpec",
    "SpecError",
    "StepSpec",
    "build_steps",
    "check_spec",
    "load_spec",
]

#: Constructor arguments :func:`build_steps` supplies; a spec's params cannot set them.
INJECTED_ARGUMENTS = frozenset({"name", "settings", "registry", "context"})

_COMPONENT_KEYS = ("name", "type", "params", "processors", "sinks")
_STEP_KEYS = ("name", "class", "type", "params")
# Kafka's rule for topic names (and a sane one for component names).
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

_Path = tuple[str | int, ...]


class ComponentParams(BaseModel):
    """The component's own settings: where it reads, as which group, in what batches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_url: str | None = Field(
        default=None, description="Bootstrap servers; None: the command's settings."
    )
    registry_url: str | None = Field(
        default=None, description="Schema registry URL; None: the command's settings."
    )
    topics: list[str] = Field(description="The topics consumed.")
    group_id: str = Field(description="Consumer group shared by every instance.")
    batch_size: int = Field(default=1000, gt=0, le=1_000_000)
    batch_timeout_s: float = Field(default=1.0, gt=0)
    dead_letter_topic: str = Field(description="Where undecodable and failing alerts go.")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a new group starts reading."
    )


class _ParamsInput(BaseModel):
    """What a spec may write under ``component.params`` (before defaults are filled in)."""

    model_config = ConfigDict(extra="forbid")

    kafka_url: str | None = None
    registry_url: str | None = None
    input_topic: str | None = None
    topics: str | list[str] | None = None
    group_id: str | None = None
    batch_size: int = Field(default=1000, gt=0, le=1_000_000)
    batch_timeout_s: float = Field(default=1.0, gt=0)
    dead_letter_topic: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"


@dataclass(frozen=True)
class StepSpec:
    """One validated step: its name, its class, its parameters, and its kind.

    ``params`` are the spec's parameters after validation against the class's
    ``Params`` (only those the spec set), ready to be passed as keyword arguments.
    """

    name: str
    class_name: str
    cls: type
    params: Mapping[str, Any] = field(hash=False)
    kind: Kind
    line: int | None = None

    @property
    def qualified_class(self) -> str:
        """``module.Class`` of the resolved class."""
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


@dataclass(frozen=True)
class ComponentSpec:
    """A validated component spec; :func:`build_steps` makes its steps."""

    name: str
    type: str | None
    params: ComponentParams
    steps: tuple[StepSpec, ...]
    source: str = "<string>"
    path: Path | None = None

    @property
    def processors(self) -> tuple[StepSpec, ...]:
        """The processor steps, in chain order."""
        return tuple(step for step in self.steps if step.kind == "processor")

    @property
    def sinks(self) -> tuple[StepSpec, ...]:
        """The sink steps, in spec order."""
        return tuple(step for step in self.steps if step.kind == "sink")

    # The runner's settings, read through from params (so ``spec.topics`` works).
    @property
    def topics(self) -> list[str]:
        """The topics consumed (``params.topics``)."""
        return list(self.params.topics)

    @property
    def group_id(self) -> str:
        """The consumer group (``params.group_id``)."""
        return self.params.group_id

    @property
    def batch_size(self) -> int:
        """Alerts per batch (``params.batch_size``)."""
        return self.params.batch_size

    @property
    def batch_timeout_s(self) -> float:
        """Longest wait to fill a batch, seconds (``params.batch_timeout_s``)."""
        return self.params.batch_timeout_s

    @property
    def dead_letter_topic(self) -> str:
        """Where undecodable and failing alerts go (``params.dead_letter_topic``)."""
        return self.params.dead_letter_topic

    @property
    def kafka_url(self) -> str | None:
        """Bootstrap servers the spec names, if any (``params.kafka_url``)."""
        return self.params.kafka_url

    @property
    def registry_url(self) -> str | None:
        """Schema registry URL the spec names, if any (``params.registry_url``)."""
        return self.params.registry_url


@dataclass(frozen=True)
class BuildContext:
    """What a step may need to be built, beyond its params.

    Attributes
    ----------
    component
        The component's name (for client ids, file names, headers).
    kafka
        How to reach Kafka (the spec's ``kafka_url`` applied), or ``None``.
    registry
        How to reach the schema registry (the spec's ``registry_url`` applied), or ``None``.
    spec_dir
        The directory of the spec file, for relative paths in params.
    step
        The name of the step being built.
    processors
        The processors built before this step, in chain order: a sink gets
        the whole chain (to learn, say, the Avro types of its annotations).
    """

    component: str
    kafka: KafkaSettings | None = None
    registry: RegistrySettings | None = None
    spec_dir: Path | None = None
    step: str = ""
    processors: tuple[Processor, ...] = field(default=(), compare=False, repr=False)

    @property
    def registry_url(self) -> str | None:
        """The registry's URL, if one is known."""
        return None if self.registry is None else self.registry.url

    @classmethod
    def for_spec(
        cls,
        spec: ComponentSpec,
        kafka: KafkaSettings | None = None,
        registry: RegistrySettings | None = None,
    ) -> BuildContext:
        """Return the context of ``spec``: its ``kafka_url``/``registry_url`` win over the settings.

        Parameters
        ----------
        spec
            The validated spec.
        kafka, registry
            The command's settings (from the environment and flags); ``None``
            for none.
        """
        if spec.params.kafka_url:
            kafka = (kafka or KafkaSettings()).with_bootstrap(spec.params.kafka_url)
        if spec.params.registry_url:
            registry = (registry or RegistrySettings()).model_copy(
                update={"url": spec.params.registry_url}
            )
        spec_dir = spec.path.parent if spec.path is not None else None
        return cls(component=spec.name, kafka=kafka, registry=registry, spec_dir=spec_dir)


# -- loading ---------------------------------------------------------------------------


def load_spec(source: str | Path, *, name: str | None = None) -> ComponentSpec:
    """Read and validate a component spec, from a file or from YAML text.

    Parameters
    ----------
    source
        A path (a :class:`~pathlib.Path`, or a one-line string naming an
        existing or ``.yaml``/``.yml`` file), or the YAML text itself.
    name
        The component's name when the spec gives none (default: the file's
        stem, or ``"component"`` for text).

    Returns
    -------
    ComponentSpec
        Every step resolved to its class, every parameter checked.

    Raises
    ------
    SpecError
        Listing every problem found, each with its line and the fix.
    """
    text, label, path = _read_source(source)
    default_name = name or (path.stem if path is not None else "component")
    data, lines, duplicates = _parse(text, label)
    problems = _Problems(label, lines)
    for line, message in duplicates:
        problems.add_at(line, message)
    spec = _validate(data, problems, default_name, label, path)
    problems.raise_if_any()
    if spec is None:  # pragma: no cover - every None path records a problem
        raise SpecError(label, ["the spec could not be read"])
    return spec


def check_spec(source: str | Path) -> str:
    """Validate a spec and describe it in a few lines (what ``skystream run --check`` prints).

    Raises
    ------
    SpecError
        As :func:`load_spec`.
    """
    spec = load_spec(source)
    params = spec.params
    label = f" ({spec.type})" if spec.type else ""
    out = [
        f"component {spec.name}{label}: {spec.source} is valid",
        f"  reads      {', '.join(params.topics)} as group {params.group_id}",
        f"  batches    up to {params.batch_size} alerts or {params.batch_timeout_s:g} s",
        f"  dead letters {params.dead_letter_topic}",
        f"  kafka      {params.kafka_url or '(from settings)'}",
    ]
    if params.registry_url:
        out.append(f"  registry   {params.registry_url}")
    out.append("  steps")
    width = max(len(step.name) for step in spec.steps)
    for number, step in enumerate(spec.steps, 1):
        settings = ", ".join(f"{key}={value!r}" for key, value in step.params.items())
        out.append(
            f"    {number}. {step.name:<{width}}  {step.kind:<9}  {step.qualified_class}"
            + (f"  ({settings})" if settings else "")
        )
    return "\n".join(out)


def build_steps(
    spec: ComponentSpec,
    context: BuildContext | None = None,
    *,
    settings: KafkaSettings | str | None = None,
    registry: RegistrySettings | str | None = None,
) -> tuple[list[Processor], list[Sink]]:
    """Instantiate a validated spec's processors (in chain order) and sinks.

    Parameters
    ----------
    spec
        From :func:`load_spec`.
    context
        Settings the steps may need. Default: :meth:`BuildContext.for_spec`
        with ``settings`` and ``registry``.
    settings, registry
        The command's Kafka and registry settings (or a bootstrap address / a
        URL), used when no ``context`` is given; the spec's own ``kafka_url``
        and ``registry_url`` win over them.

    Raises
    ------
    ConfigurationError
        If a class refuses its parameters or builds something that is not a
        processor (or sink); sinks built before the failure are closed.
    """
    if context is None:
        if isinstance(settings, str):
            settings = KafkaSettings(bootstrap_servers=settings)
        if isinstance(registry, str):
            registry = RegistrySettings(url=registry)
        context = BuildContext.for_spec(spec, settings, registry)
    processors: list[Processor] = []
    sinks: list[Sink] = []
    try:
        for step in spec.steps:
            instance = _instantiate(
                step, dataclasses.replace(context, step=step.name, processors=tuple(processors))
            )
            if step.kind == "processor":
                if not isinstance(instance, Processor):
                    raise ConfigurationError(
                        f"processor {step.name!r}: {step.qualified_class} built {instance!r}, "
                        "which lacks name, fields or process_batch"
                    )
                processors.append(instance)
            else:
                if not isinstance(instance, Sink):
                    raise ConfigurationError(
                        f"sink {step.name!r}: {step.qualified_class} built {instance!r}, "
                        "which lacks name, add, flush or close"
                    )
                sinks.append(instance)
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(Exception):  # the first error is the one to report
                sink.close()
        raise
    return processors, sinks


def _instantiate(step: StepSpec, context: BuildContext) -> object:
    cls = step.cls
    params = dict(step.params)
    try:
        from_spec = getattr(cls, "from_spec", None)
        if callable(from_spec):
            instance: object = from_spec(params, context)
        else:
            named = _named_arguments(cls)
            injected: dict[str, object] = {
                "name": step.name,
                "settings": context.kafka,
                "registry": context.registry,
                "context": context,
            }
            params.update({key: value for key, value in injected.items() if key in named})
            instance = cls(**params)
    except SkystreamError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"{step.kind} {step.name!r} ({step.class_name}) cannot be built: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if getattr(instance, "name", None) != step.name:
        with contextlib.suppress(AttributeError):  # a read-only name: the class's choice
            instance.name = step.name  # type: ignore[attr-defined]
    return instance


# -- reading and locating ---------------------------------------------------------------


def _read_source(source: str | Path) -> tuple[str, str, Path | None]:
    if isinstance(source, str) and (
        "\n" in source or not (source.endswith((".yaml", ".yml")) or _is_file(source))
    ):
        return source, "<string>", None
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path), path
    except FileNotFoundError:
        raise SpecError(str(path), [f"{path}: no such file; give the path of a spec"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), [f"{path}: cannot be read ({exc})"]) from exc


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except OSError:  # a name too long to be a path
        return False


def _parse(text: str, label: str) -> tuple[Any, dict[_Path, int], list[tuple[int, str]]]:
    """Return the YAML's data, the line (1-based) of every key and item, and duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label} line {mark.line + 1}" if mark is not None else label
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise SpecError(label, [f"{where}: not valid YAML: {problem}"]) from exc
    except yaml.YAMLError as exc:
        raise SpecError(label, [f"{label}: not valid YAML: {exc}"]) from exc
    finally:
        loader.dispose()
    lines: dict[_Path, int] = {}
    duplicates: list[tuple[int, str]] = []
    if node is not None:
        _walk(node, (), lines, duplicates)
    return data, lines, duplicates


def _walk(
    node: yaml.Node, path: _Path, lines: dict[_Path, int], duplicates: list[tuple[int, str]]
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(
                    (line, f"key {key!r} appears twice in the same mapping; keep one")
                )
            seen.add(key)
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, duplicates)


class _Problems:
    """Problems found so far, each tied to the YAML line nearest its path."""

    def __init__(self, label: str, lines: dict[_Path, int]) -> None:
        self.label = label
        self.lines = lines
        self.found: list[tuple[int, str]] = []

    def add(self, path: _Path, message: str) -> None:
        self.add_at(self.line(path), message)

    def add_at(self, line: int, message: str) -> None:
        where = f"{self.label} line {line}" if line else self.label
        self.found.append((line, f"{where}: {message}"))

    def line(self, path: _Path) -> int:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 0

    def raise_if_any(self) -> None:
        if self.found:
            ordered = sorted(self.found, key=lambda item: item[0])
            raise SpecError(self.label, [message for _, message in ordered])


# -- validation --------------------------------------------------------------------------


def _validate(
    data: Any, problems: _Problems, default_name: str, label: str, path: Path | None
) -> ComponentSpec | None:
    if not isinstance(data, dict) or "component" not in data:
        problems.add(
            (),
            "a spec is a mapping with one key, component: (holding name, type, params, "
            "processors); see skystream.pipeline.spec for an example",
        )
        return None
    for key in data:
        if key != "component":
            problems.add((key,), f"unknown top-level key {key!r}; a spec holds only component:")
    component = data["component"]
    root: _Path = ("component",)
    if not isinstance(component, dict):
        problems.add(root, "component must be a mapping of name, type, params, processors")
        return None
    for key in component:
        if key not in _COMPONENT_KEYS:
            problems.add(
                (*root, key),
                f"component: unknown key {key!r}{_did_you_mean(key, _COMPONENT_KEYS)}; "
                f"keys are {', '.join(_COMPONENT_KEYS)}",
            )

    name = _component_name(component, problems, default_name)
    label_type = component.get("type")
    if label_type is not None and not isinstance(label_type, str):
        problems.add((*root, "type"), f"component type must be text, not {label_type!r}")
        label_type = None
    params = _component_params(component.get("params"), problems, name)
    steps = _steps(component, problems)
    if problems.found or params is None:
        return None
    return ComponentSpec(
        name=name,
        type=label_type,
        params=params,
        steps=tuple(steps),
        source=label,
        path=path,
    )


def _component_name(component: dict[str, Any], problems: _Problems, default: str) -> str:
    name = component.get("name", default)
    if not isinstance(name, str) or not _TOPIC_NAME.match(name):
        where: _Path = ("component", "name") if "name" in component else ("component",)
        problems.add(
            where,
            f"component name {name!r} must be letters, digits, '.', '_' or '-' (it names "
            "the consumer group and the dead-letter topic); set name: my-component",
        )
        return "component"
    return name


def _component_params(raw: Any, problems: _Problems, name: str) -> ComponentParams | None:
    where: _Path = ("component", "params")
    merged, paths = _merge_params(raw, where, problems, "component params")
    if merged is None:
        return None
    try:
        given = _ParamsInput.model_validate(merged)
    except pydantic.ValidationError as exc:
        _report(exc, paths, where, problems, "component params", list(_ParamsInput.model_fields))
        given = None
    # Topics are checked from what was written, so a bad batch_size does not
    # hide a missing topic.
    input_topic, listed = merged.get("input_topic"), merged.get("topics")
    topics: list[str] = []
    if isinstance(input_topic, str):
        topics = [input_topic]
    elif isinstance(listed, str):
        topics = [listed]
    elif isinstance(listed, list) and all(isinstance(t, str) for t in listed):
        topics = list(listed)
    if "input_topic" in merged and "topics" in merged:
        problems.add(paths["topics"], "component params: give input_topic or topics, not both")
    elif not topics and (input_topic is None and listed in (None, [])):
        problems.add(
            paths.get("input_topic", paths.get("topics", where)),
            "component params: no topic to read; add input_topic: NAME (or topics: [A, B])",
        )
    topic_path = paths.get("input_topic", paths.get("topics", where))
    for topic in topics:
        if not _TOPIC_NAME.match(topic):
            problems.add(
                topic_path,
                f"component params: topic {topic!r} is not a Kafka topic name "
                "(letters, digits, '.', '_', '-')",
            )
    dead_letters = merged.get("dead_letter_topic")
    if isinstance(dead_letters, str):
        if not _TOPIC_NAME.match(dead_letters):
            problems.add(
                paths["dead_letter_topic"],
                f"component params: dead_letter_topic {dead_letters!r} is not a "
                "Kafka topic name (letters, digits, '.', '_', '-')",
            )
        elif dead_letters in topics:
            problems.add(
                paths["dead_letter_topic"],
                "component params: dead_letter_topic must differ from the input topics",
            )
    if given is None or not topics:
        return None
    return ComponentParams(
        kafka_url=given.kafka_url,
        registry_url=given.registry_url,
        topics=topics,
        group_id=given.group_id or name,
        batch_size=given.batch_size,
        batch_timeout_s=given.batch_timeout_s,
        dead_letter_topic=given.dead_letter_topic or f"{name}-dead-letters",
        auto_offset_reset=given.auto_offset_reset,
    )


def _steps(component: dict[str, Any], problems: _Problems) -> list[StepSpec]:
    steps: list[StepSpec] = []
    first_line: dict[str, int] = {}
    listed = False
    for section in ("processors", "sinks"):
        if section not in component or component[section] is None:
            continue
        entries = component[section]
        where: _Path = ("component", section)
        if not isinstance(entries, list):
            problems.add(
                where,
                f"{section} must be a list of steps (- name: ..., class: ..., params: ...)",
            )
            continue
        listed = listed or bool(entries)
        seen_sink: str | None = None
        for index, entry in enumerate(entries):
            name = _step_name(entry)
            if name is not None and name in first_line:
                problems.add(
                    (*where, index, "name") if "name" in entry else (*where, index),
                    f"step name {name!r} is used twice (first on line "
                    f"{first_line[name]}); give each step its own name",
                )
            elif name is not None:
                first_line[name] = problems.line((*where, index))
            step = _step(entry, (*where, index), section, problems)
            if step is None:
                continue
            if section == "processors":
                if step.kind == "sink":
                    seen_sink = seen_sink or step.name
                elif seen_sink is not None:
                    problems.add(
                        (*where, index),
                        f"processor {step.name!r} comes after sink {seen_sink!r}; sinks "
                        "receive what passes the whole chain, so list them after every "
                        "processor (or under sinks:)",
                    )
            steps.append(step)
    if not listed:
        problems.add(
            ("component",),
            "the component has no steps; add processors: with at least one step "
            "(- name: ..., class: ..., params: ...)",
        )
    # Processors run in their listed order before every sink, whatever the section.
    return [s for s in steps if s.kind == "processor"] + [s for s in steps if s.kind == "sink"]


def _step_name(entry: Any) -> str | None:
    """Return the name a step entry will have (its name, else its class's last part)."""
    if not isinstance(entry, dict):
        return None
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        return name
    class_name = entry.get("class", entry.get("type"))
    if isinstance(class_name, str) and class_name.strip():
        return class_name.strip().rsplit(".", 1)[-1].rsplit(":", 1)[-1]
    return None


def _step(entry: Any, where: _Path, section: str, problems: _Problems) -> StepSpec | None:
    if not isinstance(entry, dict):
        problems.add(
            where,
            f"each entry of {section} is a mapping: - name: NAME, class: CLASS, params: {{...}}",
        )
        return None
    for key in entry:
        if key not in _STEP_KEYS:
            problems.add(
                (*where, key),
                f"step: unknown key {key!r}{_did_you_mean(key, _STEP_KEYS)}; "
                f"keys are name, class (or type), params",
            )
    class_name = entry.get("class", entry.get("type"))
    class_key = "class" if "class" in entry else "type"
    if "class" in entry and "type" in entry and entry["class"] != entry["type"]:
        problems.add(
            (*where, "type"),
            f"step gives class {entry['class']!r} and type {entry['type']!r}; keep one",
        )
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.add((*where, "name"), f"step name must be non-empty text, not {name!r}")
        name = None
    if not isinstance(class_name, str) or not class_name.strip():
        shown = f" {class_name!r}" if class_name is not None else ""
        problems.add(
            (*where, class_key) if class_name is not None else where,
            f"step {name or '#' + str(int(where[-1]) + 1)!s}: class{shown} missing or not text; "
            "add class: SolarSystemFilter (a registered name or package.module:Class)",
        )
        return None
    class_name = class_name.strip()
    name = _step_name(entry) or class_name
    class_path = (*where, class_key)

    try:
        cls = resolve(class_name)
        kind = kind_of(cls)
    except ConfigurationError as exc:
        problems.add(class_path, f"step {name!r}: {exc}")
        return None
    if section == "sinks" and kind == "processor":
        problems.add(
            class_path,
            f"step {name!r}: {class_name} is a processor, not a sink; list it under processors:",
        )
        return None
    what = f"{kind} {name!r}"
    params, paths = _merge_params(entry.get("params"), (*where, "params"), problems, what)
    if params is None:
        return None
    checked = _check_params(cls, params, paths, (*where, "params"), problems, what)
    if checked is None:
        return None
    return StepSpec(
        name=name,
        class_name=class_name,
        cls=cls,
        params=checked,
        kind=kind,
        line=problems.line(where) or None,
    )


def _merge_params(
    raw: Any, where: _Path, problems: _Problems, what: str
) -> tuple[dict[str, Any] | None, dict[str, _Path]]:
    """Turn a mapping or the seed's list of one-key mappings into one dict (and key paths)."""
    merged: dict[str, Any] = {}
    paths: dict[str, _Path] = {}
    if raw is None:
        return merged, paths
    if isinstance(raw, dict):
        for key, value in raw.items():
            merged[str(key)] = value
            paths[str(key)] = (*where, key)
        return merged, paths
    if isinstance(raw, list):
        ok = True
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                problems.add(
                    (*where, index),
                    f"{what} params: list entries must be mappings such as - topic: alerts, "
                    f"not {item!r}",
                )
                ok = False
                continue
            for key, value in item.items():
                if str(key) in merged:
                    problems.add(
                        (*where, index, key),
                        f"{what} params: parameter {key!r} is given twice; keep one",
                    )
                    ok = False
                merged[str(key)] = value
                paths[str(key)] = (*where, index, key)
        return (merged if ok else None), paths
    problems.add(
        where,
        f"{what} params must be a mapping (key: value) or a list of them, not {raw!r}",
    )
    return None, paths


def _check_params(
    cls: type,
    params: dict[str, Any],
    paths: dict[str, _Path],
    where: _Path,
    problems: _Problems,
    what: str,
) -> dict[str, Any] | None:
    model = _params_model(cls)
    injected = sorted(INJECTED_ARGUMENTS & params.keys())
    for key in injected:
        problems.add(
            paths[key],
            f"{what} params: {key!r} is supplied by the runner, not by the spec; remove it",
        )
    if injected:
        return None
    try:
        validated = model.model_validate(params)
    except pydantic.ValidationError as exc:
        allowed = [name for name in model.model_fields if name not in INJECTED_ARGUMENTS]
        _report(exc, paths, where, problems, f"{what} params", allowed, cls.__name__)
        return None
    return validated.model_dump(exclude_unset=True)


def _params_model(cls: type) -> type[BaseModel]:
    """Return the class's ``Params``, or a model built from its ``__init__`` signature."""
    declared = getattr(cls, "Params", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    try:
        signature = inspect.signature(cls, eval_str=True)
    except (TypeError, ValueError):  # no signature to read: accept nothing
        signature = inspect.Signature()
    except Exception:  # annotations that do not evaluate: check names only
        signature = inspect.signature(cls)
    fields: dict[str, Any] = {}
    extra: Literal["allow", "forbid"] = "forbid"
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = "allow"
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        if parameter.name in INJECTED_ARGUMENTS or parameter.name.startswith("_"):
            continue
        annotation = (
            Any
            if parameter.annotation is inspect.Parameter.empty
            or isinstance(parameter.annotation, str)
            else parameter.annotation
        )
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True)
    model_name = f"{cls.__name__}Params"
    with warnings.catch_warnings():  # a parameter may shadow a BaseModel attribute ("json")
        warnings.simplefilter("ignore")
        try:
            return _create_model(model_name, config, fields)
        except Exception:  # an annotation pydantic cannot use: check names only
            loose: dict[str, Any] = {name: (Any, default) for name, (_, default) in fields.items()}
            return _create_model(model_name, config, loose)


def _create_model(name: str, config: ConfigDict, fields: dict[str, Any]) -> type[BaseModel]:
    return pydantic.create_model(name, __config__=config, **fields)


def _report(
    exc: pydantic.ValidationError,
    paths: dict[str, _Path],
    where: _Path,
    problems: _Problems,
    what: str,
    allowed: Sequence[str],
    owner: str | None = None,
) -> None:
    for error in exc.errors():
        loc = error["loc"]
        key = str(loc[0]) if loc else None
        path = (*paths.get(key, where), *loc[1:]) if key is not None else where
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden" and key is not None:
            takes = f"{owner} takes" if owner else "known parameters:"
            problems.add(
                path,
                f"{what}: unknown parameter {key!r}{_did_you_mean(key, allowed)}; "
                f"{takes} {', '.join(allowed) or 'no parameters'}",
            )
        elif error["type"] == "missing" and key is not None:
            problems.add(path, f"{what}: missing parameter {key!r} (required)")
        elif key is None:
            problems.add(path, f"{what}: {message}")
        else:
            dotted = ".".join(str(part) for part in loc)
            problems.add(
                path, f"{what}: parameter {dotted!r}: {message} (got {error.get('input')!r})"
            )


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _named_arguments(cls: type) -> set[str]:
    """Return the keyword arguments ``cls(...)`` names explicitly (not ``**kwargs``)."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
