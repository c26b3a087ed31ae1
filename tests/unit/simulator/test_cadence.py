"""Rubin's visit cadence and burst sizes."""

from __future__ import annotations

import numpy as np
import pytest

from skystream.exceptions import ConfigurationError
from skystream.simulator.cadence import CCD_COUNT, RubinVisitCadence, burst_sizes, scaled


@pytest.mark.parametrize("total", [10_000, 5_000, 1_890, 100_000])
def test_a_visit_is_189_bursts_of_10_to_200_that_sum_to_the_visit(total: int) -> None:
    sizes = burst_sizes(total, np.random.default_rng(3))
    assert len(sizes) == CCD_COUNT
    assert sum(sizes) == total
    if total <= CCD_COUNT * 200:
        assert min(sizes) >= 10 and max(sizes) <= 200
    assert len(set(sizes)) > 1 or total == CCD_COUNT * 10  # sizes vary


def test_a_small_visit_makes_fewer_bursts_of_at_least_ten() -> None:
    sizes = burst_sizes(95, np.random.default_rng(0))
    assert len(sizes) == 9 and sum(sizes) == 95 and min(sizes) >= 10


def test_rubin_visits_every_37_s_each_within_3_s() -> None:
    cadence = RubinVisitCadence(visit_size=10_000, visit_interval_s=37.0, seed=5)
    first_visit = [cadence.due(i) for i in range(10_000)]
    assert first_visit[0] == 0.0
    assert max(first_visit) < 3.0
    assert first_visit == sorted(first_visit)
    assert len(set(first_visit)) == cadence.bursts == CCD_COUNT
    assert cadence.due(10_000) == 37.0
    assert cadence.due(25_000) == pytest.approx(74.0 + first_visit[5_000])


def test_the_same_seed_gives_the_same_schedule() -> None:
    one, two = RubinVisitCadence(seed=1), RubinVisitCadence(seed=1)
    other = RubinVisitCadence(seed=2)
    times = [one.due(i) for i in range(0, 10_000, 97)]
    assert times == [two.due(i) for i in range(0, 10_000, 97)]
    assert times != [other.due(i) for i in range(0, 10_000, 97)]


def test_bad_cadence_values_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="visit size 0"):
        RubinVisitCadence(visit_size=0)
    with pytest.raises(ConfigurationError, match="visit interval -1"):
        RubinVisitCadence(visit_interval_s=-1)


def test_speed_scales_times_and_inf_sends_at_once() -> None:
    assert scaled(10.0, 2.0) == 5.0
    assert scaled(10.0, float("inf")) == 0.0
