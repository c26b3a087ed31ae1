"""ZTF alerts: where the uniform fields sit in the ZTF schema (3.x and 4.x).

ZTF sends each alert as an Avro container with its schema; the triggering
detection is ``candidate``, the history ``prv_candidates`` (upper limits are
the entries without ``candid``) and, from 3.3/4.x, ``fp_hists`` (forced
photometry). The solar-system association is ``candidate.ssnamenr``: the name
of the nearest known object within 30 arcsec, null or the string ``"null"``
when there is none, with ``ssdistnr``/``ssmagnr`` at -999 then.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from typing import Any

from skystream.alerts.lightcurve import light_curve_table, number
from skystream.alerts.model import AlertLayout, Field, flux_from_magnitude, magnitude
from skystream.alerts.schemas import ztf_version_of
from skystream.exceptions import SchemaError
from skystream.schemas.avro import AvroSchema

__all__ = ["BANDS", "CUTOUT_FIELDS", "MJD_OFFSET", "ztf_layout"]

#: ZTF's filter ids.
BANDS = {1: "g", 2: "r", 3: "i"}
#: Julian date of MJD 0.
MJD_OFFSET = 2400000.5
#: Cutout kind -> the alert field holding ``{fileName, stampData}`` (gzipped FITS).
CUTOUT_FIELDS = {
    "science": "cutoutScience",
    "template": "cutoutTemplate",
    "difference": "cutoutDifference",
}
_MISSING = -999.0  # ZTF's "no value" for ssdistnr, ssmagnr and friends
_NO_FLUX = -99999.0  # fp_hists' "no measurement"
_SIGMA_TO_FLUX = 2.5 / 2.302585092994046  # 2.5 / ln(10)


def ztf_layout(schema: AvroSchema, schema_id: int | None = None) -> AlertLayout:
    """Build the layout of a ZTF alert schema.

    Raises
    ------
    SchemaError
        If the schema is not a ZTF alert schema (``ztf.alert``).
    """
    version = ztf_version_of(schema.definition)
    if version is None:
        if schema.name != "ztf.alert":
            raise SchemaError(f"schema {schema.name!r} is not a ZTF alert schema (ztf.alert)")
        version = "unknown"

    def candidate(name: str) -> tuple[str, str]:
        return ("candidate", name)

    fields = {
        "alert_id": Field((("candid",),)),
        "object_id": Field((("objectId",),)),
        "ra": Field((candidate("ra"),)),
        "dec": Field((candidate("dec"),)),
        "mjd": Field((candidate("jd"),), _mjd),
        "band": Field((candidate("fid"),), BANDS.get),
        "flux": Field((candidate("magpsf"), candidate("isdiffpos")), _flux),
        "flux_err": Field(
            (candidate("magpsf"), candidate("sigmapsf"), candidate("isdiffpos")), _flux_err
        ),
        "mag": Field((candidate("magpsf"),)),
        "mag_err": Field((candidate("sigmapsf"),)),
        "snr": Field((candidate("sigmapsf"),), _snr),
        "sso_id": Field((candidate("ssnamenr"),), _name),
        "sso_name": Field((candidate("ssnamenr"),), _name),
        "sso_distance_arcsec": Field((candidate("ssdistnr"),), _value),
        "sso_mag": Field((candidate("ssmagnr"),), _value),
    }
    head = tuple(fields)
    return AlertLayout(
        survey="ztf",
        version=version,
        schema=schema,
        fields=fields,
        head=head,
        light_curve=_light_curve,
        cutouts=_cutouts,
        history_length=_history_length,
        schema_id=schema_id,
    )


def _light_curve(record: Mapping[str, Any]) -> Any:
    rows: list[tuple[Any, ...]] = []
    for entry in (record["candidate"], *(record.get("prv_candidates") or ())):
        band = BANDS.get(entry.get("fid"), "")
        if entry.get("candid") is None or entry.get("magpsf") is None:
            limit = entry.get("diffmaglim")
            rows.append(
                (
                    _mjd(entry["jd"]),
                    band,
                    float("nan"),
                    float("nan"),
                    number(limit),
                    float("nan"),
                    "upper_limit",
                    0,
                )
            )
            continue
        positive = entry.get("isdiffpos")
        rows.append(
            (
                _mjd(entry["jd"]),
                band,
                number(_flux(entry["magpsf"], positive)),
                number(_flux_err(entry["magpsf"], entry.get("sigmapsf"), positive)),
                float(entry["magpsf"]),
                number(entry.get("sigmapsf")),
                "detection",
                entry["candid"],
            )
        )
    for point in record.get("fp_hists") or ():
        flux_dn, error_dn = point.get("forcediffimflux"), point.get("forcediffimfluxunc")
        zero_point = point.get("magzpsci")
        if flux_dn is None or flux_dn == _NO_FLUX or zero_point is None:
            continue
        to_njy = 10 ** (-0.4 * (zero_point - 31.4))  # counts -> nJy at this zero point
        flux = flux_dn * to_njy
        error = error_dn * to_njy if error_dn not in (None, _NO_FLUX) else None
        rows.append(
            (
                _mjd(point["jd"]),
                BANDS.get(point.get("fid"), ""),
                flux,
                number(error),
                number(magnitude(flux)),
                number(_SIGMA_TO_FLUX * error / abs(flux) if error and flux else None),
                "forced",
                0,
            )
        )
    return light_curve_table(rows)


def _cutouts(record: Mapping[str, Any]) -> dict[str, bytes]:
    found = {}
    for kind, name in CUTOUT_FIELDS.items():
        cutout = record.get(name)
        if cutout and cutout.get("stampData"):
            data = bytes(cutout["stampData"])
            found[kind] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return found


def _history_length(record: Mapping[str, Any]) -> int:
    return sum(1 for entry in record.get("prv_candidates") or () if entry.get("candid"))


def _mjd(jd: float) -> float:
    return jd - MJD_OFFSET


def _positive(isdiffpos: Any) -> bool:
    return str(isdiffpos).lower() not in ("f", "0", "false")


def _flux(magpsf: float | None, isdiffpos: Any) -> float | None:
    return flux_from_magnitude(magpsf, negative=not _positive(isdiffpos))


def _flux_err(magpsf: float | None, sigmapsf: float | None, isdiffpos: Any) -> float | None:
    flux = _flux(magpsf, isdiffpos)
    if flux is None or sigmapsf is None:
        return None
    return abs(flux) * sigmapsf / _SIGMA_TO_FLUX


def _snr(sigmapsf: float | None) -> float | None:
    return _SIGMA_TO_FLUX / sigmapsf if sigmapsf else None


def _name(ssnamenr: str | None) -> str | None:
    if ssnamenr is None or ssnamenr.strip().lower() in ("", "null", "none"):
        return None
    return ssnamenr


def _value(value: float | None) -> float | None:
    return None if value is None or value == _MISSING else float(value)
