"""``CrossmatchProcessor``: cone-match alerts against a catalogue, a batch at a time.

The catalogue (CSV, Parquet or FITS; see
:meth:`~skystream.processors.catalogue.Catalogue.from_file`) is loaded and
indexed once, when the step is built; each batch is then one vectorised search
of the alerts' positions. In a spec::

    - name: nearby-galaxies
      class: CrossmatchProcessor          # or Crossmatch
      params:
        catalogue: galaxies.parquet       # relative to the spec's folder
        radius_arcsec: 2.0
        nearest: true                     # false: every source in the radius
        columns: [redshift, morphology]   # copied into the annotations
        mode: annotate                    # or keep_matched, drop_matched

Each matched alert is annotated, under the step's name, with a list of matches
in the shape of the LSST:UK seed's ``CandidateMatch``::

    {"nearby-galaxies": [{"alert_id": 1, "ra": 10.0, "dec": -5.0,
                          "catalogue": "galaxies", "source_id": 42,
                          "source_ra": 10.0003, "source_dec": -5.0,
                          "distance_arcsec": 1.08, "redshift": 0.02, ...}]}

An alert without a match gets no annotation.

The step declares the Avro type of its annotations
(:attr:`CrossmatchProcessor.annotation_schema`): an array of ``CandidateMatch``
records whose ``source_id`` and extra columns have the catalogue's own types
(a long or a string id, a double magnitude...), so that sinks writing Avro
(the Kafka sink's annotated alerts) keep them typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from skystream.exceptions import ConfigurationError
from skystream.pipeline.names import register
from skystream.pipeline.processor import (
    Annotations,
    BatchResult,
    Verdict,
    annotation_field_name,
    validate_params,
)
from skystream.processors.catalogue import Catalogue, Matches

if TYPE_CHECKING:
    from skystream.alerts.model import Alert
    from skystream.pipeline.spec import BuildContext

__all__ = ["CrossmatchProcessor", "Mode"]

#: What the step answers: ``annotate`` passes every alert; ``keep_matched``
#: passes only alerts with a match; ``drop_matched`` skips them.
Mode = Literal["annotate", "keep_matched", "drop_matched"]

#: Keys every match carries; extra columns may not reuse them.
MATCH_KEYS = (
    "alert_id",
    "ra",
    "dec",
    "catalogue",
    "source_id",
    "source_ra",
    "source_dec",
    "distance_arcsec",
)

# The Avro types and meanings of the keys every match carries (source_id's type
# comes from the catalogue).
_MATCH_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("alert_id", "long", "The alert's id."),
    ("ra", "double", "The alert's right ascension, degrees."),
    ("dec", "double", "The alert's declination, degrees."),
    ("catalogue", "string", "The catalogue's name."),
    ("source_id", None, "The source's id in the catalogue."),
    ("source_ra", "double", "The source's right ascension, degrees."),
    ("source_dec", "double", "The source's declination, degrees."),
    ("distance_arcsec", "double", "Angular distance from the alert to the source, arcsec."),
)


@register("CrossmatchProcessor", kind="processor")
class CrossmatchProcessor:
    """Match each alert's position with the sources of a catalogue within a radius.

    Parameters
    ----------
    name
        The step's name; annotations are filed under it.
    catalogue
        A :class:`~skystream.processors.catalogue.Catalogue`, or the path of a
        CSV, Parquet or FITS file to load one from.
    radius_arcsec
        The search radius.
    nearest
        ``True`` (default): the nearest source only; ``False``: every source
        within the radius, nearest first.
    id_column, ra_column, dec_column
        Column names in the file (when ``catalogue`` is a path).
    columns
        Extra catalogue columns to copy into each match.
    mode
        ``annotate`` (default: PASS every alert), ``keep_matched`` (PASS only
        alerts with a match) or ``drop_matched`` (SKIP alerts with a match).
    catalogue_name
        What matches call the catalogue; default: the file's stem.

    Attributes
    ----------
    counts
        Running counts for summaries: ``matched`` (alerts with a match) and
        ``matches`` (matches found).

    Raises
    ------
    ConfigurationError
        For bad parameters, a missing file or column.
    """

    class Params(BaseModel):
        """What a spec may set."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        catalogue: str = Field(min_length=1)
        radius_arcsec: float = Field(gt=0.0, le=180.0 * 3600.0)
        nearest: bool = True
        id_column: str = "id"
        ra_column: str = "ra"
        dec_column: str = "dec"
        columns: list[str] = []
        mode: Mode = "annotate"
        catalogue_name: str | None = None

    fields: frozenset[str] = frozenset({"alert_id", "ra", "dec"})

    def __init__(
        self,
        name: str | None = None,
        *,
        catalogue: Catalogue | str | Path,
        radius_arcsec: float,
        nearest: bool = True,
        id_column: str = "id",
        ra_column: str = "ra",
        dec_column: str = "dec",
        columns: Sequence[str] = (),
        mode: Mode = "annotate",
        catalogue_name: str | None = None,
    ) -> None:
        params = validate_params(
            self.Params,
            {
                "catalogue": str(catalogue) if isinstance(catalogue, str | Path) else "<in memory>",
                "radius_arcsec": radius_arcsec,
                "nearest": nearest,
                "id_column": id_column,
                "ra_column": ra_column,
                "dec_column": dec_column,
                "columns": list(columns),
                "mode": mode,
                "catalogue_name": catalogue_name,
            },
            "CrossmatchProcessor",
        )
        clashes = sorted(set(params.columns) & set(MATCH_KEYS))
        if clashes:
            raise ConfigurationError(
                f"CrossmatchProcessor: columns {clashes} clash with the keys every match has "
                f"({', '.join(MATCH_KEYS)}); the source's id and position are already there"
            )
        if isinstance(catalogue, Catalogue):
            missing = [c for c in params.columns if c not in catalogue.columns]
            if missing:
                raise ConfigurationError(
                    f"CrossmatchProcessor: catalogue {catalogue.name!r} has no column "
                    f"{', '.join(map(repr, missing))}; its columns are "
                    f"{', '.join(map(repr, catalogue.columns)) or 'none beyond id, ra, dec'}"
                )
            loaded = catalogue
        else:
            loaded = Catalogue.from_file(
                catalogue,
                id_column=params.id_column,
                ra_column=params.ra_column,
                dec_column=params.dec_column,
                columns=params.columns,
            )
        self.name = name or "CrossmatchProcessor"
        self.catalogue = loaded
        self.catalogue_name = params.catalogue_name or loaded.name
        self.radius_arcsec = params.radius_arcsec
        self.nearest = params.nearest
        self.mode: Mode = params.mode
        self.columns: tuple[str, ...] = tuple(params.columns)
        self.counts: dict[str, int] = {"matched": 0, "matches": 0}
        loaded.index(self.radius_arcsec)  # built now, not on the first batch

    @classmethod
    def from_spec(cls, params: Mapping[str, Any], context: BuildContext) -> CrossmatchProcessor:
        """Build from a spec's params; a relative ``catalogue`` is taken from the spec's folder."""
        checked = validate_params(cls.Params, dict(params), "CrossmatchProcessor")
        path = Path(checked.catalogue).expanduser()
        if not path.is_absolute() and context.spec_dir is not None:
            path = context.spec_dir / path
        values = checked.model_dump()
        values["catalogue"] = path
        return cls(context.step or None, **values)

    @property
    def annotation_schema(self) -> dict[str, Any]:
        """The Avro type of this step's annotations: an array of ``CandidateMatch`` records.

        ``source_id`` and the extra columns take the catalogue's types
        (integers: ``long``; floats: ``double``; text: ``string``; booleans:
        ``boolean``; a column with missing values: a union with ``null``).
        The record's namespace holds the step's name
        (``skystream.crossmatch.<step>``), so two cross-match steps never clash.

        Raises
        ------
        ConfigurationError
            If a column's type has no Avro counterpart (dates, say) or its name
            is no Avro name.
        """
        catalogue = self.catalogue
        fields: list[dict[str, Any]] = []
        for key, avro_type, doc in _MATCH_FIELDS:
            if avro_type is None:
                avro_type = _avro_type(catalogue.ids, f"catalogue {catalogue.name!r} ids")
            fields.append({"name": key, "type": avro_type, "doc": doc})
        for column in self.columns:
            if annotation_field_name(column) != column:
                raise ConfigurationError(
                    f"CrossmatchProcessor {self.name!r}: column {column!r} is not a valid Avro "
                    "field name (letters, digits and _, not starting with a digit), so its "
                    "matches cannot be written as Avro; rename the column in the catalogue"
                )
            avro_type = _avro_type(
                catalogue.columns[column], f"catalogue {catalogue.name!r} column {column!r}"
            )
            fields.append({"name": column, "type": avro_type, "doc": f"Catalogue column {column}."})
        return {
            "type": "array",
            "items": {
                "type": "record",
                "name": "CandidateMatch",
                "namespace": f"skystream.crossmatch.{annotation_field_name(self.name)}",
                "doc": f"A source of {self.catalogue_name!r} near the alert.",
                "fields": fields,
            },
        }

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        """Match the batch's positions at once; annotate and answer per ``mode``."""
        count = len(alerts)
        ra = np.fromiter((_position(alert.get("ra")) for alert in alerts), np.float64, count)
        dec = np.fromiter((_position(alert.get("dec")) for alert in alerts), np.float64, count)
        matches = self.catalogue.match(ra, dec, self.radius_arcsec, nearest=self.nearest)
        matched = matches.counts(count) > 0
        self.counts["matched"] += int(matched.sum())
        self.counts["matches"] += len(matches)
        annotations = self._annotations(alerts, ra, dec, matches) if len(matches) else None
        if self.mode == "annotate":
            verdicts = [Verdict.PASS] * count
        else:
            keep = self.mode == "keep_matched"
            verdicts = [Verdict.PASS if m is keep else Verdict.SKIP for m in matched.tolist()]
        return BatchResult(verdicts, annotations)

    def _annotations(
        self,
        alerts: Sequence[Alert],
        ra: np.ndarray[Any, Any],
        dec: np.ndarray[Any, Any],
        matches: Matches,
    ) -> list[Annotations | None]:
        catalogue = self.catalogue
        rows = matches.row
        queries = matches.query.tolist()
        # Plain Python values (JSON-able), taken column by column for the matched rows.
        values = {
            "source_id": catalogue.ids[rows].tolist(),
            "source_ra": catalogue.ra[rows].tolist(),
            "source_dec": catalogue.dec[rows].tolist(),
            "distance_arcsec": matches.distance_arcsec.tolist(),
            **{column: catalogue.columns[column][rows].tolist() for column in self.columns},
        }
        found: dict[int, list[dict[str, Any]]] = {}
        for position, query in enumerate(queries):
            alert = alerts[query]
            match = {
                "alert_id": alert.get("alert_id"),
                "ra": float(ra[query]),
                "dec": float(dec[query]),
                "catalogue": self.catalogue_name,
            }
            match.update({key: column[position] for key, column in values.items()})
            found.setdefault(query, []).append(match)
        name = self.name
        return [{name: found[index]} if index in found else None for index in range(len(alerts))]

    def __repr__(self) -> str:
        return (
            f"CrossmatchProcessor(name={self.name!r}, catalogue={self.catalogue!r}, "
            f"radius_arcsec={self.radius_arcsec}, nearest={self.nearest}, mode={self.mode!r})"
        )


register("Crossmatch", kind="processor")(CrossmatchProcessor)


def _avro_type(values: np.ndarray[Any, Any], what: str) -> Any:
    """Return the Avro type of a catalogue column's values (as ``tolist()`` gives them)."""
    kind = values.dtype.kind
    simple = {"b": "boolean", "i": "long", "u": "long", "f": "double", "U": "string", "S": "bytes"}
    if kind in simple:
        return simple[kind]
    if kind == "O":  # text with missing values, from Parquet or CSV
        present = [v for v in values.tolist() if v is not None]
        kinds = {_python_avro_type(v) for v in present}
        if kinds == {"long", "double"}:
            kinds = {"double"}
        if len(kinds) <= 1 and None not in kinds:
            found = kinds.pop() if kinds else "string"
            return ["null", found] if len(present) < len(values) else found
    raise ConfigurationError(
        f"CrossmatchProcessor: {what} holds {values.dtype} values, which have no Avro type "
        "for annotations; copy only numeric, text or boolean columns (columns: [...])"
    )


def _python_avro_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    return None


def _position(value: Any) -> float:
    """Return an alert coordinate as a float; NaN (never matched) when absent."""
    return float("nan") if value is None else float(value)
