"""``skystream run``: run a component described by a YAML spec."""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from skystream.cli.context import CliContext, find_registry, pass_cli
from skystream.exceptions import SkystreamError

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    from skystream.config import KafkaSettings
    from skystream.pipeline.runner import ComponentRunner
    from skystream.pipeline.spec import ComponentSpec

__all__ = ["COMMANDS", "run"]


@click.command()
@click.argument("spec_path", metavar="SPEC.yaml", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--check",
    is_flag=True,
    help="Validate the spec and print what it would run; connect to nothing.",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes, each one consumer of the component's group.",
)
@click.option(
    "--max-alerts",
    type=click.IntRange(min=1),
    default=None,
    help="End after this many messages (per instance).",
)
@click.option(
    "--idle-timeout",
    "idle_timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="End after this many seconds without a message (waiting for the group to "
    "assign partitions, as after a crash, does not count).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    metavar="PORT",
    help="Serve metrics for Prometheus at http://HOST:PORT/metrics while running "
    "(instance i of --instances listens on PORT+i; 0: any free port, as printed).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH.png",
    help="At the end, draw rates in/out and latency over the run into this PNG "
    "(instance i of --instances writes PATH-i.png).",
)
@pass_cli
def run(
    cli_ctx: CliContext,
    spec_path: str,
    check: bool,
    instances: int,
    max_alerts: int | None,
    idle_timeout_s: float | None,
    metrics_port: int | None,
    plot_path: Path | None,
) -> None:
    """Run the component SPEC.yaml describes, until stopped (Ctrl-C / SIGTERM).

    Each instance consumes in the spec's consumer group, so instances started
    here (--instances N) or on other machines share the input's partitions.
    Offsets are committed only after the sinks have flushed; a stopped
    component finishes its batch, flushes and commits first. On exit each
    instance prints a summary: counts per step, rates, latency, position.

    \b
    Examples:
      skystream run filter.yaml --check
      skystream run filter.yaml --instances 4
      skystream run filter.yaml --idle-timeout 30 --plot run.png
      skystream run filter.yaml --metrics-port 9108
      skystream run filter.yaml --instances 2 --metrics-port 9108 --plot run.png

    The last serves instance 0 at :9108/metrics and instance 1 at :9109, and
    writes run-0.png and run-1.png. Metrics (all with a `component` label):
    skystream_alerts_in_total, skystream_alerts_out_total,
    skystream_batches_total, skystream_dead_letters_total{step,reason},
    skystream_step_alerts_total{step,outcome}, skystream_step_seconds_total,
    skystream_consumer_position{topic,partition},
    skystream_latency_seconds{quantile} and
    skystream_alert_latency_seconds{quantile}.
    """
    from skystream.pipeline.spec import SpecError, check_spec, load_spec

    if check:
        try:
            click.echo(check_spec(spec_path))
        except SpecError as exc:
            click.echo(str(exc), err=True)
            raise click.exceptions.Exit(1) from exc
        return
    if metrics_port and metrics_port + instances - 1 > 65535:
        raise click.BadParameter(
            f"{instances} instances need ports {metrics_port}-{metrics_port + instances - 1}, "
            "past 65535: give a lower port",
            param_hint="--metrics-port",
        )
    if plot_path is not None and not plot_path.parent.is_dir():
        raise click.BadParameter(
            f"folder {str(plot_path.parent)!r} does not exist: create it, or plot elsewhere",
            param_hint="--plot",
        )
    spec = load_spec(spec_path)
    settings = _settings(cli_ctx, spec)
    registry = find_registry(None)
    registry_url = registry.url if registry is not None else None
    options = _Options(max_alerts, idle_timeout_s, metrics_port, plot_path)
    if instances == 1:
        click.echo(_run_one(Path(spec_path), settings, registry_url, options))
        return
    _run_many(Path(spec_path), settings, registry_url, instances, options)


@dataclass(frozen=True)
class _Options:
    """How one instance runs and what it reports (picklable, for spawned workers)."""

    max_alerts: int | None
    idle_timeout_s: float | None
    metrics_port: int | None = None
    plot_path: Path | None = None
    label: str = ""

    def for_instance(self, index: int) -> _Options:
        """Return the options of instance ``index`` of several: its own port and plot file."""
        port = self.metrics_port
        plot = self.plot_path
        return dataclasses.replace(
            self,
            metrics_port=port + index if port else port,  # 0 stays "any free port"
            plot_path=plot.with_name(f"{plot.stem}-{index}{plot.suffix}") if plot else None,
            label=f"instance {index}: ",
        )


def _settings(cli_ctx: CliContext, spec: ComponentSpec) -> KafkaSettings:
    """Resolve the cluster: the spec's ``kafka_url``, else the command's settings."""
    from skystream.config import KafkaSettings

    if spec.kafka_url:
        return KafkaSettings.from_env(cli_ctx.config_file, bootstrap_servers=spec.kafka_url)
    return cli_ctx.kafka_settings()


def _run_one(
    spec_path: Path, settings: KafkaSettings, registry_url: str | None, options: _Options
) -> str:
    from skystream.pipeline.exporter import MetricsExporter
    from skystream.pipeline.runner import ComponentRunner
    from skystream.pipeline.spec import load_spec

    runner = ComponentRunner.from_spec(load_spec(spec_path), settings, registry=registry_url)
    exporter = None
    if options.metrics_port is not None:
        exporter = MetricsExporter(runner, options.metrics_port).start()
        click.echo(f"{options.label}metrics for Prometheus at {exporter.url}", err=True)
    try:
        runner.run(options.max_alerts, options.idle_timeout_s, handle_signals=True)
    finally:
        if exporter is not None:
            exporter.stop()
    if options.plot_path is not None:
        _plot(runner, options.plot_path, options.label)
    return runner.summary()


def _plot(runner: ComponentRunner, path: Path, label: str) -> None:
    """Draw the run into ``path``; a run that read nothing only says so."""
    from skystream.pipeline.plot import plot_run

    if not runner.history:
        click.echo(f"{label}no plot written to {path}: the run read no message", err=True)
        return
    title = f"{runner.name}, {label.rstrip(': ')}" if label else runner.name
    plot_run(runner.history, path, title=title)
    click.echo(f"{label}plot written to {path}", err=True)


def _worker(
    index: int,
    spec_path: str,
    settings: dict[str, Any],
    registry_url: str | None,
    options: _Options,
    results: Queue[tuple[int, str]],
) -> None:
    """One worker process: run the component, report its summary."""
    from skystream.config import KafkaSettings

    try:
        summary = _run_one(
            Path(spec_path), KafkaSettings.model_validate(settings), registry_url, options
        )
    except SkystreamError as exc:  # one line, as the CLI gives, not a worker's traceback
        click.echo(f"{options.label}error: {exc}", err=True)
        sys.exit(1)
    results.put((index, summary))


def _run_many(
    spec_path: Path,
    settings: KafkaSettings,
    registry_url: str | None,
    instances: int,
    options: _Options,
) -> None:
    # Spawned, not forked: each worker starts clean (no inherited client threads).
    context = multiprocessing.get_context("spawn")
    results: Queue[tuple[int, str]] = context.Queue()
    data = settings.model_dump(mode="python")
    for key in ("sasl_password", "ssl_key_password"):  # SecretStr does not survive a dump
        secret = getattr(settings, key)
        if secret is not None:
            data[key] = secret.get_secret_value()
    workers: list[BaseProcess] = [
        context.Process(
            target=_worker,
            args=(i, str(spec_path), data, registry_url, options.for_instance(i), results),
            name=f"skystream-run-{i}",
        )
        for i in range(instances)
    ]

    def forward(signum: int, frame: FrameType | None) -> None:
        click.echo(f"stopping {instances} instances ...", err=True)
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                worker.terminate()  # SIGTERM: each finishes its batch, flushes, commits

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for worker in workers:
            worker.start()
        summaries: dict[int, str] = {}
        while len(summaries) < instances and any(w.is_alive() for w in workers):
            try:
                index, text = results.get(timeout=0.5)
            except Exception:  # queue.Empty
                continue
            summaries[index] = text
        for worker in workers:
            worker.join()
        while not results.empty():
            index, text = results.get()
            summaries[index] = text
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    for index in range(instances):
        click.echo(f"instance {index}:")
        click.echo(summaries.get(index, "  ended without a summary (see the errors above)"))
    failed = [w.name for w in workers if w.exitcode not in (0, None)]
    if failed:
        click.echo(f"error: {len(failed)} instance(s) failed: {', '.join(failed)}", err=True)
        raise click.exceptions.Exit(1)


COMMANDS = [run]
