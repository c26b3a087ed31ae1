"""Catalogues for cross-matching: sources loaded once, a zone index, batch cone searches.

A :class:`Catalogue` holds source ids, positions and any extra columns, read
from CSV, Parquet or FITS (:meth:`Catalogue.from_file`) or given as arrays
(:meth:`Catalogue.from_arrays`). :meth:`Catalogue.match` answers a whole batch
of cone searches at once with numpy and returns :class:`Matches`: for every
source within the radius of a query position (or only the nearest), the query's
index, the source's row and the distance.

The index (:class:`ZoneIndex`) is the zone design of Gray, Szalay & Fekete
(2004, "There goes the neighborhood", MSR-TR-2004-32): the sky is cut into
declination zones whose height is about the search radius, and the sources of
each zone are sorted by right ascension, so the sources near a position are a
few contiguous runs of one sorted array. A query's circle touches the zones
from ``dec - r`` to ``dec + r``; within each, the candidates are the sources
with RA in ``ra ± alpha``, where ``alpha = atan(sin r / sqrt(|cos(dec - r)
cos(dec + r)|))`` widens the radius for the convergence of the meridians (the
whole zone when the circle holds a pole), and a range that crosses RA 0/360 is
split in two. Every candidate is then tested with the exact (haversine)
angular distance.

To find where a run starts without a binary search of the whole catalogue,
each zone also carries a directory of equal-width RA cells, about one source
per cell: a query's RA bounds give its first and last cell by arithmetic, and
the directory gives their offsets in the sorted array. A run that still holds
many sources (a zone crowded in one stretch of RA) is narrowed by a vectorised
bisection on the zone's sorted RA, so a clumpy catalogue costs a few more
steps, never a scan.

>>> catalogue = Catalogue.from_arrays(["a", "b"], [10.0, 10.001], [-5.0, -5.0])
>>> matches = catalogue.match(np.array([10.0003]), np.array([-5.0]), radius_arcsec=2.0)
>>> catalogue.ids[matches.row].tolist(), matches.distance_arcsec.round(2).tolist()
(['a'], [1.08])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from skystream.exceptions import ConfigurationError

__all__ = ["Catalogue", "Matches", "ZoneIndex", "angular_distance_arcsec"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

#: Zone height as a multiple of the search radius. Gray et al. use about the
#: radius; with the RA directory a query costs a fixed few operations per zone
#: touched, and twice the radius (two zones per query, rarely three) measured
#: fastest on a uniform 1e7-source sky while keeping crowded zones small.
ZONE_HEIGHT_PER_RADIUS = 2.0
#: Zones are never thinner than this (arcsec): it bounds the zone arrays for tiny radii.
MIN_ZONE_HEIGHT_ARCSEC = 0.5
#: Sources per RA cell of the directory, on average over a zone.
SOURCES_PER_CELL = 1.0
#: A run of more candidates than this is narrowed by bisection on RA.
_BISECT_ABOVE = 16
#: Indexes kept per catalogue (one per zone height in use).
_MAX_INDEXES = 3
#: Widening of search bounds, relative and absolute (degrees), so that rounding
#: in the bound arithmetic never loses a source that lies on the circle.
_BOUND_SLACK = 1e-9

_SUFFIXES = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fits.gz": "fits",
}


def angular_distance_arcsec(
    ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: npt.ArrayLike, dec2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in arcsec between positions in degrees (haversine).

    The haversine form is accurate at the small separations of cross-matches
    (where the arccos of a dot product loses digits).
    """
    ra1_r, dec1_r = np.radians(ra1), np.radians(dec1)
    ra2_r, dec2_r = np.radians(ra2), np.radians(dec2)
    half = np.sin((dec2_r - dec1_r) / 2.0) ** 2 + np.cos(dec1_r) * np.cos(dec2_r) * (
        np.sin((ra2_r - ra1_r) / 2.0) ** 2
    )
    distance: FloatArray = np.degrees(2.0 * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))) * 3600.0
    return distance


@dataclass(frozen=True)
class Matches:
    """What a batch of cone searches found, one entry per (query, source) pair.

    Sorted by query index, then distance. With ``nearest=True`` a query has at
    most one entry.

    Attributes
    ----------
    query
        Index of the query position in the arrays given to :meth:`Catalogue.match`.
    row
        Row of the source in the catalogue.
    distance_arcsec
        Angular distance between them.
    """

    query: IndexArray
    row: IndexArray
    distance_arcsec: FloatArray

    def __len__(self) -> int:
        return int(self.query.size)

    def counts(self, queries: int) -> npt.NDArray[np.int64]:
        """Count the matches of each of ``queries`` query positions."""
        counts: npt.NDArray[np.int64] = np.bincount(self.query, minlength=queries).astype(np.int64)
        return counts

    @classmethod
    def empty(cls) -> Matches:
        """No matches."""
        return cls(
            np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
        )


class ZoneIndex:
    """Declination zones sorted by RA, with an RA-cell directory per zone.

    Built by :meth:`Catalogue.index`; answers cone searches of any radius
    (fastest when the zone height is about twice the radius).

    Parameters
    ----------
    ra, dec
        Source positions in degrees (RA in [0, 360), finite).
    rows
        The catalogue row of each position.
    zone_height_arcsec
        Height of the declination zones.
    """

    def __init__(
        self, ra: FloatArray, dec: FloatArray, rows: IndexArray, zone_height_arcsec: float
    ) -> None:
        if not zone_height_arcsec > 0:
            raise ValueError(f"zone_height_arcsec must be > 0, not {zone_height_arcsec!r}")
        height = min(zone_height_arcsec / 3600.0, 180.0)
        zones = max(1, math.ceil(180.0 / height))
        self.zone_height_arcsec = height * 3600.0
        self._height = height
        self._zones = zones

        zone = self._zone_of(dec)
        order = _zone_order(zone, ra)
        zone = zone[order]
        self._rows: IndexArray = rows[order]
        self._ra: FloatArray = np.ascontiguousarray(ra[order])
        self._dec: FloatArray = np.ascontiguousarray(dec[order])

        per_zone = np.bincount(zone, minlength=zones)
        self._zone_start = np.zeros(zones + 1, dtype=np.intp)
        np.cumsum(per_zone, out=self._zone_start[1:])
        cells = np.maximum(1, (per_zone / SOURCES_PER_CELL).astype(np.intp))
        self._cell_base = np.zeros(zones + 1, dtype=np.intp)
        np.cumsum(cells, out=self._cell_base[1:])
        self._cells = cells
        self._cell_width: FloatArray = 360.0 / cells
        cell = self._cell_base[zone] + np.minimum(
            (self._ra / self._cell_width[zone]).astype(np.intp), cells[zone] - 1
        )
        # _cell_start[c] is the first sorted position of cell c (cells are in
        # sorted order too, as a cell is a stretch of RA inside one zone).
        self._cell_start = np.zeros(int(self._cell_base[-1]) + 1, dtype=np.intp)
        np.cumsum(np.bincount(cell, minlength=int(self._cell_base[-1])), out=self._cell_start[1:])

    def __len__(self) -> int:
        return int(self._ra.size)

    def __repr__(self) -> str:
        return (
            f"ZoneIndex({len(self)} sources, {self._zones} zones of "
            f"{self.zone_height_arcsec:g} arcsec, {int(self._cell_base[-1])} RA cells)"
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays."""
        arrays = (
            self._rows,
            self._ra,
            self._dec,
            self._zone_start,
            self._cell_base,
            self._cells,
            self._cell_width,
            self._cell_start,
        )
        return sum(a.nbytes for a in arrays)

    def _zone_of(self, dec: FloatArray) -> IndexArray:
        zone = np.floor((dec + 90.0) / self._height).astype(np.intp)
        clipped: IndexArray = np.clip(zone, 0, self._zones - 1)
        return clipped

    def match(
        self, ra: FloatArray, dec: FloatArray, radius_arcsec: float, *, nearest: bool = True
    ) -> Matches:
        """Cone-search every position of ``ra``/``dec`` (degrees, same length).

        Positions that are not finite, or whose declination is outside
        [-90, 90], match nothing. Returns rows of the index's ``rows``.
        """
        queries = np.flatnonzero(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))
        if queries.size == 0 or self._ra.size == 0:
            return Matches.empty()
        q_ra = np.mod(ra[queries], 360.0)
        q_dec = dec[queries]
        radius = radius_arcsec / 3600.0
        reach = radius * (1.0 + _BOUND_SLACK) + _BOUND_SLACK  # slack against rounding

        # (query, zone) pairs: every zone the circle touches.
        low = self._zone_of(q_dec - reach)
        high = self._zone_of(q_dec + reach)
        spans = high - low + 1
        pair_query = np.repeat(np.arange(queries.size), spans)
        first_pair = np.cumsum(spans) - spans
        pair_zone = low[pair_query] + (np.arange(pair_query.size) - first_pair[pair_query])

        # RA half-width of the circle; the whole zone when the circle holds a pole.
        alpha = _ra_half_width(q_dec, reach)
        p_alpha = alpha[pair_query]
        p_ra = q_ra[pair_query]
        whole = p_alpha >= 180.0
        lo = np.where(whole, 0.0, p_ra - p_alpha)
        hi = np.where(whole, 360.0, p_ra + p_alpha)
        # A range that crosses RA 0/360 becomes two: the part inside [0, 360]
        # (kept in lo/hi) and the wrapped part (added as an extra range).
        under = lo < 0.0
        over = hi > 360.0
        extra = np.flatnonzero(under | over)
        range_query = np.concatenate((pair_query, pair_query[extra]))
        range_zone = np.concatenate((pair_zone, pair_zone[extra]))
        range_lo = np.concatenate(
            (np.maximum(lo, 0.0), np.where(under[extra], lo[extra] + 360.0, 0.0))
        )
        range_hi = np.concatenate(
            (np.minimum(hi, 360.0), np.where(under[extra], 360.0, hi[extra] - 360.0))
        )

        start, stop = self._runs(range_zone, range_lo, range_hi)
        counts = stop - start
        total = int(counts.sum())
        if total == 0:
            return Matches.empty()
        # Expand the runs into candidate positions of the sorted arrays.
        run_offset = np.cumsum(counts) - counts
        candidate = np.arange(total) + np.repeat(start - run_offset, counts)
        candidate_query = np.repeat(range_query, counts)
        distance = angular_distance_arcsec(
            q_ra[candidate_query], q_dec[candidate_query], self._ra[candidate], self._dec[candidate]
        )
        inside = distance <= radius_arcsec
        found_query = candidate_query[inside]
        found = candidate[inside]
        distance = distance[inside]
        if found.size == 0:
            return Matches.empty()
        rows = self._rows[found]
        order = np.lexsort((rows, distance, found_query))
        found_query, rows, distance = found_query[order], rows[order], distance[order]
        if nearest:
            first = np.ones(found_query.size, dtype=bool)
            first[1:] = found_query[1:] != found_query[:-1]
            found_query, rows, distance = found_query[first], rows[first], distance[first]
        return Matches(queries[found_query], rows, distance)

    def _runs(
        self, zone: IndexArray, lo: FloatArray, hi: FloatArray
    ) -> tuple[IndexArray, IndexArray]:
        """Sorted positions ``[start, stop)`` of the sources of ``zone`` with RA in ``[lo, hi]``."""
        cells = self._cells[zone]
        width = self._cell_width[zone]
        base = self._cell_base[zone]
        first_cell = np.minimum((lo / width).astype(np.intp), cells - 1)
        last_cell = np.minimum((hi / width).astype(np.intp), cells - 1)
        start = self._cell_start[base + first_cell]
        stop = self._cell_start[base + last_cell + 1]
        # Long runs (crowded stretches of a zone): bisect on RA inside the run.
        long = np.flatnonzero(stop - start > _BISECT_ABOVE)
        if long.size:
            start[long] = self._bisect(start[long], stop[long], lo[long], inclusive=False)
            stop[long] = self._bisect(start[long], stop[long], hi[long], inclusive=True)
        return start, stop

    def _bisect(
        self, start: IndexArray, stop: IndexArray, bound: FloatArray, *, inclusive: bool
    ) -> IndexArray:
        """First position in each ``[start, stop)`` whose RA is ``>= bound`` (``> bound``)."""
        low, high = start.copy(), stop.copy()
        ra = self._ra
        while True:
            active = np.flatnonzero(low < high)
            if active.size == 0:
                return low
            middle = (low[active] + high[active]) // 2
            values = ra[middle]
            before = values <= bound[active] if inclusive else values < bound[active]
            low[active] = np.where(before, middle + 1, low[active])
            high[active] = np.where(before, high[active], middle)


def _zone_order(zone: IndexArray, ra: FloatArray) -> IndexArray:
    """Return the order that sorts sources by zone, then RA.

    One argsort of ``zone * 400 + ra`` (zones never overlap: RA < 360) is
    several times faster than a two-key sort; rounding can only swap RAs
    within one unit in the last place, so the order is checked and the exact
    (slower) sort used in the rare case it is not right.
    """
    order: IndexArray = np.argsort(zone * 400.0 + ra)
    sorted_zone, sorted_ra = zone[order], ra[order]
    same_zone = sorted_zone[1:] == sorted_zone[:-1]
    if np.any(same_zone & (sorted_ra[1:] < sorted_ra[:-1])):
        order = np.lexsort((ra, zone))
    return order


def _ra_half_width(dec: FloatArray, radius: float) -> FloatArray:
    """RA half-width (degrees) of circles of ``radius`` degrees; >= 180 if one holds a pole."""
    alpha = np.full(dec.shape, 180.0)
    open_circle = (dec + radius < 90.0) & (dec - radius > -90.0) & (radius < 90.0)
    if open_circle.any():
        d = np.radians(dec[open_circle])
        r = math.radians(radius)
        # Gray, Szalay & Fekete: the circle's widest RA extent, not r / cos(dec).
        denominator = np.sqrt(np.abs(np.cos(d - r) * np.cos(d + r)))
        width = np.degrees(np.arctan(math.sin(r) / denominator))
        alpha[open_circle] = width * (1.0 + _BOUND_SLACK) + _BOUND_SLACK
    return alpha


class Catalogue:
    """Sources to cross-match against: ids, positions and extra columns.

    Build with :meth:`from_file` or :meth:`from_arrays`. Rows keep the order
    they were given in. Indexes are built on first use for a radius (or with
    :meth:`index`) and kept.

    Attributes
    ----------
    name
        What annotations call the catalogue (the file's stem by default).
    ids
        The source ids (ints or text), one per row.
    ra, dec
        Positions in degrees (RA in [0, 360)); NaN for a row without a position,
        which never matches.
    columns
        Extra columns by name, each an array with one value per row.
    path
        The file the catalogue was read from, if any.
    """

    def __init__(
        self,
        ids: npt.ArrayLike,
        ra: npt.ArrayLike,
        dec: npt.ArrayLike,
        columns: Mapping[str, npt.ArrayLike] | None = None,
        *,
        name: str = "catalogue",
        path: Path | None = None,
    ) -> None:
        where = f"catalogue {str(path)!r}" if path is not None else f"catalogue {name!r}"
        self.name = name
        self.path = path
        self.ids: np.ndarray[Any, Any] = np.asarray(ids)
        self.ra = _float_column(ra, "ra", where)
        self.dec = _float_column(dec, "dec", where)
        self.columns: dict[str, np.ndarray[Any, Any]] = {
            key: np.asarray(value) for key, value in (columns or {}).items()
        }
        rows = self.ids.shape[0] if self.ids.ndim else -1
        lengths = {"id": rows, "ra": self.ra.size, "dec": self.dec.size}
        lengths.update({key: len(value) for key, value in self.columns.items()})
        if self.ids.ndim != 1 or len(set(lengths.values())) != 1:
            raise ConfigurationError(
                f"{where}: columns differ in length ("
                + ", ".join(f"{key}: {value}" for key, value in lengths.items())
                + "); give one value per source in every column"
            )
        positioned = np.isfinite(self.ra) & np.isfinite(self.dec)
        bad_dec = positioned & (np.abs(self.dec) > 90.0)
        if bad_dec.any():
            row = int(np.flatnonzero(bad_dec)[0])
            raise ConfigurationError(
                f"{where}: declination {float(self.dec[row])!r} (row {row}) is outside [-90, 90]; "
                "dec must be in degrees"
            )
        self.ra = np.where(positioned, np.mod(self.ra, 360.0), self.ra)
        # np.mod can round a tiny negative RA up to exactly 360.
        self.ra[self.ra >= 360.0] = 0.0
        self._positioned: IndexArray = np.flatnonzero(positioned)
        unpositioned = self.ra.size - self._positioned.size
        if unpositioned:
            warnings.warn(
                f"{where}: {unpositioned} of {self.ra.size} sources have no finite "
                "position and will never match",
                stacklevel=2,
            )
        self._indexes: dict[float, ZoneIndex] = {}

    # -- building ----------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        ids: npt.ArrayLike,
        ra: npt.ArrayLike,
        dec: npt.ArrayLike,
        extra: Mapping[str, npt.ArrayLike] | None = None,
        *,
        name: str = "catalogue",
    ) -> Catalogue:
        """Build a catalogue from arrays (positions in degrees) and extra columns."""
        return cls(ids, ra, dec, extra, name=name)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        id_column: str = "id",
        ra_column: str = "ra",
        dec_column: str = "dec",
        columns: Sequence[str] | None = None,
        name: str | None = None,
    ) -> Catalogue:
        """Read a catalogue from CSV, Parquet or FITS (told apart by the file's suffix).

        Parameters
        ----------
        path
            ``.csv`` (``.csv.gz``, ``.txt``: comma-separated with a header line),
            ``.parquet`` (``.pq``), or ``.fits`` (``.fit``, ``.fts``, ``.fits.gz``;
            the first table HDU).
        id_column, ra_column, dec_column
            Names of the source id and the position columns (degrees).
        columns
            Extra columns to keep; ``None`` keeps every other column.
        name
            What annotations call the catalogue; default: the file's stem.

        Raises
        ------
        ConfigurationError
            If the file is missing or unreadable, its suffix unknown, or a column
            absent (the message names the file, the column and the columns present).
        """
        path = Path(path).expanduser()
        kind = _format_of(path)
        if not path.is_file():
            raise ConfigurationError(
                f"catalogue {str(path)!r} does not exist"
                + ("" if path.parent.is_dir() else f" (no folder {str(path.parent)!r})")
                + "; check the path (relative paths in a spec are relative to the spec's folder)"
            )
        wanted = [id_column, ra_column, dec_column]
        readers: dict[str, Callable[[Path], _TableReader]] = {
            "csv": _CsvReader,
            "parquet": _ParquetReader,
            "fits": _FitsReader,
        }
        try:
            table = readers[kind](path)
            present = table.names()
        except ConfigurationError:
            raise
        except Exception as exc:
            raise ConfigurationError(
                f"catalogue {str(path)!r} cannot be read as {kind}: {type(exc).__name__}: {exc}"
            ) from exc
        resolved = {column: _find_column(column, present) for column in wanted}
        extras = (
            [c for c in present if c not in resolved.values()] if columns is None else list(columns)
        )
        resolved.update({column: _find_column(column, present) for column in extras})
        missing = [column for column, found in resolved.items() if found is None]
        if missing:
            roles = {id_column: "id_column", ra_column: "ra_column", dec_column: "dec_column"}
            described = ", ".join(
                f"{column!r}" + (f" ({roles[column]})" if column in roles else "")
                for column in missing
            )
            raise ConfigurationError(
                f"catalogue {str(path)!r} has no column {described}; its columns are "
                f"{', '.join(map(repr, present))}"
            )
        try:
            data = table.read(list(dict.fromkeys(f for f in resolved.values() if f is not None)))
        except Exception as exc:
            raise ConfigurationError(
                f"catalogue {str(path)!r} cannot be read as {kind}: {type(exc).__name__}: {exc}"
            ) from exc

        names = {column: found for column, found in resolved.items() if found is not None}

        def column(requested: str) -> np.ndarray[Any, Any]:
            return data[names[requested]]

        return cls(
            column(id_column),
            column(ra_column),
            column(dec_column),
            {extra: column(extra) for extra in extras},
            name=name or _stem(path),
            path=path,
        )

    # -- querying ----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.ra.size)

    def __repr__(self) -> str:
        extra = f", columns={list(self.columns)}" if self.columns else ""
        return f"Catalogue({self.name!r}, {len(self)} sources{extra})"

    def index(self, radius_arcsec: float) -> ZoneIndex:
        """Return the zone index for searches of ``radius_arcsec``, building it if needed.

        An index already built for a radius within a factor of two is reused;
        a few are kept, the oldest dropped.
        """
        if not (isinstance(radius_arcsec, int | float) and radius_arcsec > 0):
            raise ValueError(f"radius_arcsec must be a number > 0, not {radius_arcsec!r}")
        height = max(ZONE_HEIGHT_PER_RADIUS * float(radius_arcsec), MIN_ZONE_HEIGHT_ARCSEC)
        height = min(height, 180.0 * 3600.0)
        for built, index in self._indexes.items():
            if built / 2.0 <= height <= built * 2.0:
                return index
        index = ZoneIndex(
            self.ra[self._positioned], self.dec[self._positioned], self._positioned, height
        )
        if len(self._indexes) >= _MAX_INDEXES:
            del self._indexes[next(iter(self._indexes))]
        self._indexes[height] = index
        return index

    def match(
        self,
        ra: npt.ArrayLike,
        dec: npt.ArrayLike,
        radius_arcsec: float,
        *,
        nearest: bool = True,
    ) -> Matches:
        """Find the sources within ``radius_arcsec`` of each position (degrees).

        Parameters
        ----------
        ra, dec
            Query positions, arrays of the same length. A position that is not
            finite, or with ``|dec| > 90``, matches nothing.
        radius_arcsec
            The search radius.
        nearest
            ``True``: at most one match per position, the nearest source (ties:
            the lower row). ``False``: every source within the radius.

        Returns
        -------
        Matches
            Query indexes, catalogue rows and distances, by query then distance.
        """
        ra_array = np.asarray(ra, dtype=np.float64).ravel()
        dec_array = np.asarray(dec, dtype=np.float64).ravel()
        if ra_array.size != dec_array.size:
            raise ValueError(
                f"ra and dec differ in length ({ra_array.size} and {dec_array.size}); "
                "give one of each per position"
            )
        return self.index(radius_arcsec).match(
            ra_array, dec_array, float(radius_arcsec), nearest=nearest
        )


# -- reading files -------------------------------------------------------------------------


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    raise ConfigurationError(
        f"catalogue {str(path)!r}: cannot tell the format from its name; use a file "
        f"ending in one of {', '.join(_SUFFIXES)}"
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _find_column(column: str, present: Sequence[str]) -> str | None:
    """Find the column as named, else one that differs only in case (FITS names do)."""
    if column in present:
        return column
    folded = [name for name in present if name.casefold() == column.casefold()]
    return folded[0] if len(folded) == 1 else None


def _float_column(values: npt.ArrayLike, role: str, where: str) -> FloatArray:
    try:
        array = np.array(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{where}: the {role} column is not numeric ({exc}); positions are degrees"
        ) from exc
    return array


class _TableReader(Protocol):
    def names(self) -> list[str]: ...

    def read(self, names: list[str]) -> dict[str, np.ndarray[Any, Any]]: ...


def _pyarrow_column(table: Any, name: str) -> np.ndarray[Any, Any]:
    array: np.ndarray[Any, Any] = table.column(name).to_numpy()
    return array


class _CsvReader:
    """Comma-separated text with a header line, through pyarrow's CSV reader."""

    def __init__(self, path: Path) -> None:
        import pyarrow.csv as pa_csv  # type: ignore[import-untyped]

        self._csv = pa_csv
        self._path = path

    def names(self) -> list[str]:
        reader = self._csv.open_csv(self._path)  # reads the first block only
        try:
            return list(reader.schema.names)
        finally:
            reader.close()

    def read(self, names: list[str]) -> dict[str, np.ndarray[Any, Any]]:
        options = self._csv.ConvertOptions(include_columns=names)
        table = self._csv.read_csv(self._path, convert_options=options)
        return {name: _pyarrow_column(table, name) for name in names}


class _ParquetReader:
    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self._pq = pq
        self._path = path

    def names(self) -> list[str]:
        return list(self._pq.read_schema(self._path).names)

    def read(self, names: list[str]) -> dict[str, np.ndarray[Any, Any]]:
        table = self._pq.read_table(self._path, columns=names)
        return {name: _pyarrow_column(table, name) for name in names}


class _FitsReader:
    """The first table HDU, read whole (FITS has no cheap column-wise read)."""

    def __init__(self, path: Path) -> None:
        from astropy.io import fits

        with fits.open(path, memmap=False) as hdus:
            tables = [hdu for hdu in hdus if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)]
            if not tables:
                raise ConfigurationError(
                    f"catalogue {str(path)!r} holds no table HDU; write the sources as a FITS table"
                )
            self._names: list[str] = list(tables[0].columns.names)
            data = tables[0].data
            self._columns = {name: _native(np.array(data[name])) for name in self._names}

    def names(self) -> list[str]:
        return self._names

    def read(self, names: list[str]) -> dict[str, np.ndarray[Any, Any]]:
        return {name: self._columns[name] for name in names}


def _native(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """FITS arrays are big-endian and text is bytes: native numbers, ``str`` text."""
    if array.dtype.kind == "S":
        text: np.ndarray[Any, Any] = np.char.rstrip(np.char.decode(array, "ascii"))
        return text
    if array.dtype.byteorder not in ("=", "|"):
        return array.astype(array.dtype.newbyteorder("="))
    return array
