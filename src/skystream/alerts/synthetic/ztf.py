"""The ZTF model: exposures, candidates, their 30-day history and cutouts.

:class:`ZtfModel` draws, for each chunk of alerts, the columns the ZTF fill
rules (:mod:`~skystream.alerts.synthetic.ztf_rules`) read. Exposures point
uniformly over the sky above dec -30 deg in g, r or i; a candidate lands on
one of the 64 readout quadrants and its position follows from the pixel.
Each alert carries earlier exposures of its position (``prv_candidates``:
detections, or upper limits that keep only the exposure's values) and forced
photometry (``fp_hists``); a solar-system candidate has only upper limits.
Ids and file names follow ZTF's conventions (``candid``, ``pid``,
``ZTF21abcdefg``, ``ztf_20210101123456_000600_zr_c05_o_q2...``), and cutouts
are gzipped FITS named as ZTF names them.
"""

from __future__ import annotations

import gzip
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.cutouts import draw_cutouts, fits_images, pixel_noise
from skystream.alerts.synthetic.orbits import Designations
from skystream.alerts.synthetic.plan import AlertPlan
from skystream.alerts.synthetic.rules import Rows
from skystream.alerts.synthetic.settings import GenerationSettings
from skystream.alerts.synthetic.sky import calendar, from_tangent_plane, jitter, uniform_dec
from skystream.alerts.synthetic.survey import SurveyModel, earlier_times, history_counts
from skystream.alerts.synthetic.tables import Nested

__all__ = ["ZtfModel"]

Array = NDArray[Any]

_PIXEL_ARCSEC = 1.012
_QUADRANT_PIXELS = (3072, 3080)
_FILTERS = np.array(["g", "r", "i"])
_FILTER_WEIGHTS = (0.45, 0.45, 0.10)
_DEPTH = np.array([20.8, 20.6, 20.0])
_ZERO_POINT = np.array([26.3, 26.2, 25.8])
_PROGRAMS = np.array([1, 2, 3])
_PIS = np.array(["Kulkarni", "Kulkarni", "Graham"])
_NIGHT_ZERO = 57754  # MJD of ZTF night id 0
# Exposure-level values that upper limits in prv_candidates keep.
_LIMIT_KEEP = frozenset(
    {
        "jd",
        "fid",
        "pid",
        "diffmaglim",
        "pdiffimfilename",
        "programpi",
        "programid",
        "nid",
        "rcid",
        "field",
        "magzpsci",
        "magzpsciunc",
        "magzpscirms",
        "clrcoeff",
        "clrcounc",
        "rbversion",
    }
)


def _ps1_object_id(ra: Array, dec: Array) -> Array:
    """Pan-STARRS1 object ids of sources at (ra, dec) (PS1's zone formula)."""
    zone_height = 1.0 / 120.0
    zone = np.floor((dec + 90.0) / zone_height)
    residual = (dec + 90.0) / zone_height - zone
    return (
        zone.astype(np.int64) * 10**13
        + np.floor(ra * 1e6).astype(np.int64) * 10**4
        + np.floor(residual * 1e4).astype(np.int64)
    )


def _object_names(numbers: Array, years: Array) -> list[str]:
    """ZTF object names: 'ZTF' + two-digit year + seven lowercase letters."""
    names = []
    for number, year in zip(numbers.tolist(), years.tolist(), strict=True):
        letters = []
        for _ in range(7):
            number, digit = divmod(number, 26)
            letters.append(chr(ord("a") + digit))
        names.append(f"ZTF{year % 100:02d}{''.join(reversed(letters))}")
    return names


def _file_names(mjd: Array, field: Array, fid: Array, rcid: Array, archive: bool) -> list[str]:
    """Difference-image file names of exposures (archive paths, as prv_candidates give)."""
    year, month, day = calendar(mjd)
    fraction = np.floor((mjd % 1.0) * 1e6).astype(np.int64)
    names = []
    for y, m, d, f, fld, band, rc in zip(
        year.tolist(),
        month.tolist(),
        day.tolist(),
        fraction.tolist(),
        field.tolist(),
        _FILTERS[fid - 1].tolist(),
        rcid.tolist(),
        strict=True,
    ):
        stem = (
            f"ztf_{y:04d}{m:02d}{d:02d}{f:06d}_{fld:06d}_z{band}_c{rc // 4 + 1:02d}_o_q{rc % 4 + 1}"
        )
        if archive:
            names.append(
                f"/ztf/archive/sci/{y:04d}/{m:02d}{d:02d}/{f:06d}/{stem}_scimrefdiffimg.fits.fz"
            )
        else:
            names.append(f"{stem}_scimrefdiffimg.fits")
    return names


def _distance_to_edge(x: Array, y: Array) -> Array:
    """Distance [pixels] from (x, y) to the nearest edge of the readout quadrant."""
    return np.asarray(np.minimum.reduce([x, y, _QUADRANT_PIXELS[0] - x, _QUADRANT_PIXELS[1] - y]))


def _exposure(jd: Array, rcid: Array) -> dict[str, Array]:
    """Night id and processing id of exposures at ``jd`` on readout channel ``rcid``."""
    mjd = jd - 2400000.5
    nid = np.floor(mjd).astype(np.int64) - _NIGHT_ZERO
    fraction = np.floor((mjd % 1.0) * 1e7).astype(np.int64)
    return {"nid": nid, "pid": (nid * 10**7 + fraction) * 100 + rcid}


class ZtfModel(SurveyModel):
    """ZTF exposures, candidates, their history and cutouts, drawn from one generator."""

    def __init__(
        self, settings: GenerationSettings, plan: AlertPlan, rng: np.random.Generator
    ) -> None:
        super().__init__(settings, plan, rng)
        self.object_base = int(rng.integers(26**5, 26**6))
        self.schema_version = str(settings.schema.definition.get("version", ""))

    def draw_visits(self, index: Array) -> dict[str, Array]:
        """Draw pointings (uniform over dec > -30 deg), fields, filters, programs and seeing."""
        rng, new = self.rng, index.shape[0]
        fid = rng.choice(3, new, p=_FILTER_WEIGHTS) + 1
        program = rng.choice(3, new, p=(0.5, 0.4, 0.1))
        return {
            "ra": rng.uniform(0.0, 360.0, new),
            "dec": uniform_dec(rng, -30.0, 90.0, new),
            "field": rng.integers(245, 880, new),
            "fid": fid,
            "program": program,
            "depth": _DEPTH[fid - 1] + rng.normal(0.0, 0.3, new),
            "zero_point": _ZERO_POINT[fid - 1] + rng.normal(0.0, 0.05, new),
            "fwhm": rng.uniform(1.6, 3.5, new),
            "mjd": self.settings.start_mjd + index * self.settings.visit_interval_s / 86400.0,
        }

    def chunk(self, start: int, stop: int) -> tuple[Rows, dict[str, Nested]]:
        """Draw alerts ``start`` to ``stop``: candidates, their history and cutouts."""
        rng, settings, n = self.rng, self.settings, stop - start
        index = np.arange(start, stop)
        visit = self.visit_columns(index // settings.visit_size)
        sso = self.sso[start:stop]

        rcid = rng.integers(0, 64, n)
        xpos = rng.uniform(0.0, _QUADRANT_PIXELS[0], n)
        ypos = rng.uniform(0.0, _QUADRANT_PIXELS[1], n)
        ccd, quadrant = rcid // 4, rcid % 4
        column = (ccd % 4) * 2 + quadrant % 2
        row = (ccd // 4) * 2 + quadrant // 2
        scale = _PIXEL_ARCSEC / 3600.0
        fx = (column * _QUADRANT_PIXELS[0] + xpos - 4 * _QUADRANT_PIXELS[0]) * scale
        fy = (row * _QUADRANT_PIXELS[1] + ypos - 4 * _QUADRANT_PIXELS[1]) * scale
        ra, dec = from_tangent_plane(visit["ra"], visit["dec"], fx, fy)
        jd = visit["mjd"] + 2400000.5
        exposure = _exposure(jd, rcid)
        candid = exposure["pid"] * 10**6 + index % 10**6

        depth, zero_point = visit["depth"], visit["zero_point"]
        mag = np.maximum(depth - 0.05 - rng.exponential(1.0, n), 13.5)
        snr = 5.0 * np.power(10.0, 0.4 * (depth - mag))
        positive = sso | (rng.random(n) >= 0.15)
        # A reference source under most non-moving candidates.
        hosted = ~sso & (rng.random(n) < 0.8)
        distnr = np.where(hosted, rng.uniform(0.0, 1.2, n), rng.uniform(2.0, 20.0, n))
        magnr = np.where(positive, rng.uniform(14.0, 21.0, n), np.minimum(mag - 0.3, 20.0))
        magnr = np.where(sso, rng.uniform(17.0, 22.0, n), magnr)
        ranr, decnr = jitter(rng, ra, dec, distnr * scale / math.sqrt(2))
        aimage = visit["fwhm"] * rng.uniform(0.25, 0.45, n)
        distps = np.sort(rng.uniform(0.0, 30.0, (n, 3)), axis=1)
        distps[:, 0] = np.where(sso, distps[:, 0], rng.uniform(0.0, 1.5, n))
        ps1 = [
            _ps1_object_id(*jitter(rng, ra, dec, distps[:, k] / 3600.0 / math.sqrt(2)))
            for k in range(3)
        ]

        previous = history_counts(rng, settings.history, n)
        forced = history_counts(rng, settings.history, n)
        reference = {"ranr": ranr, "decnr": decnr, "magnr": magnr, "distnr": distnr}
        prv = self._previous(jd, rcid, visit, previous, sso, mag, ra, dec, xpos, ypos, reference)
        detections = np.bincount(prv["parent"], ~prv["limit"], minlength=n)
        first_seen = np.where(
            sso, jd, np.minimum(jd, prv["first_detection"]) - rng.uniform(0.0, 300.0, n)
        )
        ndethist = np.where(sso, 1, detections + 1 + rng.integers(0, 50, n))
        year = calendar(first_seen - 2400000.5)[0]
        names = Designations.draw(rng, n, 2025).compact
        numbered = rng.random(n) < 0.7
        numbers = rng.integers(1, 800_000, n).astype(str)

        columns: dict[str, Any] = {
            "schema_version": self.schema_version,
            "object_name": np.array(_object_names(self.object_base + index, year)),
            "candid": candid,
            "jd": jd,
            "mjd": visit["mjd"],
            "processed_mjd": visit["mjd"],
            "fid": visit["fid"],
            "programid": _PROGRAMS[visit["program"]],
            "programpi": _PIS[visit["program"]],
            "field": visit["field"],
            "rcid": rcid,
            "xpos": xpos,
            "ypos": ypos,
            "mindtoedge": _distance_to_edge(xpos, ypos),
            "ra": ra,
            "dec": dec,
            "mag": mag,
            "mag_err": np.maximum(1.0857 / snr, 0.005),
            "magap": mag + rng.normal(0.0, 0.05, n),
            "diffmaglim": depth,
            "zero_point": zero_point,
            "fwhm": visit["fwhm"],
            "aimage": aimage,
            "bimage": aimage * rng.uniform(0.75, 1.0, n),
            "isdiffpos": np.where(positive, "t", "f"),
            "distnr": distnr,
            "magnr": magnr,
            "ranr": ranr,
            "decnr": decnr,
            "ssnamenr": np.where(sso, np.where(numbered, numbers, names), "null"),
            "ssdistnr": np.where(sso, np.minimum(rng.exponential(2.0, n), 29.9), -999.0),
            "ssmagnr": np.where(sso, np.clip(mag + rng.normal(0.0, 0.3, n), 15.0, 21.0), -999.0),
            "distpsnr1": distps[:, 0],
            "distpsnr2": distps[:, 1],
            "distpsnr3": distps[:, 2],
            "objectidps1": ps1[0],
            "objectidps2": ps1[1],
            "objectidps3": ps1[2],
            "ndethist": ndethist,
            "ncovhist": ndethist + previous + rng.integers(0, 200, n),
            "jdstarthist": first_seen,
            "rfid": visit["field"] * 10**6 + (10 + visit["fid"]) * 10**4 + 200 + rcid,
            "diffim_name": np.array(
                _file_names(visit["mjd"], visit["field"], visit["fid"], rcid, archive=False)
            ),
            **exposure,
        }
        columns["sign"] = np.where(positive, 1.0, -1.0)
        flux = columns["sign"] * np.power(10.0, 0.4 * (zero_point - mag))
        static = np.where(hosted, np.power(10.0, 0.4 * (zero_point - magnr)), 0.0)
        columns.update(self._cutouts(columns, flux, static, snr))
        alert = Rows(rng, n, columns)
        everyone = np.ones(n, dtype=bool)
        nested = {
            "candidate": Nested(alert, everyone),
            "prv_candidates": Nested(
                Rows(rng, prv["parent"].shape[0], prv, null_rows=prv["limit"], keep=_LIMIT_KEEP),
                everyone,
                previous,
            ),
            "fp_hists": Nested(self._forced(columns, forced, sso), everyone, forced),
        }
        return alert, nested

    def _previous(
        self,
        jd: Array,
        rcid: Array,
        visit: dict[str, Array],
        counts: Array,
        sso: Array,
        mag: Array,
        ra: Array,
        dec: Array,
        xpos: Array,
        ypos: Array,
        reference: dict[str, Array],
    ) -> dict[str, Any]:
        """Earlier exposures of each candidate's position in the last 30 days."""
        rng = self.rng
        parent, when = earlier_times(rng, jd, counts, 0.01, 30.0)
        rows = int(parent.shape[0])
        fid = rng.choice(3, rows, p=_FILTER_WEIGHTS) + 1
        channel = rcid[parent]
        prv_exposure = _exposure(when, channel)
        limit_mag = _DEPTH[fid - 1] + rng.normal(0.0, 0.4, rows)
        # A moving object was not there before: its history is upper limits only.
        limit = sso[parent] | (rng.random(rows) < 0.35)
        prv_mag = np.minimum(mag[parent] + rng.normal(0.0, 0.5, rows), limit_mag - 0.05)
        snr = 5.0 * np.power(10.0, 0.4 * (limit_mag - prv_mag))
        prv_ra, prv_dec = jitter(rng, ra[parent], dec[parent], 0.1 / 3600.0)
        first = np.full(counts.shape[0], np.inf)
        np.minimum.at(first, parent[~limit], when[~limit])
        program = rng.choice(3, rows, p=(0.5, 0.4, 0.1))
        aimage = visit["fwhm"][parent] * rng.uniform(0.25, 0.45, rows)
        xs = np.clip(xpos[parent] + rng.normal(0.0, 15.0, rows), 0.0, _QUADRANT_PIXELS[0])
        ys = np.clip(ypos[parent] + rng.normal(0.0, 15.0, rows), 0.0, _QUADRANT_PIXELS[1])
        return {
            "parent": parent,
            "limit": limit,
            "first_detection": first,
            "jd": when,
            "mjd": when - 2400000.5,
            "processed_mjd": when - 2400000.5,
            "fid": fid,
            "candid": prv_exposure["pid"] * 10**6 + rng.integers(0, 10**4, rows),
            "programid": _PROGRAMS[program],
            "programpi": _PIS[program],
            "field": visit["field"][parent],
            "rcid": channel,
            "xpos": xs,
            "ypos": ys,
            "mindtoedge": _distance_to_edge(xs, ys),
            "ra": prv_ra,
            "dec": prv_dec,
            "mag": prv_mag,
            "mag_err": np.maximum(1.0857 / snr, 0.005),
            "magap": prv_mag + rng.normal(0.0, 0.05, rows),
            "diffmaglim": limit_mag,
            "zero_point": _ZERO_POINT[fid - 1] + rng.normal(0.0, 0.05, rows),
            "fwhm": visit["fwhm"][parent] * rng.uniform(0.8, 1.25, rows),
            "aimage": aimage,
            "bimage": aimage * rng.uniform(0.75, 1.0, rows),
            "isdiffpos": np.where(rng.random(rows) < 0.85, "t", "f"),
            "distnr": reference["distnr"][parent] + rng.normal(0.0, 0.1, rows),
            "magnr": reference["magnr"][parent],
            "ranr": reference["ranr"][parent],
            "decnr": reference["decnr"][parent],
            "ssnamenr": np.full(rows, "null"),
            "ssdistnr": np.full(rows, -999.0),
            "ssmagnr": np.full(rows, -999.0),
            "diffim_name": np.array(
                _file_names(when - 2400000.5, visit["field"][parent], fid, channel, archive=True)
            ),
            **prv_exposure,
        }

    def _forced(self, alert: dict[str, Any], counts: Array, sso: Array) -> Rows:
        """Draw forced photometry at each candidate's position over the last 30 days."""
        rng = self.rng
        parent, when = earlier_times(rng, alert["jd"], counts, 0.01, 30.0)
        rows = int(parent.shape[0])
        fid = rng.choice(3, rows, p=_FILTER_WEIGHTS) + 1
        zero_point = _ZERO_POINT[fid - 1] + rng.normal(0.0, 0.05, rows)
        limit_mag = _DEPTH[fid - 1] + rng.normal(0.0, 0.4, rows)
        flux_err = np.power(10.0, 0.4 * (zero_point - limit_mag)) / 5.0
        signal = np.power(
            10.0, 0.4 * (zero_point - alert["mag"][parent] - rng.normal(0, 0.5, rows))
        )
        signal = np.where(sso[parent], 0.0, signal * alert["sign"][parent])
        columns = {
            "jd": when,
            "mjd": when - 2400000.5,
            "processed_mjd": when - 2400000.5,
            "fid": fid,
            "programid": alert["programid"][parent],
            "field": alert["field"][parent],
            "rcid": alert["rcid"][parent],
            "rfid": alert["rfid"][parent],
            "fwhm": alert["fwhm"][parent] * rng.uniform(0.8, 1.25, rows),
            "zero_point": zero_point,
            "diffmaglim": limit_mag,
            "forced_flux": signal + rng.normal(0.0, 1.0, rows) * flux_err,
            "forced_flux_err": flux_err,
            "distnr": alert["distnr"][parent] * _PIXEL_ARCSEC,
            "ranr": alert["ranr"][parent],
            "decnr": alert["decnr"][parent],
            "magnr": alert["magnr"][parent],
            **_exposure(when, alert["rcid"][parent]),
        }
        return Rows(rng, rows, columns)

    def _cutouts(
        self, columns: dict[str, Any], flux: Array, static: Array, snr: Array
    ) -> dict[str, list[tuple[str, bytes]]]:
        sigma_pixels = columns["fwhm"] / 2.355
        images = draw_cutouts(
            self.rng,
            size=self.settings.cutout_pixels,
            difference_flux=flux,
            template_flux=static,
            psf_sigma_pixels=sigma_pixels,
            noise_sigma=pixel_noise(np.abs(flux) / snr, sigma_pixels),
            background=self.rng.uniform(50.0, 300.0, flux.shape[0]),
        )
        where = {
            "ra": columns["ra"].tolist(),
            "dec": columns["dec"].tolist(),
            "mjd": columns["mjd"].tolist(),
            "band": _FILTERS[columns["fid"] - 1].tolist(),
        }
        ids = list(zip(columns["candid"].tolist(), columns["pid"].tolist(), strict=True))
        out: dict[str, list[tuple[str, bytes]]] = {}
        for name, pixels, pattern in (
            ("cutoutScience", images.science, "candid{c}_pid{p}_targ_sci.fits.gz"),
            ("cutoutTemplate", images.template, "candid{c}_ref.fits.gz"),
            ("cutoutDifference", images.difference, "candid{c}_pid{p}_targ_scimref.fits.gz"),
        ):
            files = fits_images(
                pixels, **where, pixel_scale_arcsec=_PIXEL_ARCSEC, unit="DN", time_scale="UTC"
            )
            out[name] = [
                (pattern.format(c=candid, p=pid), gzip.compress(data, compresslevel=1, mtime=0))
                for (candid, pid), data in zip(ids, files, strict=True)
            ]
        return out
