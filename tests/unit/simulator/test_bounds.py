"""print-stream bounds: offsets, stream times, wall-clock times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skystream.exceptions import ConfigurationError
from skystream.simulator import Bound


def test_offsets_stream_times_and_iso_times() -> None:
    assert Bound.parse("120") == Bound("offset", 120.0)
    assert Bound.parse("+30s") == Bound("time-offset", 30.0)
    assert Bound.parse("2.5s") == Bound("time-offset", 2.5)
    moment = datetime(2026, 11, 21, 3, 0, tzinfo=UTC).timestamp() * 1000
    assert Bound.parse("2026-11-21T03:00:00") == Bound("timestamp", moment)
    assert Bound.parse("2026-11-21T04:00:00+01:00") == Bound("timestamp", moment)


def test_anything_else_says_what_would_do() -> None:
    with pytest.raises(ConfigurationError, match=r"'soon' is not a stream position: use an offset"):
        Bound.parse("soon")
