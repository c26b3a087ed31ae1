"""The light-curve table both surveys' alerts turn into.

One row per measurement: the alert's own detection, previous detections,
forced photometry and (ZTF) upper limits, sorted by time. Fluxes are
difference-image fluxes in nJy; magnitudes are AB; NaN marks a missing value.

========== ======================================================
``mjd``    time of the measurement (MJD)
``band``   filter (u g r i z y)
``flux``   difference flux, nJy (negative for a fading source)
``flux_err`` its uncertainty, nJy
``mag``    AB magnitude of ``|flux|`` (for a limit: the limiting magnitude)
``mag_err`` its uncertainty
``kind``   ``detection``, ``forced`` or ``upper_limit``
``source_id`` the survey's id of the measurement (0 when it has none)
========== ======================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["COLUMNS", "light_curve_table", "number"]

#: The table's columns, in order.
COLUMNS = ("mjd", "band", "flux", "flux_err", "mag", "mag_err", "kind", "source_id")


def light_curve_table(rows: Sequence[tuple[Any, ...]]) -> Table:
    """Make the light-curve table shared by both surveys, sorted by time.

    Each row is ``(mjd, band, flux, flux_err, mag, mag_err, kind, source_id)``
    with fluxes in nJy and NaN where a value is missing.
    """
    import astropy.units as u
    from astropy.table import Table

    ordered = sorted(rows, key=lambda row: (row[0] is None, row[0]))
    columns = list(zip(*ordered, strict=True)) if ordered else [()] * 8
    table = Table(
        {
            "mjd": np.asarray(columns[0], dtype=float),
            "band": np.asarray(columns[1], dtype="U8"),
            "flux": np.asarray(columns[2], dtype=float) * u.nJy,
            "flux_err": np.asarray(columns[3], dtype=float) * u.nJy,
            "mag": np.asarray(columns[4], dtype=float) * u.mag,
            "mag_err": np.asarray(columns[5], dtype=float) * u.mag,
            "kind": np.asarray(columns[6], dtype="U11"),
            "source_id": np.asarray(columns[7], dtype=np.int64),
        }
    )
    return table


def number(value: Any) -> float:
    """Return ``value`` as a float, NaN for ``None``."""
    return math.nan if value is None else float(value)
