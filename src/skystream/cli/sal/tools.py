"""``skystream sal write`` and ``skystream sal read``: SAL topics on Kafka, timed."""

from __future__ import annotations

from pathlib import Path

import click

from skystream.cli.context import CliContext, pass_cli, registry_settings
from skystream.cli.sal.options import interfaces_option
from skystream.registry.client import RegistryClient

__all__ = ["COMMANDS", "read", "write"]

_VALIDATIONS = click.Choice(
    ["none", "custom", "dataclass", "dataclass_and_decode", "pydantic", "pydantic_and_decode"]
)
_POSTPROCESS = click.Choice(["none", "dataclass", "pydantic", "simple_namespace"])


_registry_option = click.option(
    "--registry-url",
    envvar="SKYSTREAM_REGISTRY_URL",
    show_envvar=True,
    help="Schema registry. Default: the running embedded stack's registry.",
)


@click.command()
@click.argument("component")
@click.argument("topic")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Messages to send.",
)
@click.option("--index", type=click.IntRange(min=0), help="salIndex (indexed components only).")
@click.option("--nowait-ack", is_flag=True, help="Do not wait for acknowledgements (acks=0).")
@click.option(
    "--acks",
    type=click.Choice(["0", "1", "all"]),
    default="1",
    show_default=True,
    help="Acknowledgement to wait for (--nowait-ack means 0).",
)
@click.option(
    "--validation",
    type=_VALIDATIONS,
    default="none",
    show_default=True,
    help="How each message is checked before it is sent.",
)
@interfaces_option
@_registry_option
@pass_cli
def write(
    ctx: CliContext,
    component: str,
    topic: str,
    count: int,
    index: int | None,
    nowait_ack: bool,
    acks: str,
    validation: str,
    interfaces: Path | None,
    registry_url: str | None,
) -> None:
    """Send COUNT full messages of COMPONENT's TOPIC and report the rate.

    TOPIC is a SAL name (forceActuatorData, logevent_summaryState,
    command_start) or an attribute name (tel_forceActuatorData, evt_x,
    cmd_x). Every item gets a non-default value; the private fields are set
    as Rubin's writers set them. The topic is created (one partition; events
    compacted) and its schema registered when missing.

    \b
    Examples:
      skystream sal write MTM1M3 tel_forceActuatorData -n 10000
      skystream sal write MTM1M3 forceActuatorData -n 1000 --validation pydantic
      skystream sal write MTHexapod evt_summaryState --index 1 --nowait-ack
    """
    from skystream.sal.interfaces import load_interfaces
    from skystream.sal.tools import write_topic

    found = load_interfaces(interfaces, [component]).component(component).topic(topic)
    with RegistryClient(registry_settings(registry_url)) as registry:
        report = write_topic(
            ctx.kafka_settings(),
            registry,
            found,
            count,
            index=index,
            acks="0" if nowait_ack else acks,
            validation=validation,  # type: ignore[arg-type]
        )
    click.echo(report.message)


@click.command()
@click.argument("component")
@click.argument("topics", nargs=-1, required=True)
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Messages to read (over all topics).",
)
@click.option(
    "-t", "--time", "timed", is_flag=True, help="Time the batch instead of printing each message."
)
@click.option(
    "--postprocess",
    type=_POSTPROCESS,
    default="none",
    show_default=True,
    help="What each message becomes before it is printed.",
)
@click.option(
    "--max-history-read",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also read up to this many messages of each topic written before the start.",
)
@click.option(
    "--from-beginning", is_flag=True, help="Read every message of the topics, oldest first."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds without a message.",
)
@interfaces_option
@_registry_option
@pass_cli
def read(
    ctx: CliContext,
    component: str,
    topics: tuple[str, ...],
    count: int,
    timed: bool,
    postprocess: str,
    max_history_read: int,
    from_beginning: bool,
    timeout: float | None,
    interfaces: Path | None,
    registry_url: str | None,
) -> None:
    """Read COUNT messages of COMPONENT's TOPICS: print each, or time the batch (-t).

    Reading starts with messages written after the command starts (plus up
    to --max-history-read earlier ones per topic); private_rcvStamp is set
    on each. Names as for `skystream sal write`.

    \b
    Examples:
      skystream sal read MTM1M3 tel_forceActuatorData -n 5
      skystream sal read MTM1M3 forceActuatorData -n 10000 -t
      skystream sal read MTM2 evt_summaryState evt_heartbeat --max-history-read 1 -n 2
    """
    from skystream.sal.interfaces import load_interfaces
    from skystream.sal.tools import read_topics, time_read

    csc = load_interfaces(interfaces, [component]).component(component)
    chosen = [csc.topic(name) for name in topics]
    with RegistryClient(registry_settings(registry_url)) as registry:
        messages = read_topics(
            ctx.kafka_settings(),
            registry,
            chosen,
            count=count,
            postprocess=postprocess,  # type: ignore[arg-type]
            max_history_read=max_history_read,
            from_beginning=from_beginning,
            timeout_s=timeout,
        )
        if timed:
            click.echo(time_read(messages).message)
            return
        for message in messages:
            click.echo(f"{message.topic.attr_name} {message.offset}: {message.data}")


COMMANDS = [write, read]
