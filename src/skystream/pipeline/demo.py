"""The main job: a night of Rubin alerts through two components, end to end.

:func:`run_demo` does what an alert broker does with a night, on whatever
cluster it is given (``skystream demo`` gives it the embedded stack):

1. generates a realistic Rubin visit stream with solar-system objects
   (:func:`~skystream.alerts.generate.write_alert_file`) and a catalogue of
   sources, some of them counterparts of the alerts (Parquet);
2. preloads the stream (:func:`~skystream.simulator.create_stream`) and
   replays it at Rubin's visit cadence, sped up
   (:func:`~skystream.simulator.play_stream`), in a background thread;
3. runs two components, each a :class:`~skystream.pipeline.runner.ComponentRunner`
   built from a YAML spec written next to the outputs (copy them to start
   your own), while the stream plays:

   - ``solar-system``: keeps the alerts of known solar-system objects and
     writes them to a topic;
   - ``transients``: drops them, cross-matches the rest against the catalogue
     (annotating matches), and writes to a topic and to Parquet by night.

The split is exact (every alert goes one way), and the result says whether it
was: :attr:`DemoResult.problems` lists any count that does not add up.
"""

from __future__ import annotations

import functools
import math
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skystream.alerts.decoder import read_alert_file
from skystream.alerts.generate import write_alert_file
from skystream.alerts.times import unix_to_mjd
from skystream.config import KafkaSettings, RegistrySettings
from skystream.kafka.topics import create_topic, delete_topic
from skystream.pipeline.runner import ComponentRunner, RunnerMetrics
from skystream.pipeline.spec import load_spec
from skystream.simulator.create import create_stream
from skystream.simulator.play import PlaySummary, play_stream

if TYPE_CHECKING:
    from skystream.pipeline.runner import BatchReport

__all__ = ["DemoOptions", "DemoResult", "run_demo", "summary_lines"]

_VISIT_INTERVAL_S = 37.0


@dataclass(frozen=True)
class DemoOptions:
    """How big a night the demo plays, and where its files go.

    Parameters
    ----------
    workdir
        Where the alert file, the catalogue, the specs and the Parquet output go.
    visits
        Number of visits; ``visit_size`` alerts each.
    visit_size
        Alerts per visit (Rubin sends up to ~10,000).
    sso_fraction
        Fraction of alerts from known solar-system objects.
    speed
        Times faster than Rubin's 37 s visit cadence.
    catalogue_sources
        Background sources in the catalogue, besides the counterparts.
    counterpart_fraction
        Fraction of the other alerts given a catalogue counterpart within 0.5 arcsec.
    partitions
        Partitions of the live alert topic.
    seed
        Seed of the generated alerts and catalogue.
    """

    workdir: Path
    visits: int = 6
    visit_size: int = 400
    sso_fraction: float = 0.1
    speed: float = 12.0
    catalogue_sources: int = 1_000_000
    counterpart_fraction: float = 0.3
    partitions: int = 2
    seed: int = 2026

    @property
    def alerts(self) -> int:
        """Alerts in the night."""
        return self.visits * self.visit_size


@dataclass
class DemoResult:
    """What the demo did: counts, each component's metrics, files, and problems."""

    alerts: int
    sso_alerts: int
    counterparts: int
    alert_bytes: int
    topics: dict[str, str]
    specs: dict[str, Path]
    parquet_directory: Path
    parquet_rows: int
    play: PlaySummary | None
    components: dict[str, RunnerMetrics] = field(default_factory=dict)
    histories: dict[str, list[BatchReport]] = field(default_factory=dict)
    matched: int = 0
    problems: list[str] = field(default_factory=list)


def run_demo(
    settings: KafkaSettings,
    options: DemoOptions,
    *,
    registry: RegistrySettings | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_batch: Callable[[str, BatchReport], None] | None = None,
    keep_topics: bool = False,
) -> DemoResult:
    """Generate, preload, replay and process a night of alerts; return what happened.

    Parameters
    ----------
    settings
        The cluster.
    options
        Size of the night and where files go.
    registry
        Schema registry for the annotated output's schema (``None``: none).
    on_stage
        Called with a short description as each stage begins.
    on_batch
        Called with the component's name after each of its batches (progress).
    keep_topics
        Keep the demo's topics (they are deleted by default).
    """
    stage = on_stage or (lambda text: None)
    workdir = options.workdir.resolve()  # the specs name files by absolute path
    workdir.mkdir(parents=True, exist_ok=True)
    suffix = uuid.uuid4().hex[:6]
    topics = {
        "preload": f"demo-night-{suffix}",
        "alerts": f"demo-alerts-{suffix}",
        "solar-system": f"demo-solar-system-{suffix}",
        "transients": f"demo-transients-{suffix}",
    }
    stage(f"generating {options.alerts:,} Rubin alerts in {options.visits} visits")
    # The night is observed now, at the cadence it will be played at, so the
    # latency from observation includes only the set-up before the replay.
    generated = write_alert_file(
        workdir / "night.avro",
        "rubin",
        options.alerts,
        sso_fraction=options.sso_fraction,
        seed=options.seed,
        visit_size=options.visit_size,
        visit_interval_s=_VISIT_INTERVAL_S / options.speed,
        start_mjd=unix_to_mjd(time.time(), "rubin"),
    )
    stage("writing a catalogue with counterparts of some alerts")
    catalogue_path = workdir / "catalogue.parquet"
    counterparts = _write_catalogue(catalogue_path, generated.path, options)
    parquet_directory = workdir / "transients"
    shutil.rmtree(parquet_directory, ignore_errors=True)  # an earlier demo's output
    specs = _write_specs(workdir, settings, registry, topics, catalogue_path, parquet_directory)
    result = DemoResult(
        alerts=generated.count,
        sso_alerts=generated.sso_count,
        counterparts=counterparts,
        alert_bytes=generated.size_bytes,
        topics=topics,
        specs=specs,
        parquet_directory=parquet_directory,
        parquet_rows=0,
        play=None,
    )
    try:
        stage(f"preloading the stream into {topics['preload']}")
        create_stream(settings, [generated.path], topics["preload"], force=True)
        create_topic(settings, topics["alerts"], partitions=options.partitions, must_be_new=False)
        stage("building the components (cross-match index)")
        runners = {
            name: ComponentRunner.from_spec(load_spec(path), settings, registry=registry)
            for name, path in specs.items()
        }
        if on_batch is not None:
            for name, runner in runners.items():
                runner.listeners.append(functools.partial(on_batch, name))
        stage(f"playing {options.alerts:,} alerts at {options.speed:g}x Rubin's visit cadence")
        result.play = _play_while(settings, topics, options, runners)
        stage("checking the output")
        for name, runner in runners.items():
            result.components[name] = runner.metrics()
            result.histories[name] = list(runner.history)
        transients = runners["transients"]
        result.matched = sum(
            getattr(step, "counts", {}).get("matched", 0) for step in transients.processors
        )
        result.parquet_rows = _parquet_rows(parquet_directory)
        result.problems = _problems(result)
    finally:
        if not keep_topics:
            for topic in topics.values():
                _quietly_delete(settings, topic)
            for name in specs:
                _quietly_delete(settings, f"{name}-{suffix}-dead-letters")
    return result


def _play_while(
    settings: KafkaSettings,
    topics: dict[str, str],
    options: DemoOptions,
    runners: dict[str, ComponentRunner],
) -> PlaySummary:
    """Replay the night in a thread while every runner runs in its own; wait for all."""
    outcome: dict[str, Any] = {}

    def play() -> None:
        try:
            outcome["play"] = play_stream(
                settings,
                topics["preload"],
                topics["alerts"],
                partitions=options.partitions,
                speed=options.speed,
                cadence="rubin-visits",
                visit_size=options.visit_size,
                idle_timeout_s=10.0,
            )
        except BaseException as exc:
            outcome["play-error"] = exc
            for runner in runners.values():
                runner.stop()

    def consume(name: str, runner: ComponentRunner) -> None:
        try:
            runner.run(max_alerts=options.alerts, idle_timeout_s=30.0)
        except BaseException as exc:
            outcome[f"{name}-error"] = exc

    threads = [threading.Thread(target=play, name="demo-play", daemon=True)]
    threads += [
        threading.Thread(target=consume, args=(n, r), name=f"demo-{n}", daemon=True)
        for n, r in runners.items()
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:  # Ctrl-C: end every component after its batch
        for runner in runners.values():
            runner.stop()
        for thread in threads:
            thread.join(60)
        raise
    errors = [v for k, v in outcome.items() if k.endswith("-error")]
    if errors:
        raise errors[0]
    summary: PlaySummary = outcome["play"]
    return summary


def _write_catalogue(path: Path, alerts: Path, options: DemoOptions) -> int:
    """Write background sources plus counterparts of some non-solar-system alerts."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    rng = np.random.default_rng(options.seed)
    positions = [(alert.ra, alert.dec) for alert in read_alert_file(alerts) if not alert.is_sso]
    chosen = rng.random(len(positions)) < options.counterpart_fraction
    near = np.array([p for p, keep in zip(positions, chosen, strict=True) if keep]).reshape(-1, 2)
    # Counterparts lie within 0.5 arcsec, in a random direction.
    offset = rng.uniform(0, 0.5, len(near)) / 3600.0
    angle = rng.uniform(0, 2 * math.pi, len(near))
    cos_dec = np.maximum(np.cos(np.radians(near[:, 1])), 1e-6)
    counterpart_ra = (near[:, 0] + offset * np.cos(angle) / cos_dec) % 360.0
    counterpart_dec = np.clip(near[:, 1] + offset * np.sin(angle), -90.0, 90.0)
    # Background: uniform on the sphere.
    count = options.catalogue_sources
    background_ra = rng.uniform(0, 360, count)
    background_dec = np.degrees(np.arcsin(rng.uniform(-1, 1, count)))
    ra = np.concatenate([counterpart_ra, background_ra])
    dec = np.concatenate([counterpart_dec, background_dec])
    table = pa.table(
        {
            "id": np.arange(1, len(ra) + 1, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "mag_g": rng.normal(21.0, 1.5, len(ra)),
        }
    )
    pq.write_table(table, path)
    return len(near)


def _write_specs(
    workdir: Path,
    settings: KafkaSettings,
    registry: RegistrySettings | None,
    topics: dict[str, str],
    catalogue: Path,
    parquet: Path,
) -> dict[str, Path]:
    """Write the two components' YAML specs; return their paths by component name."""
    suffix = topics["alerts"].rsplit("-", 1)[-1]
    header = f"    kafka_url: {settings.bootstrap_servers}\n"
    if registry is not None and registry.url:
        header += f"    registry_url: {registry.url}\n"
    texts = {
        "solar-system": f"""\
# Keep the alerts of known solar-system objects.
component:
  name: solar-system
  type: AlertFilterComponent
  params:
{header}    input_topic: {topics["alerts"]}
    group_id: solar-system-{suffix}
    dead_letter_topic: solar-system-{suffix}-dead-letters
  processors:
    - name: known-objects
      class: uk.org.lsst.SolarSystemFilter
      params:
        - include: true
    - name: out
      class: KafkaStreamWriter
      params:
        - topic: {topics["solar-system"]}
        - partitions: 1
""",
        "transients": f"""\
# Drop solar-system objects, cross-match the rest, write to Kafka and Parquet.
component:
  name: transients
  type: AlertFilterComponent
  params:
{header}    input_topic: {topics["alerts"]}
    group_id: transients-{suffix}
    dead_letter_topic: transients-{suffix}-dead-letters
  processors:
    - name: no-solar-system
      class: SolarSystemFilter
      params: {{include: false}}
    - name: catalogue
      class: CrossmatchProcessor
      params:
        catalogue: {catalogue}
        radius_arcsec: 1.0
        columns: [mag_g]
    - name: out
      class: KafkaStreamWriter
      params: {{topic: {topics["transients"]}, partitions: 2}}
    - name: parquet
      class: ParquetWriter
      params:
        directory: {parquet}
        columns: [alert_id, object_id, ra, dec, mjd, band, mag, snr]
        annotations:
          catalogue.source_id: int64
          catalogue.distance_arcsec: float64
          catalogue.mag_g: float64
""",
    }
    paths = {}
    for name, text in texts.items():
        path = workdir / f"{name}.yaml"
        path.write_text(text)
        paths[name] = path
    return paths


def _parquet_rows(directory: Path) -> int:
    import pyarrow.parquet as pq

    if not directory.exists() or not any(directory.rglob("*.parquet")):
        return 0
    return int(pq.read_table(directory).num_rows)


def _problems(result: DemoResult) -> list[str]:
    """Every count that does not add up, in words."""
    problems: list[str] = []
    sso = result.components.get("solar-system")
    transients = result.components.get("transients")
    if result.play is not None:
        played = sum(p.sent for p in result.play.passes)
        if played != result.alerts:
            problems.append(f"played {played:,} alerts of {result.alerts:,}")
    for name, metrics in result.components.items():
        if metrics.alerts_in != result.alerts:
            problems.append(f"{name} read {metrics.alerts_in:,} alerts of {result.alerts:,}")
        if metrics.dead_letters:
            problems.append(f"{name} sent {metrics.dead_letters:,} alerts to its dead letters")
    if sso is not None and sso.alerts_out != result.sso_alerts:
        problems.append(
            f"solar-system wrote {sso.alerts_out:,} alerts; the night had {result.sso_alerts:,}"
        )
    if transients is not None:
        expected = result.alerts - result.sso_alerts
        if transients.alerts_out != expected:
            problems.append(f"transients wrote {transients.alerts_out:,} alerts of {expected:,}")
        if result.parquet_rows != transients.alerts_out:
            problems.append(
                f"Parquet holds {result.parquet_rows:,} rows; "
                f"{transients.alerts_out:,} alerts were written"
            )
    if result.matched < result.counterparts:
        problems.append(
            f"cross-match found {result.matched:,} of the {result.counterparts:,} counterparts"
        )
    return problems


def _quietly_delete(settings: KafkaSettings, topic: str) -> None:
    try:
        delete_topic(settings, topic)
    except Exception:  # already gone, or never made
        return


def summary_lines(result: DemoResult) -> Sequence[str]:
    """Return the demo's outcome as text lines (the counts, then each component)."""
    lines = [
        f"night: {result.alerts:,} alerts ({result.sso_alerts:,} solar-system), "
        f"{result.alert_bytes / result.alerts / 1024:,.0f} KB each on average; "
        f"catalogue counterparts planted for {result.counterparts:,}",
    ]
    if result.play is not None and result.play.passes:
        report = result.play.passes[-1]
        lines.append(f"play-stream: {report.message}")
    for metrics in result.components.values():
        lines.extend(metrics.summary().splitlines())
    lines.append(
        f"cross-match: {result.matched:,} alerts matched; "
        f"Parquet: {result.parquet_rows:,} rows under {result.parquet_directory}"
    )
    return lines
