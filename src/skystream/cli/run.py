"""``skystream run``: run a component described by a YAML spec."""

from __future__ import annotations

import multiprocessing
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from skystream.cli.context import CliContext, find_registry, pass_cli

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    from skystream.config import KafkaSettings
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
@pass_cli
def run(
    cli_ctx: CliContext,
    spec_path: str,
    check: bool,
    instances: int,
    max_alerts: int | None,
    idle_timeout_s: float | None,
) -> None:
    """Run the component SPEC.yaml describes, until stopped (Ctrl-C / SIGTERM).

    \b
    Each instance consumes in the spec's consumer group, so instances started
    here (--instances N) or on other machines share the input's partitions.
    Offsets are committed only after the sinks have flushed; a stopped
    component finishes its batch, flushes and commits first.
      skystream run filter.yaml --check
      skystream run filter.yaml --instances 4
    """
    from skystream.pipeline.spec import SpecError, check_spec, load_spec

    if check:
        try:
            click.echo(check_spec(spec_path))
        except SpecError as exc:
            click.echo(str(exc), err=True)
            raise click.exceptions.Exit(1) from exc
        return
    spec = load_spec(spec_path)
    settings = _settings(cli_ctx, spec)
    registry = find_registry(None)
    registry_url = registry.url if registry is not None else None
    if instances == 1:
        click.echo(_run_one(Path(spec_path), settings, registry_url, max_alerts, idle_timeout_s))
        return
    _run_many(Path(spec_path), settings, registry_url, instances, max_alerts, idle_timeout_s)


def _settings(cli_ctx: CliContext, spec: ComponentSpec) -> KafkaSettings:
    """Resolve the cluster: the spec's ``kafka_url``, else the command's settings."""
    from skystream.config import KafkaSettings

    if spec.kafka_url:
        return KafkaSettings.from_env(cli_ctx.config_file, bootstrap_servers=spec.kafka_url)
    return cli_ctx.kafka_settings()


def _run_one(
    spec_path: Path,
    settings: KafkaSettings,
    registry_url: str | None,
    max_alerts: int | None,
    idle_timeout_s: float | None,
) -> str:
    from skystream.pipeline.runner import ComponentRunner
    from skystream.pipeline.spec import load_spec

    runner = ComponentRunner.from_spec(load_spec(spec_path), settings, registry=registry_url)
    runner.run(max_alerts, idle_timeout_s, handle_signals=True)
    return runner.summary()


def _worker(
    index: int,
    spec_path: str,
    settings: dict[str, Any],
    registry_url: str | None,
    max_alerts: int | None,
    idle_timeout_s: float | None,
    results: Queue[tuple[int, str]],
) -> None:
    """One worker process: run the component, report its summary."""
    from skystream.config import KafkaSettings

    summary = _run_one(
        Path(spec_path),
        KafkaSettings.model_validate(settings),
        registry_url,
        max_alerts,
        idle_timeout_s,
    )
    results.put((index, summary))


def _run_many(
    spec_path: Path,
    settings: KafkaSettings,
    registry_url: str | None,
    instances: int,
    max_alerts: int | None,
    idle_timeout_s: float | None,
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
            args=(i, str(spec_path), data, registry_url, max_alerts, idle_timeout_s, results),
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
