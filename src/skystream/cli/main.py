"""Entry point of the ``skystream`` command.

Every sub-command lives in its own module of this package and is attached here.
Only this module maps errors to exit codes: a :class:`~skystream.exceptions.SkystreamError`
prints one line and exits 1 (``--debug`` shows the traceback); a usage error exits 2.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from skystream.cli.context import CliContext
from skystream.exceptions import SkystreamError

__all__ = ["cli", "main", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "-b",
    "--bootstrap-servers",
    envvar="SKYSTREAM_BOOTSTRAP_SERVERS",
    show_envvar=True,
    help="Kafka brokers (host:port,...). Default: the config file, else the running "
    "embedded stack (`skystream up`).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="SKYSTREAM_CONFIG",
    show_envvar=True,
    help="TOML settings file with a [kafka] table (default ~/.config/skystream/config.toml).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.version_option(package_name="skystream")
@click.pass_context
def cli(
    ctx: click.Context, bootstrap_servers: str | None, config_file: str | None, debug: bool
) -> None:
    """Move astronomy data through Kafka.

    Start a local broker with `skystream up`, then produce and consume typed
    messages, manage topics, or run benchmarks. Every command finds the running
    embedded stack by itself unless --bootstrap-servers (or
    SKYSTREAM_BOOTSTRAP_SERVERS) names another cluster.
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = CliContext(bootstrap_servers=bootstrap_servers, config_file=config_file, debug=debug)


def _attach_commands() -> None:
    # Imported here so that each command module stays independent of the others.
    from skystream.cli import (
        bench,
        clients,
        demo,
        registry,
        run,
        sal,
        schemas,
        sim,
        stack,
        topics,
    )

    for module in (stack, topics, clients, bench, demo, registry, schemas, sim, sal, run):
        for command in module.COMMANDS:
            cli.add_command(command)


_attach_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = cli.main(args=args, prog_name="skystream", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SkystreamError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    # Without standalone mode click returns ctx.exit(n)'s code instead of raising.
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())
