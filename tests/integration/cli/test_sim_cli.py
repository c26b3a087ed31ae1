"""`skystream sim generate|create-stream|play-stream|print-stream` end to end."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.admin import AdminClient

from skystream.cli.main import main
from skystream.config import KafkaSettings


@pytest.fixture
def cli(
    kafka_settings: KafkaSettings, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> Any:
    """Run the CLI in-process on the session stack: cli(*args) -> (code, out, err)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--bootstrap-servers", str(kafka_settings.bootstrap_servers), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def names(kafka_settings: KafkaSettings) -> Iterator[tuple[str, str]]:
    """A preload topic and an alert topic, deleted after the test."""
    pair = (f"cli-preload-{uuid.uuid4().hex[:8]}", f"cli-alerts-{uuid.uuid4().hex[:8]}")
    yield pair
    admin = AdminClient({"bootstrap.servers": str(kafka_settings.bootstrap_servers)})
    existing = [t for t in pair if t in admin.list_topics(timeout=10).topics]
    if existing:
        for future in admin.delete_topics(existing).values():
            future.result(timeout=15)


def test_generate_create_play_print(
    cli: Any, names: tuple[str, str], tmp_path: Path, registry_url: str
) -> None:
    preload, alerts = names
    night = tmp_path / "night.avro"
    code, out, err = cli(
        "sim", "generate", "--survey", "rubin", "-n", "12", "--sso-fraction", "0.25",
        "--seed", "4", "--visit-size", "6", "--visit-interval", "1", "-o", str(night),
    )  # fmt: skip
    assert code == 0, err
    assert re.fullmatch(
        rf"wrote 12 rubin 11\.1 alerts \(3 solar-system\) to {night}, [\d,]+ bytes\n", out
    )
    with night.open("rb") as stream:
        assert len(list(fastavro.reader(stream))) == 12

    code, out, err = cli("sim", "create-stream", str(night), "--dst-topic", preload)
    assert (code, out) == (0, "successfully preloaded stream with 12 alerts\n"), err
    code, out, err = cli("sim", "create-stream", str(night), "--dst-topic", preload)
    assert code == 1 and "already exists; pass --force" in err

    code, out, err = cli(
        "sim", "play-stream", "--src-topic", preload, "--dst-topic", alerts, "--speed", "4",
        "--registry-url", registry_url,
    )  # fmt: skip
    assert code == 0, err
    assert re.match(r"sent 12 alerts in [\d.]+ s \([\d.]+/s\); behind schedule: median", out)

    code, out, err = cli("sim", "print-stream", "--src-topic", alerts, "--idle-timeout", "2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 12, err
    assert sum(line.endswith(" sso") for line in lines) == 3
    assert all(re.search(r"id=\d+  history=\d+  size=[\d,]+ B", line) for line in lines)

    code, out, err = cli(
        "sim", "print-stream", "--src-topic", preload, "--from", "+1s", "--to", "+2s", "--json"
    )
    entries = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(entries) == 6, err
    assert {e["time_offset_s"] for e in entries} == {1.0}


def test_play_stream_json_and_bad_values(cli: Any, names: tuple[str, str], tmp_path: Path) -> None:
    preload, alerts = names
    night = tmp_path / "night.avro"
    assert cli("sim", "generate", "-n", "5", "-o", str(night))[0] == 0
    assert cli("sim", "create-stream", str(night), "--dst-topic", preload)[0] == 0

    code, out, err = cli(
        "sim", "play-stream", "--src-topic", preload, "--dst-topic", alerts, "--speed", "inf",
        "--passes", "2", "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sent"] == 10 and summary["skipped"] == {}
    assert [p["number"] for p in summary["passes"]] == [1, 2]

    code, _, err = cli("sim", "play-stream", "--src-topic", preload, "--dst-topic", alerts,
                       "--speed", "0")  # fmt: skip
    assert code == 2 and "0.0 is not > 0" in err
    code, _, err = cli("sim", "print-stream", "--src-topic", preload, "--from", "soon")
    assert code == 1 and "'soon' is not a stream position" in err
    code, _, err = cli("sim", "generate", "--sso-fraction", "2", "-o", str(night))
    assert code == 2 and "--sso-fraction" in err


def test_help_lists_every_simulator_command(cli: Any) -> None:
    code, out, _ = cli("sim", "--help")
    assert code == 0
    for command in ("generate", "create-stream", "play-stream", "print-stream"):
        assert command in out
