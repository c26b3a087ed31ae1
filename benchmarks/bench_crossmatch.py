"""Cross-match: zone-index cone searches per second on a 1e7-source catalogue.

A catalogue of ``1e7 x scale`` sources spread uniformly over the sky is built
in memory for the run (the broker is not used). Measured, medians of the
repeats:

- ``index build``: sorting the catalogue into zones (once);
- ``match``: :meth:`Catalogue.match` on batches of 1,000 positions at radius
  2 arcsec, nearest source only; a tenth of the positions lie within 1 arcsec
  of a source, the rest anywhere. Target: >= 500,000 queries/s. (LSST:UK's
  Java zones took 0.5-0.7 ms a search on 67 M sources, 1,500-2,000/s a thread);
- ``CrossmatchProcessor``: the same batches through the processor, reading
  positions from alert stand-ins and building annotations;
- ``baseline``: on a smaller catalogue, a KD-tree of unit vectors
  (``scipy.spatial.cKDTree``, nearest within the radius) when scipy is
  installed, else a numpy brute force; the zone index runs on the same
  catalogue and the same positions, and their answers are compared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from skystream.config import KafkaSettings
from skystream.processors.catalogue import Catalogue, angular_distance_arcsec
from skystream.processors.crossmatch import CrossmatchProcessor

NAME = "crossmatch"
DESCRIPTION = "zone-index cone searches/s on a 1e7-source catalogue vs a KD-tree baseline"

RADIUS_ARCSEC = 2.0
BATCH = 1000
Floats = npt.NDArray[np.float64]


def run(
    settings: KafkaSettings | None = None, repeats: int = 5, scale: float = 1.0
) -> dict[str, Any]:
    """Build the catalogue and index, then measure batch cone searches; return medians."""
    del settings  # no broker needed
    rng = np.random.default_rng(2004)
    sources = max(10_000, int(10_000_000 * scale))
    ra, dec = _sky(rng, sources)
    catalogue = Catalogue.from_arrays(np.arange(sources), ra, dec, name="sky")
    started = time.perf_counter()
    index = catalogue.index(RADIUS_ARCSEC)
    build_seconds = time.perf_counter() - started

    batch_count = max(20, min(300, int(300 * scale)))
    batches = [_queries(rng, ra, dec) for _ in range(batch_count)]
    catalogue.match(*batches[0], RADIUS_ARCSEC)  # warm caches before the clock

    match_rates, step_rates, matched = [], [], 0
    processor = CrossmatchProcessor("bench", catalogue=catalogue, radius_arcsec=RADIUS_ARCSEC)
    alerts = [_stand_ins(q_ra, q_dec) for q_ra, q_dec in batches]
    for _ in range(repeats):
        started = time.perf_counter()
        matched = sum(len(catalogue.match(q_ra, q_dec, RADIUS_ARCSEC)) for q_ra, q_dec in batches)
        match_rates.append(batch_count * BATCH / (time.perf_counter() - started))
        started = time.perf_counter()
        for batch in alerts:
            processor.process_batch(batch)  # type: ignore[arg-type]
        step_rates.append(batch_count * BATCH / (time.perf_counter() - started))

    baseline = _baseline(rng, repeats, scale)
    match_rate = statistics.median(match_rates)
    return {
        "sources": sources,
        "radius_arcsec": RADIUS_ARCSEC,
        "batch": BATCH,
        "batches": batch_count,
        "repeats": repeats,
        "index": repr(index),
        "index_megabytes": round(index.nbytes / 1e6, 1),
        "index_build_seconds": round(build_seconds, 2),
        "matches_per_pass": matched,
        "match_queries_per_second": round(match_rate),
        "processor_alerts_per_second": round(statistics.median(step_rates)),
        "match_samples": [round(r) for r in match_rates],
        **baseline,
        "targets": {
            f">= 500,000 queries/s on {sources:,} sources": match_rate >= 500_000,
        },
    }


def _sky(rng: np.random.Generator, count: int) -> tuple[Floats, Floats]:
    return rng.uniform(0.0, 360.0, count), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))


def _queries(rng: np.random.Generator, ra: Floats, dec: Floats) -> tuple[Floats, Floats]:
    """A batch of positions: a tenth within 1 arcsec of a source, the rest anywhere."""
    q_ra, q_dec = _sky(rng, BATCH)
    near = BATCH // 10
    chosen = rng.integers(0, ra.size, near)
    q_dec[:near] = np.clip(dec[chosen] + rng.uniform(-0.7, 0.7, near) / 3600.0, -90.0, 90.0)
    q_ra[:near] = ra[chosen]
    return q_ra, q_dec


class _StandIn:
    """The three fields a cross-match reads, as an Alert would give them."""

    __slots__ = ("_values",)

    def __init__(self, alert_id: int, ra: float, dec: float) -> None:
        self._values = {"alert_id": alert_id, "ra": ra, "dec": dec}

    def get(self, name: str) -> Any:
        return self._values[name]


def _stand_ins(ra: Floats, dec: Floats) -> list[_StandIn]:
    return [
        _StandIn(i, r, d) for i, (r, d) in enumerate(zip(ra.tolist(), dec.tolist(), strict=True))
    ]


def _baseline(rng: np.random.Generator, repeats: int, scale: float) -> dict[str, Any]:
    """A KD-tree (or brute force) and the zone index on one smaller catalogue."""
    try:
        from scipy.spatial import cKDTree  # type: ignore[import-untyped]
    except ImportError:
        cKDTree = None  # noqa: N806
    sources = max(10_000, int((1_000_000 if cKDTree is not None else 20_000) * min(scale, 1.0)))
    ra, dec = _sky(rng, sources)
    catalogue = Catalogue.from_arrays(np.arange(sources), ra, dec)
    catalogue.index(RADIUS_ARCSEC)
    batches = [_queries(rng, ra, dec) for _ in range(20 if cKDTree is not None else 2)]
    if cKDTree is not None:
        started = time.perf_counter()
        tree = cKDTree(_unit(ra, dec))
        build_seconds = time.perf_counter() - started
        chord = 2.0 * np.sin(np.radians(RADIUS_ARCSEC / 3600.0) / 2.0)

        def baseline(q_ra: Floats, q_dec: Floats) -> set[tuple[int, int]]:
            _, rows = tree.query(_unit(q_ra, q_dec), k=1, distance_upper_bound=chord)
            found = np.flatnonzero(rows < sources)
            return set(zip(found.tolist(), rows[found].tolist(), strict=True))

        name = "scipy cKDTree (unit vectors, k=1)"
    else:
        build_seconds = 0.0

        def baseline(q_ra: Floats, q_dec: Floats) -> set[tuple[int, int]]:
            distance = angular_distance_arcsec(q_ra[:, None], q_dec[:, None], ra, dec)
            rows = distance.argmin(axis=1)
            found = np.flatnonzero(distance[np.arange(q_ra.size), rows] <= RADIUS_ARCSEC)
            return set(zip(found.tolist(), rows[found].tolist(), strict=True))

        name = "numpy brute force"

    def zones(q_ra: Floats, q_dec: Floats) -> set[tuple[int, int]]:
        matches = catalogue.match(q_ra, q_dec, RADIUS_ARCSEC)
        return set(zip(matches.query.tolist(), matches.row.tolist(), strict=True))

    agree = all(baseline(*batch) == zones(*batch) for batch in batches)
    base_rate = _rate(baseline, batches, repeats)
    zone_rate = _rate(zones, batches, repeats)
    return {
        "baseline": name,
        "baseline_sources": sources,
        "baseline_build_seconds": round(build_seconds, 2),
        "baseline_queries_per_second": round(base_rate),
        "zones_same_sample_queries_per_second": round(zone_rate),
        "zones_vs_baseline": round(zone_rate / base_rate, 2),
        "baseline_agrees": agree,
    }


def _rate(
    search: Callable[[Floats, Floats], object], batches: list[tuple[Floats, Floats]], repeats: int
) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for q_ra, q_dec in batches:
            search(q_ra, q_dec)
        rates.append(len(batches) * BATCH / (time.perf_counter() - started))
    return statistics.median(rates)


def _unit(ra: Floats, dec: Floats) -> Floats:
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    cos_dec = np.cos(dec_r)
    return np.column_stack((cos_dec * np.cos(ra_r), cos_dec * np.sin(ra_r), np.sin(dec_r)))


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines for ``skystream bench crossmatch``."""
    lines = [
        f"{results['sources']:,} sources, radius {results['radius_arcsec']} arcsec, nearest; "
        f"{results['batches']} batches of {results['batch']:,}; median of "
        f"{results['repeats']} repeats",
        f"index: {results['index']}, {results['index_megabytes']:,} MB, "
        f"built in {results['index_build_seconds']} s",
        f"Catalogue.match          {results['match_queries_per_second']:>12,} queries/s"
        f"  ({results['matches_per_pass']:,} matches a pass; target >= 500,000)",
        f"CrossmatchProcessor      {results['processor_alerts_per_second']:>12,} alerts/s"
        "  (positions read, annotations built)",
        f"baseline on {results['baseline_sources']:,} sources: {results['baseline']}"
        + (
            f", built in {results['baseline_build_seconds']} s"
            if results["baseline_build_seconds"]
            else ""
        ),
        f"  baseline               {results['baseline_queries_per_second']:>12,} queries/s",
        f"  zone index, same sample {results['zones_same_sample_queries_per_second']:>11,} "
        f"queries/s  ({results['zones_vs_baseline']:.1f}x; same answers: "
        f"{'yes' if results['baseline_agrees'] else 'NO'})",
    ]
    lines += [
        f"target {'met' if ok else 'MISSED'}: {name}" for name, ok in results["targets"].items()
    ]
    return lines
