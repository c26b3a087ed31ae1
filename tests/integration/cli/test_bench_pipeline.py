"""`skystream bench pipeline` end to end, at the smallest scale."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

import pytest

from skystream.cli.bench import find_benchmarks
from skystream.cli.main import main
from skystream.config import KafkaSettings

PATHS = {"raw", "forward", "naive", "filter", "filter_kafka", "full"}


def _benchmark() -> ModuleType:
    path = find_benchmarks()["pipeline"]
    spec = importlib.util.spec_from_file_location("skystream_test_bench_pipeline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_pipeline_measures_every_path_and_reports_every_row(
    kafka_settings: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "-b",
            str(kafka_settings.bootstrap_servers),
            "bench",
            "pipeline",
            "--scale",
            "0.01",
            "--repeats",
            "1",
            "--json",
        ]
    )
    results = json.loads(capsys.readouterr().out)
    assert code == 0

    assert results["alerts"] >= 1000
    assert results["schema_version"]
    assert results["alert_bytes_median"] > 100_000  # cutouts and history: realistic sizes
    assert 0 < results["sso_alerts"] < results["alerts"]
    assert set(results["alerts_per_second"]) == PATHS
    assert all(rate > 0 for rate in results["alerts_per_second"].values())
    assert all(len(samples) == 1 for samples in results["samples"].values())
    assert set(results["ratios"]) == {
        "filter_vs_raw",
        "filter_vs_naive",
        "filter_kafka_vs_raw",
        "filter_kafka_vs_forward",
        "forward_vs_raw",
        "full_vs_raw",
        "full_vs_forward",
        "naive_vs_raw",
    }
    full = results["last_trial"]["full"]
    assert set(full["step_seconds"]) == {
        "decode",
        "no-sso",
        "xmatch",
        "ParquetWriter",
        "kafka-out",
    }
    # Every alert but the solar-system ones goes out.
    assert full["alerts_out"] == results["alerts"] - results["sso_alerts"]
    assert results["match_queries_per_second"] > 0
    for latency in (
        results["latency"],
        results["latency_without_output"],
        results["latency_parquet_out"],
        results["latency_kafka_out_500"],
    ):
        assert latency["played"] >= 500
        assert latency["alerts_out"] > 0
        assert 0 <= latency["p50_s"] <= latency["p99_s"] <= latency["max_s"]

    sources = f"{results['sources']:,}"
    assert set(results["targets"]) == {
        "filter-only component >= 90% of raw consume",
        "filter-only component >= 4.5x naive loop",
        f"filter + cross-match ({sources} sources) + Parquet + Kafka out >= 80% of raw consume",
        f"cross-match >= 500,000 queries/s on {sources} sources",
        "end-to-end p99 latency < 0.5 s at 1,000 alerts/s",
    }

    lines = _benchmark().report(results)
    text = "\n".join(lines)
    for row in (
        "raw confluent-kafka consume",
        "raw consume + produce",
        "naive loop",
        "component: filter only",
        "component: filter + Kafka out",
        "component: filter + cross-match + Parquet + Kafka out",
        "seconds by step",
        "cross-match, ",
        "latency, filter + Kafka out:",
        "latency, filter only (no output):",
    ):
        assert row in text, row
    assert sum(line.startswith("target ") for line in lines) == len(results["targets"])
