"""`skystream demo` and `skystream bench` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skystream.cli.main import main
from skystream.config import KafkaSettings


def test_demo_moves_every_encoding_and_checks_it(
    kafka_settings: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-b", str(kafka_settings.bootstrap_servers), "demo", "--rounds", "7", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(summary["encodings"]) == {"utf-8", "ascii", "json", "npy", "msgpack_numpy", "xarray"}
    for counts in summary["encodings"].values():
        assert counts == {"messages": 7, "round_trip_ok": 7}
    assert summary["produce"]["messages"] == summary["consume"]["messages"] == 42
    assert summary["produce"]["bytes"] == summary["consume"]["bytes"] > 0


def test_demo_starts_a_private_stack_when_none_runs(
    stack_state_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SKYSTREAM_BOOTSTRAP_SERVERS", "SKYSTREAM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(stack_state_dir / "no-config"))
    code = main(["demo", "--rounds", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "starting a private embedded stack" in captured.err
    assert "xarray" in captured.out and "round trip ok" in captured.out
    assert "MISMATCH" not in captured.out


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
