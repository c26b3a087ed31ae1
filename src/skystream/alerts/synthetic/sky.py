"""Where and when: sky positions, frames, times and calendar dates, and AB fluxes.

Vectorised helpers the survey models share: offsets in a tangent plane around
a pointing, small random displacements of positions, declinations uniform over
the sphere, rotations into ecliptic and galactic coordinates, MJD to Unix
microseconds and to calendar dates, and AB magnitudes to nJy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ECLIPTIC",
    "GALACTIC",
    "calendar",
    "flux_njy",
    "from_tangent_plane",
    "jitter",
    "rotate",
    "uniform_dec",
    "unit_vectors",
    "unix_micros",
    "yyyymmdd",
]

Array = NDArray[Any]

_MJD_UNIX_EPOCH = 40587.0

#: Rotation from equatorial (ICRS) to galactic unit vectors.
GALACTIC = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)
_OBLIQUITY = math.radians(23.4392911)
#: Rotation from equatorial to ecliptic unit vectors (J2000 obliquity).
ECLIPTIC = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, math.cos(_OBLIQUITY), math.sin(_OBLIQUITY)],
        [0.0, -math.sin(_OBLIQUITY), math.cos(_OBLIQUITY)],
    ]
)


def from_tangent_plane(ra0: Array, dec0: Array, xi: Array, eta: Array) -> tuple[Array, Array]:
    """Sky position of tangent-plane offsets (xi east, eta north; deg) around (ra0, dec0)."""
    alpha, delta = np.radians(ra0), np.radians(dec0)
    x, y = np.radians(xi), np.radians(eta)
    across = np.cos(delta) - y * np.sin(delta)
    ra = np.degrees(alpha + np.arctan2(x, across)) % 360.0
    dec = np.degrees(np.arctan2(np.sin(delta) + y * np.cos(delta), np.hypot(x, across)))
    return ra, dec


def jitter(rng: np.random.Generator, ra: Array, dec: Array, sigma_deg: Any) -> tuple[Array, Array]:
    """Move each position by a Gaussian step of ``sigma_deg`` along each axis."""
    n = np.shape(ra)[0]
    return from_tangent_plane(
        ra, dec, rng.normal(0.0, 1.0, n) * sigma_deg, rng.normal(0.0, 1.0, n) * sigma_deg
    )


def uniform_dec(rng: np.random.Generator, low: float, high: float, n: int) -> Array:
    """Declinations uniform over the sphere between ``low`` and ``high`` [deg]."""
    sines = rng.uniform(math.sin(math.radians(low)), math.sin(math.radians(high)), n)
    return np.degrees(np.arcsin(sines))


def unit_vectors(ra: Array, dec: Array) -> Array:
    """Return unit vectors, shape (n, 3), pointing at (ra, dec) [deg]."""
    alpha, delta = np.radians(ra), np.radians(dec)
    return np.stack(
        [np.cos(delta) * np.cos(alpha), np.cos(delta) * np.sin(alpha), np.sin(delta)], axis=1
    )


def rotate(ra: Array, dec: Array, matrix: Array) -> tuple[Array, Array]:
    """Longitude and latitude [deg] of (ra, dec) in the frame ``matrix`` rotates into."""
    vectors = unit_vectors(ra, dec) @ matrix.T
    lon = np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(vectors[:, 2], -1.0, 1.0)))
    return lon, lat


def unix_micros(mjd: Array) -> Array:
    """Microseconds since the Unix epoch of each MJD."""
    return np.rint((np.asarray(mjd) - _MJD_UNIX_EPOCH) * 86_400_000_000).astype(np.int64)


def calendar(mjd: Array) -> tuple[Array, Array, Array]:
    """(year, month, day) of each MJD (UTC date)."""
    days = (np.floor(mjd) - _MJD_UNIX_EPOCH).astype(np.int64).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def yyyymmdd(mjd: Array) -> Array:
    """Return the date of each MJD as the integer ``YYYYMMDD``."""
    year, month, day = calendar(mjd)
    return np.asarray(year * 10_000 + month * 100 + day)


def flux_njy(magnitude: Array) -> Array:
    """AB magnitude to flux [nJy]."""
    return np.power(10.0, 0.4 * (31.4 - np.asarray(magnitude)))
