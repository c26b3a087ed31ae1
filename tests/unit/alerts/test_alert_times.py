import datetime as dt

import pytest

from skystream.alerts.times import TAI_MINUS_UTC_S, mjd_to_unix, unix_to_mjd


def test_mjd_to_unix_in_each_time_scale() -> None:
    # MJD 61000.0 is 2025-11-21T00:00 in its own scale.
    midnight = dt.datetime(2025, 11, 21, tzinfo=dt.UTC).timestamp()
    assert mjd_to_unix(61000.0, "ztf") == pytest.approx(midnight, abs=1e-3)
    assert mjd_to_unix(61000.0, "rubin") == pytest.approx(midnight - 37.0, abs=1e-3)
    assert TAI_MINUS_UTC_S == 37.0


@pytest.mark.parametrize("survey", ["rubin", "ztf"])
def test_round_trip(survey: str) -> None:
    assert mjd_to_unix(unix_to_mjd(1_790_000_000.5, survey), survey) == pytest.approx(
        1_790_000_000.5, abs=1e-4
    )
