"""Realistic synthetic Rubin and ZTF alerts, the same for the same seed.

:func:`generate_alerts` yields alert records that fit the survey's real schema
(any Rubin version ``lsst-alert-packet`` ships, or ZTF's); :func:`write_alert_file`
writes them to one Avro container file, byte-identical for the same arguments.

What makes the alerts realistic:

* **Every field is filled**, read from the schema itself: name rules give the
  meaningful fields values that agree with each other (positions, times,
  fluxes and their errors, ids) and heuristics on type and name cover the rest
  (``...Err`` small and positive, flags mostly false, ``...Ndata`` small
  counts). The only nulls are the ones real alerts have: a solar-system alert
  has no ``diaObject`` and no history; any other alert has no ``ssSource``
  (``ssObject`` before Rubin 8) nor ``mpc_orbits``; no Rubin source is
  withdrawn (``timeWithdrawnMjdTai``); ZTF upper limits in ``prv_candidates``
  carry no measurement.
* **Visits**: ``visit_size`` alerts share a pointing, a band and an exposure
  midpoint; visit ``k`` is at ``start_mjd + k * visit_interval_s / 86400``.
  Pointings are uniform over the survey's sky (Rubin: dec < +30 deg; ZTF:
  dec > -30 deg); alerts land on a detector (Rubin: one of 189 CCDs; ZTF: one
  of 64 readout quadrants) and their sky position follows from the pixel.
* **History**: an alert of a non-solar-system object carries about
  ``history`` previous sources and as many forced measurements of the same
  object at earlier times and in varied bands; the Rubin ``diaObject``
  summarises them per band.
* **Cutouts**: science, template and difference stamps as FITS images with a
  TAN WCS centred on the source (ZTF: 63x63, gzipped, named as ZTF does).

Generation is vectorised with numpy over chunks of alerts, and the file writer
encodes whole chunks of records at once (column by column) instead of one
value at a time; the result is byte-for-byte what ``fastavro.writer`` writes.
The implementation lives in :mod:`skystream.alerts.synthetic`; this module
checks the arguments and is the public door.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skystream.alerts.schemas import (
    Survey,
    latest_rubin_version,
    rubin_schema,
    rubin_versions,
    ztf_schema,
)
from skystream.alerts.synthetic.records import alert_records, write_container
from skystream.alerts.synthetic.settings import GenerationSettings
from skystream.exceptions import ConfigurationError

__all__ = ["GeneratedAlerts", "generate_alerts", "write_alert_file"]

#: Width of Rubin cutouts unless told otherwise: with ~30 previous sources a
#: latest-version alert is then about 130 KB, as Rubin's are.
RUBIN_CUTOUT_PIXELS = 95
#: Width of ZTF cutouts (what ZTF sends).
ZTF_CUTOUT_PIXELS = 63

_MAX_VISIT_SIZE = 1_000_000
_MAX_CUTOUT_PIXELS = 1024


@dataclass(frozen=True)
class GeneratedAlerts:
    """What :func:`write_alert_file` wrote.

    Attributes
    ----------
    path
        The Avro container file.
    survey
        ``"rubin"`` or ``"ztf"``.
    version
        The schema version the alerts follow (``"11.1"``; ZTF: ``"4.02"``).
    count
        Number of alerts in the file.
    sso_count
        How many of them are solar-system objects.
    size_bytes
        Size of the file.
    """

    path: Path
    survey: Survey
    version: str
    count: int
    sso_count: int
    size_bytes: int


def generate_alerts(
    survey: Survey,
    count: int,
    *,
    sso_fraction: float = 0.0,
    seed: int = 0,
    version: str | None = None,
    history: int = 30,
    visit_size: int = 10_000,
    visit_interval_s: float = 37.0,
    start_mjd: float = 61000.0,
    cutout_pixels: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` synthetic alerts of ``survey``, the same for the same arguments.

    Parameters
    ----------
    survey
        ``"rubin"`` or ``"ztf"``.
    count
        Number of alerts (0 or more).
    sso_fraction
        Fraction of alerts that are solar-system objects, 0 to 1; exactly
        ``sso_fraction * count`` of them rounded half up, chosen by the seed.
    seed
        Seed of the one random generator everything is drawn from.
    version
        Rubin schema version (``"7.4"``; ``None`` for the latest). Must be
        ``None`` for ZTF, which has one schema.
    history
        Typical number of previous sources (and of forced measurements) per
        alert; each alert gets between 2/3 and 4/3 of it.
    visit_size
        Alerts per visit (1 to 1,000,000); a visit shares pointing, band and time.
    visit_interval_s
        Seconds between visits (0 or more).
    start_mjd
        Exposure midpoint of the first visit [MJD].
    cutout_pixels
        Width of the square cutouts (1 to 1024); ``None`` for the survey's
        usual size (Rubin 95, ZTF 63).

    Returns
    -------
    Iterator[dict[str, Any]]
        Alert records that validate against the survey's schema.

    Raises
    ------
    ConfigurationError
        If an argument is out of range; the message names it and the allowed values.
    """
    settings = _settings(
        survey,
        count,
        sso_fraction=sso_fraction,
        seed=seed,
        version=version,
        history=history,
        visit_size=visit_size,
        visit_interval_s=visit_interval_s,
        start_mjd=start_mjd,
        cutout_pixels=cutout_pixels,
    )
    return alert_records(settings)


def write_alert_file(
    path: str | Path,
    survey: Survey,
    count: int,
    *,
    sso_fraction: float = 0.0,
    seed: int = 0,
    version: str | None = None,
    history: int = 30,
    visit_size: int = 10_000,
    visit_interval_s: float = 37.0,
    start_mjd: float = 61000.0,
    cutout_pixels: int | None = None,
) -> GeneratedAlerts:
    """Write ``count`` synthetic alerts to one Avro container file at ``path``.

    The alerts are those :func:`generate_alerts` yields for the same arguments;
    the file (uncompressed, codec ``"null"``) embeds the survey's schema, and
    its sync marker derives from all the arguments but ``path``, so the same
    arguments give a byte-identical file and different ones a different marker.

    Parameters
    ----------
    path
        Where to write; an existing file is replaced.
    survey, count
        As for :func:`generate_alerts`; so are the keyword arguments.

    Returns
    -------
    GeneratedAlerts
        The path, survey, schema version, number of alerts (and of
        solar-system ones) and the file size.

    Raises
    ------
    ConfigurationError
        If an argument is out of range; the message names it and the allowed values.
    """
    settings = _settings(
        survey,
        count,
        sso_fraction=sso_fraction,
        seed=seed,
        version=version,
        history=history,
        visit_size=visit_size,
        visit_interval_s=visit_interval_s,
        start_mjd=start_mjd,
        cutout_pixels=cutout_pixels,
    )
    target = Path(path)
    write_container(target, settings)
    return GeneratedAlerts(
        path=target,
        survey=settings.survey,
        version=settings.version,
        count=settings.count,
        sso_count=settings.sso_count,
        size_bytes=target.stat().st_size,
    )


def _settings(
    survey: str,
    count: int,
    *,
    sso_fraction: float,
    seed: int,
    version: str | None,
    history: int,
    visit_size: int,
    visit_interval_s: float,
    start_mjd: float,
    cutout_pixels: int | None,
) -> GenerationSettings:
    """Check the arguments and resolve the defaults; raise ConfigurationError if one is bad."""
    if survey not in ("rubin", "ztf"):
        raise ConfigurationError(f"unknown survey {survey!r}; choose 'rubin' or 'ztf'")
    _check_int("count", count, 0)
    _check_int("history", history, 0)
    _check_int("visit_size", visit_size, 1, _MAX_VISIT_SIZE)
    _check_int("seed", seed, 0)
    if not (isinstance(sso_fraction, int | float) and 0.0 <= sso_fraction <= 1.0):
        raise ConfigurationError(f"sso_fraction must be between 0 and 1, got {sso_fraction!r}")
    if not (isinstance(visit_interval_s, int | float) and 0.0 <= visit_interval_s < math.inf):
        raise ConfigurationError(
            f"visit_interval_s must be a finite number of seconds >= 0, got {visit_interval_s!r}"
        )
    if not (isinstance(start_mjd, int | float) and math.isfinite(start_mjd)):
        raise ConfigurationError(f"start_mjd must be a finite MJD, got {start_mjd!r}")
    if survey == "rubin":
        known = rubin_versions()
        if version is not None and version not in known:
            raise ConfigurationError(
                f"unknown Rubin schema version {version!r}; known versions: {', '.join(known)}"
            )
        schema = rubin_schema(version)
        resolved = version or latest_rubin_version()
        default_pixels = RUBIN_CUTOUT_PIXELS
    else:
        if version is not None:
            raise ConfigurationError(
                f"ZTF alerts have one schema; version must be None, got {version!r}"
            )
        schema = ztf_schema()
        resolved = str(schema.definition.get("version", ""))
        default_pixels = ZTF_CUTOUT_PIXELS
    pixels = default_pixels if cutout_pixels is None else cutout_pixels
    _check_int("cutout_pixels", pixels, 1, _MAX_CUTOUT_PIXELS)
    return GenerationSettings(
        survey="rubin" if survey == "rubin" else "ztf",
        version=resolved,
        schema=schema,
        count=count,
        sso_fraction=float(sso_fraction),
        seed=seed,
        history=history,
        visit_size=visit_size,
        visit_interval_s=float(visit_interval_s),
        start_mjd=float(start_mjd),
        cutout_pixels=pixels,
    )


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    in_range = (
        isinstance(value, int | np.integer)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )
    if not in_range:
        allowed = f"between {low:,} and {high:,}" if high is not None else f">= {low}"
        raise ConfigurationError(f"{name} must be an integer {allowed}, got {value!r}")
