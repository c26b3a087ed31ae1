"""The README's examples run as written (the command-line tour and the library example)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from skystream.config import KafkaSettings

README = Path(__file__).parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _commands(block: str) -> list[str]:
    """The block's command lines, without their comments."""
    return [line.split("  #")[0].strip() for line in block.splitlines()]


def _environment(**variables: str) -> dict[str, str]:
    """This environment with the venv's ``skystream`` first on PATH, and ``variables``."""
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **variables,
    }
    if "SKYSTREAM_STATE_DIR" in variables:  # the tour's own stack, not the session's
        environment.pop("SKYSTREAM_BOOTSTRAP_SERVERS", None)
    return environment


def _run_commands(
    commands: list[str],
    environment: dict[str, str],
    cwd: Path | None = None,
    timeout_s: float = 120,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run each command in bash, in order, asserting it succeeds; results by command."""
    results = {}
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command],
            env=environment,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        assert result.returncode == 0, f"{command!r} failed: {result.stderr}"
        results[command] = result
    return results


def test_command_line_tour(stack_state_dir: Path) -> None:
    tour = next(b for b in _blocks("bash") if b.startswith("skystream up"))
    environment = _environment(SKYSTREAM_STATE_DIR=str(stack_state_dir))
    results = _run_commands(_commands(tour), environment)
    read_both = results["skystream consume status events --from-beginning -n 4"]
    assert sorted(read_both.stdout.splitlines()) == sorted(
        ["IDLE", "SLEWING", "TRACKING", '{"ra":150.1,"dec":-2.5}']
    )
    assert "consumed 4 messages" in read_both.stderr


def test_processing_tour(kafka_settings: KafkaSettings, registry_url: str, tmp_path: Path) -> None:
    tour = next(b for b in _blocks("bash") if b.startswith("skystream demo"))
    shutil.copytree(README.parent / "examples", tmp_path / "examples")
    environment = _environment(
        SKYSTREAM_BOOTSTRAP_SERVERS=str(kafka_settings.bootstrap_servers),
        SKYSTREAM_REGISTRY_URL=registry_url,
    )
    try:
        results = _run_commands(_commands(tour), environment, tmp_path, timeout_s=180)
        outputs = {" ".join(c.split()[1:3]): r.stdout for c, r in results.items()}
    finally:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
        topics = ["night-preload", "alerts", "alerts-no-sso", "no-sso-dead-letters"]
        for future in admin.delete_topics(topics).values():
            future.exception()  # a topic a failed step never made is fine
    assert "component transients:" in outputs["demo --visits"]
    assert (tmp_path / "night" / "demo.png").read_bytes()[:4] == b"\x89PNG"
    summaries = outputs["run examples/no-sso.yaml"]
    counts = [
        int(n.replace(",", "")) for n in re.findall(r"component no-sso: ([\d,]+) in", summaries)
    ]
    assert sum(counts) == 400  # two instances shared the 400 alerts
    rows = pq.read_table(tmp_path / "examples" / "out" / "no-sso").num_rows
    assert 0 < rows < 360  # solar-system objects (40) and detections below 10 sigma dropped
    assert (tmp_path / "no-sso-0.png").exists() and (tmp_path / "no-sso-1.png").exists()


def test_library_example(kafka_settings: KafkaSettings, capfd: Any) -> None:
    example = next(b for b in _blocks("python") if "async def main" in b)
    code = example.replace('"127.0.0.1:9092"', repr(kafka_settings.bootstrap_servers))
    try:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
        printed = capfd.readouterr().out.splitlines()
        assert re.fullmatch(r"pointing [0-2] 0", printed[0])  # first message of its partition
        assert printed[-1] == "pointing ['SKA001']"
    finally:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
        for future in admin.delete_topics(["status", "pointing"]).values():
            future.result()


def test_codec_example() -> None:
    example = next(b for b in _blocks("python") if "from skystream.codecs import" in b)
    exec(compile(example, str(README), "exec"), {})


def test_alert_simulator_tour(stack_state_dir: Path, tmp_path: Path) -> None:
    tour = next(b for b in _blocks("bash") if b.startswith("skystream sim generate"))
    environment = _environment(SKYSTREAM_STATE_DIR=str(stack_state_dir))
    results = _run_commands(["skystream up", *_commands(tour)], environment, tmp_path)
    outputs = {command: result.stdout for command, result in results.items()}
    created = next(out for command, out in outputs.items() if "create-stream" in command)
    assert created == "successfully preloaded stream with 200 alerts\n"
    played = [out for command, out in outputs.items() if "play-stream" in command]
    assert played[0].startswith("sent 200 alerts in ")
    assert played[1].count("sent 200 alerts in ") == 2
    printed = next(out for command, out in outputs.items() if "-n 3" in command)
    assert len(printed.splitlines()) == 3
    bounded = next(out for command, out in outputs.items() if "--json" in command)
    assert len(bounded.splitlines()) == 100  # the second visit of 100, 2 s after the first


def test_sal_tour(stack_state_dir: Path, tmp_path: Path) -> None:
    tour = next(b for b in _blocks("bash") if b.startswith("export SKYSTREAM_SAL_INTERFACES"))
    environment = _environment(
        SKYSTREAM_STATE_DIR=str(stack_state_dir),
        SKYSTREAM_SAL_INTERFACES="/work/shared/data/sal_interfaces",
    )
    # The Kafka half of the tour; the bridge half is tested in tests/integration/sal.
    commands = [
        command
        for command in _commands(tour)
        if command.startswith(("skystream sal list", "skystream sal schema",
                               "skystream sal write", "skystream sal read"))
    ]  # fmt: skip
    assert len(commands) == 4
    results = _run_commands(["skystream up", *commands], environment, tmp_path)
    outputs = {c.split()[2]: r.stdout for c, r in results.items() if c != "skystream up"}
    assert "MTM1M3" in outputs["list"]
    assert '"name": "forceActuatorData"' in outputs["schema"]
    assert outputs["write"].startswith("wrote 20,000 messages (")
    assert outputs["read"].startswith("read 20,000 messages in ")
