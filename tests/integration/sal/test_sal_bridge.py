"""The DDS-to-Kafka bridge, end to end: Cyclone DDS -> `skystream sal bridge` -> Kafka.

Real Cyclone DDS (a private domain per test, loopback only), the bridge as a
subprocess (`skystream sal bridge`), the session's embedded broker and
registry. Samples are written by :func:`skystream.sal.simulate.simulate` in
this process, which says how many it wrote per topic; the test then reads
every topic of its private subname (``lsst.<subname>.<CSC>.<topic>``) and
checks that each sample arrived exactly once, in the right topic, decodable
through the registry, with the values that were written.

The Kafka side is held back honestly with the bridge's own pause control
(`skystream sal bridge-ctl pause`): sends stop, the read queues fill, and
the bridge's monitor must warn as Rubin's does.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from skystream.config import KafkaSettings
from skystream.kafka import Admin, BatchConsumer
from skystream.registry.client import RegistryClient
from skystream.registry.serde import AvroDeserializer
from skystream.sal.avro import message_key
from skystream.sal.bridge import TopicSetsFile, control_request, plan_topic_sets
from skystream.sal.dds import DdsSettings
from skystream.sal.interfaces import SalInterfaces, load_interfaces
from skystream.sal.model import SalTopic
from skystream.sal.samples import tai_minus_utc, tai_now
from skystream.sal.simulate import SimulationResult, sample_values, simulate

pytest.importorskip("cyclonedds")

INTERFACES = Path("/work/shared/data/sal_interfaces")
SKYSTREAM = Path(sys.executable).parent / "skystream"
T = TypeVar("T")
READY_TIMEOUT_S = 60.0


def run_admin(settings: KafkaSettings, action: Callable[[Admin], Awaitable[T]]) -> T:
    async def run() -> T:
        async with Admin(settings) as admin:
            return await action(admin)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def interfaces() -> SalInterfaces:
    return load_interfaces(INTERFACES, ["Test", "MTM2", "MTM1M3"])


@dataclass
class RunningBridge:
    """A `skystream sal bridge` subprocess and where it reports."""

    process: subprocess.Popen[bytes]
    log_path: Path
    ready_file: Path
    control: Path
    subname: str
    domain: int

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, pattern: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not re.search(pattern, self.log()):
            assert time.monotonic() < deadline, f"no {pattern!r} in the bridge log:\n{self.log()}"
            time.sleep(0.02)

    def terminate(self, timeout_s: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    @property
    def dds(self) -> DdsSettings:
        return DdsSettings(domain_id=self.domain, loopback=True)


@dataclass
class BridgeFactory:
    kafka_settings: KafkaSettings
    registry_url: str
    scratch: Path
    bridges: list[RunningBridge] = field(default_factory=list)
    subname: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")
    domain: int = field(default_factory=lambda: random.randint(1, 200))

    def __call__(self, *arguments: str, ready_timeout_s: float = READY_TIMEOUT_S) -> RunningBridge:
        number = len(self.bridges)
        log_path = self.scratch / f"bridge{number}.log"
        ready = self.scratch / f"ready{number}"
        control = self.scratch / f"control{number}"
        command = [
            str(SKYSTREAM),
            "sal",
            "bridge",
            *arguments,
            "--broker",
            self.kafka_settings.require_bootstrap(),
            "--registry",
            self.registry_url,
            "--replication-factor",
            "1",
            "--subname",
            self.subname,
            "--domain",
            str(self.domain),
            "--loopback",
            "--ready-file",
            str(ready),
            "--control",
            str(control),
            "--interfaces",
            str(INTERFACES),
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        bridge = RunningBridge(process, log_path, ready, control, self.subname, self.domain)
        self.bridges.append(bridge)
        deadline = time.monotonic() + ready_timeout_s
        while not ready.exists():
            assert process.poll() is None, f"the bridge exited early:\n{bridge.log()}"
            assert time.monotonic() < deadline, f"the bridge never got ready:\n{bridge.log()}"
            time.sleep(0.02)
        return bridge


@pytest.fixture
def start_bridge(kafka_settings: KafkaSettings, registry_url: str) -> Iterator[BridgeFactory]:
    """Start bridges on a private DDS domain and Kafka subname; all stopped, topics deleted."""
    # Short: a Unix socket path must stay under ~100 characters.
    scratch = Path(tempfile.mkdtemp(prefix="sal-bridge-"))
    factory = BridgeFactory(kafka_settings, registry_url, scratch)
    yield factory
    for bridge in factory.bridges:
        if bridge.process.poll() is None:
            bridge.process.kill()
            bridge.process.wait()
    shutil.rmtree(scratch, ignore_errors=True)
    prefix = f"lsst.{factory.subname}."

    async def delete(admin: Admin) -> None:
        names = [n for n in await admin.list_topics() if n.startswith(prefix)]
        await admin.delete_topics(names)

    run_admin(kafka_settings, delete)


def read_all(
    kafka_settings: KafkaSettings,
    registry_url: str,
    subname: str,
    expected: int,
    idle_timeout_s: float = 15.0,
) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """Read every message of ``lsst.<subname>.*``: ``{"CSC.topic": [(record, value), ...]}``."""
    received: dict[str, list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
    count = 0
    prefix = f"lsst.{subname}."

    async def partitions(admin: Admin) -> list[tuple[str, int]]:
        names = [n for n in await admin.list_topics() if n.startswith(prefix)]
        return [
            (d.name, p) for d in await admin.describe_topics(names) for p in range(d.partitions)
        ]

    with (
        RegistryClient(registry_url) as registry,
        BatchConsumer(kafka_settings, start="earliest") as consumer,
    ):
        # Assigned, not subscribed: no group join to wait for.
        consumer.assign(run_admin(kafka_settings, partitions))
        decoder = AvroDeserializer(registry)
        last = time.monotonic()
        while count < expected and time.monotonic() - last < idle_timeout_s:
            records = consumer.consume_batch(1000, timeout_s=0.5)
            if records:
                last = time.monotonic()
            for record in records:
                value = decoder.deserialize(record.value)
                assert isinstance(value, dict)
                received[record.topic.split(".", 2)[2]].append((record, value))
                count += 1
        # Anything more would be a duplicate: give it a moment to show up.
        for record in consumer.consume_batch(1000, timeout_s=0.5):
            received[record.topic.split(".", 2)[2]].append((record, {}))
    return received


def assert_exactly_once(
    result: SimulationResult,
    received: dict[str, list[tuple[Any, dict[str, Any]]]],
    topics: dict[str, SalTopic],
) -> None:
    """Every written sample arrived once, in its topic, with the values written."""
    counts = {label: len(messages) for label, messages in received.items()}
    assert counts == dict(result.counts)
    offset = tai_minus_utc()
    for label, messages in received.items():
        topic = topics[label]
        numbers = sorted(value["private_seqNum"] for _, value in messages)
        assert numbers == list(range(1, result.counts[label] + 1)), label
        for record, value in messages:
            seq = value["private_seqNum"]
            items = {name: value[name] for name in sample_values(topic, seq)}
            assert items == sample_values(topic, seq), label
            assert value["private_origin"] == os.getpid()
            assert value["private_rcvStamp"] >= value["private_sndStamp"] > 0
            assert value["private_kafkaStamp"] >= value["private_rcvStamp"]
            assert value["private_efdStamp"] == pytest.approx(
                value["private_sndStamp"] - offset, abs=1e-6
            )
            index = value.get("salIndex")
            assert record.key == message_key(topic, index)


def labelled(interfaces: SalInterfaces, *names: str) -> dict[str, SalTopic]:
    return {
        f"{topic.component}.{topic.sal_name}": topic
        for name in names
        for topic in interfaces.component(name).topics.values()
    }


def describe(kafka_settings: KafkaSettings, names: Sequence[str]) -> dict[str, Any]:
    async def run(admin: Admin) -> Any:
        return await admin.describe_topics(list(names))

    return {d.name: d for d in run_admin(kafka_settings, run)}


def test_every_sample_arrives_once_in_its_topic_and_decodes(
    start_bridge: BridgeFactory,
    interfaces: SalInterfaces,
    kafka_settings: KafkaSettings,
    registry_url: str,
) -> None:
    # Test is indexed, MTM2 is not; every kind of topic (commands, ackcmd too).
    bridge = start_bridge("Test", "MTM2", "--partitions", "2")
    ready = json.loads(bridge.ready_file.read_text())
    assert ready["components"] == ["MTM2", "Test"]
    assert len(ready["topics"]) == len(interfaces.component("Test").topics) + len(
        interfaces.component("MTM2").topics
    )

    result = simulate(
        [interfaces.component("Test"), interfaces.component("MTM2")],
        rates=["*=100"],
        count=3,
        settings=bridge.dds,
        index=5,
        wait_readers=1,
    )
    assert result.total == 3 * len(ready["topics"])
    assert bridge.terminate() == 0
    assert "bridge stopped" in bridge.log()

    received = read_all(kafka_settings, registry_url, bridge.subname, result.total)
    assert_exactly_once(result, received, labelled(interfaces, "Test", "MTM2"))
    assert {value["salIndex"] for _, value in received["Test.scalars"]} == {5}
    assert {value["private_identity"] for _, value in received["Test.scalars"]} == {"Test:5"}
    assert {value["private_identity"] for _, value in received["MTM2.axialForce"]} == {"MTM2"}

    topics = describe(
        kafka_settings,
        [
            f"lsst.{bridge.subname}.MTM2.logevent_summaryState",
            f"lsst.{bridge.subname}.MTM2.axialForce",
        ],
    )
    event, telemetry = topics.values()
    assert event.partitions == telemetry.partitions == 2
    assert event.configs["cleanup.policy"] == "compact"
    assert telemetry.configs["cleanup.policy"] == "delete"
    assert not bridge.ready_file.exists()
    assert not (bridge.control / "bridge.sock").exists()


def test_read_queue_warnings_while_kafka_sends_are_held_back(
    start_bridge: BridgeFactory,
    interfaces: SalInterfaces,
    kafka_settings: KafkaSettings,
    registry_url: str,
) -> None:
    bridge = start_bridge("Test", "--queue-length", "20")
    control_request(bridge.control, "pause")

    # 200 Hz: the reader takes each sample as it comes, so the queue grows one by one.
    result = simulate(
        [interfaces.component("Test")],
        rates=["*=0", "scalars=200"],
        count=30,
        settings=bridge.dds,
        wait_readers=1,
    )
    bridge.wait_for_log(r"is full \(20 elements\)")
    log = bridge.log()
    sizes = re.findall(
        r"WARNING .*Test\.scalars DDS read queue is filling: (\d+) of 20 elements", log
    )
    # One warning per threshold (5, 10, 18): usually at exactly that size, a
    # little above if a busy machine delivered two samples in one go.
    assert len(sizes) == 3, log
    assert 5 <= int(sizes[0]) < 10 <= int(sizes[1]) < 18 <= int(sizes[2]) < 20, sizes
    assert (
        "ERROR skystream.sal.bridge: Test.scalars DDS read queue is full (20 elements); "
        "data may be lost" in log
    )
    stats = control_request(bridge.control, "stats")["stats"]
    assert stats["topics"]["Test.scalars"] == {"read": 20, "sent": 0}

    # The other 10 waited in the DDS reader: nothing is lost once sends resume.
    control_request(bridge.control, "resume")
    deadline = time.monotonic() + 10
    while control_request(bridge.control, "stats")["stats"]["sent"] < 30:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert bridge.terminate() == 0
    received = read_all(kafka_settings, registry_url, bridge.subname, 30)
    assert_exactly_once(result, received, labelled(interfaces, "Test"))


def test_sigterm_sends_everything_already_read(
    start_bridge: BridgeFactory,
    interfaces: SalInterfaces,
    kafka_settings: KafkaSettings,
    registry_url: str,
) -> None:
    bridge = start_bridge("Test")
    control_request(bridge.control, "pause")
    result = simulate(
        [interfaces.component("Test")],
        rates=["*=0", "arrays=max", "logevent_arrays=max"],
        count=300,
        settings=bridge.dds,
        wait_readers=1,
    )
    bridge.wait_for_log(r"Test\.arrays DDS read queue is full")
    bridge.wait_for_log(r"Test\.logevent_arrays DDS read queue is full")
    # Paused: 100 samples per topic in the read queues, the rest in the DDS readers
    # (written samples reach them over loopback; a loaded machine may take a moment).
    time.sleep(1.0)
    assert bridge.terminate() == 0
    assert re.search(r"bridge stopped: 600 read, 600 sent, 0 failed", bridge.log())
    received = read_all(kafka_settings, registry_url, bridge.subname, result.total)
    assert_exactly_once(result, received, labelled(interfaces, "Test"))


def test_components_come_and_go_without_losing_the_others(
    start_bridge: BridgeFactory,
    interfaces: SalInterfaces,
    kafka_settings: KafkaSettings,
    registry_url: str,
) -> None:
    bridge = start_bridge("Test")
    results: dict[str, SimulationResult] = {}
    stop_writing = threading.Event()

    def run_test_component() -> None:
        # Writes until told to stop: it is sure to run through the add and the remove.
        results["Test"] = simulate(
            [interfaces.component("Test")],
            rates=["*=0", "scalars=100"],
            settings=bridge.dds,
            stop=stop_writing,
            wait_readers=1,
        )

    writer = threading.Thread(target=run_test_component)
    writer.start()
    time.sleep(0.3)
    changes_began = tai_now()
    # Through the command line, as an operator would.
    added = subprocess.run(
        [str(SKYSTREAM), "sal", "bridge-ctl", "add", "MTM2", "--control", str(bridge.control)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert "add: 78 topic(s)" in added.stdout and "bridged: MTM2, Test" in added.stdout
    results["MTM2"] = simulate(
        [interfaces.component("MTM2")],
        rates=["*=0", "axialForce=100", "logevent_summaryState=100"],
        count=20,
        settings=bridge.dds,
        wait_readers=1,
    )
    answer = control_request(bridge.control, "remove", ["MTM2"])
    assert answer["components"] == ["Test"]
    changes_ended = tai_now()
    time.sleep(0.3)
    stop_writing.set()
    writer.join(30)
    assert bridge.terminate() == 0

    total = results["Test"].total + results["MTM2"].total
    received = read_all(kafka_settings, registry_url, bridge.subname, total)
    merged = SimulationResult({**results["Test"].counts, **results["MTM2"].counts})
    assert_exactly_once(merged, received, labelled(interfaces, "Test", "MTM2"))
    during = [
        value
        for _, value in received["Test.scalars"]
        if changes_began < value["private_sndStamp"] < changes_ended
    ]
    assert len(during) > 50, "Test samples written while MTM2 came and went"


def test_topic_sets_run_in_their_own_processes(
    start_bridge: BridgeFactory,
    interfaces: SalInterfaces,
    kafka_settings: KafkaSettings,
    registry_url: str,
) -> None:
    sets = start_bridge.scratch / "sets.yaml"
    sets.write_text(
        "component: Test\n"
        "queue_len: 200\n"
        "topic_sets:\n"
        "  - telemetry: [scalars]\n"
        "  - telemetry: [arrays]\n"
        "    events: [arrays]\n"
        "    partitions: 2\n"
    )
    bridge = start_bridge("--file", str(sets))
    processes = control_request(bridge.control, "list")["processes"]
    assert processes == {"Test-1": ["Test"], "Test-2": ["Test"], "Test-rest": ["Test"]}
    # Each set answers on its own control socket.
    assert sorted(p.parent.name for p in bridge.control.glob("*/bridge.sock")) == sorted(processes)

    result = simulate(
        [interfaces.component("Test")],
        rates=["*=100"],
        count=2,
        settings=bridge.dds,
        wait_readers=1,
    )
    assert bridge.terminate() == 0
    received = read_all(kafka_settings, registry_url, bridge.subname, result.total)
    assert_exactly_once(result, received, labelled(interfaces, "Test"))
    arrays = describe(kafka_settings, [f"lsst.{bridge.subname}.Test.arrays"])
    assert next(iter(arrays.values())).partitions == 2


def test_topic_sets_are_checked_before_anything_starts(interfaces: SalInterfaces) -> None:
    from skystream.exceptions import SalInterfaceError

    def load(name: str) -> Any:
        return interfaces.component(name)

    good = TopicSetsFile.model_validate(
        {"components": [{"component": "Test", "topic_sets": [{"telemetry": ["scalars"]}]}, "MTM2"]}
    )
    plans = plan_topic_sets(good, load)
    assert [plan.name for plan in plans] == ["Test-1", "Test-rest", "components"]
    assert plans[0].selections == (("Test", ("scalars",)),)
    assert plans[2].selections == (("MTM2", None),)

    twice = TopicSetsFile.model_validate(
        {
            "component": "Test",
            "topic_sets": [{"telemetry": ["scalars"]}, {"telemetry": ["scalars"]}],
        }
    )
    with pytest.raises(SalInterfaceError, match="already in an earlier set"):
        plan_topic_sets(twice, load)
    unknown = TopicSetsFile.model_validate(
        {"component": "Test", "topic_sets": [{"events": ["logevent_arrays"]}]}
    )
    with pytest.raises(SalInterfaceError, match="without command_/logevent_ prefixes"):
        plan_topic_sets(unknown, load)
