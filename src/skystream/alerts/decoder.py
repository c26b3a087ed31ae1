"""One decoder for Rubin and ZTF alerts, whatever the framing.

:class:`AlertDecoder` looks at the bytes and finds the schema:

- an **Avro container** (``Obj\\x01``...: how ZTF sends each alert, and what
  alert files are) carries its schema in its header; headers seen before are
  recognised by a byte comparison, so the schema JSON is parsed once;
- the **Confluent wire format** (byte 0 = 0, then a 4-byte schema id) names
  the schema by id: asked of the registry when there is one; Rubin's own ids
  (major*100+minor: 701, 1100, 1101) resolve to the schemas shipped in
  ``lsst-alert-packet`` without one;
- **schemaless Avro** needs the schema given to the decoder.

The survey and version come from the schema's name (``lsst.v11_1.alert``,
``ztf.alert``). Bytes that fit none of these raise :class:`AlertDecodeError`
saying which it tried and what would make it work.

>>> decoder = AlertDecoder()
>>> decoder.layout_for_id(1101).version
'11.1'
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from functools import cache
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import fastavro

from skystream.alerts.model import Alert, AlertLayout
from skystream.alerts.rubin import rubin_layout
from skystream.alerts.schemas import (
    rubin_schema,
    rubin_schema_id,
    rubin_version_of_id,
    rubin_versions,
    survey_of_schema,
)
from skystream.alerts.ztf import ztf_layout
from skystream.codecs import avro
from skystream.codecs._describe import describe_bytes
from skystream.codecs.wire import HEADER_SIZE, MAGIC_BYTE
from skystream.exceptions import AlertDecodeError, RegistryError, SchemaError
from skystream.registry.client import RegistryClient
from skystream.schemas.avro import AvroSchema

__all__ = ["AlertDecoder", "layout_of", "read_alert_file"]

CONTAINER_MAGIC = b"Obj\x01"
_SYNC_SIZE = 16
_SCHEMA_NOT_FOUND = 40403


def layout_of(schema: AvroSchema, schema_id: int | None = None) -> AlertLayout:
    """Build the layout of a Rubin or ZTF alert schema, by its name.

    Raises
    ------
    AlertDecodeError
        If the schema is neither survey's alert schema.
    """
    survey = survey_of_schema(schema.definition)
    if survey == "rubin":
        return rubin_layout(schema, schema_id)
    if survey == "ztf":
        return ztf_layout(schema, schema_id)
    where = f"schema id {schema_id}" if schema_id is not None else "the schema"
    raise AlertDecodeError(
        "unknown-schema",
        f"{where} is {schema.name or 'unnamed'!r}, not a Rubin (lsst.vX_Y.alert) "
        "or ZTF (ztf.alert) alert schema",
    )


@cache
def _packaged_rubin_layout(version: str) -> AlertLayout:
    return rubin_layout(rubin_schema(version), rubin_schema_id(version))


class AlertDecoder:
    """Decode alert messages of both surveys into :class:`~skystream.alerts.Alert` views.

    Parameters
    ----------
    registry
        A schema registry (client or URL) for wire-format ids that are not
        Rubin version ids; ``None`` to use Rubin's ids only.
    schema
        The schema of schemaless messages (an ``AvroSchema``, JSON text or a
        dict; ``"11.1"`` names a shipped Rubin version). Wire-format and
        container messages are still recognised.

    Examples
    --------
    >>> from skystream.alerts import AlertDecoder
    >>> with AlertDecoder(registry="http://127.0.0.1:8081") as decoder:  # doctest: +SKIP
    ...     for message in messages:
    ...         alert = decoder.decode(message)
    ...         print(alert.alert_id, alert.ra, alert.dec, alert.is_sso)
    """

    def __init__(
        self,
        registry: RegistryClient | str | None = None,
        schema: AvroSchema | str | dict[str, Any] | None = None,
    ) -> None:
        self._owns_registry = isinstance(registry, str)
        self.registry = RegistryClient(registry) if isinstance(registry, str) else registry
        self.schemaless: AlertLayout | None = None
        if schema is not None:
            if isinstance(schema, str) and re.fullmatch(r"\d+\.\d+", schema.strip()):
                self.schemaless = _packaged_rubin_layout(schema.strip())
            else:
                self.schemaless = layout_of(avro.as_schema(schema))
        self._by_id: dict[int, AlertLayout] = {}
        # (header bytes up to the sync marker, layout, codec) of containers seen before.
        self._containers: list[tuple[bytes, AlertLayout, str]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the registry client if the decoder made it (from a URL)."""
        if self._owns_registry and self.registry is not None:
            self.registry.close()

    def decode(self, data: bytes) -> Alert:
        """Return the alert in one message, decoding nothing yet but its framing.

        Raises
        ------
        AlertDecodeError
            ``kind`` says why: ``"not-an-alert"`` (no known framing),
            ``"unknown-schema"`` (an id nobody knows, or a schema that is no
            alert schema), ``"corrupt"`` (a container that is cut short).
        """
        if not isinstance(data, bytes):
            data = bytes(data)
        if data[:4] == CONTAINER_MAGIC:
            layout, offset, data = self._container(data)
            return Alert(layout, data, offset)
        if len(data) > HEADER_SIZE and data[0] == MAGIC_BYTE:
            schema_id = int.from_bytes(data[1:HEADER_SIZE], "big")
            known = self._by_id.get(schema_id) or self._resolve_id(
                schema_id, fallback=self.schemaless is not None
            )
            if known is not None:
                return Alert(known, data, HEADER_SIZE)
        if self.schemaless is not None:
            return Alert(self.schemaless, data, 0)
        raise AlertDecodeError(
            "not-an-alert",
            f"cannot tell how this message is framed: it is neither an Avro container "
            f"(Obj\\x01...) nor the Confluent wire format (magic byte 0 + schema id); got "
            f"{describe_bytes(data)}. For schemaless Avro give the decoder its schema "
            "(AlertDecoder(schema=...) or --schema).",
        )

    def layout_for_id(self, schema_id: int) -> AlertLayout:
        """Return the layout of wire-format schema id ``schema_id`` (registry, then Rubin ids).

        Raises
        ------
        AlertDecodeError
            If neither the registry nor Rubin's version ids know it.
        """
        layout = self._by_id.get(schema_id) or self._resolve_id(schema_id, fallback=False)
        if layout is None:  # cannot happen: without fallback _resolve_id raises
            raise AlertDecodeError("unknown-schema", f"unknown alert schema id {schema_id}")
        return layout

    def _resolve_id(self, schema_id: int, *, fallback: bool) -> AlertLayout | None:
        if self.registry is not None:
            try:
                schema = self.registry.get_schema(schema_id)
            except RegistryError as exc:
                if exc.error_code != _SCHEMA_NOT_FOUND:
                    raise
            else:
                layout = self._by_id[schema_id] = layout_of(schema, schema_id)
                return layout
        version = rubin_version_of_id(schema_id)
        if version is not None:
            layout = self._by_id[schema_id] = _packaged_rubin_layout(version)
            return layout
        if fallback:
            return None
        ids = f"{rubin_schema_id(rubin_versions()[0])}-{rubin_schema_id(rubin_versions()[-1])}"
        asked = (
            f"the registry at {self.registry.base_url} does not have it"
            if self.registry is not None
            else "no registry is configured (pass registry=URL or --registry)"
        )
        raise AlertDecodeError(
            "unknown-schema",
            f"unknown alert schema id {schema_id}: it is not one of Rubin's version ids "
            f"({ids}, major*100+minor) and {asked}",
        )

    def _container(self, data: bytes) -> tuple[AlertLayout, int, bytes]:
        for header, layout, codec in self._containers:
            if data.startswith(header):
                return (layout, *_first_datum(data, len(header) + _SYNC_SIZE, codec))
        metadata, header_end = _container_header(data)
        codec = metadata.get("avro.codec", b"null").decode()
        if codec not in ("null", "deflate"):
            raise AlertDecodeError(
                "unsupported",
                f"alert container uses codec {codec!r}; skystream reads 'null' and 'deflate'",
            )
        try:
            schema = AvroSchema.parse(metadata["avro.schema"])
        except (KeyError, SchemaError) as exc:
            raise AlertDecodeError(
                "corrupt", f"alert container has no valid schema in its header: {exc}"
            ) from exc
        layout = layout_of(schema)
        self._containers.append((data[:header_end], layout, codec))
        return (layout, *_first_datum(data, header_end + _SYNC_SIZE, codec))


def read_alert_file(path: str | Path) -> Iterator[Alert]:
    """Yield the alerts of an Avro container file (Rubin's or ZTF's), decoded.

    Each alert has its record and, as :attr:`Alert.raw`, its schemaless Avro
    bytes exactly as they sit in the file (ready for the wire format without
    encoding them again).

    Raises
    ------
    AlertDecodeError
        If the file is not an Avro container, holds no alert schema, or is
        cut short.
    """
    with open(path, "rb") as stream:
        try:
            blocks = fastavro.block_reader(stream)
            schema = AvroSchema.parse(blocks.metadata["avro.schema"])
        except Exception as exc:  # ValueError "not an avro file", EOFError, ...
            raise AlertDecodeError(
                "not-an-alert",
                f"{path} is not an Avro container file ({exc or type(exc).__name__}); "
                "alert files are what fastavro.writer / lsst-alert-packet write",
            ) from exc
        layout = layout_of(schema)
        parsed = schema.parsed
        try:
            for block in blocks:
                data = block.bytes_.getvalue()  # type: ignore[attr-defined]
                records = BytesIO(data)
                for _ in range(block.num_records):
                    start = records.tell()
                    record = fastavro.schemaless_reader(records, parsed, None)
                    if not isinstance(record, dict):
                        raise ValueError("not a record")
                    yield Alert(layout, data[start : records.tell()], 0, record)
        except (EOFError, ValueError, IndexError) as exc:
            raise AlertDecodeError(
                "corrupt", f"{path} is cut short or damaged: {exc or type(exc).__name__}"
            ) from exc


def _read_long(data: bytes, position: int) -> tuple[int, int]:
    """Read an Avro long (zig-zag varint) at ``position``; return it and the next position."""
    shift = 0
    result = 0
    while True:
        try:
            byte = data[position]
        except IndexError:
            raise AlertDecodeError("corrupt", "alert container is cut short") from None
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7


def _container_header(data: bytes) -> tuple[dict[str, bytes], int]:
    """Parse a container header's metadata map; return it and where the sync marker starts."""
    metadata: dict[str, bytes] = {}
    position = len(CONTAINER_MAGIC)
    while True:
        count, position = _read_long(data, position)
        if count == 0:
            break
        if count < 0:  # a block with its size in bytes
            count = -count
            _, position = _read_long(data, position)
        for _ in range(count):
            length, position = _read_long(data, position)
            key = data[position : position + length].decode("utf-8", "replace")
            position += length
            length, position = _read_long(data, position)
            metadata[key] = data[position : position + length]
            position += length
    if position + _SYNC_SIZE > len(data):
        raise AlertDecodeError("corrupt", "alert container header is cut short")
    return metadata, position


def _first_datum(data: bytes, position: int, codec: str) -> tuple[int, bytes]:
    """Find the one alert in a container's first block: its offset and the bytes to read."""
    count, position = _read_long(data, position)
    size, position = _read_long(data, position)
    if count != 1:
        raise AlertDecodeError(
            "not-an-alert",
            f"an alert message holds one alert; this container's first block holds {count} "
            "(read alert files with read_alert_file)",
        )
    if position + size > len(data):
        raise AlertDecodeError(
            "corrupt",
            f"alert container block is cut short: {size} bytes announced, "
            f"{len(data) - position} present",
        )
    if codec == "deflate":
        return 0, zlib.decompress(data[position : position + size], -15)
    return position, data
