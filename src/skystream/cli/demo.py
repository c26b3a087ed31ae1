"""``skystream demo``: the main job on the embedded stack.

``skystream demo`` (job ``alerts``) plays a night of Rubin alerts through two
processing components (:mod:`skystream.pipeline.demo`) with progress bars, a
summary and a plot. ``skystream demo queues`` sends typed messages in every
data-queue encoding through a topic, reads them back and checks each one.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from skystream.cli.context import CliContext, echo_json, pass_cli
from skystream.codecs import Encoding
from skystream.config import KafkaSettings
from skystream.exceptions import SkystreamError
from skystream.kafka import Admin, Consumer, Producer
from skystream.metrics import Throughput
from skystream.schemas.pointing import PointingData

if TYPE_CHECKING:
    from skystream.config import RegistrySettings
    from skystream.pipeline.demo import DemoOptions, DemoResult

__all__ = ["COMMANDS", "demo"]


def _samples(index: int) -> list[tuple[Encoding, object, str | None]]:
    """One value per encoding, varying with ``index``: (encoding, value, validation schema)."""
    rng = np.random.default_rng(index)
    pointing = PointingData(f"SKA{index % 512:03d}", float(index), *rng.normal(0, 1, 12).tolist())
    samples: list[tuple[Encoding, object, str | None]] = [
        (Encoding.UTF8, f"observation {index}: target M31 ✓", None),
        (Encoding.ASCII, f"state={['IDLE', 'SLEWING', 'TRACKING'][index % 3]}", None),
        (
            Encoding.JSON,
            {
                "alertId": index,
                "ra": float(rng.uniform(0, 360)),
                "dec": float(rng.uniform(-90, 30)),
                "band": "griz"[index % 4],
            },
            None,
        ),
        (Encoding.NPY, rng.normal(size=(16, 16)).astype("float32"), None),
        (Encoding.MSGPACK_NUMPY, pointing.to_numpy(), "pointing"),
    ]
    try:
        import xarray as xr
    except ImportError:
        return samples
    cube = xr.Dataset(
        {"vis": (("time", "channel"), rng.normal(size=(4, 8)))},
        coords={"time": np.arange(4) * 0.5, "channel": 1.0e8 + np.arange(8) * 1e5},
        attrs={"scan": index, "telescope": "SKA-Low"},
    )
    samples.append((Encoding.XARRAY, cube, None))
    return samples


def _same(encoding: Encoding, sent: object, received: object) -> bool:
    if encoding is Encoding.XARRAY:
        return bool(sent.identical(received))  # type: ignore[attr-defined]
    if isinstance(sent, np.ndarray):
        return (
            isinstance(received, np.ndarray)
            and sent.dtype == received.dtype
            and bool(np.array_equal(sent, received))
        )
    return sent == received


async def _run(settings: KafkaSettings, rounds: int) -> dict[str, Any]:
    topic = f"skystream-demo-{uuid.uuid4().hex[:8]}"
    sent: dict[tuple[str, int], tuple[Encoding, object]] = {}
    meters = {"produce": Throughput(), "consume": Throughput()}
    per_encoding: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    async with Admin(settings) as admin:
        await admin.create_topics([(topic, 3)])
        try:
            async with Producer(settings, topic=topic) as producer:
                sends = []
                for index in range(rounds):
                    for encoding, value, schema in _samples(index):
                        key = f"{encoding.value}-{index}"
                        sent[encoding.value, index] = (encoding, value)
                        sends.append(
                            producer.send(
                                value,
                                encoding=encoding,
                                key=key,
                                headers={"encoding": encoding.value, "index": str(index)},
                                schema=schema,
                                validate=schema is not None,
                            )
                        )
                for metadata in await asyncio.gather(*sends):
                    meters["produce"].add(metadata.value_size)
            meters["produce"].stop()
            async with Consumer(settings, topic, start="earliest") as consumer:
                while meters["consume"].messages < len(sent):
                    record = await asyncio.wait_for(consumer.getone(), 60)
                    if not meters["consume"].messages:
                        meters["consume"].restart()  # the group join is not throughput
                    meters["consume"].add(len(record.value))
                    name = (record.header("encoding") or b"").decode()
                    index = int(record.header("index") or b"-1")
                    encoding, value = sent[name, index]
                    per_encoding[name] += 1
                    if _same(encoding, value, record.decode(encoding)):
                        matched[name] += 1
            meters["consume"].stop()
        finally:
            await admin.delete_topics([topic])
    return {
        "topic": topic,
        "bootstrap_servers": settings.bootstrap_servers,
        "encodings": {
            name: {"messages": per_encoding[name], "round_trip_ok": matched[name]}
            for name in sorted(per_encoding)
        },
        "produce": meters["produce"].to_dict(),
        "consume": meters["consume"].to_dict(),
    }


@click.command()
@click.argument("job", type=click.Choice(["alerts", "queues"]), default="alerts")
@click.option(
    "--visits", type=click.IntRange(min=1), default=6, show_default=True, help="alerts: visits."
)
@click.option(
    "--visit-size",
    type=click.IntRange(min=10),
    default=400,
    show_default=True,
    help="alerts: alerts per visit.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=12.0,
    show_default=True,
    help="alerts: times faster than Rubin's 37 s visit cadence.",
)
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False),
    default="skystream-demo",
    show_default=True,
    help="alerts: directory for the alerts, catalogue, specs, Parquet and the plot.",
)
@click.option("--keep-topics", is_flag=True, help="alerts: keep the demo's topics.")
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="queues: messages per encoding.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_cli
def demo(
    ctx: CliContext,
    job: str,
    visits: int,
    visit_size: int,
    speed: float,
    output: str,
    keep_topics: bool,
    rounds: int,
    as_json: bool,
) -> None:
    """Run the main job on the embedded stack and print a summary.

    \b
    JOB alerts (the default): a night of Rubin alerts through an alert broker.
      1. generate VISITS x VISIT_SIZE realistic Rubin alerts (~130 KB each,
         10% from known solar-system objects) and a catalogue of 1 million
         sources with counterparts for some alerts;
      2. preload them (sim create-stream) and replay them at Rubin's visit
         cadence, SPEED times faster (sim play-stream);
      3. meanwhile run two components from YAML specs written to OUTPUT:
         solar-system (keep known objects -> topic) and transients (drop
         them, cross-match the rest with the catalogue -> topic + Parquet);
      4. show progress, then a summary (alerts in/out per step, rates,
         latency) and OUTPUT/demo.png (rate and latency over time).
    Exits non-zero if any count does not add up.
    JOB queues: sends ROUNDS messages in each data-queue encoding (utf-8,
    ascii, json, npy, msgpack_numpy with pointing-schema validation, xarray),
    reads them back and checks every value survived.

    Uses the configured cluster (--bootstrap-servers, environment, config file)
    or the running stack (`skystream up`); otherwise starts a private embedded
    stack (broker and registry) for the run and stops it after.

    \b
    Examples:
      skystream demo
      skystream demo --visits 3 --visit-size 200 --output /tmp/night
      skystream demo queues --rounds 50
    """
    if job == "queues":
        _queues(ctx, rounds, as_json)
        return
    from skystream.pipeline.demo import DemoOptions

    options = DemoOptions(workdir=Path(output), visits=visits, visit_size=visit_size, speed=speed)
    started = time.monotonic()
    with ctx.cluster_and_registry() as (settings, registry):
        result = _alerts(settings, registry, options, keep_topics, quiet=as_json)
    seconds = time.monotonic() - started
    plot = _plot(result, options.workdir / "demo.png")
    if as_json:
        echo_json(
            {
                "alerts": result.alerts,
                "sso_alerts": result.sso_alerts,
                "counterparts": result.counterparts,
                "matched": result.matched,
                "parquet_rows": result.parquet_rows,
                "topics": result.topics,
                "components": {n: m.to_dict() for n, m in result.components.items()},
                "plot": str(plot),
                "seconds": round(seconds, 1),
                "problems": result.problems,
            }
        )
    else:
        from skystream.pipeline.demo import summary_lines

        for line in summary_lines(result):
            click.echo(line)
        click.echo(f"plot: {plot}; specs: {', '.join(str(p) for p in result.specs.values())}")
        click.echo(f"demo finished in {seconds:.1f} s")
    if result.problems:
        raise SkystreamError("the demo's counts do not add up: " + "; ".join(result.problems))


def _alerts(
    settings: KafkaSettings,
    registry: RegistrySettings | None,
    options: DemoOptions,
    keep_topics: bool,
    *,
    quiet: bool,
) -> DemoResult:
    """Run the alert job with a progress display (none when ``quiet``)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from skystream.pipeline.demo import run_demo

    console = Console(stderr=True, quiet=quiet)
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        stage_task = progress.add_task("starting", total=None, rate="")
        tasks: dict[str, Any] = {}
        written: Counter[str] = Counter()

        def on_stage(text: str) -> None:
            progress.update(stage_task, description=text[:28])
            progress.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}")
            if text.startswith("playing") and not tasks:
                for name in ("solar-system", "transients"):
                    tasks[name] = progress.add_task(name, total=options.alerts, rate="")

        def on_batch(name: str, report: Any) -> None:
            written[name] += report.passed
            elapsed = progress.tasks[tasks[name]].elapsed or 0.0
            completed = progress.tasks[tasks[name]].completed + report.received
            rate = f"{completed / elapsed:,.0f}/s in, {written[name]:,} out" if elapsed else ""
            progress.update(tasks[name], advance=report.received, rate=rate)

        result = run_demo(
            settings,
            options,
            registry=registry,
            on_stage=on_stage,
            on_batch=on_batch,
            keep_topics=keep_topics,
        )
        progress.update(stage_task, description="done", total=1, completed=1)
    return result


def _plot(result: DemoResult, path: Path) -> Path:
    from skystream.pipeline.plot import plot_run

    history = result.histories.get("transients", [])
    return plot_run(history, path, title="skystream demo: transients component")


def _queues(ctx: CliContext, rounds: int, as_json: bool) -> None:
    """Round-trip every data-queue encoding through a topic."""
    with ctx.cluster() as settings:
        summary = asyncio.run(_run(settings, rounds))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"broker {summary['bootstrap_servers']}, topic {summary['topic']} (deleted after)"
        )
        for name, counts in summary["encodings"].items():
            status = "ok" if counts["round_trip_ok"] == counts["messages"] else "MISMATCH"
            click.echo(f"  {name:14} {counts['messages']:6,} messages  round trip {status}")
        for direction in ("produce", "consume"):
            numbers = summary[direction]
            click.echo(
                f"  {direction:8} {numbers['messages']:,} messages, {numbers['bytes']:,} bytes, "
                f"{numbers['messages_per_second']:,.0f} msgs/s, "
                f"{numbers['megabytes_per_second']:.2f} MB/s"
            )
    bad = [n for n, c in summary["encodings"].items() if c["round_trip_ok"] != c["messages"]]
    if bad:
        raise SkystreamError(f"round trip failed for: {', '.join(bad)}")


COMMANDS = [demo]
