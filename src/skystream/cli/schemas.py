"""``skystream schemas``: list, show, register, check and delete registry schemas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from skystream.cli.context import echo_json, registry_settings
from skystream.exceptions import ConfigurationError, SchemaError
from skystream.registry.client import RegistryClient, SchemaReference
from skystream.schemas.avro import AvroSchema

__all__ = ["COMMANDS", "schemas"]

_URL_OPTION = click.option(
    "--registry-url",
    envvar="SKYSTREAM_REGISTRY_URL",
    show_envvar=True,
    help="Schema registry URL. Default: the running embedded stack's registry.",
)
_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextmanager
def _client(registry_url: str | None) -> Iterator[RegistryClient]:
    with RegistryClient(registry_settings(registry_url)) as client:
        yield client


def _read_schema(path: str) -> str:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read schema file {path!r}: {exc}") from exc
    try:
        AvroSchema.parse(text)
    except SchemaError as exc:
        if "Unknown type" not in str(exc) and "UnknownType" not in str(exc):
            raise SchemaError(f"{path}: {exc}") from exc
        # Named types from references are resolved by the registry.
    return text


@click.group()
def schemas() -> None:
    """List, show, register, check and delete schemas in the schema registry.

    \b
    Examples:
      skystream schemas list
      skystream schemas register alerts-value alert.avsc
      skystream schemas show alerts-value --version 2
      skystream schemas show --id 1100
      skystream schemas check alerts-value alert-v2.avsc
      skystream schemas delete alerts-value --permanent
    """


@schemas.command("list")
@click.option("--deleted", is_flag=True, help="Include soft-deleted subjects.")
@_URL_OPTION
@_JSON_OPTION
def list_subjects(deleted: bool, registry_url: str | None, as_json: bool) -> None:
    """List subjects, one per line."""
    with _client(registry_url) as client:
        names = client.subjects(deleted=deleted)
    if as_json:
        echo_json(names)
    else:
        for name in names:
            click.echo(name)


@schemas.command("show")
@click.argument("subject", required=False)
@click.option("--version", "version", default="latest", show_default=True, help="Version number.")
@click.option("--id", "schema_id", type=click.IntRange(min=0), help="Show the schema with this id.")
@_URL_OPTION
@_JSON_OPTION
def show(
    subject: str | None,
    version: str,
    schema_id: int | None,
    registry_url: str | None,
    as_json: bool,
) -> None:
    """Show a version of SUBJECT (default latest), or the schema with --id."""
    if (subject is None) == (schema_id is None):
        raise click.UsageError("give a SUBJECT or --id N (not both)")
    with _client(registry_url) as client:
        if schema_id is not None:
            schema = client.get_schema(schema_id)
            if as_json:
                echo_json({"id": schema_id, "schema": schema.definition})
            else:
                click.echo(f"id {schema_id}")
                click.echo(str(schema))
            return
        if subject is None:  # checked above; this narrows the type
            raise click.UsageError("give a SUBJECT or --id N")
        found = client.get_version(subject, version)
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo(f"{found.subject} version {found.version} (id {found.id})")
        for reference in found.references:
            click.echo(f"  reference {reference.name}={reference.subject}:{reference.version}")
        click.echo(str(found.schema))


@schemas.command("register")
@click.argument("subject")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--reference",
    "references",
    multiple=True,
    metavar="NAME=SUBJECT:VERSION",
    help="A named type from another subject; repeatable.",
)
@_URL_OPTION
@_JSON_OPTION
def register(
    subject: str,
    file: str,
    references: tuple[str, ...],
    registry_url: str | None,
    as_json: bool,
) -> None:
    """Register the Avro schema in FILE under SUBJECT and print its id."""
    refs = [SchemaReference.parse(item) for item in references]
    text = _read_schema(file)
    with _client(registry_url) as client:
        schema_id = client.register(subject, text, refs)
        found = client.lookup(subject, text, refs)
    if as_json:
        echo_json({"subject": subject, "id": schema_id, "version": found.version})
    else:
        click.echo(f"{subject}: registered as id {schema_id}, version {found.version}")


@schemas.command("check")
@click.argument("subject")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--version", "version", default="latest", show_default=True, help="Version to check.")
@click.option(
    "--reference", "references", multiple=True, metavar="NAME=SUBJECT:VERSION", help="Repeatable."
)
@_URL_OPTION
@_JSON_OPTION
@click.pass_context
def check(
    ctx: click.Context,
    subject: str,
    file: str,
    version: str,
    references: tuple[str, ...],
    registry_url: str | None,
    as_json: bool,
) -> None:
    """Check whether FILE could be registered under SUBJECT; exit 1 when not."""
    refs = [SchemaReference.parse(item) for item in references]
    text = _read_schema(file)
    with _client(registry_url) as client:
        compatible, reasons = client.test_compatibility(subject, text, version, references=refs)
    if as_json:
        echo_json({"subject": subject, "compatible": compatible, "messages": reasons})
    elif compatible:
        click.echo(f"{file} is compatible with {subject} version {version}")
    else:
        click.echo(f"{file} is NOT compatible with {subject} version {version}:")
        for reason in reasons:
            click.echo(f"  - {reason}")
    if not compatible:
        ctx.exit(1)


@schemas.command("delete")
@click.argument("subject")
@click.option("--version", "version", help="Delete only this version.")
@click.option("--permanent", is_flag=True, help="Hard delete (after a soft delete).")
@_URL_OPTION
@_JSON_OPTION
def delete(
    subject: str, version: str | None, permanent: bool, registry_url: str | None, as_json: bool
) -> None:
    """Delete SUBJECT, or one --version of it (soft unless --permanent)."""
    with _client(registry_url) as client:
        if version is None:
            deleted = client.delete_subject(subject, permanent=permanent)
        else:
            deleted = [client.delete_version(subject, version, permanent=permanent)]
    kind = "permanently deleted" if permanent else "deleted"
    if as_json:
        echo_json({"subject": subject, "versions": deleted, "permanent": permanent})
    else:
        click.echo(f"{subject}: {kind} version(s) {', '.join(map(str, deleted))}")


COMMANDS = [schemas]
