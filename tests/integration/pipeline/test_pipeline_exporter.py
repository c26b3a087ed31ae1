"""A component's metrics for Prometheus, and its plot, from a real run.

A runner filters generated Rubin alerts (and one message that is not an
alert) from a 2-partition topic on the embedded broker while a
:class:`~skystream.pipeline.exporter.MetricsExporter` serves ``/metrics``.
What Prometheus would scrape, during the run and after it, is exactly what
``runner.metrics()`` says. ``skystream run --metrics-port --plot`` serves the
same and draws the PNG, for one instance and for two (ports PORT and PORT+1,
files PATH-0.png and PATH-1.png).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import matplotlib.image
import pytest
from component_process import fill_input, worker_starter, write_spec
from prometheus_client.parser import text_string_to_metric_families

from skystream.alerts.model import Alert
from skystream.cli.main import main
from skystream.config import KafkaSettings
from skystream.exceptions import ConfigurationError
from skystream.kafka import BatchProducer
from skystream.pipeline.exporter import MetricsExporter
from skystream.pipeline.processor import BatchResult, Verdict
from skystream.pipeline.runner import BatchReport, ComponentRunner, RunnerMetrics
from skystream.processors.sinks import KafkaStreamWriter

ALERTS = 60
PARTITIONS = 2
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class DropSolarSystem:
    """SKIP alerts of known solar-system objects."""

    name = "drop-sso"
    fields = frozenset({"sso_id"})

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        return BatchResult([Verdict.SKIP if a.is_sso else Verdict.PASS for a in alerts])


def _scrape(url: str) -> Samples:
    """The ``skystream_*`` samples served at ``url``, by name and labels."""
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name.startswith("skystream_")
    }


def _expected(metrics: RunnerMetrics) -> Samples:
    """The samples a scrape should give for ``metrics``."""

    def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
        return f"skystream_{name}", frozenset({"component": metrics.component, **labels}.items())

    samples: Samples = {
        key("alerts_in_total"): metrics.alerts_in,
        key("alerts_out_total"): metrics.alerts_out,
        key("batches_total"): metrics.batches,
    }
    for where, count in metrics.dead_letters_by_reason.items():
        step, reason = where.split(":")
        samples[key("dead_letters_total", step=step, reason=reason)] = count
    for step in metrics.steps:
        for outcome in ("received", "passed", "skipped", "failed"):
            samples[key("step_alerts_total", step=step.name, outcome=outcome)] = getattr(
                step, outcome
            )
        samples[key("step_seconds_total", step=step.name)] = step.seconds
    for where, offset in metrics.position.items():
        topic, partition = where.split("/")
        samples[key("consumer_position", topic=topic, partition=partition)] = offset
    quantiles = {
        "latency_seconds": {
            "0.5": metrics.latency_p50_s,
            "0.9": metrics.latency_p90_s,
            "0.99": metrics.latency_p99_s,
            "1": metrics.latency_max_s,
        },
        "alert_latency_seconds": {
            "0.5": metrics.alert_latency_p50_s,
            "0.99": metrics.alert_latency_p99_s,
        },
    }
    for name, values in quantiles.items():
        for quantile, value in values.items():
            if value is not None:
                samples[key(name, quantile=quantile)] = value
    return samples


def _free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are free now (released for the test to use)."""
    for _ in range(50):
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind(("", 0))
            base = first.getsockname()[1]
            try:
                for offset in range(1, count):
                    stack.enter_context(socket.socket()).bind(("", base + offset))
            except OSError:
                continue
            return int(base)
    raise AssertionError(f"no {count} consecutive free ports")


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    assert matplotlib.image.imread(path).shape[:2] == (600, 800)


def test_scraped_metrics_equal_the_runner_metrics_during_and_after_the_run(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
) -> None:
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    inputs = fill_input(kafka_settings, source, tmp_path / "visit.avro", ALERTS, PARTITIONS)
    with BatchProducer(kafka_settings) as producer:
        producer.produce(source, b"not an alert", partition=0)
    passing = sum(a.passes for a in inputs.values())
    runner = ComponentRunner(
        "exported",
        kafka_settings,
        source,
        unique_group,
        [DropSolarSystem()],
        [KafkaStreamWriter(kafka_settings, out_topic, partitions=1)],
        batch_size=10,
        batch_timeout_s=0.5,
        dead_letter_topic=dead,
    )
    during: list[tuple[Samples, RunnerMetrics]] = []

    with MetricsExporter(runner, port=0, address="127.0.0.1") as exporter:
        assert exporter.port > 0
        assert exporter.url == f"http://127.0.0.1:{exporter.port}/metrics"

        def scrape_first_batch(report: BatchReport) -> None:
            # The run thread waits here, so the runner's counts hold still.
            if not during:
                during.append((_scrape(exporter.url), runner.metrics()))

        runner.listeners.append(scrape_first_batch)
        runner.run(max_alerts=ALERTS + 1, idle_timeout_s=10)
        after = _scrape(exporter.url)
    metrics = runner.metrics()

    ((first_scrape, first_metrics),) = during
    assert 0 < first_metrics.alerts_in < ALERTS + 1
    assert first_scrape == _expected(first_metrics)
    assert after == _expected(metrics)
    # ... and those are the numbers a user expects of this stream.
    labels = {"component": "exported"}
    assert after["skystream_alerts_in_total", frozenset(labels.items())] == ALERTS + 1
    assert after["skystream_alerts_out_total", frozenset(labels.items())] == passing
    step = frozenset({**labels, "step": "drop-sso", "outcome": "passed"}.items())
    assert after["skystream_step_alerts_total", step] == passing
    dead_letters = {
        dict(k[1])["step"]: v for k, v in after.items() if k[0] == "skystream_dead_letters_total"
    }
    assert dead_letters == {"decode": 1}
    positions = {
        dict(k[1])["partition"]: v
        for k, v in after.items()
        if k[0] == "skystream_consumer_position"
    }
    assert positions == {"0": ALERTS / PARTITIONS + 1, "1": ALERTS / PARTITIONS}
    assert ("skystream_latency_seconds", frozenset({**labels, "quantile": "0.5"}.items())) in after
    with pytest.raises(httpx.ConnectError):  # stopped: the port is released
        httpx.get(exporter.url, timeout=5)


def test_a_taken_port_is_named_with_the_fix() -> None:
    runner = ComponentRunner("idle", "127.0.0.1:9", "unused", "unused", [], [])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=rf"port {port} on 127.0.0.1 is taken.*0 for"):
            MetricsExporter(runner, port=port, address="127.0.0.1").start()
    with pytest.raises(ConfigurationError, match="70000 is out of range"):
        MetricsExporter(runner, port=70000)


@contextlib.contextmanager
def _scraping(url: str, wanted: float) -> Iterator[list[Samples]]:
    """Scrape ``url`` in the background until ``alerts_in`` reaches ``wanted``; every answer."""
    answers: list[Samples] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            with contextlib.suppress(httpx.TransportError):
                answers.append(_scrape(url))
                counts = [v for k, v in answers[-1].items() if k[0] == "skystream_alerts_in_total"]
                if counts == [wanted]:
                    return
            done.wait(0.1)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield answers
    finally:
        done.set()
        thread.join()


def test_run_command_serves_metrics_and_draws_the_plot(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    inputs = fill_input(kafka_settings, source, tmp_path / "visit.avro", ALERTS, PARTITIONS)
    passing = sum(a.passes for a in inputs.values())
    spec = write_spec(
        tmp_path / "plotted.yaml",
        kafka_settings,
        source=source,
        group=unique_group,
        out_topic=out_topic,
        dead_letter_topic=dead,
        batch_size=10,
    )
    port, plot = _free_ports(1), tmp_path / "rate.png"

    with _scraping(f"http://127.0.0.1:{port}/metrics", ALERTS) as answers:
        # The exporter serves until the run ends, 3 s after the last message.
        code = main(
            [
                *("run", str(spec), "--idle-timeout", "3"),
                *("--metrics-port", str(port), "--plot", str(plot)),
            ]
        )
    captured = capsys.readouterr()

    assert code == 0, captured.err
    assert re.search(rf"metrics for Prometheus at http://\S+:{port}/metrics", captured.err)
    assert f"plot written to {plot}" in captured.err
    assert f"component killable: {ALERTS} in, {passing} out" in captured.out  # the summary
    _assert_png(plot)
    assert answers, "nothing answered at the metrics port during the run"
    last = answers[-1]
    labels = frozenset({"component": "killable"}.items())
    assert last["skystream_alerts_in_total", labels] == ALERTS
    assert last["skystream_alerts_out_total", labels] == passing


def test_run_command_with_two_instances_uses_port_plus_i_and_a_plot_each(
    kafka_settings: KafkaSettings,
    topic_factory,  # type: ignore[no-untyped-def]
    unique_group: str,
    tmp_path: Path,
) -> None:
    source = topic_factory(partitions=PARTITIONS)
    out_topic, dead = topic_factory(partitions=1), topic_factory(partitions=1)
    fill_input(kafka_settings, source, tmp_path / "visit.avro", 80, PARTITIONS)
    # Slow batches (8 of 10 alerts, 0.25 s each): both instances join before the stream is done.
    spec = write_spec(
        tmp_path / "pair.yaml",
        kafka_settings,
        source=source,
        group=unique_group,
        out_topic=out_topic,
        dead_letter_topic=dead,
        batch_size=10,
        delay_s=0.25,
    )
    port = _free_ports(2)

    with worker_starter() as start:
        worker = start(
            spec,
            *("--instances", "2", "--idle-timeout", "3"),
            *("--metrics-port", str(port), "--plot", str(tmp_path / "rate.png")),
        )
        assert worker.wait(90) == 0, worker.output()

    errors = worker.stderr_path.read_text()
    for index in range(2):
        url = rf"instance {index}: metrics for Prometheus at http://\S+:{port + index}/metrics"
        assert re.search(url, errors), worker.output()
        assert f"instance {index}: plot written to" in errors, worker.output()
        _assert_png(tmp_path / f"rate-{index}.png")
    assert not (tmp_path / "rate.png").exists()
