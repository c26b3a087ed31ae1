"""Fill rules: how a field of a generated record gets its values.

A fill rule is a function of :class:`Rows` (the columns a survey model drew
for ``n`` records, and the random generator) that returns the field's values
for all ``n`` records at once. This module has the rule builders the surveys'
name tables are written with (:func:`column`, :func:`uniform`,
:func:`scaled`, ...) and :func:`generic_rule`, which gives any field without
a survey rule plausible values from its type and the shape of its name
(``...Err`` small and positive, flags mostly false, ``...Ndata`` small counts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.sky import unix_micros

__all__ = [
    "Fill",
    "FillRule",
    "Rows",
    "beta",
    "choice",
    "column",
    "constant",
    "covariance",
    "expand_names",
    "flag",
    "generic_rule",
    "integers",
    "leave_null",
    "log_uniform",
    "micros_before",
    "near_dec",
    "near_ra",
    "normal",
    "offset",
    "scaled",
    "uniform",
]

Array = NDArray[Any]


class Rows:
    """What the fill rules of one record type see: named columns for ``n`` records.

    Parameters
    ----------
    rng
        The generator rules draw from.
    n
        Number of records.
    columns
        Model values by name: arrays of length ``n``, lists, or scalars.
    nulls
        Maps a field name to the rows where it is null.
    null_rows
        Rows where every nullable field is null except those in ``keep``
        (ZTF upper limits, which keep the exposure's values).
    keep
        Fields ``null_rows`` leaves alone.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n: int,
        columns: dict[str, Any],
        *,
        nulls: dict[str, Array] | None = None,
        null_rows: Array | None = None,
        keep: frozenset[str] = frozenset(),
    ) -> None:
        self.rng = rng
        self.n = n
        self.columns = columns
        self.nulls = nulls or {}
        self.null_rows = null_rows
        self.keep = keep

    def __getitem__(self, key: str) -> Any:
        return self.columns[key]

    def null_mask(self, name: str, nullable: bool) -> Array | None:
        """Rows where field ``name`` is null, or ``None`` if it never is."""
        if not nullable:
            return None
        if name in self.nulls:
            return np.asarray(self.nulls[name], dtype=bool)
        if self.null_rows is not None and name not in self.keep:
            return self.null_rows
        return None


#: A fill rule: the values of one field for every row.
Fill = Callable[[Rows], Any]
#: Chooses the fill rule of a field from its name and Avro kind.
FillRule = Callable[[str, str], Fill]


def leave_null(rows: Rows) -> None:
    """Fill rule of a nullable field that stays null in every record."""
    return None


def column(key: str) -> Fill:
    """Take the model's column ``key`` as it is."""
    return lambda rows: rows[key]


def constant(value: Any) -> Fill:
    """Give every record ``value``."""
    return lambda rows: value


def uniform(low: float, high: float) -> Fill:
    """Draw uniformly from [low, high)."""
    return lambda rows: rows.rng.uniform(low, high, rows.n)


def log_uniform(low: float, high: float) -> Fill:
    """Draw uniformly in the logarithm between ``low`` and ``high``."""
    span = (math.log(low), math.log(high))
    return lambda rows: np.exp(rows.rng.uniform(span[0], span[1], rows.n))


def normal(mean: float, sigma: float) -> Fill:
    """Draw from a normal distribution."""
    return lambda rows: rows.rng.normal(mean, sigma, rows.n)


def integers(low: int, high: int) -> Fill:
    """Draw integers from ``low`` to ``high`` inclusive."""
    return lambda rows: rows.rng.integers(low, high, rows.n, endpoint=True)


def flag(probability: float = 0.01) -> Fill:
    """Draw booleans, true with ``probability``."""
    return lambda rows: rows.rng.random(rows.n) < probability


def beta(a: float, b: float) -> Fill:
    """Draw from a beta distribution (scores between 0 and 1)."""
    return lambda rows: rows.rng.beta(a, b, rows.n)


def choice(options: Sequence[Any], weights: Sequence[float] | None = None) -> Fill:
    """Draw from ``options`` with ``weights``."""
    table = np.asarray(options)
    return lambda rows: table[rows.rng.choice(len(table), rows.n, p=weights)]


def scaled(key: str, low: float, high: float) -> Fill:
    """``rows[key]`` times a factor uniform in [low, high]."""
    return lambda rows: rows[key] * rows.rng.uniform(low, high, rows.n)


def offset(key: str, low: float, high: float) -> Fill:
    """``rows[key]`` plus an offset uniform in [low, high]."""
    return lambda rows: rows[key] + rows.rng.uniform(low, high, rows.n)


def covariance(sigma_key: str) -> Fill:
    """Draw covariances of two quantities with error ``rows[sigma_key]``, correlated within 0.3."""
    return lambda rows: np.asarray(rows[sigma_key] ** 2 * rows.rng.uniform(-0.3, 0.3, rows.n))


def near_ra(sigma_key: str) -> Fill:
    """Right ascension a Gaussian step of ``rows[sigma_key]`` [deg] from ``rows["ra"]``."""

    def fill(rows: Rows) -> Array:
        cos_dec = np.maximum(np.cos(np.radians(rows["dec"])), 1e-3)
        step = rows.rng.normal(0.0, 1.0, rows.n) * rows[sigma_key] / cos_dec
        return np.asarray((rows["ra"] + step) % 360.0)

    return fill


def near_dec(sigma_key: str) -> Fill:
    """Declination a Gaussian step of ``rows[sigma_key]`` [deg] from ``rows["dec"]``."""
    return lambda rows: np.clip(
        rows["dec"] + rows.rng.normal(0.0, 1.0, rows.n) * rows[sigma_key], -90.0, 90.0
    )


def micros_before(key: str, low_days: float = 0.0, high_days: float = 0.0) -> Fill:
    """Timestamps [Unix us] ``low_days`` to ``high_days`` before ``rows[key]`` (an MJD)."""
    return lambda rows: unix_micros(rows[key] - rows.rng.uniform(low_days, high_days, rows.n))


def expand_names(mapping: dict[str, Fill]) -> dict[str, Fill]:
    """Expand ``"a|b|c"`` keys into one entry per name."""
    return {name: fill for key, fill in mapping.items() for name in key.split("|")}


def generic_rule(name: str, kind: str) -> Fill:
    """Plausible values from a field's type and the shape of its name."""
    lower = name.lower()
    if kind == "boolean":
        return flag(0.02)
    if kind == "timestamp-micros":
        return micros_before("processed_mjd")
    if kind == "string":
        return constant("synthetic")
    if kind == "bytes":
        return constant(b"")
    if kind in ("int", "long") and (lower.endswith("id") or lower.startswith("nearbyobj")):
        return integers(1, 2**31 - 1) if kind == "int" else integers(10**15, 2**62)
    if lower.endswith("cov"):
        return normal(0.0, 1e-4)
    if lower.endswith(("err", "sigma", "unc")):
        return log_uniform(1e-4, 0.05)
    if kind in ("int", "long") and (
        "ndata" in lower or re.match(r"n[A-Z]|num|nobs", name) is not None
    ):
        return integers(1, 60)
    if "chi2" in lower:
        return log_uniform(0.5, 200.0)
    if "lnl" in lower or lower.endswith("lnp"):
        return lambda rows: -np.exp(rows.rng.uniform(0.0, math.log(500.0), rows.n))
    if kind == "double" and ("mjd" in lower or lower.endswith("tai") or "date" in lower):
        return lambda rows: rows["mjd"] - rows.rng.uniform(0.0, 30.0, rows.n)
    if "dist" in lower:
        return uniform(0.5, 30.0)
    if "flux" in lower:
        return log_uniform(100.0, 1e5)
    if "mag" in lower:
        return uniform(15.0, 23.0)
    if "angle" in lower:
        return uniform(0.0, 180.0)
    if "periodic" in lower:
        return normal(0.0, 1.0)
    if kind == "int":
        return integers(0, 100)
    if kind == "long":
        return integers(0, 10**6)
    return uniform(0.0, 1.0)
