"""Alert times (``Alert.mjd``) as Unix time, and back.

Rubin's times are TAI, ZTF's UTC. TAI - UTC has been 37 s since 2017; alert
latencies are seconds to minutes, so a fixed offset is exact enough and keeps
this off the hot path's costs (no ERFA call per alert).

>>> round(mjd_to_unix(unix_to_mjd(1_800_000_000.0, "rubin"), "rubin"), 3)
1800000000.0
"""

from __future__ import annotations

__all__ = ["TAI_MINUS_UTC_S", "mjd_to_unix", "unix_to_mjd"]

#: TAI - UTC since 2017-01-01, seconds.
TAI_MINUS_UTC_S = 37.0
_MJD_OF_UNIX_EPOCH = 40587.0
_DAY_S = 86400.0


def mjd_to_unix(mjd: float, survey: str) -> float:
    """Return the Unix time (UTC seconds) of an alert's ``mjd`` in ``survey``'s time scale."""
    unix = (mjd - _MJD_OF_UNIX_EPOCH) * _DAY_S
    return unix - TAI_MINUS_UTC_S if survey == "rubin" else unix


def unix_to_mjd(unix: float, survey: str) -> float:
    """Return the MJD, in ``survey``'s time scale, of a Unix time (UTC seconds)."""
    if survey == "rubin":
        unix += TAI_MINUS_UTC_S
    return _MJD_OF_UNIX_EPOCH + unix / _DAY_S
