"""``ParquetWriter``: selected alert fields and annotations as Parquet, by night.

Each flush writes one Parquet file per observing night (and, when the runner
passes positions, per input partition) under ``DIRECTORY/night=YYYYMMDD/``,
so ``pyarrow.parquet.read_table(DIRECTORY)`` reads every row back, with the
night as a column. The night is the date the night began at the observatory
(:func:`~skystream.processors.sinks.files.observing_night`: for Rubin, its
``dayObs``). Files appear whole, under names that make a replay replace them
instead of duplicating rows (see :mod:`skystream.processors.sinks.files`).

Columns are :data:`~skystream.alerts.UNIFORM_FIELDS` (one type each: ids
``int64``, except ZTF's ``object_id``/``sso_id``, which are strings; positions,
times, fluxes and magnitudes ``float64``; ``band`` and ``sso_name`` strings),
then the annotation keys asked for, one column each (``null`` where an alert
lacks the key). A dotted key reaches into a step's annotation: the
``catalogue`` step of a cross-match annotates a list of matches, so
``catalogue.source_id`` is the first (nearest) match's source id, in a column
named ``catalogue_source_id``. Annotation types are declared
(``{key: float64}``) or inferred per file; declare them when a key can be
missing from a whole batch.

In a spec::

    - class: ParquetWriter           # or ParquetFileWriter
      params:
        directory: out/parquet       # relative to the spec file
        columns: [alert_id, ra, dec, mjd, band, mag]
        annotations: {catalogue.source_id: int64, catalogue.distance_arcsec: float64}
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skystream.alerts.model import UNIFORM_FIELDS
from skystream.exceptions import ConfigurationError, EncodeError
from skystream.pipeline.names import register
from skystream.pipeline.processor import Annotations
from skystream.processors.sinks.files import _FileSink, observing_night

if TYPE_CHECKING:
    from skystream.alerts.model import Alert

__all__ = ["DEFAULT_COLUMNS", "ColumnType", "ParquetWriter", "annotation_column"]

#: The columns written when a spec names none.
DEFAULT_COLUMNS = (
    "alert_id",
    "object_id",
    "ra",
    "dec",
    "mjd",
    "band",
    "flux",
    "flux_err",
    "mag",
    "snr",
    "sso_id",
)

#: The Parquet types an annotation column may be declared with.
ColumnType = Literal["float64", "int64", "string", "bool"]

_Kind = Literal["int", "float", "string", "id"]
_KINDS: dict[str, _Kind] = {
    "alert_id": "int",
    "object_id": "id",
    "ra": "float",
    "dec": "float",
    "mjd": "float",
    "band": "string",
    "flux": "float",
    "flux_err": "float",
    "mag": "float",
    "mag_err": "float",
    "snr": "float",
    "sso_id": "id",
    "sso_name": "string",
    "sso_distance_arcsec": "float",
    "sso_mag": "float",
}
# Object and solar-system ids are numbers at Rubin and names at ZTF.
_ID_KINDS: dict[str, _Kind] = {"rubin": "int", "ztf": "string"}
_ARROW_TYPES: dict[str, str] = {"int": "int64", "float": "float64", "string": "string"}
_NIGHT_COLUMN = "night"


def _column_problem(columns: Sequence[str], annotations: Sequence[str]) -> str | None:
    """Say what is wrong with a choice of columns, or ``None``."""
    if not columns:
        return f"columns must name at least one alert field, such as {list(DEFAULT_COLUMNS[:4])}"
    unknown = [name for name in columns if name not in _KINDS]
    if unknown:
        return (
            f"unknown column(s) {', '.join(map(repr, unknown))}: columns are alert fields, "
            f"one of {', '.join(UNIFORM_FIELDS)}"
        )
    names = [*columns, *(annotation_column(key) for key in annotations)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return (
            f"column(s) {', '.join(map(repr, twice))} named twice: list each once, and give "
            "annotations names that are not alert fields"
        )
    if _NIGHT_COLUMN in names:
        return f"{_NIGHT_COLUMN!r} is the partitioning column (night=YYYYMMDD): choose another name"
    if any(not name for name in annotations):
        return "annotation keys must be non-empty"
    return None


@register("ParquetWriter", kind="sink")
@register("ParquetFileWriter", kind="sink")
class ParquetWriter(_FileSink):
    """Write selected fields of passing alerts, and annotations, as Parquet by night.

    Parameters
    ----------
    directory
        Where the ``night=YYYYMMDD`` directories go (created when missing).
    columns
        Alert fields to write, in order (default :data:`DEFAULT_COLUMNS`).
    annotations
        Annotation keys to write as columns after them: a list (types
        inferred per file) or a mapping of key to :data:`ColumnType`.
    compression
        Parquet compression codec.
    name
        The step's name in counts and dead letters (default ``ParquetWriter``).

    Examples
    --------
    >>> writer = ParquetWriter("out", columns=["alert_id", "ra", "dec", "mjd"])  # doctest: +SKIP
    >>> writer.add(alerts, [None] * len(alerts)); writer.flush()               # doctest: +SKIP
    >>> pyarrow.parquet.read_table("out").num_rows == len(alerts)              # doctest: +SKIP
    True
    """

    suffix = ".parquet"

    class Params(BaseModel):
        """What a spec may set."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        directory: str = Field(
            min_length=1, description="Output directory (relative: to the spec file)."
        )
        columns: list[str] = Field(
            default=list(DEFAULT_COLUMNS), description="Alert fields to write, in order."
        )
        annotations: list[str] | dict[str, ColumnType] = Field(
            default_factory=list, description="Annotation keys to write (with types, optionally)."
        )
        compression: Literal["zstd", "snappy", "gzip", "none"] = Field(
            default="zstd", description="Parquet compression codec."
        )

        @field_validator("annotations")
        @classmethod
        def _check_annotations(
            cls, value: list[str] | dict[str, ColumnType]
        ) -> list[str] | dict[str, ColumnType]:
            if any(not key for key in value):
                raise ValueError("annotation keys must be non-empty")
            return value

        @model_validator(mode="after")
        def _check_columns(self) -> ParquetWriter.Params:
            problem = _column_problem(self.columns, list(self.annotations))
            if problem is not None:
                raise ValueError(problem)
            return self

    def __init__(
        self,
        directory: str | Path,
        *,
        columns: Sequence[str] = DEFAULT_COLUMNS,
        annotations: Sequence[str] | Mapping[str, ColumnType] = (),
        compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd",
        name: str | None = None,
    ) -> None:
        super().__init__(directory, name or "ParquetWriter", None)
        self.columns = tuple(columns)
        declared = dict(annotations) if isinstance(annotations, Mapping) else {}
        self.annotations = tuple(annotations)
        problem = _column_problem(self.columns, self.annotations)
        if problem is not None:
            raise ConfigurationError(f"{self.name}: {problem}")
        unknown_types = {k: v for k, v in declared.items() if v not in _COLUMN_TYPES}
        if unknown_types:
            raise ConfigurationError(
                f"{self.name}: unknown annotation type(s) {unknown_types}: use one of "
                f"{', '.join(_COLUMN_TYPES)}"
            )
        self.annotation_types: dict[str, ColumnType] = declared
        self.compression = compression
        self.survey: str | None = None
        """The survey of the alerts written (one per sink: its ids decide column types)."""
        self._inferred: dict[str, Any] = {}

    def _entry_payload(self, alert: Alert, annotations: Annotations | None) -> tuple[Hashable, Any]:
        survey = alert.survey
        if self.survey is None:
            self.survey = survey
        elif survey != self.survey:
            raise ConfigurationError(
                f"this {survey} alert cannot join the {self.survey} alerts in "
                f"{self.directory}: give each survey its own ParquetWriter "
                "(their ids differ in type)"
            )
        row: list[Any] = []
        for column in self.columns:
            kind = _KINDS[column]
            if kind == "id":
                kind = _ID_KINDS.get(survey, "int")
            row.append(_checked(column, kind, alert.get(column)))
        notes = annotations or {}
        row.extend(_plain(_annotation_value(notes, key)) for key in self.annotations)
        return observing_night(alert.mjd, survey), tuple(row)

    def _subdirectory(self, group: Hashable) -> str | None:
        return f"{_NIGHT_COLUMN}={group}"

    # -- writing files ----------------------------------------------------------------
    def _write(self, path: Path, group: Hashable, payloads: Sequence[Any], stem: str) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        values = list(zip(*payloads, strict=True))
        arrays: list[Any] = []
        names: list[str] = []
        survey = self.survey or "rubin"
        for index, column in enumerate(self.columns):
            kind = _KINDS[column]
            if kind == "id":
                kind = _ID_KINDS.get(survey, "int")
            arrow_type = getattr(pa, _ARROW_TYPES[kind])()
            arrays.append(pa.array(values[index], type=arrow_type))
            names.append(column)
        for offset, key in enumerate(self.annotations):
            column_values = values[len(self.columns) + offset]
            arrays.append(self._annotation_array(pa, key, column_values))
            names.append(annotation_column(key))
        table = pa.Table.from_arrays(arrays, names=names)
        pq.write_table(table, path, compression=self.compression)

    def _annotation_array(self, pa: Any, key: str, values: Sequence[Any]) -> Any:
        declared = self.annotation_types.get(key)
        try:
            if declared is not None:
                return pa.array(values, type=getattr(pa, declared)())
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            wanted = f" as {declared}" if declared else ""
            raise EncodeError(
                f"annotation {key!r} cannot be written{wanted}: {exc}; its values must share "
                "one type (declare it, e.g. annotations: {" + key + ": float64})"
            ) from exc
        if pa.types.is_null(array.type):
            # A key missing from a whole file still needs a type files agree on:
            # the one seen before, else float64 (declare it to be sure).
            return pa.array(values, type=self._inferred.get(key, pa.float64()))
        self._inferred.setdefault(key, array.type)
        return array

    def __repr__(self) -> str:
        return f"ParquetWriter(directory={str(self.directory)!r}, name={self.name!r})"


_COLUMN_TYPES: tuple[ColumnType, ...] = ("float64", "int64", "string", "bool")


def annotation_column(key: str) -> str:
    """Return the column of an annotation key (``catalogue.source_id``: ``catalogue_source_id``)."""
    return key.replace(".", "_")


def _annotation_value(notes: Annotations, key: str) -> Any:
    """Read ``key`` from an alert's annotations; a dotted key walks into them.

    Each part after the first looks up a mapping; a list on the way stands
    for its first item (a cross-match lists the nearest match first).
    """
    if key in notes:
        return notes[key]
    value: Any = notes
    for part in key.split("."):
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _checked(column: str, kind: _Kind, value: Any) -> Any:
    """Return ``value`` as the column's Python type, or raise naming the column."""
    if value is None:
        if column == "alert_id":
            raise EncodeError("alert_id is missing: every row needs an id")
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
    elif not isinstance(value, bool):
        try:
            if kind == "float":
                return float(value)
            number = int(value)
            if number == value:  # no fraction lost (an integral float, a numpy int)
                return number
        except (TypeError, ValueError, OverflowError):
            pass
    raise EncodeError(f"{column}={value!r} is not a {_ARROW_TYPES[kind]} value")


def _plain(value: Any) -> Any:
    """Numpy scalars as Python values (pyarrow infers types from Python values)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    return value
