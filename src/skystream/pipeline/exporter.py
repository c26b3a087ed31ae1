"""A component's metrics for Prometheus, served over HTTP while it runs.

:class:`MetricsExporter` serves ``/metrics`` from a private registry. Its
collector reads the runner's
:meth:`~skystream.pipeline.runner.ComponentRunner.metrics` when Prometheus
scrapes, so the run itself pays nothing per alert. Every metric carries a
``component`` label:

=================================================  =======  =====================================
metric                                             type     meaning
=================================================  =======  =====================================
``skystream_alerts_in_total``                      counter  messages consumed
``skystream_alerts_out_total``                     counter  alerts that passed every step and sink
``skystream_batches_total``                        counter  batches flushed and committed
``skystream_dead_letters_total{step,reason}``      counter  messages set aside, by step and reason
``skystream_step_alerts_total{step,outcome}``      counter  per step: received, passed, skipped,
                                                            failed
``skystream_step_seconds_total{step}``             counter  time spent inside each step
``skystream_consumer_position{topic,partition}``   gauge    next offset to read
``skystream_latency_seconds{quantile}``            gauge    message time to output (0.5, 0.9,
                                                            0.99, 1 = max)
``skystream_alert_latency_seconds{quantile}``      gauge    observation time to output (0.5, 0.99)
=================================================  =======  =====================================

Latency quantiles are over the last 100,000 passing alerts; they are absent
until an alert has passed. The process's own ``process_*`` metrics are served
too.

>>> with MetricsExporter(runner, port=9108) as exporter:                 # doctest: +SKIP
...     print(exporter.url)
...     runner.run()
http://myhost:9108/metrics
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from skystream.exceptions import ConfigurationError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from skystream.pipeline.runner import ComponentRunner, RunnerMetrics

__all__ = ["MetricsExporter", "RunnerCollector"]

_OUTCOMES = ("received", "passed", "skipped", "failed")
_WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


class RunnerCollector(Collector):
    """Prometheus collector of one runner's metrics, read at scrape time.

    Parameters
    ----------
    runner
        The component runner to report on (its :meth:`metrics` is thread-safe).
    """

    def __init__(self, runner: ComponentRunner) -> None:
        self.runner = runner

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not read the runner."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families of the runner's current snapshot."""
        metrics = self.runner.metrics()
        name = metrics.component
        yield _counter("alerts_in", "Messages consumed.", name, metrics.alerts_in)
        yield _counter(
            "alerts_out", "Alerts that passed every step and sink.", name, metrics.alerts_out
        )
        yield _counter("batches", "Batches flushed and committed.", name, metrics.batches)

        dead = CounterMetricFamily(
            "skystream_dead_letters",
            "Messages set aside as dead letters, by step and reason.",
            labels=["component", "step", "reason"],
        )
        for key, count in sorted(metrics.dead_letters_by_reason.items()):
            step_name, _, reason = key.rpartition(":")  # reasons hold no colon; steps may
            dead.add_metric([name, step_name, reason], count)
        yield dead

        alerts = CounterMetricFamily(
            "skystream_step_alerts",
            "Alerts each step received, passed, skipped or failed.",
            labels=["component", "step", "outcome"],
        )
        seconds = CounterMetricFamily(
            "skystream_step_seconds",
            "Seconds spent inside each step.",
            labels=["component", "step"],
        )
        for step in metrics.steps:
            for outcome in _OUTCOMES:
                alerts.add_metric([name, step.name, outcome], getattr(step, outcome))
            seconds.add_metric([name, step.name], step.seconds)
        yield alerts
        yield seconds

        position = GaugeMetricFamily(
            "skystream_consumer_position",
            "Next offset to read, per input partition, as of the last committed batch.",
            labels=["component", "topic", "partition"],
        )
        for where, offset in metrics.position.items():
            topic, _, partition = where.rpartition("/")
            position.add_metric([name, topic, partition], offset)
        yield position
        yield from _latencies(metrics)


class MetricsExporter:
    """Serve a runner's metrics at ``http://ADDRESS:PORT/metrics`` for Prometheus.

    The server runs in a daemon thread from :meth:`start` (or entering the
    ``with`` block) until :meth:`stop`.

    Parameters
    ----------
    runner
        The component runner to report on.
    port
        TCP port to listen on; 0 picks a free one (read it from :attr:`port`).
    address
        Interface to listen on (``"0.0.0.0"``: all IPv4 interfaces).

    Examples
    --------
    >>> exporter = MetricsExporter(runner, port=0, address="127.0.0.1").start()  # doctest: +SKIP
    >>> exporter.url                                                             # doctest: +SKIP
    'http://127.0.0.1:41233/metrics'
    >>> exporter.stop()                                                          # doctest: +SKIP
    """

    def __init__(self, runner: ComponentRunner, port: int = 0, address: str = "0.0.0.0") -> None:
        if not 0 <= port <= 65535:
            raise ConfigurationError(
                f"metrics port {port} is out of range: give 1-65535, or 0 for any free port"
            )
        self.runner = runner
        self.address = address
        self.registry = CollectorRegistry()
        """The private registry served (the runner's collector and ``process_*``)."""
        self.registry.register(RunnerCollector(runner))
        ProcessCollector(registry=self.registry)
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on: the chosen one once started, when asked for 0."""
        return self._port

    @property
    def url(self) -> str:
        """Where Prometheus scrapes (this host's name when listening on every interface)."""
        host = socket.gethostname() if self.address in _WILDCARD_ADDRESSES else self.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}/metrics"

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    def start(self) -> MetricsExporter:
        """Start listening; return ``self``.

        Raises
        ------
        ConfigurationError
            If the port is taken, or the address cannot be listened on.
        """
        if self._server is not None:
            return self
        try:
            server, thread = start_http_server(self._port, self.address, self.registry)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"metrics port {self._port} on {self.address} is taken: choose another "
                    "port (--metrics-port), or 0 for any free one"
                ) from exc
            raise ConfigurationError(
                f"cannot serve metrics on {self.address}:{self._port} ({exc}): give an address "
                "of this machine and a free port (>= 1024 unless privileged), or 0 for any"
            ) from exc
        self._server, self._thread = server, thread
        self._port = server.server_port
        return self

    def stop(self) -> None:
        """Stop listening and release the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> MetricsExporter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _counter(name: str, documentation: str, component: str, value: float) -> Metric:
    family = CounterMetricFamily(f"skystream_{name}", documentation, labels=["component"])
    family.add_metric([component], value)
    return family


def _latencies(metrics: RunnerMetrics) -> Iterator[Metric]:
    """Latency quantiles as gauges (a quantile with no sample yet is left out)."""
    ingest = GaugeMetricFamily(
        "skystream_latency_seconds",
        "Seconds from a passing alert's message timestamp to its sinks' flush "
        "(quantile 1: the largest), over recent alerts.",
        labels=["component", "quantile"],
    )
    observed = GaugeMetricFamily(
        "skystream_alert_latency_seconds",
        "Seconds from a passing alert's observation time to its sinks' flush, "
        "over a sample of recent alerts.",
        labels=["component", "quantile"],
    )
    for family, quantiles in (
        (
            ingest,
            {
                "0.5": metrics.latency_p50_s,
                "0.9": metrics.latency_p90_s,
                "0.99": metrics.latency_p99_s,
                "1": metrics.latency_max_s,
            },
        ),
        (observed, {"0.5": metrics.alert_latency_p50_s, "0.99": metrics.alert_latency_p99_s}),
    ):
        for quantile, value in quantiles.items():
            if value is not None:
                family.add_metric([metrics.component, quantile], value)
        yield family
