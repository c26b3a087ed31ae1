"""``skystream sal simulate``, ``bridge`` and ``bridge-ctl``: SAL topics on DDS, and to Kafka."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from skystream.cli.context import CliContext, echo_json, pass_cli, registry_settings
from skystream.cli.sal.options import interfaces_option
from skystream.exceptions import ConfigurationError, DeliveryError

if TYPE_CHECKING:
    from skystream.sal.dds import DdsSettings
    from skystream.sal.model import SalComponent

__all__ = ["COMMANDS", "bridge", "bridge_ctl", "simulate"]


def _domain_option(function: Any) -> Any:
    function = click.option(
        "--loopback/--no-loopback",
        default=None,
        envvar="SKYSTREAM_DDS_LOOPBACK",
        show_envvar=True,
        help="Keep DDS on 127.0.0.1 with unicast discovery (one host; tests). "
        "Default: Cyclone's own configuration (CYCLONEDDS_URI).",
    )(function)
    return click.option(
        "--domain",
        type=click.IntRange(0, 232),
        envvar="SKYSTREAM_DDS_DOMAIN",
        show_envvar=True,
        help="DDS domain id.  [default: 0]",
    )(function)


def _dds_settings(domain: int | None, loopback: bool | None) -> DdsSettings:
    from skystream.sal.dds import DdsSettings

    return DdsSettings.from_env(domain_id=domain, loopback=loopback)


def _load(interfaces: Path | None, names: Sequence[str]) -> list[SalComponent]:
    from skystream.sal.interfaces import load_interfaces

    loaded = load_interfaces(interfaces, components=list(names))
    return [loaded.component(name) for name in names]


@contextmanager
def _stop_on_signals(what: str) -> Iterator[threading.Event]:
    """Yield an event set by SIGINT/SIGTERM, so the command can finish cleanly."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        click.echo(f"stopping {what} ({signal.Signals(signum).name}) ...", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _loglevel(value: str) -> int:
    text = value.strip().upper()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text)
    if not isinstance(level, int):
        raise click.BadParameter(f"{value!r} is not a log level (10, 20, DEBUG, INFO, ...)")
    return level


@click.command()
@click.argument("components", nargs=-1, required=True)
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="TOPIC=HZ",
    help="Samples per second of matching topics (repeatable; the last match wins). TOPIC is "
    "a SAL or attribute name, optionally CSC.-prefixed, with * wildcards; HZ a number, "
    "0 or max. Default: telemetry 1 Hz, events 0.2 Hz, commands and ackcmd never.",
)
@click.option("-n", "--count", type=click.IntRange(min=0), help="Samples per topic, then stop.")
@click.option(
    "--duration", type=click.FloatRange(min=0), help="Seconds to run (default: until Ctrl-C)."
)
@click.option(
    "--index",
    type=click.IntRange(min=0),
    help="salIndex of indexed components.  [default: 1]",
)
@click.option(
    "--wait-readers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Wait until every topic has this many DDS readers (a bridge) before writing.",
)
@_domain_option
@interfaces_option
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def simulate(
    components: tuple[str, ...],
    rates: tuple[str, ...],
    count: int | None,
    duration: float | None,
    index: int | None,
    wait_readers: int,
    domain: int | None,
    loopback: bool | None,
    interfaces: Path | None,
    as_json: bool,
) -> None:
    """Publish SAL topics of COMPONENTS on DDS, as the CSCs would.

    Every field of every sample has a value that is not its default; private
    fields are set as SAL's writers set them (sndStamp TAI now, seqNum from
    1, identity, origin = this process). Ends after --count samples per topic,
    after --duration seconds, or on Ctrl-C / SIGTERM, and prints how many
    samples each topic got.

    \b
    Examples:
      skystream sal simulate MTM2 --duration 10
      skystream sal simulate MTM1M3 --rate '*=0' --rate forceActuatorData=max -n 10000
      skystream sal simulate Test MTM2 --rate 'evt_*=5' --domain 17 --loopback
    """
    from skystream.sal.simulate import simulate as run_simulation

    loaded = _load(interfaces, components)
    with _stop_on_signals("the simulation") as stop:
        result = run_simulation(
            loaded,
            rates=rates,
            count=count,
            duration_s=duration,
            settings=_dds_settings(domain, loopback),
            index=index,
            stop=stop,
            wait_readers=wait_readers,
        )
    if as_json:
        echo_json({"counts": dict(result.counts), "elapsed_s": result.elapsed_s})
        return
    for label, written in sorted(result.counts.items()):
        click.echo(f"{label}: {written}")
    rate = result.total / result.elapsed_s if result.elapsed_s > 0 else 0.0
    click.echo(
        f"wrote {result.total} samples on {len(result.counts)} topic(s) "
        f"in {result.elapsed_s:.2f} s ({rate:,.0f}/s)"
    )


@click.command()
@click.argument("components", nargs=-1)
@click.option(
    "--file",
    "topic_sets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file splitting components into topic sets, each bridged in its own process.",
)
@click.option(
    "--broker",
    envvar="SKYSTREAM_BOOTSTRAP_SERVERS",
    help="Kafka brokers (host:port,...). Default: skystream's -b, config file, "
    "or the running embedded stack.",
)
@click.option(
    "--registry",
    envvar="SKYSTREAM_REGISTRY_URL",
    show_envvar=True,
    help="Schema registry URL. Default: the running embedded stack's.",
)
@click.option("--username", help="SASL SCRAM-SHA-512 user name (or SKYSTREAM_SASL_USERNAME).")
@click.option(
    "--password",
    help="SASL SCRAM-SHA-512 password (or SKYSTREAM_SASL_PASSWORD, safer than the command line).",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Partitions of topics the bridge creates.",
)
@click.option(
    "--replication-factor",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Replication factor of topics the bridge creates.",
)
@click.option(
    "--wait-ack",
    type=click.Choice(["0", "1", "all"]),
    default="1",
    show_default=True,
    help="Acknowledgements the producer waits for.",
)
@click.option(
    "--loglevel",
    default="20",
    show_default=True,
    help="Log level of the bridge (10 debug, 20 info, 30 warning; or a name).",
)
@click.option(
    "--queue-length",
    type=click.IntRange(min=10),
    default=100,
    show_default=True,
    help="Read queue length of each topic (warnings at 10, L/2, 9L/10, L).",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Written once every DDS reader is up; removed on exit.",
)
@click.option(
    "--control",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the control socket `skystream sal bridge-ctl` talks to.",
)
@click.option(
    "--subname",
    default="sal",
    show_default=True,
    help="Kafka topics are lsst.<subname>.<CSC>.<topic>.",
)
@_domain_option
@interfaces_option
@pass_cli
def bridge(
    cli: CliContext,
    components: tuple[str, ...],
    topic_sets: Path | None,
    broker: str | None,
    registry: str | None,
    username: str | None,
    password: str | None,
    partitions: int,
    replication_factor: int,
    wait_ack: str,
    loglevel: str,
    queue_length: int,
    ready_file: Path | None,
    control: Path | None,
    subname: str,
    domain: int | None,
    loopback: bool | None,
    interfaces: Path | None,
) -> None:
    """Bridge every DDS sample of COMPONENTS to Kafka, as Avro with registered schemas.

    One DDS reader per topic; each sample gets private_efdStamp (UTC) and
    private_kafkaStamp (TAI) and goes to lsst.<subname>.<CSC>.<topic> in the
    Confluent wire format, its schema under <topic>-value. Missing topics are
    created (events compacted and keyed). Runs until Ctrl-C / SIGTERM, then
    sends everything already read before exiting.

    With --control DIR, components can be added and removed while it runs
    (`skystream sal bridge-ctl add CSC --control DIR`) without touching the
    others. With --file, each topic set runs in its own process.

    \b
    Examples:
      skystream sal bridge MTM2 MTHexapod --registry http://127.0.0.1:8081
      skystream sal bridge MTM2 --broker kafka:9092 --username efd --password ... \\
          --partitions 1 --replication-factor 3 --wait-ack 1
      skystream sal bridge --file m1m3-sets.yaml --control /run/sal-bridge
      skystream sal bridge Test --control /tmp/bridge --ready-file /tmp/bridge/ready

    \b
    A topic-sets file (Rubin's layout; topics not named form one more set):
      component: MTM1M3
      queue_len: 1000
      topic_sets:
        - telemetry: [forceActuatorData, forceActuatorPressure]
          partitions: 2
        - events: [forceActuatorState]
          add_ackcmd: true
    """
    from skystream.sal.bridge import (
        BridgeSettings,
        TopicSetsFile,
        plan_topic_sets,
        run_bridge,
        run_topic_sets,
        with_scram,
    )

    if bool(components) == bool(topic_sets):
        raise click.UsageError("give either COMPONENTS or --file topicsets.yaml")
    level = _loglevel(loglevel)
    logging.getLogger("skystream").setLevel(level)
    context = CliContext(
        bootstrap_servers=broker or cli.bootstrap_servers,
        config_file=cli.config_file,
        debug=cli.debug,
    )
    settings = BridgeSettings(
        kafka=with_scram(context.kafka_settings(), username, password),
        registry=registry_settings(registry),
        dds=_dds_settings(domain, loopback),
        partitions=partitions,
        replication_factor=replication_factor,
        wait_ack=wait_ack,  # type: ignore[arg-type]
        queue_length=queue_length,
        subname=subname,
        interfaces=interfaces,
    )
    with _stop_on_signals("the bridge") as stop:
        if topic_sets is not None:
            plans = plan_topic_sets(
                TopicSetsFile.from_file(topic_sets), lambda name: _load(interfaces, [name])[0]
            )
            codes = run_topic_sets(
                settings,
                plans,
                stop=stop,
                ready_file=ready_file,
                control_dir=control,
                loglevel=level,
            )
            bad = {name: code for name, code in codes.items() if code}
            if bad:
                raise ConfigurationError(f"topic set process(es) exited with errors: {bad}")
            return
        stats = run_bridge(
            settings,
            [(component, None) for component in _load(interfaces, components)],
            stop=stop,
            ready_file=ready_file,
            control_dir=control,
        )
    click.echo(
        f"bridged {stats.sent} of {stats.read} samples read on {len(stats.topics)} topic(s); "
        f"{stats.failed} failed",
        err=True,
    )
    if stats.failed or stats.undelivered:
        raise DeliveryError(
            stats.undelivered or f"{stats.failed} sample(s) could not be sent; see the log above"
        )


@click.command("bridge-ctl")
@click.argument("command", type=click.Choice(["add", "remove", "list", "stats", "pause", "resume"]))
@click.argument("components", nargs=-1)
@click.option(
    "--control",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The running bridge's --control directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the bridge's answer as JSON.")
def bridge_ctl(command: str, components: tuple[str, ...], control: Path, as_json: bool) -> None:
    """Change a running bridge: add or remove COMPONENTS, list, stats, pause or resume.

    Adding returns once the new readers are up; removing once what the
    component's readers held has been sent. Other components keep flowing.
    Pause stops sends to Kafka (the read queues then fill and warn); resume
    sends again.

    \b
    Examples:
      skystream sal bridge-ctl add MTHexapod --control /run/sal-bridge
      skystream sal bridge-ctl remove MTM2 --control /run/sal-bridge
      skystream sal bridge-ctl list --control /run/sal-bridge
      skystream sal bridge-ctl stats --control /run/sal-bridge --json
    """
    from skystream.sal.bridge import control_request

    if command in ("add", "remove") and not components:
        raise click.UsageError(f"{command} needs at least one component name")
    answer = control_request(control, command, components)
    if as_json:
        echo_json(answer)
        return
    if "topics" in answer:
        click.echo(f"{command}: {len(answer['topics'])} topic(s)")
    click.echo(f"bridged: {', '.join(answer.get('components', [])) or 'nothing'}")
    if answer.get("paused"):
        click.echo("sending to Kafka is paused")
    stats = answer.get("stats")
    if stats:
        click.echo(f"read {stats['read']}, sent {stats['sent']}, failed {stats['failed']}")


COMMANDS = [simulate, bridge, bridge_ctl]
