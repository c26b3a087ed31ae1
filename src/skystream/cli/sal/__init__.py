"""``skystream sal``: Rubin SAL topics on Kafka and the DDS-to-Kafka bridge.

Each module of this package holds some of the group's commands (``COMMANDS``).
"""

from __future__ import annotations

import importlib

import click

__all__ = ["COMMANDS", "sal"]

_MODULES = ("schemas", "tools", "dds")


@click.group()
def sal() -> None:
    """Rubin SAL topics on Kafka: interfaces, Avro schemas, read/write tools, DDS bridge.

    Interface files come from --interfaces DIR or SKYSTREAM_SAL_INTERFACES
    (a directory in ts_xml layout).
    """


def _attach() -> None:
    for name in _MODULES:
        try:
            module = importlib.import_module(f"skystream.cli.sal.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"skystream.cli.sal.{name}":
                raise
            continue  # a part not built yet
        for command in module.COMMANDS:
            sal.add_command(command)


_attach()

COMMANDS = [sal]
