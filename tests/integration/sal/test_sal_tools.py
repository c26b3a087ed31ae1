"""SAL write -> read on the embedded broker and registry, for MTM1M3 forceActuatorData."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from skystream.cli.main import main
from skystream.config import KafkaSettings
from skystream.exceptions import ConfigurationError, ValidationError
from skystream.kafka.topics import delete_topic
from skystream.registry.client import RegistryClient
from skystream.sal.avro import avro_schema, rev_code
from skystream.sal.interfaces import load_interfaces
from skystream.sal.model import SalTopic
from skystream.sal.samples import sample_items
from skystream.sal.tools import read_topics, time_read, write_topic

INTERFACES = Path("/work/shared/data/sal_interfaces")


@pytest.fixture(scope="module")
def force_data() -> SalTopic:
    return load_interfaces(INTERFACES, ["MTM1M3"]).component("MTM1M3").topic("forceActuatorData")


@pytest.fixture
def subname(kafka_settings: KafkaSettings, force_data: SalTopic) -> Iterator[str]:
    """A private topic namespace (lsst.<subname>.MTM1M3...), deleted after the test."""
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    delete_topic(kafka_settings, force_data.kafka_topic(name))


@pytest.fixture
def registry(registry_url: str) -> Iterator[RegistryClient]:
    with RegistryClient(registry_url) as client:
        yield client


def _same(received: Any, sent: Any) -> bool:
    """Equal, floats compared at Avro ``float`` precision."""
    if isinstance(sent, list):
        return len(received) == len(sent) and all(map(_same, received, sent))
    if isinstance(sent, float):
        return abs(received - sent) <= 1e-6 * max(1.0, abs(sent))
    return bool(received == sent)


@pytest.mark.parametrize(
    "validation",
    ["none", "custom", "dataclass", "dataclass_and_decode", "pydantic", "pydantic_and_decode"],
)
def test_write_then_read_in_every_validation_mode(
    kafka_settings: KafkaSettings,
    registry: RegistryClient,
    force_data: SalTopic,
    subname: str,
    validation: Any,
) -> None:
    report = write_topic(
        kafka_settings, registry, force_data, 20, validation=validation, subname=subname
    )
    assert report.messages == 20 and report.topic == f"lsst.{subname}.MTM1M3.forceActuatorData"
    assert report.message.startswith("wrote 20 messages (")

    messages = list(
        read_topics(
            kafka_settings,
            registry,
            [force_data],
            count=20,
            from_beginning=True,
            subname=subname,
            timeout_s=10,
        )
    )
    assert len(messages) == 20
    sent = sample_items(force_data)
    revision = rev_code(avro_schema(force_data))
    for number, message in enumerate(messages, start=1):
        data = message.data
        assert all(_same(data[name], value) for name, value in sent.items())
        assert data["private_seqNum"] == number
        assert data["private_identity"] == "MTM1M3"
        assert data["private_origin"] == os.getpid()
        assert data["private_revCode"] == revision
        # TAI stamps: 37 s ahead of UTC; the reader's stamp comes after the writer's.
        assert data["private_sndStamp"] - data["private_efdStamp"] == pytest.approx(37, abs=0.01)
        assert data["private_kafkaStamp"] >= data["private_sndStamp"]
        assert data["private_rcvStamp"] > data["private_sndStamp"]


@pytest.mark.parametrize(
    ("postprocess", "kind"),
    [
        ("none", dict),
        ("simple_namespace", types.SimpleNamespace),
        ("dataclass", None),
        ("pydantic", pydantic.BaseModel),
    ],
)
def test_every_postprocess_mode(
    kafka_settings: KafkaSettings,
    registry: RegistryClient,
    force_data: SalTopic,
    subname: str,
    postprocess: Any,
    kind: type | None,
) -> None:
    write_topic(kafka_settings, registry, force_data, 3, subname=subname)
    messages = read_topics(
        kafka_settings,
        registry,
        [force_data],
        count=3,
        from_beginning=True,
        postprocess=postprocess,
        subname=subname,
        timeout_s=10,
    )
    received = [m.data for m in messages]
    assert len(received) == 3
    for data in received:
        if kind is None:
            assert dataclasses.is_dataclass(data)
        else:
            assert isinstance(data, kind)
        seq = data["private_seqNum"] if isinstance(data, dict) else data.private_seqNum
        assert seq in (1, 2, 3)
        forces = data["xForce"] if isinstance(data, dict) else data.xForce
        assert len(forces) == dict((f.name, f.count) for f in force_data.fields)["xForce"]


def test_reader_starts_now_and_reads_history_when_asked(
    kafka_settings: KafkaSettings, registry: RegistryClient, force_data: SalTopic, subname: str
) -> None:
    write_topic(kafka_settings, registry, force_data, 5, subname=subname)  # before the readers
    results: dict[str, list[int]] = {}

    def read(name: str, history: int) -> None:
        messages = read_topics(
            kafka_settings,
            registry,
            [force_data],
            count=3 + history,
            max_history_read=history,
            subname=subname,
            timeout_s=15,
        )
        results[name] = [m.data["private_seqNum"] for m in messages]

    readers = [
        threading.Thread(target=read, args=("new only", 0)),
        threading.Thread(target=read, args=("history 2", 2)),
    ]
    for reader in readers:
        reader.start()
    time.sleep(4.0)  # both readers are positioned (generous: CI machines are loaded)
    write_topic(kafka_settings, registry, force_data, 3, subname=subname)
    for reader in readers:
        reader.join(30)
    assert results["new only"] == [1, 2, 3]  # the second writer's messages
    assert results["history 2"] == [4, 5, 1, 2, 3]  # the first writer's last two, then those


def test_timed_read_reports_a_rate(
    kafka_settings: KafkaSettings, registry: RegistryClient, force_data: SalTopic, subname: str
) -> None:
    write_topic(kafka_settings, registry, force_data, 200, acks="1", subname=subname)
    report = time_read(
        read_topics(
            kafka_settings,
            registry,
            [force_data],
            count=200,
            from_beginning=True,
            subname=subname,
            timeout_s=10,
        )
    )
    assert report.messages == 200 and report.rate > 0
    assert report.message.startswith("read 200 messages in ")


def test_custom_validation_names_the_wrong_fields(
    kafka_settings: KafkaSettings, registry: RegistryClient, force_data: SalTopic, subname: str
) -> None:
    data = sample_items(force_data)
    data["timestamp"] = "yesterday"
    data["xForce"] = data["xForce"][:-1]
    with pytest.raises(ValidationError) as info:
        write_topic(
            kafka_settings,
            registry,
            force_data,
            1,
            data=data,
            validation="custom",
            subname=subname,
        )
    issues = "\n".join(info.value.issues)
    assert "timestamp: 'yesterday' is a str, expected double" in issues
    assert f"xForce: expected {len(data['xForce']) + 1} elements, got {len(data['xForce'])}" in (
        issues
    )


def test_index_rules(
    kafka_settings: KafkaSettings, registry: RegistryClient, force_data: SalTopic
) -> None:
    with pytest.raises(ConfigurationError, match="MTM1M3 is not indexed: --index 3"):
        write_topic(kafka_settings, registry, force_data, 1, index=3)


def test_the_command_line_write_and_read(
    kafka_settings: KafkaSettings,
    registry_url: str,
    capsys: pytest.CaptureFixture[str],
    force_data: SalTopic,
) -> None:
    common = ["--interfaces", str(INTERFACES), "--registry-url", registry_url]
    base = ["--bootstrap-servers", str(kafka_settings.bootstrap_servers), "sal"]
    try:
        code = main([*base, "write", "MTM1M3", "tel_forceActuatorData", "-n", "50", *common])
        out = capsys.readouterr().out
        assert code == 0 and out.startswith("wrote 50 messages (") and "msgs/s" in out
        code = main(
            [
                *base,
                "read",
                "MTM1M3",
                "forceActuatorData",
                "-n",
                "50",
                "-t",
                "--from-beginning",
                *common,
            ]
        )
        out = capsys.readouterr().out
        assert code == 0 and out.startswith("read 50 messages in ")
        code = main([*base, "write", "MTM1M3", "tel_noSuchTopic", *common])
        assert code == 1 and "MTM1M3 has no topic 'tel_noSuchTopic'" in capsys.readouterr().err
    finally:
        delete_topic(kafka_settings, force_data.kafka_topic())
