"""`skystream demo` and `skystream bench` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from skystream.cli.main import main
from skystream.config import KafkaSettings
from skystream.kafka.topics import topic_exists
from skystream.local.stack import find_running_stack


def test_demo_plays_a_night_through_both_components(
    kafka_settings: KafkaSettings,
    registry_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYSTREAM_REGISTRY_URL", registry_url)
    out = tmp_path / "night"
    args = ["demo", "--visits", "2", "--visit-size", "150", "--speed", "37", "--output", str(out)]
    code = main(["-b", str(kafka_settings.bootstrap_servers), *args, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary["problems"]
    assert summary["problems"] == []
    alerts, sso = summary["alerts"], summary["sso_alerts"]
    assert alerts == 300 and sso == 30  # 10% solar-system, exactly
    solar, transients = summary["components"]["solar-system"], summary["components"]["transients"]
    assert solar["alerts_in"] == transients["alerts_in"] == alerts
    assert solar["alerts_out"] == sso
    assert transients["alerts_out"] == alerts - sso == summary["parquet_rows"]
    steps = {s["name"]: s for s in transients["steps"]}
    assert steps["no-solar-system"]["skipped"] == sso
    assert summary["matched"] >= summary["counterparts"] > 0
    table = pq.read_table(out / "transients")
    assert table.num_rows == alerts - sso
    assert len(set(table.column("alert_id").to_pylist())) == alerts - sso
    assert table.column("catalogue_source_id").null_count == table.num_rows - summary["matched"]
    assert Path(summary["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("solar-system.yaml", "transients.yaml"):
        assert main(["run", str(out / name), "--check"]) == 0
    assert len(summary["topics"]) == 4
    assert not any(topic_exists(kafka_settings, topic) for topic in summary["topics"].values())


def test_demo_queues_moves_every_encoding_and_checks_it(
    kafka_settings: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["-b", str(kafka_settings.bootstrap_servers), "demo", "queues", "--rounds", "7", "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(summary["encodings"]) == {"utf-8", "ascii", "json", "npy", "msgpack_numpy", "xarray"}
    for counts in summary["encodings"].values():
        assert counts == {"messages": 7, "round_trip_ok": 7}
    assert summary["produce"]["messages"] == summary["consume"]["messages"] == 42
    assert summary["produce"]["bytes"] == summary["consume"]["bytes"] > 0


def test_demo_starts_a_private_stack_and_leaves_nothing_running(
    stack_state_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SKYSTREAM_BOOTSTRAP_SERVERS", "SKYSTREAM_CONFIG", "SKYSTREAM_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(stack_state_dir / "no-config"))
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    args = ["--visits", "1", "--visit-size", "100", "--output", str(tmp_path / "night")]
    code = main(["demo", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "starting a private embedded stack" in captured.err
    assert "component transients: 100 in, 90 out, 0 dead letters" in captured.out
    assert "component solar-system: 100 in, 10 out, 0 dead letters" in captured.out
    left = [
        child
        for child in psutil.Process().children(recursive=True)
        if child.pid not in before and child.is_running()
    ]
    assert left == [], f"the demo left {[c.cmdline() for c in left]} running"
    assert find_running_stack() is None


def test_bench_lists_and_runs_the_client_benchmark(
    kafka_settings: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench"]) == 0
    assert "client" in capsys.readouterr().out
    code = main(
        [
            "-b",
            str(kafka_settings.bootstrap_servers),
            "bench",
            "client",
            "--scale",
            "0.005",
            "--repeats",
            "1",
            "--json",
        ]
    )
    results = json.loads(capsys.readouterr().out)
    assert code == 0
    for size in ("1KB", "64KB"):
        for direction in ("produce", "consume"):
            paths = results["sizes"][size][direction]
            assert set(paths) == {"raw", "batch", "async"}
            assert paths["raw"]["ratio_to_raw"] == 1.0
            assert all(p["messages_per_second"] > 0 for p in paths.values())
    assert set(results["targets"]) == {
        "batch produce >= 90% of raw",
        "batch consume >= 90% of raw",
        "async send >= 50k 1KB msgs/s",
    }


def test_bench_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nope"]) == 1
    from skystream.cli.bench import find_benchmarks

    available = ", ".join(find_benchmarks())
    assert f"no benchmark 'nope'; available: {available}" in capsys.readouterr().err
    assert "client" in available
