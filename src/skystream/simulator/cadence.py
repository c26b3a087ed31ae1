"""When each alert of a replay is due: the stored offsets, or Rubin's visit cadence.

Two schedules, both in seconds from the start of a pass:

- ``offsets``: each alert's ``alertsim-time-offset`` header, the time since the
  first alert of the preloaded stream (what ``create-stream`` stored);
- ``rubin-visits``: Rubin's design for the simulator, whatever the stored
  times: a visit of ``visit_size`` alerts every ``visit_interval_s`` seconds
  (10,000 every 37 s), each sent within ``burst_window_s`` (3 s) in up to
  189 bursts, one per CCD, of 10 to 200 alerts each.

A speed factor divides every time (2.0 replays twice as fast); ``inf`` sends
everything at once.

>>> schedule = RubinVisitCadence(visit_size=100, visit_interval_s=37.0, seed=1)
>>> [round(schedule.due(i), 3) for i in (0, 99, 100)]
[0.0, 2.7, 37.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from skystream.exceptions import ConfigurationError

__all__ = ["CCD_COUNT", "Cadence", "RubinVisitCadence", "burst_sizes", "scaled"]

#: Science CCDs of the Rubin camera: one burst of alerts per CCD and visit.
CCD_COUNT = 189
#: How alerts of a replay are paced.
Cadence = Literal["offsets", "rubin-visits"]


def burst_sizes(
    total: int, rng: np.random.Generator, *, bursts: int = CCD_COUNT, low: int = 10, high: int = 200
) -> list[int]:
    """Split ``total`` alerts into bursts of ``low``..``high`` alerts (at most ``bursts``).

    Sizes vary at random within the bounds and always sum to ``total``; a
    total too small for ``bursts`` bursts of ``low`` makes fewer bursts, one
    too large for ``high`` each makes bigger ones (the bound is Rubin's
    design, the total is what the stream has).
    """
    if total <= 0:
        return []
    count = max(1, min(bursts, total // low))
    weights = rng.uniform(low, high, count)
    target, mean = total / count, float(weights.mean())
    # Squeeze the draws towards the mean the total needs, keeping them in bounds.
    if target <= mean:
        exact = low + (weights - low) * ((target - low) / (mean - low))
    elif target <= high:
        exact = high - (high - weights) * ((high - target) / (high - mean))
    else:
        exact = weights * (target / mean)
    sizes = np.floor(exact).astype(int)
    # Largest remainders get the alerts rounding lost, so the sum is exact.
    for index in np.argsort(exact - sizes)[::-1][: total - int(sizes.sum())]:
        sizes[index] += 1
    return [int(size) for size in sizes]


@dataclass
class RubinVisitCadence:
    """Rubin's visit cadence: ``due(i)`` is when alert ``i`` of a pass goes out.

    Parameters
    ----------
    visit_size
        Alerts per visit (Rubin: about 10,000).
    visit_interval_s
        Time from one visit to the next (Rubin: 37 s, 30-40 s).
    burst_window_s
        Every burst of a visit is sent within this time (Rubin: 3 s).
    seed
        Burst sizes are random; the same seed gives the same schedule.
    """

    visit_size: int = 10_000
    visit_interval_s: float = 37.0
    burst_window_s: float = 3.0
    seed: int = 0
    _offsets: list[float] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.visit_size < 1:
            raise ConfigurationError(f"visit size {self.visit_size} must be at least 1 alert")
        if self.visit_interval_s <= 0 or self.burst_window_s < 0:
            raise ConfigurationError(
                f"visit interval {self.visit_interval_s} s must be > 0 and burst window "
                f"{self.burst_window_s} s >= 0"
            )
        sizes = burst_sizes(self.visit_size, np.random.default_rng(self.seed))
        step = self.burst_window_s / len(sizes)
        # Within a visit, alert j goes with its CCD's burst.
        self._offsets = [burst * step for burst, size in enumerate(sizes) for _ in range(size)]

    @property
    def bursts(self) -> int:
        """Bursts per visit."""
        return len(set(self._offsets))

    def due(self, index: int) -> float:
        """Seconds from the start of the pass at which alert ``index`` is due."""
        visit, within = divmod(index, self.visit_size)
        return visit * self.visit_interval_s + self._offsets[within]


def scaled(seconds: float, speed: float) -> float:
    """Return a schedule time at ``speed`` times real time (0 for an infinite speed)."""
    if math.isinf(speed):
        return 0.0
    return seconds / speed
