"""The Rubin model: visits, DIA sources and objects, their history, orbits and cutouts.

:class:`RubinModel` draws, for each chunk of alerts, the columns the Rubin fill
rules (:mod:`~skystream.alerts.synthetic.rubin_rules`) read. Visits point
uniformly over the sky below dec +30 deg in one of the six bands; an alert
lands on one of the 189 science CCDs and its position follows from the
pixel. Fluxes are mostly near the single-visit depth, with errors to match;
an alert of a non-solar-system object carries previous sources, forced
measurements (and, before schema 8, non-detection limits) of the same object,
which its ``diaObject`` summarises per band. A solar-system alert instead
carries an orbit and the ``ssSource`` (``ssObject``) geometry.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.cutouts import draw_cutouts, fits_images, pixel_noise
from skystream.alerts.synthetic.orbits import draw_orbits
from skystream.alerts.synthetic.plan import AlertPlan
from skystream.alerts.synthetic.rules import Rows
from skystream.alerts.synthetic.settings import GenerationSettings
from skystream.alerts.synthetic.sky import (
    flux_njy,
    from_tangent_plane,
    jitter,
    uniform_dec,
    yyyymmdd,
)
from skystream.alerts.synthetic.survey import SurveyModel, earlier_times, history_counts
from skystream.alerts.synthetic.tables import Nested

__all__ = ["RubinModel"]

Array = NDArray[Any]

_BANDS = np.array(list("ugrizy"))
_BAND_WEIGHTS = (0.07, 0.09, 0.22, 0.22, 0.20, 0.20)
# Single-visit 5-sigma depths per band [AB mag] (LSST science requirements).
_DEPTH = np.array([23.7, 24.9, 24.4, 24.0, 23.4, 22.6])
_PIXEL_ARCSEC = 0.2
_CCD_PIXELS = (4072, 4000)
_REASONS = (
    ("wfd", "lowdust"),
    ("wfd", "dusty_plane"),
    ("wfd", "nes"),
    ("wfd", "scp"),
    ("ddf", "ddf_cosmos"),
    ("ddf", "ddf_xmm_lss"),
    ("too", "too_gw"),
)
_REASON_WEIGHTS = (0.55, 0.15, 0.1, 0.1, 0.05, 0.03, 0.02)


@cache
def _detector_centres() -> Array:
    """Centres of the 189 science CCDs in the focal plane [deg]: 21 rafts of 3x3."""
    pitch = 4100 * _PIXEL_ARCSEC / 3600.0
    corners = {(0, 0), (0, 4), (4, 0), (4, 4)}
    centres = [
        ((raft_col * 3 + col - 7) * pitch, (raft_row * 3 + row - 7) * pitch)
        for raft_row in range(5)
        for raft_col in range(5)
        if (raft_row, raft_col) not in corners
        for row in range(3)
        for col in range(3)
    ]
    return np.array(centres)


def _band_statistics(
    parent: Array, band: Array, flux: Array, err: Array, mjd: Array, n: int, model: Array
) -> dict[str, Array]:
    """Per-object, per-band light-curve statistics, each of shape (n, 6).

    Bands without data get the object's model flux (so no value is missing),
    zero spread and zero counts.
    """
    groups = parent * 6 + band
    size = n * 6
    count = np.bincount(groups, minlength=size)
    weight = 1.0 / err**2
    total_weight = np.bincount(groups, weight, minlength=size)
    has = count > 0
    weighted_sum = np.bincount(groups, weight * flux, minlength=size)
    mean = np.where(has, weighted_sum / np.where(has, total_weight, 1), model.reshape(-1))
    residual = flux - mean[groups]
    safe_count = np.maximum(count, 1)
    typical_err = np.median(err) if err.size else 1.0
    lowest = np.full(size, np.inf)
    highest = np.full(size, -np.inf)
    np.minimum.at(lowest, groups, flux)
    np.maximum.at(highest, groups, flux)
    slope = np.zeros(size)
    order = np.lexsort((mjd, groups))
    same = groups[order][1:] == groups[order][:-1]
    steps = np.abs(np.diff(flux[order])) / np.maximum(np.diff(mjd[order]), 1e-3)
    np.maximum.at(slope, groups[order][1:][same], steps[same])
    stats = {
        "Mean": mean,
        "MeanErr": np.where(has, 1.0 / np.sqrt(np.where(has, total_weight, 1)), typical_err),
        "Sigma": np.sqrt(np.bincount(groups, residual**2, minlength=size) / safe_count),
        "Chi2": np.bincount(groups, weight * residual**2, minlength=size),
        "Ndata": count,
        "Min": np.where(has, lowest, mean),
        "Max": np.where(has, highest, mean),
        "MaxSlope": slope,
        "ErrMean": np.where(
            has, np.bincount(groups, err, minlength=size) / safe_count, typical_err
        ),
    }
    return {key: value.reshape(n, 6) for key, value in stats.items()}


class RubinModel(SurveyModel):
    """Rubin visits, sources, objects and cutouts, drawn from one generator."""

    def __init__(
        self, settings: GenerationSettings, plan: AlertPlan, rng: np.random.Generator
    ) -> None:
        super().__init__(settings, plan, rng)
        # Ids grow with time: alerts take theirs from the top of the range,
        # earlier (previous and forced) sources from below it.
        self.source_base = int(rng.integers(2 * 10**17, 3 * 10**17))
        self.old_source_next = self.source_base - 10**13
        self.object_base = int(rng.integers(10**17, 2 * 10**17))
        self.ss_object_base = int(rng.integers(10**16, 9 * 10**16))
        self.forced_next = int(rng.integers(3 * 10**17, 4 * 10**17))
        self.first_sequence = int(rng.integers(1, 400))

    def draw_visits(self, index: Array) -> dict[str, Array]:
        """Draw pointings (uniform over dec < +30 deg), bands, seeing and survey programs."""
        rng, new = self.rng, index.shape[0]
        mjd = self.settings.start_mjd + index * self.settings.visit_interval_s / 86400.0
        band = rng.choice(6, new, p=_BAND_WEIGHTS)
        reason = rng.choice(len(_REASONS), new, p=_REASON_WEIGHTS)
        return {
            "ra": rng.uniform(0.0, 360.0, new),
            "dec": uniform_dec(rng, -90.0, 30.0, new),
            "rotation": rng.uniform(0.0, 2 * math.pi, new),
            "band": band,
            "depth": _DEPTH[band] + rng.normal(0.0, 0.25, new),
            "seeing": np.exp(rng.normal(math.log(0.8), 0.2, new)),
            "mjd": mjd,
            "visit": yyyymmdd(mjd - 0.5) * 100_000 + self.first_sequence + index,
            "reason": reason,
        }

    def _photometry(
        self, band: Array, flux: Array, depth: Array, seeing: Array
    ) -> dict[str, Array]:
        """Errors and measurement sizes for fluxes observed in ``band`` at ``depth``."""
        sky_err = flux_njy(depth) / 5.0
        flux_err = sky_err * np.sqrt(1.0 + np.abs(flux) / (50.0 * sky_err))
        snr = np.abs(flux) / flux_err
        sigma_arcsec = seeing / 2.355
        pos_err = np.maximum(sigma_arcsec / np.maximum(snr, 1.0), 0.005) / 3600.0
        return {
            "band": _BANDS[band],
            "flux_err": flux_err,
            "pos_err": pos_err,
            "pixel_err": pos_err * 3600.0 / _PIXEL_ARCSEC,
            "psf_moment": sigma_arcsec**2,
        }

    def chunk(self, start: int, stop: int) -> tuple[Rows, dict[str, Nested]]:
        """Draw alerts ``start`` to ``stop``: sources, history, objects, orbits, cutouts."""
        rng, settings, n = self.rng, self.settings, stop - start
        index = np.arange(start, stop)
        visit = self.visit_columns(index // settings.visit_size)
        sso = self.sso[start:stop]

        detector = rng.integers(0, 189, n)
        x = rng.uniform(0.0, _CCD_PIXELS[0], n)
        y = rng.uniform(0.0, _CCD_PIXELS[1], n)
        centre = _detector_centres()[detector]
        scale = _PIXEL_ARCSEC / 3600.0
        fx = centre[:, 0] + (x - _CCD_PIXELS[0] / 2) * scale
        fy = centre[:, 1] + (y - _CCD_PIXELS[1] / 2) * scale
        cos_r, sin_r = np.cos(visit["rotation"]), np.sin(visit["rotation"])
        ra, dec = from_tangent_plane(
            visit["ra"], visit["dec"], fx * cos_r - fy * sin_r, fx * sin_r + fy * cos_r
        )

        # Most alerts are near the detection limit; a few are bright.
        magnitude = np.maximum(visit["depth"] - 0.2 - rng.exponential(1.3, n), 15.0)
        sign = np.where(sso | (rng.random(n) >= 0.15), 1.0, -1.0)
        brightness = flux_njy(magnitude)
        photometry = self._photometry(visit["band"], brightness, visit["depth"], visit["seeing"])
        brightness = np.maximum(brightness, 5.2 * photometry["flux_err"])
        flux = sign * brightness
        host = (rng.random(n) < 0.5) & ~sso
        template_flux = np.where(
            host,
            brightness * np.exp(rng.normal(0.0, 1.0, n)),
            rng.normal(0.0, 0.3, n) * photometry["flux_err"],
        )
        template_flux = np.where(
            sign < 0, np.maximum(template_flux, 1.3 * brightness), template_flux
        )
        colour = rng.normal(0.0, 0.2, n)
        processed = visit["mjd"] + rng.uniform(50.0, 110.0, n) / 86400.0

        previous = np.where(sso, 0, history_counts(rng, settings.history, n))
        forced = np.where(sso, 0, history_counts(rng, settings.history, n))
        limits = np.where(sso, 0, rng.integers(0, settings.history // 3 + 1, n))

        sources = {
            "source_id": self.source_base + index,
            "object_id": self.object_base + index,
            "ss_object_id": self.ss_object_base + index,
            "visit": visit["visit"],
            "detector": detector,
            "ccd_visit_id": visit["visit"] * 1000 + detector,
            "x": x,
            "y": y,
            "ra": ra,
            "dec": dec,
            "mjd": visit["mjd"],
            "processed_mjd": processed,
            "flux": flux,
            "template_flux": template_flux,
            "is_sso": sso,
            "band_index": visit["band"],
            **photometry,
        }
        reason = visit["reason"]
        alert_columns: dict[str, Any] = {
            "source_id": sources["source_id"],
            "mjd": visit["mjd"],
            "processed_mjd": processed,
            "observation_reason": np.array([_REASONS[r][0] for r in reason.tolist()]),
            "target_name": np.array([_REASONS[r][1] for r in reason.tolist()]),
        }
        alert_columns.update(
            self._cutouts(ra, dec, visit, flux, template_flux, photometry["flux_err"])
        )
        alert = Rows(rng, n, alert_columns)

        everyone = np.ones(n, dtype=bool)
        nested: dict[str, Nested] = {
            "diaSource": Nested(
                Rows(rng, n, sources, nulls={"diaObjectId": sso, "ssObjectId": ~sso}), everyone
            )
        }
        objects = ~sso
        history = self._previous_sources(sources, previous, colour)
        nested["prvDiaSources"] = Nested(history, objects, previous[objects])
        forced_rows = self._forced_sources(sources, forced, colour)
        nested["prvDiaForcedSources"] = Nested(forced_rows, objects, forced[objects])
        if "prvDiaNondetectionLimits" in self.fields:
            nested["prvDiaNondetectionLimits"] = Nested(
                self._limits(sources, limits), objects, limits[objects]
            )
        nested["diaObject"] = Nested(
            self._objects(sources, history, forced_rows, colour, previous, objects), objects
        )
        solar = np.flatnonzero(sso)
        ss_columns = _select(sources, solar)
        ss_columns.update(
            draw_orbits(
                rng,
                ss_columns["ra"],
                ss_columns["dec"],
                ss_columns["mjd"],
                31.4 - 2.5 * np.log10(np.abs(ss_columns["flux"])),
            )
        )
        for name in ("ssObject", "ssSource", "MPCORB", "mpc_orbits"):
            nested[name] = Nested(Rows(rng, solar.shape[0], ss_columns), sso)
        return alert, nested

    def _cutouts(
        self,
        ra: Array,
        dec: Array,
        visit: dict[str, Array],
        flux: Array,
        template_flux: Array,
        flux_err: Array,
    ) -> dict[str, list[bytes]]:
        sigma_pixels = visit["seeing"] / 2.355 / _PIXEL_ARCSEC
        images = draw_cutouts(
            self.rng,
            size=self.settings.cutout_pixels,
            difference_flux=flux,
            template_flux=template_flux,
            psf_sigma_pixels=sigma_pixels,
            noise_sigma=pixel_noise(flux_err, sigma_pixels),
        )
        where = {
            "ra": ra.tolist(),
            "dec": dec.tolist(),
            "mjd": visit["mjd"].tolist(),
            "band": _BANDS[visit["band"]].tolist(),
        }
        return {
            name: fits_images(pixels, **where, pixel_scale_arcsec=_PIXEL_ARCSEC, unit="nJy")
            for name, pixels in (
                ("cutoutDifference", images.difference),
                ("cutoutScience", images.science),
                ("cutoutTemplate", images.template),
            )
        }

    def _earlier_sources(
        self, sources: dict[str, Any], counts: Array, colour: Array, spread: tuple[float, float]
    ) -> tuple[Array, dict[str, Any]]:
        """Measurements of each alert's object at earlier visits in random bands."""
        rng = self.rng
        span = rng.uniform(20.0, 365.0, int(counts.shape[0]))
        parent, mjd = earlier_times(rng, sources["mjd"], counts, 0.0, 1.0)
        mjd = sources["mjd"][parent] - (sources["mjd"][parent] - mjd) * span[parent] - 0.02
        rows = int(parent.shape[0])
        band = rng.choice(6, rows, p=_BAND_WEIGHTS)
        depth = _DEPTH[band] + rng.normal(0.0, 0.3, rows)
        seeing = np.exp(rng.normal(math.log(0.8), 0.2, rows))
        band_now = sources["band_index"]
        step = band - band_now[parent]
        colour_factor = np.power(10.0, -0.4 * colour[parent] * step)
        variation = rng.uniform(spread[0], spread[1], rows)
        flux = sources["flux"][parent] * colour_factor * variation
        photometry = self._photometry(band, flux, depth, seeing)
        detector = rng.integers(0, 189, rows)
        visit = yyyymmdd(mjd - 0.5) * 100_000 + rng.integers(1, 1200, rows)
        columns: dict[str, Any] = {
            "object_id": sources["object_id"][parent],
            "ss_object_id": sources["ss_object_id"][parent],
            "mjd": mjd,
            "processed_mjd": mjd + rng.uniform(50.0, 110.0, rows) / 86400.0,
            "band_index": band,
            "flux": flux,
            "template_flux": sources["template_flux"][parent] * colour_factor,
            "visit": visit,
            "detector": detector,
            "ccd_visit_id": visit * 1000 + detector,
            "x": rng.uniform(0.0, _CCD_PIXELS[0], rows),
            "y": rng.uniform(0.0, _CCD_PIXELS[1], rows),
            "is_sso": np.zeros(rows, dtype=bool),
            **photometry,
        }
        return parent, columns

    def _previous_sources(self, sources: dict[str, Any], counts: Array, colour: Array) -> Rows:
        parent, columns = self._earlier_sources(sources, counts, colour, (0.4, 1.3))
        # Objects with a source in the template vary: earlier detections of either sign.
        variable = np.abs(sources["template_flux"][parent]) > np.abs(sources["flux"][parent])
        flip = variable & (self.rng.random(parent.shape[0]) < 0.3)
        columns["flux"] = np.where(flip, -columns["flux"], columns["flux"])
        # Previous sources are detections: at least 5 sigma.
        columns["flux"] = np.sign(columns["flux"]) * np.maximum(
            np.abs(columns["flux"]), 5.2 * columns["flux_err"]
        )
        rows = int(parent.shape[0])
        columns["source_id"] = self.old_source_next + np.arange(rows)
        self.old_source_next += rows
        columns["ra"], columns["dec"] = jitter(
            self.rng, sources["ra"][parent], sources["dec"][parent], columns["pos_err"]
        )
        columns["parent"] = parent
        return Rows(self.rng, rows, columns, nulls={"ssObjectId": np.ones(rows, dtype=bool)})

    def _forced_sources(self, sources: dict[str, Any], counts: Array, colour: Array) -> Rows:
        parent, columns = self._earlier_sources(sources, counts, colour, (-0.3, 1.2))
        rows = int(parent.shape[0])
        columns["flux"] = columns["flux"] + self.rng.normal(0.0, 1.0, rows) * columns["flux_err"]
        columns["source_id"] = self.forced_next + np.arange(rows)
        self.forced_next += rows
        # Forced photometry is measured at the object's position.
        columns["ra"], columns["dec"] = sources["ra"][parent], sources["dec"][parent]
        columns["parent"] = parent
        return Rows(self.rng, rows, columns)

    def _limits(self, sources: dict[str, Any], counts: Array) -> Rows:
        parent, mjd = earlier_times(self.rng, sources["mjd"], counts, 0.5, 365.0)
        rows = int(parent.shape[0])
        band = self.rng.choice(6, rows, p=_BAND_WEIGHTS)
        depth = _DEPTH[band] + self.rng.normal(0.0, 0.3, rows)
        visit = yyyymmdd(mjd - 0.5) * 100_000 + self.rng.integers(1, 1200, rows)
        columns = {
            "mjd": mjd,
            "processed_mjd": mjd + 80.0 / 86400.0,
            "band": _BANDS[band],
            "flux_err": flux_njy(depth) / 5.0,
            "ccd_visit_id": visit * 1000 + self.rng.integers(0, 189, rows),
        }
        return Rows(self.rng, rows, columns)

    def _objects(
        self,
        sources: dict[str, Any],
        history: Rows,
        forced: Rows,
        colour: Array,
        previous: Array,
        objects: Array,
    ) -> Rows:
        n = objects.shape[0]
        band_now = sources["band_index"]
        model = sources["flux"][:, None] * np.power(
            10.0, -0.4 * colour[:, None] * (np.arange(6)[None, :] - band_now[:, None])
        )
        template = sources["template_flux"][:, None] * (model / sources["flux"][:, None])
        # The object's light curve: its previous sources plus this one.
        parent = np.concatenate([history["parent"], np.arange(n)])
        columns: dict[str, Any] = {}
        measures: dict[str, dict[str, Array]] = {
            "psf": _band_statistics(
                parent,
                np.concatenate([history["band_index"], band_now]),
                np.concatenate([history["flux"], sources["flux"]]),
                np.concatenate([history["flux_err"], sources["flux_err"]]),
                np.concatenate([history["mjd"], sources["mjd"]]),
                n,
                model,
            ),
            "fp": _band_statistics(
                forced["parent"],
                forced["band_index"],
                forced["flux"],
                forced["flux_err"],
                forced["mjd"],
                n,
                model,
            ),
        }
        science = dict(measures["psf"])
        science["Mean"] = measures["psf"]["Mean"] + template
        measures["science"] = science
        for measure, statistics in measures.items():
            for statistic, values in statistics.items():
                for band_index, band in enumerate("ugrizy"):
                    columns[f"{band}:{measure}:{statistic}"] = values[objects, band_index]
        first = np.full(n, np.inf)
        np.minimum.at(first, parent, np.concatenate([history["mjd"], sources["mjd"]]))
        columns.update(
            {key: sources[key][objects] for key in ("object_id", "mjd", "processed_mjd", "pos_err")}
        )
        columns["ra"], columns["dec"] = jitter(
            self.rng, sources["ra"][objects], sources["dec"][objects], 0.3 * columns["pos_err"]
        )
        columns["first_mjd"] = first[objects]
        columns["n_sources"] = previous[objects] + 1
        return Rows(self.rng, int(objects.sum()), columns)


def _select(columns: dict[str, Any], index: Array) -> dict[str, Any]:
    """Take the rows ``index`` of every column (arrays or lists)."""
    return {
        key: value[index] if isinstance(value, np.ndarray) else [value[i] for i in index.tolist()]
        for key, value in columns.items()
    }
