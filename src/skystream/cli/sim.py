"""``skystream sim``: synthetic alerts and the alert-stream simulator."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from skystream.cli.context import CliContext, echo_json, find_registry, pass_cli
from skystream.registry.client import RegistryClient

__all__ = ["COMMANDS", "sim"]

_REGISTRY_OPTION = click.option(
    "--registry-url",
    envvar="SKYSTREAM_REGISTRY_URL",
    show_envvar=True,
    help="Schema registry for schema ids that are not Rubin's (ZTF). "
    "Default: the running embedded stack's registry, if any.",
)


@contextmanager
def _registry(url: str | None) -> Iterator[RegistryClient | None]:
    settings = find_registry(url)
    if settings is None:
        yield None
        return
    with RegistryClient(settings) as client:
        yield client


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event set by SIGINT/SIGTERM, so a replay can finish cleanly."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        click.echo(f"stopping ({signal.Signals(signum).name}) ...", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.group()
def sim() -> None:
    """Synthetic alerts, and Rubin's alert-stream simulator.

    \b
    Generate alerts, preload them into a topic, replay them at survey pace:
      skystream sim generate --survey rubin -n 1000 --sso-fraction 0.1 -o visit.avro
      skystream sim create-stream visit.avro --dst-topic alerts-preload
      skystream sim play-stream --src-topic alerts-preload --dst-topic alerts --speed 10
      skystream sim print-stream --src-topic alerts -n 5
    """


@sim.command()
@click.option("--survey", type=click.Choice(["rubin", "ztf"]), default="rubin", show_default=True)
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Alerts to generate.",
)
@click.option(
    "--sso-fraction",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of alerts from known solar-system objects.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same seed writes the same bytes.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Avro container file to write.",
)
@click.option(
    "--schema-version",
    "version",
    help="Rubin schema version (default: the latest in lsst-alert-packet).",
)
@click.option(
    "--history",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Typical number of previous sources per alert.",
)
@click.option(
    "--visit-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Alerts per visit (all alerts of a visit share its time).",
)
@click.option(
    "--visit-interval",
    type=click.FloatRange(min=0),
    default=37.0,
    show_default=True,
    help="Seconds between visits.",
)
@click.option(
    "--start-mjd",
    type=float,
    default=61000.0,
    show_default=True,
    help="Time of the first visit (MJD).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def generate(
    survey: str,
    count: int,
    sso_fraction: float,
    seed: int,
    output: Path,
    version: str | None,
    history: int,
    visit_size: int,
    visit_interval: float,
    start_mjd: float,
    as_json: bool,
) -> None:
    """Write realistic synthetic Rubin or ZTF alerts to an Avro container file.

    Every schema field gets a plausible value; alerts come in visits spread
    over the sky, carry about --history previous sources and real-size FITS
    cutouts, and --sso-fraction of them are known solar-system objects.

    \b
    Examples:
      skystream sim generate --survey rubin -n 1000 --sso-fraction 0.1 -o visit.avro
      skystream sim generate --survey ztf -n 200 --seed 7 -o ztf.avro
    """
    from skystream.alerts.generate import write_alert_file

    written = write_alert_file(
        output,
        survey,  # type: ignore[arg-type]
        count,
        sso_fraction=sso_fraction,
        seed=seed,
        version=version,
        history=history,
        visit_size=visit_size,
        visit_interval_s=visit_interval,
        start_mjd=start_mjd,
    )
    if as_json:
        echo_json(
            {
                "path": str(written.path),
                "survey": written.survey,
                "version": written.version,
                "alerts": written.count,
                "sso": written.sso_count,
                "bytes": written.size_bytes,
            }
        )
        return
    click.echo(
        f"wrote {written.count} {written.survey} {written.version} alerts "
        f"({written.sso_count} solar-system) to {written.path}, {written.size_bytes:,} bytes"
    )


@sim.command("create-stream")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--dst-topic", required=True, help="Preload topic to create.")
@click.option("--force", is_flag=True, help="Delete and re-create the topic if it exists.")
@click.option(
    "--schema-id",
    type=click.IntRange(min=0),
    help="Schema id for every alert (default: Rubin's id for Rubin schemas, "
    "else the id the registry gives).",
)
@_REGISTRY_OPTION
@pass_cli
def create_stream(
    ctx: CliContext,
    files: tuple[Path, ...],
    dst_topic: str,
    force: bool,
    schema_id: int | None,
    registry_url: str | None,
) -> None:
    """Preload alert FILES (Avro containers) into a topic kept forever.

    Each alert is written in the Confluent wire format with a header
    alertsim-time-offset: seconds since the first alert's observation time.
    The topic gets one partition and retention.ms=-1; an existing topic is
    an error unless --force.

    \b
    Examples:
      skystream sim create-stream visit.avro --dst-topic alerts-preload
      skystream sim create-stream night/*.avro --dst-topic ztf-preload --force
    """
    from skystream.simulator import create_stream as create

    with _registry(registry_url) as registry:
        summary = create(
            ctx.kafka_settings(),
            files,
            dst_topic,
            force=force,
            schema_id=schema_id,
            registry=registry,
        )
    click.echo(summary.message)


@sim.command("play-stream")
@click.option("--src-topic", required=True, help="Preloaded stream (create-stream).")
@click.option("--dst-topic", required=True, help="Topic to publish alerts to.")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    help="Create --dst-topic with this many partitions if it does not exist.",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Times faster than real time; 'inf' sends as fast as possible.",
)
@click.option(
    "--cadence",
    type=click.Choice(["offsets", "rubin-visits"]),
    default="offsets",
    show_default=True,
    help="Pace by the stored time offsets, or as Rubin's visits "
    "(--visit-size alerts every --visit-interval s, in bursts within 3 s).",
)
@click.option(
    "--repeat-interval",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SEC",
    help="Replay the whole stream again every SEC seconds (37 is a Rubin visit).",
)
@click.option(
    "--passes",
    type=click.IntRange(min=1),
    help="Stop after this many passes (default 1; endless with --repeat-interval).",
)
@click.option("--visit-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option(
    "--visit-interval", type=click.FloatRange(min=0, min_open=True), default=37.0, show_default=True
)
@click.option(
    "--producers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Parallel producers.",
)
@click.option(
    "--validate",
    type=click.Choice(["head", "full", "none"]),
    default="head",
    show_default=True,
    help="Check each alert's framing and first fields (head), every byte (full: "
    "~1 ms an alert), or nothing; bad ones are skipped and counted.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="A source without end markers ends after this many seconds without a message.",
)
@click.option(
    "--cache-mb",
    type=click.FloatRange(min=0),
    default=2048,
    show_default=True,
    help="Read a source of up to this size into memory before the first pass "
    "(0: read it while playing, every pass).",
)
@_REGISTRY_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_cli
def play_stream(
    ctx: CliContext,
    src_topic: str,
    dst_topic: str,
    partitions: int | None,
    speed: float,
    cadence: str,
    repeat_interval: float | None,
    passes: int | None,
    visit_size: int,
    visit_interval: float,
    producers: int,
    validate: str,
    idle_timeout: float,
    cache_mb: float,
    registry_url: str | None,
    as_json: bool,
) -> None:
    """Replay a preloaded stream into --dst-topic at the survey's pace.

    A source that fits in --cache-mb is read into memory first (and once for
    all passes), so pacing never waits on the broker. Headers are kept;
    alertsim-source-offset (partition:offset in the source) and alertsim-pass
    are added. Each pass logs `sent N alerts in T s (R/s)`
    and how far behind schedule it ran. Ctrl-C (or SIGTERM) stops after
    flushing what was sent.

    \b
    Examples:
      skystream sim play-stream --src-topic alerts-preload --dst-topic alerts
      skystream sim play-stream --src-topic alerts-preload --dst-topic alerts --speed inf
      skystream sim play-stream --src-topic alerts-preload --dst-topic alerts \\
          --cadence rubin-visits --repeat-interval 37
    """
    from skystream.simulator import PassReport
    from skystream.simulator import play_stream as play

    if not speed > 0 or math.isnan(speed):
        raise click.BadParameter(
            f"{speed} is not > 0 (use inf for no pacing)", param_hint="--speed"
        )

    def report(finished: PassReport) -> None:
        if not as_json:
            click.echo(finished.message)

    with _registry(registry_url) as registry, _stop_on_signals() as stop:
        summary = play(
            ctx.kafka_settings(),
            src_topic,
            dst_topic,
            partitions=partitions,
            speed=speed,
            cadence=cadence,  # type: ignore[arg-type]
            repeat_interval_s=repeat_interval,
            passes=passes,
            producers=producers,
            visit_size=visit_size,
            visit_interval_s=visit_interval,
            validate=validate,  # type: ignore[arg-type]
            idle_timeout_s=idle_timeout,
            cache_mb=cache_mb,
            registry=registry,
            stop=stop,
            on_pass=report,
        )
    if as_json:
        echo_json(
            {
                "sent": summary.sent,
                "skipped": dict(summary.skipped),
                "loaded": summary.loaded,
                "load_seconds": round(summary.load_seconds, 6),
                "passes": [
                    {
                        "number": p.number,
                        "sent": p.sent,
                        "seconds": round(p.seconds, 6),
                        "rate": round(p.rate, 3),
                        "behind_median_s": round(p.behind_median_s, 6),
                        "behind_p99_s": round(p.behind_p99_s, 6),
                        "behind_max_s": round(p.behind_max_s, 6),
                    }
                    for p in summary.passes
                ],
            }
        )
        return
    if summary.loaded is not None:
        click.echo(
            f"(the source's {summary.loaded} alerts were read into memory first, "
            f"in {summary.load_seconds:.2f} s)"
        )
    if summary.skipped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(summary.skipped.items()))
        click.echo(f"skipped {summary.skipped_total} bad messages ({kinds})")


@sim.command("print-stream")
@click.option("--src-topic", required=True, help="Topic to read.")
@click.option("-n", "--count", type=click.IntRange(min=0), help="Stop after N alerts.")
@click.option(
    "--from",
    "start",
    metavar="POS",
    help="Start at an offset (120), a stream time (+30s) or an ISO time.",
)
@click.option(
    "--to", "end", metavar="POS", help="Stop before this offset, stream time or ISO time."
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Stop after this many seconds without a message (for topics without end markers).",
)
@_REGISTRY_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per alert.")
@pass_cli
def print_stream(
    ctx: CliContext,
    src_topic: str,
    count: int | None,
    start: str | None,
    end: str | None,
    idle_timeout: float,
    registry_url: str | None,
    as_json: bool,
) -> None:
    """Print one line per alert of a stream: time, position, id, history length, size.

    The time is the stream time (+seconds since the first alert) when the
    alert carries it, else the message timestamp. --from/--to bound the read
    like a slice: from POS included to POS excluded.

    \b
    Examples:
      skystream sim print-stream --src-topic alerts -n 10
      skystream sim print-stream --src-topic alerts-preload --from +30s --to +67s
      skystream sim print-stream --src-topic alerts --from 100 --to 200 --json
    """
    import json
    from dataclasses import asdict

    from skystream.alerts.decoder import AlertDecoder
    from skystream.simulator import Bound, read_stream

    bounds = {
        "start": Bound.parse(start) if start else None,
        "end": Bound.parse(end) if end else None,
    }
    with _registry(registry_url) as registry:
        decoder = AlertDecoder(registry=registry)
        for entry in read_stream(
            ctx.kafka_settings(),
            src_topic,
            count=count,
            idle_timeout_s=idle_timeout,
            decoder=decoder,
            **bounds,
        ):
            click.echo(json.dumps(asdict(entry)) if as_json else entry.line())


COMMANDS = [sim]
