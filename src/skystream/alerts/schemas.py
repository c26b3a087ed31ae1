"""The alert schemas skystream knows, and how ids and names map to versions.

Rubin's schemas come from the ``lsst-alert-packet`` package, one directory per
version (``schema/<major>/<minor>/``), each type in a file named by its full
name (``lsst.v11_1.diaSource.avsc``). Rubin derives registry ids from the
version: ``lsst.v7_1`` is 701, ``lsst.v11_0`` is 1100. ZTF publishes its
schema with every alert (an Avro container per message); skystream ships
ZTF's current schema files (``ztf_schema/``) to generate alerts.

>>> rubin_schema_id("11.1")
1101
>>> rubin_version_of_id(701)
'7.1'
>>> rubin_version_of_name("lsst.v11_1.alert")
'11.1'
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastavro.schema import load_schema

from skystream.exceptions import SchemaError
from skystream.schemas.avro import AvroSchema

__all__ = [
    "Survey",
    "latest_rubin_version",
    "rubin_schema",
    "rubin_schema_id",
    "rubin_versions",
    "rubin_version_of_id",
    "rubin_version_of_name",
    "survey_of_schema",
    "ztf_schema",
    "ztf_version_of",
]

#: The surveys whose alerts skystream reads and writes.
Survey = Literal["rubin", "ztf"]

_RUBIN_NAME = re.compile(r"^lsst\.v(\d+)_(\d+)(?:\.|$)")


def _rubin_root() -> Path:
    try:
        import lsst.alert.packet
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise SchemaError(
            "Rubin alert schemas need the 'lsst-alert-packet' package: "
            "pip install lsst-alert-packet"
        ) from exc
    return Path(lsst.alert.packet.__file__).parent / "schema"


@cache
def rubin_versions() -> tuple[str, ...]:
    """Every Rubin schema version shipped in ``lsst-alert-packet``, oldest first."""
    root = _rubin_root()
    found = [
        (int(major.name), int(minor.name))
        for major in root.iterdir()
        if major.name.isdigit()
        for minor in major.iterdir()
        if minor.name.isdigit()
        and (minor / f"lsst.v{major.name}_{minor.name}.alert.avsc").is_file()
    ]
    return tuple(f"{major}.{minor}" for major, minor in sorted(found))


@cache
def latest_rubin_version() -> str:
    """Return the version ``lsst-alert-packet`` calls latest (``schema/latest.txt``)."""
    return (_rubin_root() / "latest.txt").read_text().strip()


def _split_version(version: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)", version.strip())
    if match is None:
        raise SchemaError(
            f"Rubin schema version {version!r} is not MAJOR.MINOR; "
            f"known versions: {', '.join(rubin_versions())}"
        )
    return int(match[1]), int(match[2])


@cache
def rubin_schema(version: str | None = None) -> AvroSchema:
    """Return the Rubin alert schema of ``version`` (``"11.1"``; ``None`` for the latest).

    Named types the alert refers to (``diaSource``, ``ssSource``, ...) are
    inlined at their first use, so the result is one self-contained schema:
    what a registry stores and what Avro containers embed.

    Raises
    ------
    SchemaError
        If ``lsst-alert-packet`` has no such version; the message lists those it has.
    """
    version = version or latest_rubin_version()
    major, minor = _split_version(version)
    path = _rubin_root() / str(major) / str(minor) / f"lsst.v{major}_{minor}.alert.avsc"
    if not path.is_file():
        raise SchemaError(
            f"lsst-alert-packet has no Rubin alert schema {version!r}; "
            f"known versions: {', '.join(rubin_versions())}"
        )
    return AvroSchema.from_definition(load_schema(str(path), _write_hint=False))


def rubin_schema_id(version: str) -> int:
    """Rubin's registry id for a schema version: major * 100 + minor (``"7.1"`` -> 701)."""
    major, minor = _split_version(version)
    return major * 100 + minor


def rubin_version_of_id(schema_id: int) -> str | None:
    """Return the shipped Rubin version with id ``schema_id`` (701 -> ``"7.1"``), or ``None``."""
    version = f"{schema_id // 100}.{schema_id % 100}"
    return version if version in rubin_versions() else None


def rubin_version_of_name(name: str | None) -> str | None:
    """Return the version in a Rubin schema name (``lsst.v11_1.alert`` -> ``"11.1"``)."""
    match = _RUBIN_NAME.match(name or "")
    return f"{match[1]}.{match[2]}" if match else None


@cache
def ztf_schema() -> AvroSchema:
    """ZTF's alert schema as skystream ships it (the version ZTF publishes today)."""
    folder = resources.files("skystream.alerts").joinpath("ztf_schema")
    with resources.as_file(folder) as path:
        definition = load_schema(str(path / "ztf.alert.avsc"), _write_hint=False)
    return AvroSchema.from_definition(definition)


def ztf_version_of(definition: Any) -> str | None:
    """Return the ``version`` a ZTF schema carries (``"3.3"``), if it is a ZTF alert schema."""
    if survey_of_schema(definition) != "ztf":
        return None
    version = definition.get("version")
    return str(version) if version is not None else None


def survey_of_schema(definition: Any) -> Survey | None:
    """Which survey an alert schema belongs to, from its name; ``None`` if neither."""
    if not isinstance(definition, dict):
        return None
    name = str(definition.get("name", ""))
    namespace = definition.get("namespace")
    full = name if "." in name or not namespace else f"{namespace}.{name}"
    if rubin_version_of_name(full) is not None:
        return "rubin"
    if full == "ztf.alert":
        return "ztf"
    return None
