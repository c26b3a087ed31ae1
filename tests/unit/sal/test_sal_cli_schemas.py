"""``skystream sal list`` and ``skystream sal schema``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fake_ts_xml import write_fake_ts_xml

from skystream.cli.main import main
from skystream.sal.interfaces import INTERFACES_ENV

SHARED = "/work/shared/data/sal_interfaces"
GOLDEN = Path("/work/shared/data/golden/lsst.sal.MTM1M3.forceActuatorData.avsc")


@pytest.fixture(autouse=True)
def _no_interfaces_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERFACES_ENV, raising=False)


def test_list_components(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sal", "list", "--interfaces", SHARED]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["COMPONENT", "INDEXED", "COMMANDS", "EVENTS", "TELEMETRY", "TOPICS"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert len(rows) == 63
    assert rows["MTHexapod"][1] == "CameraHexapod=1,M2Hexapod=2"
    assert rows["Test"][1] == "any"
    assert rows["MTM1M3"][1] == "no"


def test_list_components_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sal", "list", "--interfaces", SHARED, "--json"]) == 0
    summaries = {entry["component"]: entry for entry in json.loads(capsys.readouterr().out)}
    hexapod = summaries["MTHexapod"]
    assert hexapod["indexed"] is True
    assert hexapod["topics"] == (
        hexapod["commands"] + hexapod["events"] + hexapod["telemetry"] + 1  # ackcmd
    )
    assert summaries["MTM1M3"]["indexed"] is False


def test_list_topics_of_a_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sal", "list", "MTM1M3", "--interfaces", SHARED]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KIND", "ATTRIBUTE", "KAFKA", "TOPIC", "FIELDS"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows["tel_forceActuatorData"] == [
        "telemetry",
        "tel_forceActuatorData",
        "lsst.sal.MTM1M3.forceActuatorData",
        "15",
    ]
    assert rows["ack_ackcmd"][2] == "lsst.sal.MTM1M3.ackcmd"
    assert lines[-1].split()[0] == "ackcmd"


def test_list_topics_json_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERFACES_ENV, SHARED)
    assert main(["sal", "list", "MTHexapod", "--json"]) == 0
    rows = {row["attr_name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["evt_summaryState"] == {
        "kind": "event",
        "attr_name": "evt_summaryState",
        "sal_name": "logevent_summaryState",
        "kafka_topic": "lsst.sal.MTHexapod.logevent_summaryState",
        "fields": 1,
        "category": "csc",
    }


@pytest.mark.parametrize("topic", ["forceActuatorData", "tel_forceActuatorData"])
def test_schema_prints_rubins_schema(capsys: pytest.CaptureFixture[str], topic: str) -> None:
    assert main(["sal", "schema", "MTM1M3", topic, "--interfaces", SHARED]) == 0
    out = capsys.readouterr().out
    golden = json.loads(GOLDEN.read_text())
    assert json.dumps(json.loads(out)) == json.dumps(golden)  # key order included
    assert out == json.dumps(golden, indent=2) + "\n"


def test_schema_of_an_indexed_event(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = write_fake_ts_xml(tmp_path / "xml")
    assert (
        main(["sal", "schema", "FakeIndexed", "evt_summaryState", "--interfaces", str(root)]) == 0
    )
    schema = json.loads(capsys.readouterr().out)
    assert schema["name"] == "logevent_summaryState"
    assert schema["namespace"] == "lsst.sal.FakeIndexed"
    assert schema["fields"][0]["name"] == "salIndex"


def test_no_interfaces_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sal", "list"]) == 1
    err = capsys.readouterr().err
    assert "--interfaces DIR" in err and INTERFACES_ENV in err


def test_unknown_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sal", "schema", "MTM1M4", "x", "--interfaces", SHARED]) == 1
    err = capsys.readouterr().err
    assert "unknown SAL component(s) 'MTM1M4'" in err and "did you mean 'MTM1M3'" in err


def test_unknown_topic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sal", "schema", "MTM1M3", "tel_nope", "--interfaces", SHARED]) == 1
    assert "MTM1M3 has no topic 'tel_nope'" in capsys.readouterr().err


def test_broken_interface_file_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = write_fake_ts_xml(tmp_path / "xml")
    (root / "Fake" / "Fake_Telemetry.xml").write_text("<SALTelemetrySet>")
    assert main(["sal", "list", "Fake", "--interfaces", str(root)]) == 1
    assert "error: Fake_Telemetry.xml: malformed XML" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["list", "schema"])
def test_help_has_examples(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert main(["sal", command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples:" in out and f"skystream sal {command}" in out
    assert INTERFACES_ENV in out
