"""Filled records, column by column: what becomes Python records or Avro bytes.

A survey model draws, for a chunk of alerts, the :class:`~.rules.Rows` of each
top-level record field; :class:`Nested` says which alert each record belongs
to. :meth:`Table.fill` runs the plan's fill rules over those rows and keeps
one typed numpy column per field (plus where it is null); a table turns into
a list of Python records (:meth:`Table.records`) or into the Avro encoding of
every record at once (:meth:`Table.encode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.encoding import encode_column, pack_rows
from skystream.alerts.synthetic.plan import RecordPlan
from skystream.alerts.synthetic.rules import Rows

__all__ = ["Nested", "Table", "as_column", "python_values"]

Array = NDArray[Any]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMPY_TYPES: dict[str, Any] = {
    "boolean": np.bool_,
    "int": np.int64,
    "long": np.int64,
    "timestamp-micros": np.int64,
    "float": np.float32,
    "double": np.float64,
}


@dataclass
class Nested:
    """Records for one top-level field of a chunk of alerts.

    ``rows`` holds the records of every alert that has one, in alert order;
    ``counts`` (arrays only) says how many belong to each alert; ``present``
    is false where the alert's field is null.
    """

    rows: Rows
    present: Array
    counts: Array | None = None


def as_column(kind: str, values: Any, n: int) -> Array:
    """Convert what a fill rule returned to a numpy column of ``n`` values of Avro ``kind``.

    Integers are rounded from floats; a scalar is broadcast to every row.
    """
    if kind in _NUMPY_TYPES:
        column = np.asarray(values)
        if kind in ("int", "long", "timestamp-micros") and column.dtype.kind == "f":
            column = np.rint(column)
        column = column.astype(_NUMPY_TYPES[kind], copy=False)
    elif kind == "string":
        column = np.asarray(values, dtype=np.str_)
    else:
        column = np.asarray(values, dtype=object)
    if column.shape != (n,):
        column = np.broadcast_to(column, (n,))
    return column


def python_values(kind: str, column: Array, null: Array | None) -> list[Any]:
    """Convert a column to Python values (``datetime`` for timestamps, ``None`` where null)."""
    values: list[Any] = column.tolist()
    if kind == "timestamp-micros":
        values = [_UNIX_EPOCH + timedelta(microseconds=micros) for micros in values]
    if null is not None:
        for index in np.flatnonzero(null).tolist():
            values[index] = None
    return values


@dataclass
class Table:
    """Filled columns of ``n`` records of one type."""

    plan: RecordPlan
    n: int
    columns: list[Array]
    nulls: list[Array | None]

    @classmethod
    def fill(cls, plan: RecordPlan, rows: Rows) -> Table:
        """Run every field's fill rule over ``rows``."""
        columns: list[Array] = []
        nulls: list[Array | None] = []
        for leaf in plan.fields:
            values = leaf.fill(rows)
            if values is None:  # a field left null in every record
                columns.append(as_column(leaf.kind, 0, rows.n))
                nulls.append(np.ones(rows.n, dtype=bool))
            else:
                columns.append(as_column(leaf.kind, values, rows.n))
                nulls.append(rows.null_mask(leaf.name, leaf.nullable))
        return cls(plan, rows.n, columns, nulls)

    def records(self) -> list[dict[str, Any]]:
        """Return the records as dictionaries, as ``fastavro`` reads them."""
        names = [leaf.name for leaf in self.plan.fields]
        values = [
            python_values(leaf.kind, column, null)
            for leaf, column, null in zip(self.plan.fields, self.columns, self.nulls, strict=True)
        ]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]

    def encode(self) -> tuple[bytes, Array]:
        """Avro-encode every record at once: (concatenated bytes, offsets of each record)."""
        segments: list[tuple[Array, Array | None]] = []
        for leaf, column, null in zip(self.plan.fields, self.columns, self.nulls, strict=True):
            if leaf.nullable:
                branch = np.full(self.n, 2, dtype=np.uint8)
                if null is not None:
                    branch[null] = 0
                segments.append((branch[:, None], None))
            for matrix, lengths in encode_column(leaf.kind, column):
                if null is not None:
                    lengths = np.where(null, 0, matrix.shape[1] if lengths is None else lengths)
                segments.append((matrix, lengths))
        return pack_rows(segments, self.n)
