"""Alerts chunk by chunk: as Python records, as Avro bytes, or as a container file.

This is where the parts meet. :func:`chunks` compiles the survey's plan, runs
its model over consecutive chunks of alerts and fills every record table;
:func:`alert_records` turns a chunk into the dictionaries ``fastavro`` would
read, and :func:`encoded_alerts` into each alert's Avro encoding, built from
the tables' column-wise encodings. :func:`write_container` writes the encoded
alerts to an Avro container file, byte-for-byte as ``fastavro.writer`` would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
import numpy as np

from skystream.alerts.schemas import Survey, rubin_schema, ztf_schema
from skystream.alerts.synthetic.encoding import encode_long, encode_value, write_blocks
from skystream.alerts.synthetic.plan import AlertPlan, TopField, compile_plan
from skystream.alerts.synthetic.rubin import RubinModel
from skystream.alerts.synthetic.rubin_rules import rubin_rule
from skystream.alerts.synthetic.rules import Fill, Rows
from skystream.alerts.synthetic.settings import GenerationSettings
from skystream.alerts.synthetic.survey import SurveyModel
from skystream.alerts.synthetic.tables import Nested, Table, as_column
from skystream.alerts.synthetic.ztf import ZtfModel
from skystream.alerts.synthetic.ztf_rules import ztf_rule

__all__ = [
    "Chunk",
    "alert_plan",
    "alert_records",
    "chunks",
    "encoded_alerts",
    "header_schema",
    "write_container",
]

# Alerts generated together: large enough to vectorise well, small enough that
# the cutout arrays of a chunk stay around 40 MB.
_CHUNK_ALERTS = 256
_CHUNK_PIXELS = 2_500_000


@cache
def alert_plan(survey: Survey, version: str) -> AlertPlan:
    """Compile (once) the filling plan of the survey's alert schema of ``version``."""
    if survey == "rubin":
        return compile_plan(rubin_schema(version).definition, rubin_rule)
    return compile_plan(ztf_schema().definition, ztf_rule)


@dataclass
class Chunk:
    """One chunk of alerts, filled: per top-level field, its values for every alert."""

    count: int
    alert: Rows
    tables: dict[str, Table]
    nested: dict[str, Nested]


def chunks(settings: GenerationSettings) -> Iterator[Chunk]:
    """Generate the alerts of ``settings`` in chunks, drawing everything from one generator."""
    plan = alert_plan(settings.survey, settings.version)
    rng = np.random.Generator(np.random.PCG64(settings.seed))
    model: SurveyModel = (RubinModel if settings.survey == "rubin" else ZtfModel)(
        settings, plan, rng
    )
    step = max(1, min(_CHUNK_ALERTS, _CHUNK_PIXELS // settings.cutout_pixels**2))
    for start in range(0, settings.count, step):
        stop = min(start + step, settings.count)
        alert, nested = model.chunk(start, stop)
        tables = {
            top.name: Table.fill(top.record, nested[top.name].rows)
            for top in plan.fields
            if top.record is not None
        }
        yield Chunk(stop - start, alert, tables, nested)


def _scalar_values(top: TopField, fill: Fill, chunk: Chunk) -> list[Any] | None:
    """Values of a top-level scalar for every alert of the chunk; ``None`` if it stays null."""
    values = fill(chunk.alert)
    if values is None:
        return None
    result: list[Any] = as_column(top.kind, values, chunk.count).tolist()
    return result


def alert_records(settings: GenerationSettings) -> Iterator[dict[str, Any]]:
    """Yield the alerts of ``settings`` as dictionaries, as ``fastavro`` reads them."""
    plan = alert_plan(settings.survey, settings.version)
    names = [top.name for top in plan.fields]
    for chunk in chunks(settings):
        columns: list[list[Any]] = []
        for top in plan.fields:
            if top.fill is not None:  # a scalar
                values = _scalar_values(top, top.fill, chunk)
                columns.append([None] * chunk.count if values is None else values)
            elif top.shape == "cutout":
                columns.append(
                    [
                        {"fileName": name, "stampData": data} if name is not None else None
                        for name, data in chunk.alert[top.name]
                    ]
                )
            else:
                columns.append(_nested_values(chunk.tables[top.name], chunk.nested[top.name]))
        for row in zip(*columns, strict=True):
            yield dict(zip(names, row, strict=True))


def _nested_values(table: Table, nested: Nested) -> list[Any]:
    records = iter(table.records())
    counts = iter(nested.counts.tolist()) if nested.counts is not None else None
    values: list[Any] = []
    for present in nested.present.tolist():
        if not present:
            values.append(None)
        elif counts is None:
            values.append(next(records))
        else:
            values.append([next(records) for _ in range(next(counts))])
    return values


def encoded_alerts(settings: GenerationSettings) -> Iterator[bytes]:
    """Yield the Avro encoding of each alert of ``settings`` (as ``schemaless_writer`` writes)."""
    plan = alert_plan(settings.survey, settings.version)
    for chunk in chunks(settings):
        columns: list[list[bytes]] = []
        for top in plan.fields:
            prefix = b"\x02" if top.nullable else b""
            if top.fill is not None:  # a scalar
                values = _scalar_values(top, top.fill, chunk)
                columns.append(
                    [b"\x00"] * chunk.count
                    if values is None
                    else [prefix + encode_value(top.kind, value) for value in values]
                )
            elif top.shape == "cutout":
                columns.append(
                    [
                        prefix + encode_value("string", name) + encode_value("bytes", data)
                        for name, data in chunk.alert[top.name]
                    ]
                )
            else:
                columns.append(_nested_bytes(top, chunk.tables[top.name], chunk.nested[top.name]))
        for parts in zip(*columns, strict=True):
            yield b"".join(parts)


def _nested_bytes(top: TopField, table: Table, nested: Nested) -> list[bytes]:
    data, offsets = table.encode()
    view = memoryview(data)
    prefix = b"\x02" if top.nullable else b""
    counts = iter(nested.counts.tolist()) if nested.counts is not None else None
    starts = offsets.tolist()
    out: list[bytes] = []
    row = 0
    for present in nested.present.tolist():
        if not present:
            out.append(b"\x00")
            continue
        count = 1 if counts is None else next(counts)
        body = view[starts[row] : starts[row + count]]
        if counts is None:
            out.append(prefix + body)
        elif count == 0:
            out.append(prefix + b"\x00")
        else:
            out.append(b"".join((prefix, encode_long(count), body, b"\x00")))
        row += count
    return out


def header_schema(settings: GenerationSettings) -> Any:
    """Return the schema the container header embeds: the survey's, its keys sorted.

    ``fastavro`` orders some keys of a parsed schema by set iteration, which
    changes with Python's hash seed; sorted keys make the header, and so the
    file, the same in every process.
    """
    return json.loads(settings.schema.canonical)


def write_container(path: Path, settings: GenerationSettings) -> None:
    """Write the alerts of ``settings`` to an uncompressed Avro container file at ``path``.

    The file is what ``fastavro.writer`` writes for :func:`header_schema`, the
    alerts and :attr:`~.GenerationSettings.sync_marker`.
    """
    marker = settings.sync_marker
    with path.open("wb") as out:
        fastavro.writer(out, header_schema(settings), [], codec="null", sync_marker=marker)
        write_blocks(out, encoded_alerts(settings), marker)
