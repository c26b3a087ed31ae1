"""What every sub-command shares: settings resolution and output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from skystream.config import KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError
from skystream.local.stack import EmbeddedStack, find_running_stack

__all__ = ["CliContext", "echo_json", "find_registry", "pass_cli", "registry_settings"]


@dataclass(frozen=True)
class CliContext:
    """Global options of the ``skystream`` command."""

    bootstrap_servers: str | None
    config_file: str | None
    debug: bool

    def kafka_settings(self, **explicit: Any) -> KafkaSettings:
        """Resolve Kafka settings: options, environment, config file, then the embedded stack.

        Raises
        ------
        ConfigurationError
            When no source names a broker and no embedded stack is running.
        """
        settings = KafkaSettings.from_env(
            self.config_file, bootstrap_servers=self.bootstrap_servers, **explicit
        )
        running = find_running_stack()
        if settings.bootstrap_servers is None:
            if running is None:
                raise ConfigurationError(
                    "no Kafka broker configured and no embedded stack running: start one with "
                    "`skystream up`, or pass --bootstrap-servers / set SKYSTREAM_BOOTSTRAP_SERVERS"
                )
            return settings.with_bootstrap(running.bootstrap_servers, profile="embedded")
        if running is not None and settings.bootstrap_servers == running.bootstrap_servers:
            return settings.with_bootstrap(running.bootstrap_servers, profile="embedded")
        return settings

    @contextmanager
    def cluster(self, *, private_unless_named: bool = False) -> Iterator[KafkaSettings]:
        """Yield settings for the cluster to use, starting a private embedded stack if needed.

        The configured cluster or the running embedded stack is used when there
        is one (with ``private_unless_named``, only a --bootstrap-servers
        cluster); otherwise a private embedded stack runs for the duration.
        """
        named = bool(self.bootstrap_servers)
        if not named and not private_unless_named:
            configured = KafkaSettings.from_env(self.config_file).bootstrap_servers
            named = bool(configured) or find_running_stack() is not None
        if named:
            yield self.kafka_settings()
            return
        click.echo("starting a private embedded stack for this run ...", err=True)
        with EmbeddedStack() as state:
            yield KafkaSettings(bootstrap_servers=state.bootstrap_servers, profile="embedded")

    @contextmanager
    def cluster_and_registry(self) -> Iterator[tuple[KafkaSettings, RegistrySettings | None]]:
        """As :meth:`cluster`, with the schema registry to use (``None``: none found).

        A private embedded stack, when one is needed, runs the registry too.
        """
        named = bool(self.bootstrap_servers)
        if not named:
            configured = KafkaSettings.from_env(self.config_file).bootstrap_servers
            named = bool(configured) or find_running_stack() is not None
        if named:
            yield self.kafka_settings(), find_registry(None)
            return
        click.echo("starting a private embedded stack for this run ...", err=True)
        with EmbeddedStack(registry=True) as state:
            settings = KafkaSettings(bootstrap_servers=state.bootstrap_servers, profile="embedded")
            yield settings, RegistrySettings(url=state.registry_url)


pass_cli = click.make_pass_decorator(CliContext)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def find_registry(url: str | None) -> RegistrySettings | None:
    """Resolve the registry: ``url``, the environment, else the running embedded stack's."""
    settings = RegistrySettings.from_env(url=url)
    if settings.url is not None:
        return settings
    running = find_running_stack()
    service = running.service("registry") if running is not None else None
    if service is not None:
        return settings.model_copy(update={"url": service.address})
    return None


def registry_settings(url: str | None) -> RegistrySettings:
    """As :func:`find_registry`, for commands that cannot work without a registry.

    Raises
    ------
    ConfigurationError
        When no source names a registry.
    """
    settings = find_registry(url)
    if settings is None:
        raise ConfigurationError(
            "no schema registry configured and no embedded stack with a registry running: "
            "start one with `skystream up`, or pass --registry-url / set SKYSTREAM_REGISTRY_URL"
        )
    return settings
