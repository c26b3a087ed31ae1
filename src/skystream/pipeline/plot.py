"""A picture of a run: rates in and out, and latency, over time.

:func:`plot_run` draws a runner's :attr:`~skystream.pipeline.runner.ComponentRunner.history`
(its :class:`~skystream.pipeline.runner.BatchReport` per batch) into a PNG.
matplotlib is imported only when a plot is drawn.

>>> runner.run(idle_timeout_s=10)                                    # doctest: +SKIP
>>> plot_run(runner.history, "run.png", title="no-sso")              # doctest: +SKIP
PosixPath('run.png')
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from skystream.exceptions import ConfigurationError
from skystream.pipeline.runner import BatchReport

__all__ = ["plot_run"]

#: Most bins a run is cut into (fewer, of one second each, for runs under 100 s).
MAX_BINS = 100


def plot_run(
    history: Sequence[BatchReport], path: str | Path, *, title: str = "skystream run"
) -> Path:
    """Write a PNG of a run's rates and latencies, binned over time; return its path.

    Top panel: alerts/s in and out. Bottom panel: per bin, the median of the
    batches' median latencies and the largest latency (message time to
    output), and on a right-hand axis the alert latency (observation time to
    output) when the batches measured it. Time is in seconds since the first
    batch started; a bin is one second, or 1/100 of the run if that is longer.

    Parameters
    ----------
    history
        The batches, in the order they finished (``runner.history``).
    path
        Where to write the PNG (its folder must exist).
    title
        The figure's title.

    Raises
    ------
    ConfigurationError
        If ``history`` is empty.
    """
    if not history:
        raise ConfigurationError(
            "cannot plot an empty history: no batch finished (the run read no message); "
            "plot after a run that processed some"
        )
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    start = history[0].finished_at - history[0].seconds
    times = np.array([batch.finished_at - start for batch in history])
    width = max(1.0, float(times.max()) / MAX_BINS)
    edges = np.arange(math.ceil(float(times.max()) / width + 1e-9) + 1) * width
    if len(edges) < 2:
        edges = np.array([0.0, width])
    where = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, len(edges) - 2)
    bins = len(edges) - 1

    def per_bin(values: list[float | None], combine: str) -> np.ndarray:
        found: list[list[float]] = [[] for _ in range(bins)]
        for index, value in zip(where, values, strict=True):
            if value is not None:
                found[index].append(value)
        pick = statistics.median if combine == "median" else max
        return np.array([pick(v) if v else np.nan for v in found])

    rate_in = np.bincount(where, [b.received for b in history], bins) / width
    rate_out = np.bincount(where, [b.passed for b in history], bins) / width
    centres = (edges[:-1] + edges[1:]) / 2

    figure = Figure(figsize=(8, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    rates, latency = figure.subplots(2, 1, sharex=True)
    figure.suptitle(title)
    rates.stairs(rate_in, edges, label="in", linewidth=1.5)
    rates.stairs(rate_out, edges, label="out", linewidth=1.5)
    rates.set_ylabel("alerts/s")
    rates.set_title(f"rates, in bins of {width:.3g} s", fontsize="medium")
    rates.legend(loc="upper right")
    rates.grid(alpha=0.3)

    median = per_bin([b.latency_median_s for b in history], "median")
    largest = per_bin([b.latency_max_s for b in history], "max")
    latency.plot(centres, median, ".-", label="median (message time to output)")
    latency.plot(centres, largest, ".-", label="max", alpha=0.7)
    latency.set_ylabel("latency (s)")
    latency.set_xlabel("seconds since the first batch")
    latency.grid(alpha=0.3)
    handles, labels = latency.get_legend_handles_labels()
    observed = per_bin([b.alert_latency_s for b in history], "median")
    if not np.isnan(observed).all():
        # Observation to output may be days for a replayed night: its own axis.
        right = latency.twinx()
        (line,) = right.plot(centres, observed, "x:", color="tab:green")
        right.set_ylabel("alert latency (s)", color="tab:green")
        handles.append(line)
        labels.append("alert latency (observation time to output), right axis")
    latency.legend(handles, labels, loc="upper left", fontsize="small")

    target = Path(path)
    figure.savefig(target, format="png")
    return target
