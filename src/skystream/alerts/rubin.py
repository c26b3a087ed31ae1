"""Rubin alerts: where the uniform fields sit in each schema version.

Names moved between versions, so the layout is read from the schema itself,
not from a table of versions: ``alertId`` (3.x-7.x) became ``diaSourceId``
(8.0+), ``decl`` -> ``dec``, ``midPointTai`` -> ``midpointMjdTai``,
``filterName`` -> ``band``, ``psFlux`` -> ``psfFlux`` (5.0+), and the
solar-system record ``ssObject`` (3.x-7.x) became ``ssSource`` with
``MPCORB``/``mpc_orbits`` (8.0+). Every version carries the association in
``diaSource.ssObjectId``, the field filters read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from skystream.alerts.fields import FieldPath
from skystream.alerts.lightcurve import light_curve_table, number
from skystream.alerts.model import AlertLayout, Field, magnitude, magnitude_error
from skystream.alerts.schemas import rubin_version_of_name
from skystream.exceptions import SchemaError
from skystream.schemas.avro import AvroSchema

__all__ = ["CUTOUT_FIELDS", "rubin_layout"]

#: Cutout kind -> the alert field holding its FITS bytes.
CUTOUT_FIELDS = {
    "difference": "cutoutDifference",
    "science": "cutoutScience",
    "template": "cutoutTemplate",
}


def rubin_layout(schema: AvroSchema, schema_id: int | None = None) -> AlertLayout:
    """Build the layout of a Rubin alert schema (any version of ``lsst-alert-packet``).

    Raises
    ------
    SchemaError
        If the schema is not a Rubin alert schema.
    """
    version = rubin_version_of_name(schema.name)
    if version is None:
        raise SchemaError(f"schema {schema.name!r} is not a Rubin alert schema (lsst.vX_Y.alert)")
    top = _field_types(schema.definition)
    source = _record_fields(top.get("diaSource"))
    if not source:
        raise SchemaError(f"Rubin schema {schema.name!r} has no diaSource record")

    def in_source(*names: str) -> FieldPath | None:
        for name in names:
            if name in source:
                return ("diaSource", name)
        return None

    alert_id = ("diaSourceId",) if "diaSourceId" in top else ("alertId",)
    dec = in_source("dec", "decl")
    mjd = in_source("midpointMjdTai", "midPointTai")
    band = in_source("band", "filterName")
    flux = in_source("psfFlux", "psFlux")
    flux_err = in_source("psfFluxErr", "psFluxErr")
    snr = in_source("snr")
    if dec is None or mjd is None:
        raise SchemaError(f"Rubin schema {schema.name!r}: diaSource lacks dec or its time")
    fields: dict[str, Field] = {
        "alert_id": Field((alert_id,)),
        "object_id": Field((("diaSource", "diaObjectId"),), _nonzero),
        "ra": Field((("diaSource", "ra"),)),
        "dec": Field((dec,)),
        "mjd": Field((mjd,)),
        "band": _optional(band),
        "flux": _optional(flux),
        "flux_err": _optional(flux_err),
        "mag": Field(_paths(flux), magnitude),
        "mag_err": Field(_paths(flux, flux_err), magnitude_error),
        "snr": (Field((snr,)) if snr is not None else Field(_paths(flux, flux_err), _ratio)),
        "sso_id": Field((("diaSource", "ssObjectId"),), _nonzero),
    }
    fields.update(_solar_system_fields(top, dec))
    # The head is what one cheap read gets: fields early in diaSource (``band``
    # sits late in most versions and is read on its own when asked for).
    order = list(source)
    head = tuple(
        name
        for name, spec in fields.items()
        if spec.paths
        and all(
            len(path) == 1 or (path[0] == "diaSource" and order.index(path[1]) < _HEAD_FIELDS)
            for path in spec.paths
        )
    )
    names = _Names(dec[1], mjd[1], band[1] if band else None, flux, flux_err)
    return AlertLayout(
        survey="rubin",
        version=version,
        schema=schema,
        fields=fields,
        head=head,
        light_curve=names.light_curve,
        cutouts=_cutouts,
        history_length=_history_length,
        schema_id=schema_id,
    )


_HEAD_FIELDS = 30  # diaSource fields read by the head: ids, time, position, fluxes, snr


def _solar_system_fields(top: Mapping[str, Any], dec: FieldPath) -> dict[str, Field]:
    sso = _record_fields(top.get("ssSource"))
    orbits = "mpc_orbits" if "mpc_orbits" in top else "MPCORB"
    orbit_fields = _record_fields(top.get(orbits))
    if "designation" in sso:
        name = Field((("ssSource", "designation"),))
    elif "designation" in orbit_fields:
        name = Field(((orbits, "designation"),))
    elif "mpcDesignation" in orbit_fields:
        name = Field(((orbits, "mpcDesignation"),))
    else:
        name = Field(())
    if "ephOffset" in sso:
        distance = Field((("ssSource", "ephOffset"),))
    elif "residualRa" in sso:
        distance = Field(
            (("ssSource", "residualRa"), ("ssSource", "residualDec"), dec), _residual_arcsec
        )
    else:
        distance = Field(())
    if "ephVmag" in sso:
        mag = Field((("ssSource", "ephVmag"),))
    elif "predictedVMagnitude" in sso:
        mag = Field((("ssSource", "predictedVMagnitude"),))
    else:
        mag = Field(())
    return {"sso_name": name, "sso_distance_arcsec": distance, "sso_mag": mag}


class _Names:
    """The version's field names the light curve needs."""

    def __init__(
        self,
        dec: str,
        mjd: str,
        band: str | None,
        flux: FieldPath | None,
        flux_err: FieldPath | None,
    ) -> None:
        self.dec, self.mjd, self.band = dec, mjd, band
        self.flux = flux[1] if flux else None
        self.flux_err = flux_err[1] if flux_err else None

    def light_curve(self, record: Mapping[str, Any]) -> Any:
        rows: list[tuple[Any, ...]] = []
        detections = [record["diaSource"], *(record.get("prvDiaSources") or ())]
        for kind, sources, id_name in (
            ("detection", detections, "diaSourceId"),
            ("forced", record.get("prvDiaForcedSources") or (), "diaForcedSourceId"),
        ):
            for source in sources:
                flux = source.get(self.flux) if self.flux else None
                error = source.get(self.flux_err) if self.flux_err else None
                rows.append(
                    (
                        source.get(self.mjd, source.get("midpointMjdTai")),
                        source.get(self.band, "") if self.band else "",
                        number(flux),
                        number(error),
                        number(magnitude(flux)),
                        number(magnitude_error(flux, error)),
                        kind,
                        source.get(id_name) or 0,
                    )
                )
        return light_curve_table(rows)


def _cutouts(record: Mapping[str, Any]) -> dict[str, bytes]:
    return {
        kind: bytes(record[name])
        for kind, name in CUTOUT_FIELDS.items()
        if record.get(name) is not None
    }


def _history_length(record: Mapping[str, Any]) -> int:
    return len(record.get("prvDiaSources") or ())


def _field_types(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {field["name"]: field["type"] for field in definition["fields"]}


def _record_fields(definition: Any) -> dict[str, Any]:
    """Fields of a record type, seen through a nullable union; ``{}`` otherwise."""
    if isinstance(definition, list):
        for branch in definition:
            found = _record_fields(branch)
            if found:
                return found
        return {}
    if isinstance(definition, dict) and definition.get("type") == "record":
        return _field_types(definition)
    return {}


def _paths(*paths: FieldPath | None) -> tuple[FieldPath, ...]:
    return tuple(path for path in paths if path is not None) if all(paths) else ()


def _optional(path: FieldPath | None) -> Field:
    return Field((path,)) if path is not None else Field(())


def _nonzero(value: Any) -> Any:
    """Rubin writes 0 as well as null for "no association"."""
    return None if value in (None, 0) else value


def _ratio(flux: float | None = None, error: float | None = None) -> float | None:
    if flux is None or not error:
        return None
    return abs(flux) / error


def _residual_arcsec(
    residual_ra_deg: float | None, residual_dec_deg: float | None, dec_deg: float | None
) -> float | None:
    if residual_ra_deg is None or residual_dec_deg is None or dec_deg is None:
        return None
    east = residual_ra_deg * math.cos(math.radians(dec_deg))
    return math.hypot(east, residual_dec_deg) * 3600.0
