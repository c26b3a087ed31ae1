"""Plotting a run's history: a readable PNG of the right size, or a clear error."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest

from skystream.exceptions import ConfigurationError
from skystream.pipeline.plot import plot_run
from skystream.pipeline.runner import BatchReport

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = 1_700_000_000.0


def _history(batches: int, *, alert_latency: bool = True) -> list[BatchReport]:
    """Batches every 0.25 s; some with nothing passed (no latency), as a real run has."""
    history = []
    for i in range(batches):
        passed = 0 if i % 7 == 3 else 40
        history.append(
            BatchReport(
                finished_at=START + 0.25 * (i + 1),
                received=50,
                passed=passed,
                dead_letters=i % 2,
                seconds=0.1,
                latency_median_s=0.02 + 0.001 * (i % 5) if passed else None,
                latency_max_s=0.08 + 0.002 * (i % 3) if passed else None,
                alert_latency_s=3 * 86400.0 + i if passed and alert_latency else None,
            )
        )
    return history


@pytest.mark.parametrize(
    ("batches", "alert_latency"),
    [(400, True), (400, False), (1, True)],
    ids=["100 s run", "no alert latency", "one batch"],
)
def test_plot_run_writes_a_png_matplotlib_reads_back(
    tmp_path: Path, batches: int, alert_latency: bool
) -> None:
    path = plot_run(
        _history(batches, alert_latency=alert_latency), tmp_path / "run.png", title="no-sso"
    )

    assert path == tmp_path / "run.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (600, 800)  # 8 x 6 inches at 100 dpi
    assert pixels.std() > 0  # something is drawn


def test_plot_run_takes_a_string_path(tmp_path: Path) -> None:
    path = plot_run(_history(10), str(tmp_path / "rate.png"))
    assert path == tmp_path / "rate.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_plot_run_of_an_empty_history_says_there_is_nothing_to_plot(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="empty history: no batch finished"):
        plot_run([], tmp_path / "run.png")
    assert not (tmp_path / "run.png").exists()
