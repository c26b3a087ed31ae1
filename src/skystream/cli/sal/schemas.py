"""``skystream sal list`` and ``skystream sal schema``: SAL components, topics, Avro schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from skystream.cli.context import echo_json
from skystream.cli.sal.options import interfaces_option
from skystream.sal.avro import avro_schema
from skystream.sal.interfaces import load_interfaces
from skystream.sal.model import SalComponent

__all__ = ["COMMANDS", "list_command", "schema_command"]

_KINDS = ("command", "event", "telemetry", "ackcmd")


def _index_text(component: SalComponent) -> str:
    if not component.indexed:
        return "no"
    if not component.index_enumeration:
        return "any"
    return ",".join(f"{name}={value}" for name, value in component.index_enumeration.items())


def _component_summary(component: SalComponent) -> dict[str, Any]:
    counts = dict.fromkeys(_KINDS, 0)
    for topic in component.topics.values():
        counts[topic.kind] += 1
    return {
        "component": component.name,
        "indexed": component.indexed,
        "index": _index_text(component),
        "commands": counts["command"],
        "events": counts["event"],
        "telemetry": counts["telemetry"],
        "topics": len(component.topics),
    }


def _topic_rows(component: SalComponent) -> list[dict[str, Any]]:
    order = {kind: number for number, kind in enumerate(_KINDS)}
    topics = sorted(component.topics.values(), key=lambda t: (order[t.kind], t.short_name))
    return [
        {
            "kind": topic.kind,
            "attr_name": topic.attr_name,
            "sal_name": topic.sal_name,
            "kafka_topic": topic.kafka_topic(),
            "fields": len(topic.fields),
            "category": topic.category,
        }
        for topic in topics
    ]


def _echo_table(rows: list[list[str]], right_aligned: set[int]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(cells).rstrip())


@click.command("list")
@click.argument("csc", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@interfaces_option
def list_command(csc: str | None, as_json: bool, interfaces: Path | None) -> None:
    """List SAL components, or the topics of one component (CSC).

    Without CSC: every component of SALSubsystems.xml, whether it is indexed
    (no, any, or its named indices) and how many commands, events and telemetry
    topics it has (generic topics and ackcmd included). With CSC: each topic's
    kind, attribute name (tel_/evt_/cmd_/ack_), Kafka topic and number of XML
    fields (the private fields every message carries are not counted).

    \b
    Examples:
      skystream sal list --interfaces ts_xml/python/lsst/ts/xml/data/sal_interfaces
      skystream sal list MTM1M3
      skystream sal list MTHexapod --json
    """
    loaded = load_interfaces(interfaces, components=None if csc is None else [csc])
    if csc is None:
        summaries = [_component_summary(component) for component in loaded.components.values()]
        if as_json:
            echo_json(summaries)
            return
        header = ["COMPONENT", "INDEXED", "COMMANDS", "EVENTS", "TELEMETRY", "TOPICS"]
        keys = ["component", "index", "commands", "events", "telemetry", "topics"]
        table = [header, *([str(summary[key]) for key in keys] for summary in summaries)]
        _echo_table(table, right_aligned={2, 3, 4, 5})
        return
    component = loaded.component(csc)
    rows = _topic_rows(component)
    if as_json:
        echo_json(rows)
        return
    header = ["KIND", "ATTRIBUTE", "KAFKA TOPIC", "FIELDS"]
    keys = ["kind", "attr_name", "kafka_topic", "fields"]
    _echo_table([header, *([str(row[key]) for key in keys] for row in rows)], right_aligned={3})


@click.command("schema")
@click.argument("csc")
@click.argument("topic")
@interfaces_option
def schema_command(csc: str, topic: str, interfaces: Path | None) -> None:
    """Print the Avro schema of one SAL topic as indented JSON.

    TOPIC is a SAL name (logevent_summaryState, command_start,
    forceActuatorData, ackcmd) or an attribute name (evt_summaryState,
    cmd_start, tel_forceActuatorData, ack_ackcmd). The schema is the one
    Rubin's Kafka-era middleware registers under lsst.sal.<CSC>.<sal_name>-value,
    keys in the same order.

    \b
    Examples:
      skystream sal schema MTM1M3 forceActuatorData
      skystream sal schema MTHexapod evt_summaryState > summaryState.avsc
      skystream sal schema Test cmd_setScalars --interfaces ./sal_interfaces
    """
    component = load_interfaces(interfaces, components=[csc]).component(csc)
    click.echo(json.dumps(avro_schema(component.topic(topic)), indent=2))


COMMANDS = [list_command, schema_command]
