"""YAML component specs: the seed's shape loads, bad specs say every problem by line."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from skystream.alerts import Alert, read_alert_file
from skystream.alerts.generate import write_alert_file
from skystream.config import KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError, SpecError
from skystream.pipeline.names import register
from skystream.pipeline.processor import AlertProcessor, Annotations, Processor, Sink, Verdict
from skystream.pipeline.spec import (
    BuildContext,
    ComponentSpec,
    build_steps,
    check_spec,
    load_spec,
)
from skystream.processors.filters import FieldFilter, SolarSystemFilter


@register("TestOnlyListWriter", kind="sink")
class ListWriter:
    """A sink for tests: keeps what it is given; built with the context it is offered."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        topic: str
        limit: int = 100

    instances: ClassVar[list[ListWriter]] = []

    def __init__(
        self,
        topic: str,
        limit: int = 100,
        *,
        name: str | None = None,
        settings: KafkaSettings | None = None,
        registry: RegistrySettings | None = None,
    ) -> None:
        self.name = name or "ListWriter"
        self.topic = topic
        self.limit = limit
        self.settings = settings
        self.registry = registry
        self.alerts: list[Alert] = []
        self.flushed = 0
        self.closed = False
        ListWriter.instances.append(self)

    def add(self, alerts: Sequence[Alert], annotations: Sequence[Annotations | None]) -> None:
        self.alerts.extend(alerts)

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        self.closed = True


class BuiltFromSpec:
    """A sink built by the from_spec hook."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str

    def __init__(self, path: Path, component: str) -> None:
        self.name = "unnamed"
        self.path = path
        self.component = component

    @classmethod
    def from_spec(cls, params: dict[str, Any], context: BuildContext) -> BuiltFromSpec:
        base = context.spec_dir or Path(".")
        return cls(base / params["path"], context.component)

    def add(self, alerts: Sequence[Alert], annotations: Sequence[Annotations | None]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class BrightOnly(AlertProcessor):
    """A user's processor with no Params: checked by its signature."""

    fields = frozenset({"mag"})

    def __init__(self, name: str | None = None, limit: float = 20.0) -> None:
        super().__init__(name)
        self.limit = limit

    def process(self, alert: Alert) -> Verdict:
        return Verdict.PASS if alert.mag is not None and alert.mag < self.limit else Verdict.SKIP


class Exploding:
    """A sink whose constructor fails."""

    def __init__(self) -> None:
        raise RuntimeError("disk on fire")

    def add(self, alerts: Sequence[Alert], annotations: Sequence[Annotations | None]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def spec_text(body: str) -> str:
    return textwrap.dedent(body).lstrip("\n")


SEED_STYLE = spec_text(
    """
    component:
      type: uk.ac.lsst.AlertFilterComponent
      params:
        - kafka_url: 127.0.0.1:9092
        - input_topic: ztf-alerts
        - group_id: sso-split
        - batch_size: 500
      processors:
        - name: solar-system
          class: uk.org.lsst.SolarSystemFilter
          params:
            - include: false
        - name: writer
          class: uk.org.lsst.{writer}
          params:
            - topic: alerts-no-sso
    """
)


def test_seed_style_spec_validates(tmp_path: Path) -> None:
    path = tmp_path / "sso-split.yaml"
    path.write_text(SEED_STYLE.format(writer="TestOnlyListWriter"))
    spec = load_spec(path)
    assert spec.name == "sso-split"  # from the file name
    assert spec.type == "uk.ac.lsst.AlertFilterComponent"
    assert spec.params.kafka_url == "127.0.0.1:9092"
    assert spec.topics == ["ztf-alerts"] == spec.params.topics
    assert spec.group_id == "sso-split"
    assert spec.batch_size == 500
    assert spec.batch_timeout_s == 1.0
    assert spec.dead_letter_topic == "sso-split-dead-letters"
    assert [(s.name, s.kind, s.cls) for s in spec.steps] == [
        ("solar-system", "processor", SolarSystemFilter),
        ("writer", "sink", ListWriter),
    ]
    assert spec.steps[0].params == {"include": False}
    assert spec.steps[1].params == {"topic": "alerts-no-sso"}
    assert spec.steps[0].line == 9
    assert spec.source == str(path) and spec.path == path


def test_seed_style_spec_with_kafka_stream_writer_validates_and_builds() -> None:
    spec = load_spec(SEED_STYLE.format(writer="KafkaStreamWriter"), name="sso-split")
    assert [s.class_name for s in spec.steps] == [
        "uk.org.lsst.SolarSystemFilter",
        "uk.org.lsst.KafkaStreamWriter",
    ]
    assert [s.kind for s in spec.steps] == ["processor", "sink"]
    processors, sinks = build_steps(spec)  # builds without connecting
    assert [p.name for p in processors] == ["solar-system"]
    assert [s.name for s in sinks] == ["writer"]
    try:
        assert isinstance(sinks[0], Sink)
    finally:
        for sink in sinks:
            sink.close()


def test_seed_example_loads_and_runs_on_generated_alerts(tmp_path: Path) -> None:
    spec = load_spec(SEED_STYLE.format(writer="TestOnlyListWriter"), name="sso-split")
    processors, sinks = build_steps(spec, settings="127.0.0.1:1")
    generated = write_alert_file(
        tmp_path / "a.avro", "rubin", 50, sso_fraction=0.3, seed=4, history=1, cutout_pixels=4
    )
    alerts = list(read_alert_file(generated.path))
    for processor in processors:
        verdicts = processor.process_batch(alerts).verdicts
        alerts = [a for a, v in zip(alerts, verdicts, strict=True) if v is Verdict.PASS]
    for sink in sinks:
        sink.add(alerts, [None] * len(alerts))
        sink.flush()
    (writer,) = sinks
    assert isinstance(writer, ListWriter)
    assert len(writer.alerts) == generated.count - generated.sso_count
    assert not any(alert.is_sso for alert in writer.alerts)
    # The spec's kafka_url wins over the command's settings.
    assert writer.settings is not None
    assert writer.settings.bootstrap_servers == "127.0.0.1:9092"


def test_plain_mappings_sinks_section_and_dotted_paths() -> None:
    spec = load_spec(
        spec_text(
            f"""
            component:
              name: bright
              params:
                topics: [a, b]
                batch_timeout_s: 0.25
                dead_letter_topic: bright-dlq
                auto_offset_reset: latest
              processors:
                - name: bright
                  class: {__name__}:BrightOnly
                  params: {{limit: 19}}
                - name: good
                  type: FieldFilter
                  params:
                    where: snr > 5
                    any: ["band in [g, r]", [sso_id is not null, mag < 22]]
              sinks:
                - name: out
                  class: TestOnlyListWriter
                  params: {{topic: out, limit: "7"}}
            """
        )
    )
    assert spec.topics == ["a", "b"]
    assert spec.params.auto_offset_reset == "latest"
    assert spec.dead_letter_topic == "bright-dlq"
    assert [s.name for s in spec.processors] == ["bright", "good"]
    assert [s.name for s in spec.sinks] == ["out"]
    assert spec.steps[0].cls is BrightOnly and spec.steps[0].params == {"limit": 19.0}
    assert spec.sinks[0].params == {"topic": "out", "limit": 7}  # validated, coerced

    processors, sinks = build_steps(spec)
    bright, good = processors
    assert isinstance(bright, BrightOnly) and bright.name == "bright" and bright.limit == 19.0
    assert isinstance(good, FieldFilter) and good.name == "good"
    assert all(isinstance(p, Processor) for p in processors)
    (out,) = sinks
    assert isinstance(out, ListWriter) and out.limit == 7 and out.settings is None


def test_build_context_hook_and_injected_settings(tmp_path: Path) -> None:
    path = tmp_path / "files.yml"
    path.write_text(
        spec_text(
            f"""
            component:
              name: files
              params: {{input_topic: alerts, registry_url: "http://127.0.0.1:8081"}}
              processors:
                - name: everything
                  class: FieldFilter
                  params: {{where: alert_id is not null}}
                - name: to-disk
                  class: {__name__}.BuiltFromSpec
                  params: [{{path: out/x.parquet}}]
                - name: to-list
                  class: TestOnlyListWriter
                  params: [{{topic: t}}]
            """
        )
    )
    spec = load_spec(str(path))
    kafka = KafkaSettings(bootstrap_servers="broker:9092")
    context = BuildContext.for_spec(spec, kafka, RegistrySettings(username="u"))
    assert context.kafka == kafka  # the spec names no kafka_url
    assert context.registry_url == "http://127.0.0.1:8081"
    assert context.registry is not None and context.registry.username == "u"
    _, sinks = build_steps(spec, context)
    disk, listed = sinks
    assert isinstance(disk, BuiltFromSpec)
    assert disk.path == tmp_path / "out" / "x.parquet"
    assert disk.component == "files" and disk.name == "to-disk"  # the name is set after
    assert isinstance(listed, ListWriter)
    assert listed.settings == kafka and listed.registry == context.registry


def test_a_failing_constructor_closes_the_sinks_already_built() -> None:
    ListWriter.instances.clear()
    spec = load_spec(
        spec_text(
            f"""
            component:
              params: {{input_topic: a}}
              sinks:
                - {{name: first, class: TestOnlyListWriter, params: {{topic: t}}}}
                - {{name: boom, class: "{__name__}:Exploding"}}
            """
        )
    )
    with pytest.raises(ConfigurationError, match=r"sink 'boom' .*cannot be built.*disk on fire"):
        build_steps(spec)
    assert [w.closed for w in ListWriter.instances] == [True]


def test_check_spec_summarises(tmp_path: Path) -> None:
    path = tmp_path / "sso-split.yaml"
    path.write_text(SEED_STYLE.format(writer="TestOnlyListWriter"))
    summary = check_spec(path)
    assert "component sso-split (uk.ac.lsst.AlertFilterComponent)" in summary
    assert "ztf-alerts as group sso-split" in summary
    assert "sso-split-dead-letters" in summary
    assert "127.0.0.1:9092" in summary
    assert "1. solar-system" in summary
    assert "skystream.processors.filters.SolarSystemFilter" in summary
    assert "2. writer" in summary and f"{__name__}.ListWriter" in summary


# -- bad specs ----------------------------------------------------------------------------

BAD = spec_text(
    """
    component:
      name: bad
      params:
        - group_id: g
        - batch_size: many
        - colour: blue
      processors:
        - name: sso
          class: SolarSystemFilter
          params:
            mode: exclude
            include: maybe
        - name: sso
          class: NoSuchFilter
        - name: f
          class: FieldFilter
          params: {where: "snrr > 5"}
        - name: out
          class: TestOnlyListWriter
          params: [{topc: x}]
        - class: uk.org.lsst.FieldFilter
      surprise: 1
    """
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(text)
    error = info.value
    assert isinstance(error, ConfigurationError)
    assert str(error).startswith(f"{len(error.problems)} problem(s) in ")
    return list(error.problems)


def test_bad_spec_lists_every_problem_with_its_line() -> None:
    problems = problems_of(BAD)
    expected = [
        ("line 3:", "no topic to read; add input_topic: NAME"),
        ("line 5:", "parameter 'batch_size': Input should be a valid integer"),
        ("line 6:", "unknown parameter 'colour'; known parameters: kafka_url"),
        (
            "line 11:",
            "processor 'sso' params: unknown parameter 'mode'; "
            "SolarSystemFilter takes include, targets",
        ),
        ("line 12:", "parameter 'include': Input should be a valid boolean"),
        ("line 13:", "step name 'sso' is used twice (first on line 8)"),
        ("line 14:", "unknown processor or sink 'NoSuchFilter'"),
        ("line 17:", "condition 'snrr > 5': 'snrr' is not an alert field"),
        ("line 20:", "missing parameter 'topic'"),
        ("line 20:", "unknown parameter 'topc' (did you mean 'topic'?)"),
        ("line 21:", "give 'where'"),
        ("line 22:", "component: unknown key 'surprise'"),
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, (line, words) in zip(problems, expected, strict=True):
        assert problem.startswith(f"<string> {line}"), problem
        assert words in problem, problem


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("component:\n  params: {input_topic: a}\n", 1, "has no steps; add processors:"),
        ("component:\n  params: {input_topic: a}\n  processors: []\n", 1, "has no steps"),
        (
            "component:\n  processors:\n    - {name: s, class: SolarSystemFilter}\n",
            1,
            "no topic to read",
        ),
        (
            "component:\n  params: {topics: []}\n  processors:\n    - {class: SolarSystemFilter}\n",
            2,
            "no topic to read",
        ),
        (
            "component:\n  params: {input_topic: a, topics: [b]}\n"
            "  processors: [{class: SolarSystemFilter}]\n",
            2,
            "input_topic or topics, not both",
        ),
        (
            "component:\n  params: {input_topic: 'bad topic'}\n"
            "  processors: [{class: SolarSystemFilter}]\n",
            2,
            "not a Kafka topic name",
        ),
        (
            "component:\n  params: {input_topic: a, dead_letter_topic: a}\n"
            "  processors: [{class: SolarSystemFilter}]\n",
            2,
            "must differ from the input topics",
        ),
        (
            "component:\n  name: 'my component'\n  params: {input_topic: a}\n"
            "  processors: [{class: SolarSystemFilter}]\n",
            2,
            "component name 'my component'",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - {name: a, class: SolarSystemFilter}\n    - {name: a, class: FieldFilter,"
            " params: {where: snr > 1}}\n",
            5,
            "step name 'a' is used twice (first on line 4)",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - {name: w, class: TestOnlyListWriter, params: {topic: t}}\n"
            "    - {name: s, class: SolarSystemFilter}\n",
            5,
            "processor 's' comes after sink 'w'",
        ),
        (
            "component:\n  params: {input_topic: a}\n  sinks:\n    - {class: SolarSystemFilter}\n",
            4,
            "is a processor, not a sink; list it under processors:",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n    - {name: s}\n",
            4,
            "class missing",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - {name: s, class: SolarSystemFilter, type: FieldFilter}\n",
            4,
            "keep one",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - {name: s, class: SolarSystemFilter, param: {include: true}}\n",
            4,
            "unknown key 'param' (did you mean 'params'?)",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - name: s\n      class: SolarSystemFilter\n      params:\n"
            "        - include: true\n        - include: false\n",
            8,
            "parameter 'include' is given twice",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - {name: s, class: SolarSystemFilter, params: [include]}\n",
            4,
            "list entries must be mappings",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n"
            "    - {name: s, class: SolarSystemFilter, params: {targets: {a: 1}}}\n",
            4,
            "parameter 'targets'",
        ),
        (
            f"component:\n  params: {{input_topic: a}}\n  processors:\n"
            f"    - {{name: b, class: '{__name__}:BrightOnly', params: {{limit: dim}}}}\n",
            4,
            "parameter 'limit': Input should be a valid number",
        ),
        (
            f"component:\n  params: {{input_topic: a}}\n  processors:\n"
            f"    - {{name: b, class: '{__name__}:BrightOnly', params: {{colour: red}}}}\n",
            4,
            "unknown parameter 'colour'; BrightOnly takes limit",
        ),
        (
            "component:\n  params: {input_topic: a}\n  sinks:\n"
            "    - {class: TestOnlyListWriter, params: {topic: t, settings: x}}\n",
            4,
            "'settings' is supplied by the runner",
        ),
        (
            "component:\n  params: {input_topic: a}\n  processors:\n  processors: []\n",
            4,
            "key 'processors' appears twice",
        ),
        ("component:\n  params: [input_topic: a\n", 3, "not valid YAML"),
        ("- just\n- a list\n", 1, "a spec is a mapping with one key, component:"),
        (
            "component:\n  params: {input_topic: a}\n  processors: [{class: SolarSystemFilter}]\n"
            "buffers: {}\n",
            4,
            "unknown top-level key 'buffers'",
        ),
    ],
)
def test_each_bad_spec_names_its_line_and_fix(body: str, line: int, words: str) -> None:
    problems = problems_of(body)
    assert any(p.startswith(f"<string> line {line}:") and words in p for p in problems), problems


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nowhere.yaml")
    with pytest.raises(SpecError, match="no such file"):
        load_spec(str(tmp_path / "nowhere.yml"))


def test_component_spec_is_frozen() -> None:
    spec = load_spec(SEED_STYLE.format(writer="TestOnlyListWriter"))
    assert isinstance(spec, ComponentSpec)
    assert spec.name == "component"  # text without a name
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
