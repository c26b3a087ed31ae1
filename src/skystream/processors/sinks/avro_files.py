"""``AvroFileWriter``: the alerts that passed, whole, as Avro container files.

Each file holds up to ``max_alerts_per_file`` alerts of one schema (alerts of
different schema versions go to different files), each record exactly as the
alert's own schema has it, so ``fastavro.reader`` and
:func:`skystream.alerts.read_alert_file` read the files back. Files appear
whole, under names that make a replay replace them instead of duplicating
alerts (see :mod:`skystream.processors.sinks.files`); a file's sync marker
follows from its name, so a replay writes the same bytes.

Annotations, when any alert of a file has some, are kept in the file's
header, not in the records (whose schema stays the survey's): the metadata
key ``skystream.annotations`` holds a JSON list with one entry per record, in
record order (``null`` for a record without annotations)::

    with open(path, "rb") as stream:
        reader = fastavro.reader(stream)
        notes = json.loads(reader.metadata.get(ANNOTATIONS_METADATA, "null"))

In a spec::

    - class: AvroFileWriter
      params:
        directory: out/alerts        # relative to the spec file
        max_alerts_per_file: 10000
        codec: deflate
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import fastavro
from pydantic import BaseModel, ConfigDict, Field

from skystream.exceptions import ConfigurationError
from skystream.pipeline.names import register
from skystream.pipeline.processor import Annotations
from skystream.processors.sinks.files import _FileSink
from skystream.processors.sinks.kafka import annotations_json

if TYPE_CHECKING:
    from skystream.alerts.model import Alert
    from skystream.schemas.avro import AvroSchema

__all__ = ["ANNOTATIONS_METADATA", "AvroFileWriter", "read_annotations"]

#: The container-file metadata key holding the records' annotations (a JSON list).
ANNOTATIONS_METADATA = "skystream.annotations"

Codec = Literal["null", "deflate"]


@register("AvroFileWriter", kind="sink")
class AvroFileWriter(_FileSink):
    """Write passing alerts, whole, to Avro container files.

    Parameters
    ----------
    directory
        Where the files go (created when missing).
    max_alerts_per_file
        Most alerts in one file; a flush writes as many files as it needs.
    codec
        ``"null"`` (no compression) or ``"deflate"``.
    name
        The step's name in counts and dead letters (default ``AvroFileWriter``).

    Examples
    --------
    >>> writer = AvroFileWriter("out/alerts", codec="deflate")   # doctest: +SKIP
    >>> writer.add(alerts, [None] * len(alerts)); writer.flush() # doctest: +SKIP
    """

    suffix = ".avro"

    class Params(BaseModel):
        """What a spec may set."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        directory: str = Field(
            min_length=1, description="Output directory (relative: to the spec file)."
        )
        max_alerts_per_file: int = Field(default=10_000, ge=1, description="Most alerts a file.")
        codec: Codec = Field(default="null", description="Block compression: null or deflate.")

    def __init__(
        self,
        directory: str | Path,
        *,
        max_alerts_per_file: int = 10_000,
        codec: Codec = "null",
        name: str | None = None,
    ) -> None:
        super().__init__(directory, name or "AvroFileWriter", max_alerts_per_file)
        if codec not in ("null", "deflate"):
            raise ConfigurationError(
                f"{self.name}: codec {codec!r} is not supported: use 'null' or 'deflate'"
            )
        self.codec: Codec = codec
        self.max_alerts_per_file = max_alerts_per_file
        self._schemas: dict[str, AvroSchema] = {}

    def _entry_payload(self, alert: Alert, annotations: Annotations | None) -> tuple[Hashable, Any]:
        schema = alert.layout.schema
        key = schema.canonical
        self._schemas.setdefault(key, schema)
        notes = annotations_json(annotations).decode() if annotations else None
        return key, (alert.record, notes)  # the full decode: a damaged alert fails here

    def _write(self, path: Path, group: Hashable, payloads: Sequence[Any], stem: str) -> None:
        schema = self._schemas[str(group)]
        records = [record for record, _ in payloads]
        notes = [note for _, note in payloads]
        metadata: dict[str, str] = {}
        if any(note is not None for note in notes):
            listed = ",".join("null" if note is None else note for note in notes)
            metadata[ANNOTATIONS_METADATA] = f"[{listed}]"
        marker = hashlib.blake2b(stem.encode(), digest_size=16).digest()
        with open(path, "wb") as stream:
            fastavro.writer(
                stream,
                schema.parsed,
                records,
                codec=self.codec,
                metadata=metadata,
                sync_marker=marker,
            )

    def __repr__(self) -> str:
        return f"AvroFileWriter(directory={str(self.directory)!r}, name={self.name!r})"


def read_annotations(path: str | Path) -> list[Annotations | None] | None:
    """Return the annotations an :class:`AvroFileWriter` file keeps, one per record.

    ``None`` when no record of the file had annotations.
    """
    with open(path, "rb") as stream:
        reader = fastavro.reader(stream)
        text = reader.metadata.get(ANNOTATIONS_METADATA)
    if text is None:
        return None
    notes: list[Annotations | None] = json.loads(text)
    return notes
