"""Fill rules of Rubin alert fields, for every schema version ``lsst-alert-packet`` ships.

:func:`rubin_rule` chooses the rule of a field by its name, whichever record
it is in and whatever the version calls it (``psFlux`` in 3.0 is ``psfFlux``
in 7.0): first a table of exact names, mapped to the columns the Rubin model
draws (:mod:`~skystream.alerts.synthetic.rubin`) so that values agree with
each other; then name patterns (per-band light-curve statistics of the
``diaObject``, phase-curve parameters of solar-system objects, position
errors and covariances); then the generic heuristics.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.rules import (
    Fill,
    Rows,
    beta,
    choice,
    column,
    constant,
    covariance,
    expand_names,
    flag,
    generic_rule,
    integers,
    leave_null,
    micros_before,
    near_dec,
    near_ra,
    normal,
    scaled,
    uniform,
)
from skystream.alerts.synthetic.sky import unix_micros

__all__ = ["rubin_rule"]

Array = NDArray[Any]


def _snr(rows: Rows) -> Array:
    return np.asarray(np.abs(rows["flux"]) / rows["flux_err"])


@cache
def _exact_rules() -> dict[str, Fill]:
    return expand_names(
        {
            # identity and provenance
            "alertId|diaSourceId|diaForcedSourceId": column("source_id"),
            "diaObjectId": column("object_id"),
            "ssObjectId": column("ss_object_id"),
            "parentDiaSourceId|programId|flags": constant(0),
            "ccdVisitId": column("ccd_visit_id"),
            "visit": column("visit"),
            "detector": column("detector"),
            "observation_reason": column("observation_reason"),
            "target_name": column("target_name"),
            "reliabilityVersion": constant("1.0.0"),
            "cutoutDifference": column("cutoutDifference"),
            "cutoutScience": column("cutoutScience"),
            "cutoutTemplate": column("cutoutTemplate"),
            # time
            "midPointTai|midpointMjdTai|radecTai|radecMjdTai": column("mjd"),
            "timeProcessedMjdTai|validityStartMjdTai": column("processed_mjd"),
            # A value would mean the source was withdrawn.
            "timeWithdrawnMjdTai": leave_null,
            "time_processed|validityStart": micros_before("processed_mjd"),
            "exposureTime": constant(30.0),
            "filterName|band": column("band"),
            # position
            "ra": column("ra"),
            "dec|decl": column("dec"),
            "psRa|psfRa|trailRa|dipRa|dipoleRa": near_ra("pos_err"),
            "psDecl|psfDec|trailDec|trailDecl|dipDecl|dipoleDec": near_dec("pos_err"),
            "x": column("x"),
            "y": column("y"),
            "xErr|yErr": scaled("pixel_err", 0.9, 1.1),
            "x_y_Cov": covariance("pixel_err"),
            # photometry on the difference image
            "psFlux|psfFlux|diffFlux": column("flux"),
            "psFluxErr|psfFluxErr|diffFluxErr|diaNoise": column("flux_err"),
            "apFlux|trailFlux": lambda rows: rows["flux"] * rows.rng.normal(1.0, 0.05, rows.n),
            "apFluxErr|trailFluxErr": scaled("flux_err", 1.05, 1.4),
            "snr": _snr,
            "isNegative|is_negative": lambda rows: rows["flux"] < 0,
            "dipMeanFlux|dipoleMeanFlux": lambda rows: (
                np.abs(rows["flux"]) * rows.rng.uniform(0.4, 0.6, rows.n)
            ),
            "dipFluxDiff|dipoleFluxDiff": scaled("flux", 0.8, 1.2),
            "dipMeanFluxErr|dipFluxDiffErr|dipoleMeanFluxErr|dipoleFluxDiffErr": scaled(
                "flux_err", 1.0, 1.5
            ),
            "dipLength|dipoleLength": uniform(0.05, 1.0),
            "dipAngle|dipoleAngle": uniform(-180.0, 180.0),
            "snapDiffFlux": lambda rows: rows["flux_err"] * rows.rng.normal(0.0, 1.0, rows.n),
            "snapDiffFluxErr": scaled("flux_err", 1.3, 1.5),
            "fpBkgd": lambda rows: rows["flux_err"] * rows.rng.normal(0.0, 0.05, rows.n),
            "fpBkgdErr": scaled("flux_err", 0.01, 0.03),
            # photometry on the science and template images
            "totFlux|scienceFlux": lambda rows: rows["template_flux"] + rows["flux"],
            "totFluxErr|scienceFluxErr": scaled("flux_err", 0.6, 0.8),
            "templateFlux": column("template_flux"),
            "templateFluxErr": scaled("flux_err", 0.3, 0.5),
            # fits and shapes
            "psNdata|psfNdata|trailNdata|dipNdata|dipoleNdata": integers(150, 2500),
            "trailLength": lambda rows: np.where(
                rows["is_sso"],
                rows.rng.uniform(1.0, 12.0, rows.n),
                rows.rng.uniform(0.0, 1.0, rows.n),
            ),
            "trailLengthErr": uniform(0.05, 0.5),
            "trailAngle": uniform(-90.0, 90.0),
            "trailAngleErr": uniform(0.5, 10.0),
            "trailAlgorithm": integers(1, 2),
            "ixx|iyy": scaled("psf_moment", 0.95, 1.4),
            "ixy": scaled("psf_moment", -0.1, 0.1),
            "ixxPSF|iyyPSF": scaled("psf_moment", 0.97, 1.03),
            "ixyPSF": scaled("psf_moment", -0.03, 0.03),
            "extendedness|spuriousness|medianExtendedness|minExtendedness|maxExtendedness": beta(
                1.3, 5.0
            ),
            "reliability": beta(6.0, 1.3),
            "isDipole": flag(0.02),
            "dipoleFitAttempted": flag(0.95),
            "bboxSize": integers(13, 61),
            # the object
            "nDiaSources": column("n_sources"),
            "firstDiaSourceMjdTai": column("first_mjd"),
            "lastDiaSourceMjdTai": column("mjd"),
            "pmRa|pmDec|pmDecl": normal(0.0, 4.0),
            "parallax": lambda rows: np.abs(rows.rng.normal(0.0, 1.0, rows.n)),
            "pmRaErr|pmDecErr|pmDeclErr|parallaxErr": uniform(0.3, 3.0),
            # solar-system object: orbit
            "designation|mpcDesignation|unpacked_primary_provisional_designation": column(
                "designation"
            ),
            "packed_primary_provisional_designation": column("packed_designation"),
            "mpc_orb_jsonb": column("orbit_json"),
            "id": column("orbit_id"),
            "a": column("a"),
            "q": column("q"),
            "e": column("e"),
            "i|incl": column("incl"),
            "node|lan": column("node"),
            "argperi|peri|aop": column("argperi"),
            "M|mean_anomaly": column("mean_anomaly"),
            "epoch|epoch_mjd": column("epoch"),
            "t_p|peri_time": column("peri_time"),
            "period": column("period"),
            "mean_motion": column("mean_motion"),
            "h|mpcH": column("h_mag"),
            "g": constant(0.15),
            "arc|arc_length_total": column("arc"),
            "arc_length_sel": scaled("arc", 0.95, 1.0),
            "numObs|nobs_total|orbFitNdata": column("n_obs"),
            "nobs_total_sel": lambda rows: rows["n_obs"] * rows.rng.uniform(0.9, 1.0, rows.n),
            "discoverySubmissionDate|firstObservationDate": lambda rows: rows["mjd"] - rows["arc"],
            "created_at": lambda rows: unix_micros(rows["mjd"] - rows["arc"]),
            "updated_at|fitting_datetime": micros_before("mjd", 1.0, 60.0),
            "MOID|MOID1|MOID2|earth_moid": column("moid"),
            "moidLon1|moidLon2|MOIDEclipticLongitude|MOIDTrueAnomaly": uniform(0.0, 360.0),
            "MOIDDeltaV": uniform(1.0, 10.0),
            "orbit_type_int": choice([10, 11, 3, 2, 1], [0.8, 0.1, 0.04, 0.03, 0.03]),
            "u_param": integers(0, 9),
            "nopp": integers(1, 25),
            "not_normalized_rms": uniform(0.2, 0.9),
            "normalized_rms": uniform(0.4, 1.3),
            "yarkovsky|srp|a1|a2|a3|dt|yarkovsky_unc|srp_unc|a1_unc|a2_unc|a3_unc|dt_unc": constant(
                0.0
            ),
            # solar-system object: where it was seen from
            "eclLambda|eclipticLambda": column("ecl_lon"),
            "eclBeta|eclipticBeta": column("ecl_lat"),
            "galLon|galacticL": column("gal_lon"),
            "galLat|galacticB": column("gal_lat"),
            "elongation": column("elongation"),
            "phaseAngle": column("phase"),
            "topoRange|topocentricDist": column("topo_range"),
            "helioRange|heliocentricDist": column("helio_range"),
            "topoRangeRate": column("topo_range_rate"),
            "helioRangeRate": column("helio_range_rate"),
            "ephRa": near_ra("eph_sigma"),
            "ephDec": near_dec("eph_sigma"),
            "ephVmag|predictedVMagnitude": column("vmag"),
            "ephRate": column("rate"),
            "ephRateRa": column("rate_ra"),
            "ephRateDec": column("rate_dec"),
            "ephOffset": column("eph_offset"),
            "ephOffsetRa|residualRa": column("eph_offset_ra"),
            "ephOffsetDec|residualDec": column("eph_offset_dec"),
            "ephOffsetAlongTrack": column("eph_along"),
            "ephOffsetCrossTrack": column("eph_across"),
            "diaDistanceRank": constant(1),
            **{
                f"{prefix}{axis}": column(f"{frame}_{axis.lower()}")
                for frame, prefixes in (
                    ("helio", ("helio_", "heliocentric")),
                    ("topo", ("topo_", "topocentric")),
                )
                for prefix in prefixes
                for axis in (
                    ("x", "y", "z", "vx", "vy", "vz", "vtot")
                    if prefix.endswith("_")
                    else ("X", "Y", "Z", "VX", "VY", "VZ")
                )
            },
        }
    )


_BAND_STATISTIC = re.compile(
    r"(?P<band>[ugrizy])_?(?P<measure>psfFlux|PSFlux|fpFlux|FPFlux|scienceFlux)"
    r"(?P<statistic>Mean|MeanErr|Sigma|Chi2|Ndata|Min|Max|MaxSlope|ErrMean)"
)
_MEASURES = {"psfFlux": "psf", "PSFlux": "psf", "fpFlux": "fp", "FPFlux": "fp"}
_PHASE_CURVE = re.compile(r"(?P<band>[ugrizy])_?(?P<parameter>H|G12|G1|G2)(?P<error>Err)?")


def rubin_rule(name: str, kind: str) -> Fill:
    """Choose the fill rule of a Rubin field (any record, any schema version)."""
    exact = _exact_rules().get(name)
    if exact is not None:
        return exact
    if match := _BAND_STATISTIC.fullmatch(name):
        key = f"{match['band']}:{_MEASURES.get(match['measure'], 'science')}:{match['statistic']}"
        return column(key)
    if match := _PHASE_CURVE.fullmatch(name):
        if match["error"]:
            return uniform(0.01, 0.2)
        if match["parameter"] == "H":
            return lambda rows: rows["h_mag"] + rows.rng.uniform(-0.4, 0.4, rows.n)
        return uniform(0.05, 0.6)
    if re.fullmatch(r"(ps|psf|trail|dip|dipole)?(Ra|ra|Dec|dec|Decl|decl)Err", name):
        return scaled("pos_err", 0.9, 1.5)
    if re.fullmatch(r"\w*(Ra|ra)_\w*(Dec|dec|Decl|decl)_Cov", name):
        return covariance("pos_err")
    if re.fullmatch(r"nearbyObj\d", name):
        return integers(10**15, 2**62)
    if re.fullmatch(r"nearbyObj\dDist", name):
        return uniform(0.5, 30.0)
    return generic_rule(name, kind)
