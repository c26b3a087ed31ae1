"""Solar-system objects: provisional designations, orbits and viewing geometry.

:class:`Designations` draws minor-planet designations in the MPC's unpacked
(``2011 AB12``), packed (``K11A12B``) and compact (``2011AB12``, as ZTF's
``ssnamenr``) forms. :func:`draw_orbits` draws main-belt orbits for objects
seen at given positions and times, with the geometry that follows (distances,
phase angle, motion on the sky, ecliptic and galactic coordinates), a
predicted magnitude that agrees with the measured one, and the MPC orbit JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.sky import ECLIPTIC, GALACTIC, calendar, rotate, unit_vectors

__all__ = ["Designations", "draw_orbits"]

Array = NDArray[Any]

_HALF_MONTHS = "ABCDEFGHJKLMNOPQRSTUVWXY"
_SECOND_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
_CYCLE_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Designations:
    """Provisional designations of minor planets: unpacked, packed and compact forms."""

    unpacked: list[str]
    packed: list[str]
    compact: list[str]

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, last_year: int) -> Designations:
        """Draw ``n`` designations from 1995 to ``last_year``."""
        years = rng.integers(1995, max(last_year, 1996), n, endpoint=True).tolist()
        halves = rng.integers(0, len(_HALF_MONTHS), n).tolist()
        seconds = rng.integers(0, len(_SECOND_LETTERS), n).tolist()
        cycles = np.minimum(rng.geometric(0.04, n), 619).tolist()
        unpacked, packed, compact = [], [], []
        for year, half, second, cycle in zip(years, halves, seconds, cycles, strict=True):
            letters = _HALF_MONTHS[half] + _SECOND_LETTERS[second]
            unpacked.append(f"{year} {letters}{cycle or ''}")
            compact.append(f"{year}{letters}{cycle or ''}")
            century = chr(ord("A") + year // 100 - 10)
            packed.append(
                f"{century}{year % 100:02d}{letters[0]}"
                f"{_CYCLE_DIGITS[cycle // 10]}{cycle % 10}{letters[1]}"
            )
        return cls(unpacked, packed, compact)


def draw_orbits(
    rng: np.random.Generator, ra: Array, dec: Array, mjd: Array, magnitude: Array
) -> dict[str, Any]:
    """Draw orbits and viewing geometry of solar-system objects seen at (ra, dec, mjd).

    ``magnitude`` is what was measured; the predicted V magnitude (``vmag``)
    agrees with it up to colour and orbit errors, and the absolute magnitude
    ``h_mag`` follows from it and the distances.
    """
    n = int(ra.shape[0])
    a = rng.uniform(2.1, 3.3, n)
    e = rng.uniform(0.0, 0.25, n)
    period = 365.25 * a**1.5
    mean_motion = 360.0 / period
    mean_anomaly = rng.uniform(0.0, 360.0, n)
    helio = a * (1.0 - e * np.cos(np.radians(mean_anomaly)))
    elongation = rng.uniform(60.0, 180.0, n)
    cos_elongation = np.cos(np.radians(elongation))
    topo = -cos_elongation + np.sqrt(cos_elongation**2 + helio**2 - 1.0)
    phase = np.degrees(np.arcsin(np.clip(np.sin(np.radians(elongation)) / helio, -1.0, 1.0)))
    vmag = magnitude + rng.normal(0.0, 0.2, n)
    h_mag = vmag - 5.0 * np.log10(helio * topo) - 0.035 * phase
    rate = 0.25 / topo * rng.uniform(0.5, 1.5, n)
    heading = rng.uniform(0.0, 2 * math.pi, n)
    offset_ra, offset_dec = rng.normal(0.0, 0.15, n), rng.normal(0.0, 0.15, n)
    epoch = np.round(mjd / 200.0) * 200.0
    helio_direction = rng.normal(0.0, 1.0, (n, 3))
    helio_direction /= np.linalg.norm(helio_direction, axis=1)[:, None]
    velocity = rng.normal(0.0, 1.0, (n, 3))
    velocity *= (29.78 / np.sqrt(helio) / np.linalg.norm(velocity, axis=1))[:, None]
    earth_velocity = rng.normal(0.0, 1.0, (n, 3))
    earth_velocity *= (29.78 / np.linalg.norm(earth_velocity, axis=1))[:, None]
    topo_velocity = velocity - earth_velocity
    ecl_lon, ecl_lat = rotate(ra, dec, ECLIPTIC)
    gal_lon, gal_lat = rotate(ra, dec, GALACTIC)
    columns: dict[str, Any] = {
        "a": a,
        "e": e,
        "q": a * (1.0 - e),
        "incl": np.abs(rng.normal(0.0, 8.0, n)),
        "node": rng.uniform(0.0, 360.0, n),
        "argperi": rng.uniform(0.0, 360.0, n),
        "mean_anomaly": mean_anomaly,
        "epoch": epoch,
        "peri_time": epoch - mean_anomaly / mean_motion,
        "period": period,
        "mean_motion": mean_motion,
        "h_mag": h_mag,
        "arc": rng.uniform(30.0, 9000.0, n),
        "n_obs": rng.integers(20, 3000, n),
        "moid": np.maximum(helio - 1.0 + rng.normal(0.0, 0.2, n), 0.01),
        "orbit_id": rng.integers(1, 2**31 - 1, n),
        "helio_range": helio,
        "topo_range": topo,
        "helio_range_rate": rng.normal(0.0, 5.0, n),
        "topo_range_rate": rng.normal(0.0, 15.0, n),
        "elongation": elongation,
        "phase": phase,
        "vmag": vmag,
        "rate": rate,
        "rate_ra": rate * np.sin(heading),
        "rate_dec": rate * np.cos(heading),
        "eph_sigma": np.full(n, 0.3 / 3600.0),
        "eph_offset": np.hypot(offset_ra, offset_dec),
        "eph_offset_ra": offset_ra,
        "eph_offset_dec": offset_dec,
        "eph_along": offset_ra * np.sin(heading) + offset_dec * np.cos(heading),
        "eph_across": offset_ra * np.cos(heading) - offset_dec * np.sin(heading),
        "ecl_lon": ecl_lon,
        "ecl_lat": ecl_lat,
        "gal_lon": gal_lon,
        "gal_lat": gal_lat,
    }
    topo_position = unit_vectors(ra, dec) * topo[:, None]
    for frame, position, speed in (
        ("helio", helio_direction * helio[:, None], velocity),
        ("topo", topo_position, topo_velocity),
    ):
        for axis, letter in enumerate("xyz"):
            columns[f"{frame}_{letter}"] = position[:, axis]
            columns[f"{frame}_v{letter}"] = speed[:, axis]
        columns[f"{frame}_vtot"] = np.linalg.norm(speed, axis=1)
    year = int(calendar(mjd[:1])[0][0]) if n else 2025
    names = Designations.draw(rng, n, year)
    columns["designation"] = names.unpacked
    columns["packed_designation"] = names.packed
    columns["orbit_json"] = [
        json.dumps(
            {
                "designation_data": {"unpacked_primary_provisional_designation": name},
                "COM": {
                    "q": round(q, 8),
                    "e": round(ecc, 8),
                    "i": round(inc, 6),
                    "node": round(node, 6),
                    "argperi": round(peri, 6),
                    "epoch": epo,
                },
            },
            separators=(",", ":"),
        )
        for name, q, ecc, inc, node, peri, epo in zip(
            names.unpacked,
            columns["q"].tolist(),
            e.tolist(),
            columns["incl"].tolist(),
            columns["node"].tolist(),
            columns["argperi"].tolist(),
            epoch.tolist(),
            strict=True,
        )
    ]
    return columns
