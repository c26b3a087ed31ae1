"""Catalogue: zone-index cone searches against brute force, and CSV/Parquet/FITS reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from skystream.exceptions import ConfigurationError
from skystream.processors.catalogue import Catalogue, Matches, angular_distance_arcsec

Floats = npt.NDArray[np.float64]


# -- helpers ------------------------------------------------------------------------------


def _offset(
    ra: Floats, dec: Floats, bearing: Floats, distance_deg: Floats
) -> tuple[Floats, Floats]:
    """Positions ``distance_deg`` from (ra, dec) along ``bearing`` (exact spherical geometry)."""
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    b, d = np.radians(bearing), np.radians(distance_deg)
    dec2 = np.arcsin(np.sin(dec_r) * np.cos(d) + np.cos(dec_r) * np.sin(d) * np.cos(b))
    ra2 = ra_r + np.arctan2(
        np.sin(b) * np.sin(d) * np.cos(dec_r), np.cos(d) - np.sin(dec_r) * np.sin(dec2)
    )
    return np.mod(np.degrees(ra2), 360.0), np.degrees(dec2)


def _sky(rng: np.random.Generator, count: int) -> tuple[Floats, Floats]:
    return rng.uniform(0.0, 360.0, count), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))


def _awkward_queries(rng: np.random.Generator) -> tuple[Floats, Floats]:
    """Positions at the RA seam, near and at the poles, and anywhere."""
    ra_sky, dec_sky = _sky(rng, 200)
    seam_ra = np.concatenate((rng.uniform(0.0, 0.02, 60), rng.uniform(359.98, 360.0, 60)))
    seam_dec = rng.uniform(-60.0, 60.0, 120)
    polar_dec = np.concatenate((rng.uniform(89.98, 90.0, 60), rng.uniform(-90.0, -89.98, 60)))
    polar_ra = rng.uniform(0.0, 360.0, 120)
    exact_ra = np.array([0.0, 360.0, 0.0, 180.0, 0.0, 359.9999999])
    exact_dec = np.array([0.0, 10.0, 90.0, -90.0, 89.9999, -89.9999])
    return (
        np.concatenate((ra_sky, seam_ra, polar_ra, exact_ra)),
        np.concatenate((dec_sky, seam_dec, polar_dec, exact_dec)),
    )


def _catalogue_around(
    rng: np.random.Generator, ra: Floats, dec: Floats, radius_arcsec: float, per_query: int
) -> tuple[Floats, Floats]:
    """Sources scattered within twice the radius of each query, plus a uniform sky."""
    centre_ra = np.repeat(ra, per_query)
    centre_dec = np.repeat(dec, per_query)
    count = centre_ra.size
    near_ra, near_dec = _offset(
        centre_ra,
        centre_dec,
        rng.uniform(0.0, 360.0, count),
        rng.uniform(0.0, 2.0 * radius_arcsec / 3600.0, count),
    )
    sky_ra, sky_dec = _sky(rng, 3000)
    return np.concatenate((near_ra, sky_ra)), np.concatenate((near_dec, sky_dec))


def _brute_force(
    cat_ra: Floats, cat_dec: Floats, ra: Floats, dec: Floats
) -> npt.NDArray[np.float64]:
    """Distances (arcsec) from every query to every source: shape (queries, sources)."""
    return angular_distance_arcsec(ra[:, None], dec[:, None], cat_ra[None, :], cat_dec[None, :])


def _assert_same_as_brute_force(
    matches: Matches, distances: npt.NDArray[np.float64], radius: float, *, nearest: bool
) -> None:
    tolerance = 1e-7  # arcsec: pairs this close to the edge may go either way
    found = set(zip(matches.query.tolist(), matches.row.tolist(), strict=True))
    surely_in = {tuple(p) for p in np.argwhere(distances <= radius - tolerance).tolist()}
    maybe_in = {tuple(p) for p in np.argwhere(distances <= radius + tolerance).tolist()}
    np.testing.assert_allclose(
        matches.distance_arcsec, distances[matches.query, matches.row], rtol=0, atol=1e-9
    )
    # Ordered by query, then distance.
    keys = np.lexsort((matches.distance_arcsec, matches.query))
    assert (keys == np.arange(len(matches))).all()
    if not nearest:
        assert surely_in <= found <= maybe_in
        return
    assert len(set(matches.query.tolist())) == len(matches)  # one per query at most
    queries_with = {q for q, _ in surely_in}
    assert queries_with <= {q for q, _ in found} <= {q for q, _ in maybe_in}
    for query, row, distance in zip(
        matches.query.tolist(), matches.row.tolist(), matches.distance_arcsec.tolist(), strict=True
    ):
        assert distance == pytest.approx(distances[query].min(), abs=1e-9)
        assert (query, row) in maybe_in


# -- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [1.0, 2.0, 7.5, 60.0])
@pytest.mark.parametrize("nearest", [True, False])
def test_matches_equal_brute_force_at_seams_and_poles(radius: float, nearest: bool) -> None:
    rng = np.random.default_rng(int(radius * 10) + nearest)
    ra, dec = _awkward_queries(rng)
    cat_ra, cat_dec = _catalogue_around(rng, ra, dec, radius, per_query=4)
    catalogue = Catalogue.from_arrays(np.arange(cat_ra.size), cat_ra, cat_dec)
    matches = catalogue.match(ra, dec, radius, nearest=nearest)
    distances = _brute_force(cat_ra, cat_dec, ra, dec)
    _assert_same_as_brute_force(matches, distances, radius, nearest=nearest)
    assert len(matches) > ra.size // 2  # the test has teeth: most queries match


def test_crowded_stretch_of_a_zone_is_bisected_correctly() -> None:
    """A dense clump in one stretch of RA makes long cell runs; results stay exact."""
    rng = np.random.default_rng(7)
    clump_ra = rng.uniform(30.0, 30.05, 20_000)
    clump_dec = rng.uniform(-0.01, 0.01, 20_000)
    sky_ra, sky_dec = _sky(rng, 2000)
    cat_ra = np.concatenate((clump_ra, sky_ra))
    cat_dec = np.concatenate((clump_dec, sky_dec))
    ra = rng.uniform(29.99, 30.06, 300)
    dec = rng.uniform(-0.012, 0.012, 300)
    catalogue = Catalogue.from_arrays(np.arange(cat_ra.size), cat_ra, cat_dec)
    for radius in (1.0, 5.0):
        distances = _brute_force(cat_ra, cat_dec, ra, dec)
        for nearest in (True, False):
            matches = catalogue.match(ra, dec, radius, nearest=nearest)
            _assert_same_as_brute_force(matches, distances, radius, nearest=nearest)


def test_large_radius_reaching_over_a_pole_and_the_seam() -> None:
    rng = np.random.default_rng(3)
    cat_ra, cat_dec = _sky(rng, 5000)
    ra = np.array([0.5, 359.5, 10.0, 200.0])
    dec = np.array([88.0, -88.5, 0.0, 45.0])
    radius = 3.0 * 3600.0  # three degrees
    catalogue = Catalogue.from_arrays(np.arange(cat_ra.size), cat_ra, cat_dec)
    matches = catalogue.match(ra, dec, radius, nearest=False)
    _assert_same_as_brute_force(
        matches, _brute_force(cat_ra, cat_dec, ra, dec), radius, nearest=False
    )


def test_nearest_picks_the_closest_and_all_lists_every_one() -> None:
    catalogue = Catalogue.from_arrays(
        ["far", "near", "other"], [10.0, 10.0, 50.0], [0.0 + 1.5 / 3600, 0.5 / 3600, 0.0]
    )
    nearest = catalogue.match([10.0], [0.0], 2.0)
    assert catalogue.ids[nearest.row].tolist() == ["near"]
    assert nearest.distance_arcsec.tolist() == pytest.approx([0.5])
    every = catalogue.match([10.0], [0.0], 2.0, nearest=False)
    assert catalogue.ids[every.row].tolist() == ["near", "far"]
    assert every.distance_arcsec.tolist() == pytest.approx([0.5, 1.5])
    assert every.counts(1).tolist() == [2]


def test_positions_that_cannot_match_are_ignored() -> None:
    catalogue = Catalogue.from_arrays([1], [10.0], [20.0])
    matches = catalogue.match([np.nan, 10.0, 10.0, 10.0], [20.0, np.inf, 95.0, 20.0], 1.0)
    assert matches.query.tolist() == [3]
    assert len(catalogue.match([], [], 1.0)) == 0
    with pytest.raises(ValueError, match="differ in length"):
        catalogue.match([1.0, 2.0], [1.0], 1.0)
    with pytest.raises(ValueError, match="radius_arcsec"):
        catalogue.match([1.0], [1.0], 0.0)


def test_ra_is_normalised_and_query_ra_wraps() -> None:
    catalogue = Catalogue.from_arrays([1, 2], [-0.0001, 360.0], [0.0, 0.0])
    assert catalogue.ra.tolist() == pytest.approx([359.9999, 0.0])
    matches = catalogue.match([720.0, -360.0 + 1e-5], [0.0, 0.0], 1.0, nearest=False)
    assert sorted(zip(matches.query.tolist(), matches.row.tolist(), strict=True)) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]


def test_index_is_built_once_per_radius_scale() -> None:
    rng = np.random.default_rng(1)
    catalogue = Catalogue.from_arrays(np.arange(100), *_sky(rng, 100))
    index = catalogue.index(2.0)
    assert catalogue.index(2.0) is index
    assert catalogue.index(3.0) is index  # within a factor of two: reused
    assert catalogue.index(60.0) is not index
    assert len(index) == 100 and index.nbytes > 0
    assert "zones" in repr(index)


def test_sources_without_a_position_never_match_and_are_reported() -> None:
    with pytest.warns(UserWarning, match="1 of 3 sources have no finite position"):
        catalogue = Catalogue.from_arrays([1, 2, 3], [10.0, np.nan, 10.0], [0.0, 0.0, 1.0])
    matches = catalogue.match([10.0, 10.0], [0.0, 1.0], 1.0)
    assert catalogue.ids[matches.row].tolist() == [1, 3]


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="differ in length"):
        Catalogue.from_arrays([1, 2], [1.0], [1.0, 2.0])
    with pytest.raises(ConfigurationError, match=r"declination 91\.0 \(row 1\)"):
        Catalogue.from_arrays([1, 2], [1.0, 1.0], [1.0, 91.0])
    with pytest.raises(ConfigurationError, match="ra column is not numeric"):
        Catalogue.from_arrays([1], ["ten"], [1.0])


# -- files ----------------------------------------------------------------------------------

SOURCES: dict[str, list[Any]] = {
    "source_id": [101, 102, 103],
    "RA_DEG": [10.0, 359.9995, 150.0],
    "DEC_DEG": [-5.0, 0.0, 89.9999],
    "redshift": [0.01, 0.5, 1.25],
    "kind": ["galaxy", "qso", "star"],
}


def _write(path: Path, data: dict[str, list[Any]]) -> Path:
    suffix = path.name.lower()
    if suffix.endswith(".csv"):
        lines = [",".join(data)]
        lines += [",".join(str(v) for v in row) for row in zip(*data.values(), strict=True)]
        path.write_text("\n".join(lines) + "\n")
    elif suffix.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(data), path)
    else:
        from astropy.table import Table

        Table(data).write(path, format="fits")
    return path


@pytest.mark.parametrize("name", ["sources.csv", "sources.parquet", "sources.fits"])
def test_file_round_trip(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, SOURCES)
    catalogue = Catalogue.from_file(
        path, id_column="source_id", ra_column="RA_DEG", dec_column="DEC_DEG"
    )
    assert catalogue.name == "sources" and catalogue.path == path
    assert len(catalogue) == 3
    assert catalogue.ids.tolist() == SOURCES["source_id"]
    assert catalogue.ra.tolist() == SOURCES["RA_DEG"]
    assert catalogue.dec.tolist() == SOURCES["DEC_DEG"]
    assert sorted(catalogue.columns) == ["kind", "redshift"]  # columns=None keeps the rest
    assert catalogue.columns["redshift"].tolist() == SOURCES["redshift"]
    assert catalogue.columns["kind"].tolist() == SOURCES["kind"]
    matches = catalogue.match([10.0, 0.0001, 20.0], [-5.0, 0.0, 89.99995], 3.0)
    assert catalogue.ids[matches.row].tolist() == [101, 102, 103]  # across the seam too
    assert matches.distance_arcsec[:2].tolist() == pytest.approx([0.0, 2.16], abs=1e-6)

    chosen = Catalogue.from_file(
        path,
        id_column="source_id",
        ra_column="RA_DEG",
        dec_column="DEC_DEG",
        columns=["kind"],
        name="mine",
    )
    assert list(chosen.columns) == ["kind"] and chosen.name == "mine"


def test_fits_column_names_match_regardless_of_case(tmp_path: Path) -> None:
    path = _write(tmp_path / "cat.fits", {"ID": [1], "RA": [1.0], "DEC": [2.0], "Mag": [19.5]})
    catalogue = Catalogue.from_file(path, columns=["mag"])
    assert catalogue.ids.tolist() == [1]
    assert catalogue.columns["mag"].tolist() == [19.5]


def test_text_ids_and_compressed_csv(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "named.csv.gz"
    path.write_bytes(gzip.compress(b"id,ra,dec\nNGC 1,1.0,2.0\nM31,10.68,41.27\n"))
    catalogue = Catalogue.from_file(path)
    assert catalogue.name == "named"
    assert catalogue.ids.tolist() == ["NGC 1", "M31"]
    assert catalogue.columns == {}


@pytest.mark.parametrize("name", ["sources.csv", "sources.parquet", "sources.fits"])
def test_missing_column_names_the_file_the_column_and_the_columns(
    tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path / name, SOURCES)
    with pytest.raises(ConfigurationError) as caught:
        Catalogue.from_file(path, id_column="source_id", ra_column="ra", dec_column="DEC_DEG")
    message = str(caught.value)
    assert str(path) in message
    assert "'ra' (ra_column)" in message
    assert "'RA_DEG'" in message and "'redshift'" in message
    with pytest.raises(ConfigurationError, match="no column 'colour'"):
        Catalogue.from_file(
            path,
            id_column="source_id",
            ra_column="RA_DEG",
            dec_column="DEC_DEG",
            columns=["colour"],
        )


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nowhere\.csv' does not exist"):
        Catalogue.from_file(tmp_path / "nowhere.csv")
    odd = tmp_path / "cat.xlsx"
    odd.write_text("x")
    with pytest.raises(ConfigurationError, match=r"cannot tell the format.*\.parquet"):
        Catalogue.from_file(odd)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(ConfigurationError, match="cannot be read as parquet"):
        Catalogue.from_file(broken)
    empty = tmp_path / "image.fits"
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((2, 2))).writeto(empty)
    with pytest.raises(ConfigurationError, match="no table HDU"):
        Catalogue.from_file(empty)


def test_near_tie_rounding_falls_back_to_the_exact_sort() -> None:
    from skystream.processors.catalogue import _zone_order

    zone = np.array([5, 5, 5, 6])
    ra = np.array([100.0, 100.0 + 1e-14, 100.0 - 1e-14, 1.0])  # one key after rounding
    assert _zone_order(zone, ra).tolist() == [2, 0, 1, 3]
    catalogue = Catalogue.from_arrays([1, 2, 3], ra[:3], [0.0, 0.0, 0.0])
    matches = catalogue.match([100.0], [0.0], 1.0, nearest=False)
    assert sorted(matches.row.tolist()) == [0, 1, 2]
