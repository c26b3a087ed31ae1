"""What the Rubin and ZTF models share: solar-system alerts, visits, history draws.

A survey model turns the settings into the columns of each chunk of alerts.
:class:`SurveyModel` chooses, once, which alerts are solar-system objects,
and keeps the visits drawn so far (alerts of a visit share pointing, band and
time; a visit is drawn when its first alert is). :func:`history_counts` and
:func:`earlier_times` draw how many earlier measurements each alert has and
when they were taken.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skystream.alerts.synthetic.plan import AlertPlan
from skystream.alerts.synthetic.rules import Rows
from skystream.alerts.synthetic.settings import GenerationSettings
from skystream.alerts.synthetic.tables import Nested

__all__ = ["SurveyModel", "earlier_times", "history_counts"]

Array = NDArray[Any]


class SurveyModel(ABC):
    """Draws the columns of consecutive chunks of alerts from one generator.

    Parameters
    ----------
    settings
        What to generate.
    plan
        The schema's plan (a model leaves out fields the schema lacks).
    rng
        The generator everything is drawn from, in a fixed order.
    """

    def __init__(
        self, settings: GenerationSettings, plan: AlertPlan, rng: np.random.Generator
    ) -> None:
        self.settings = settings
        self.fields = plan.names
        self.rng = rng
        self.sso = np.zeros(settings.count, dtype=bool)
        self.sso[rng.choice(settings.count, settings.sso_count, replace=False)] = True
        self.visits: dict[str, Array] = {}

    @abstractmethod
    def draw_visits(self, index: Array) -> dict[str, Array]:
        """Draw the visits numbered ``index``: one array per visit property."""

    @abstractmethod
    def chunk(self, start: int, stop: int) -> tuple[Rows, dict[str, Nested]]:
        """Draw alerts ``start`` to ``stop``: the alert's rows and its record fields."""

    def visit_columns(self, visit: Array) -> dict[str, Array]:
        """Per-alert columns of each alert's visit, drawing new visits as they come."""
        known = self.visits.get("mjd", np.empty(0)).shape[0]
        wanted = int(visit.max()) + 1
        if wanted > known:
            drawn = self.draw_visits(np.arange(known, wanted))
            self.visits = {
                key: np.concatenate([self.visits[key], value]) if self.visits else value
                for key, value in drawn.items()
            }
        return {key: value[visit] for key, value in self.visits.items()}


def history_counts(rng: np.random.Generator, history: int, n: int) -> Array:
    """Previous-source counts around ``history``: uniform in [2/3, 4/3] of it."""
    return rng.integers(round(history * 2 / 3), round(history * 4 / 3), n, endpoint=True)


def earlier_times(
    rng: np.random.Generator, when: Array, counts: Array, low: float, high: float
) -> tuple[Array, Array]:
    """Draw ``counts`` times ``low`` to ``high`` days before each ``when``, oldest first.

    Returns the index of the alert each time belongs to, and the times.
    """
    parent = np.repeat(np.arange(counts.shape[0]), counts)
    age = rng.uniform(low, high, parent.shape[0])
    order = np.lexsort((-age, parent))
    return parent, when[parent] - age[order]
