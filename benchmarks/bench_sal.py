"""SAL topics on Kafka: write and read rates for MTM1M3 forceActuatorData.

A registry process is started against the benchmark's broker. For acks 0, 1
and all, measured in the same run (medians of the repeats):

- ``raw``: confluent-kafka producing the very bytes skystream's writer sent
  (captured first), with the same producer settings (linger 5 ms);
- ``write``: ``skystream sal write`` (``write_topic``): private fields filled
  and encoded per message, schema registered, wire format. Target: >= 20,000
  msgs/s with acks=1 and >= 90% of raw;
- ``read``: ``read_topics`` of those messages, decoded (``-t`` timing);
  ``raw read``: confluent-kafka consuming the same messages, without and with
  a bare fastavro decode of each.

- ``bridge``: ``skystream sal simulate`` (its own process) publishing
  forceActuatorData on DDS at rising rates for a few seconds while a bridge
  (this process) moves it to Kafka; reported: the highest rate with no sample
  lost, and the rate the bridge sustained there.
"""

from __future__ import annotations

import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition

from skystream.config import KafkaSettings
from skystream.kafka.connection import client_config
from skystream.kafka.topics import create_topic, delete_topic
from skystream.local.registry import start_registry
from skystream.registry.client import RegistryClient
from skystream.sal.avro import avro_schema
from skystream.sal.interfaces import load_interfaces
from skystream.sal.tools import read_topics, time_read, write_topic

NAME = "sal"
DESCRIPTION = "SAL write/read of MTM1M3 forceActuatorData (acks 0, 1, all) vs raw confluent-kafka"
INTERFACES = Path("/work/shared/data/sal_interfaces")


def run(settings: KafkaSettings, repeats: int = 5, scale: float = 1.0) -> dict[str, Any]:
    """Measure writer and reader rates against the bare client; return medians and ratios."""
    count = max(1000, int(20_000 * scale))
    topic = load_interfaces(INTERFACES, ["MTM1M3"]).component("MTM1M3").topic("forceActuatorData")
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        registry_process = start_registry(
            str(settings.bootstrap_servers), log_file=Path(folder) / "registry.log"
        )
        try:
            with RegistryClient(registry_process.address) as registry:
                for _ in range(repeats):
                    for acks in ("0", "1", "all"):
                        subname = f"bench{uuid.uuid4().hex[:6]}"
                        name = topic.kafka_topic(subname)
                        try:
                            report = write_topic(
                                settings, registry, topic, count, acks=acks, subname=subname
                            )
                            samples.setdefault(f"write_acks_{acks}", []).append(report.rate)
                            values = _values(settings, name, count)
                            raw_topic = f"{name}-raw"
                            create_topic(settings, raw_topic, must_be_new=False)
                            samples.setdefault(f"raw_acks_{acks}", []).append(
                                _raw_produce(settings, raw_topic, values, acks)
                            )
                            delete_topic(settings, raw_topic)
                            if acks == "1":
                                samples.setdefault("raw_read", []).append(
                                    _raw_read(settings, name, count)
                                )
                                parsed = fastavro.parse_schema(avro_schema(topic))
                                samples.setdefault("raw_read_decode", []).append(
                                    _raw_read(settings, name, count, parsed)
                                )
                                messages = read_topics(
                                    settings,
                                    registry,
                                    [topic],
                                    count=count,
                                    from_beginning=True,
                                    subname=subname,
                                )
                                samples.setdefault("read", []).append(time_read(messages).rate)
                        finally:
                            delete_topic(settings, name)
            bridge = _bridge_throughput(settings, registry_process.address, scale)
        finally:
            registry_process.stop()
    medians = {k: statistics.median(v) for k, v in samples.items()}
    result: dict[str, Any] = {
        "bridge": bridge,
        "messages": count,
        "message_bytes": len(values[0]),
        "repeats": repeats,
        "rates": {k: round(v, 1) for k, v in medians.items()},
        "write_vs_raw": {
            acks: round(medians[f"write_acks_{acks}"] / medians[f"raw_acks_{acks}"], 3)
            for acks in ("0", "1", "all")
        },
        "read_vs_raw_read_and_decode": round(medians["read"] / medians["raw_read_decode"], 3),
        "samples": {k: [round(x, 1) for x in v] for k, v in samples.items()},
    }
    result["targets"] = {
        "write acks=1 >= 20,000 msgs/s": medians["write_acks_1"] >= 20_000,
        "write >= 90% of raw (acks=1)": result["write_vs_raw"]["1"] >= 0.9,
    }
    return result


def _values(settings: KafkaSettings, topic: str, count: int) -> list[bytes]:
    """The bytes the writer sent, read back."""
    consumer = Consumer(
        client_config({**settings.consumer_config(), "group.id": f"bench-{uuid.uuid4().hex}"})
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(values) < count and time.monotonic() < deadline:
        values += [m.value() for m in consumer.consume(1000, 0.5) if m.error() is None]
    consumer.close()
    return values


def _raw_produce(settings: KafkaSettings, topic: str, values: list[bytes], acks: str) -> float:
    producer = Producer(client_config({**settings.producer_config(), "acks": acks, "linger.ms": 5}))
    producer.list_topics(timeout=10)
    started = time.perf_counter()
    for value in values:
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush()
    return len(values) / (time.perf_counter() - started)


def _raw_read(settings: KafkaSettings, topic: str, count: int, schema: Any = None) -> float:
    """Bare consume rate; with ``schema``, each value decoded by bare fastavro too."""
    consumer = Consumer(
        client_config({**settings.consumer_config(), "group.id": f"bench-{uuid.uuid4().hex}"})
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = 0
    started: float | None = None
    while seen < count:
        batch = consumer.consume(1000, 1.0)
        if batch and started is None:
            started = time.perf_counter()
        for message in batch:
            if message.error() is None:
                seen += 1
                if schema is not None:
                    stream = io.BytesIO(message.value())
                    stream.seek(5)
                    fastavro.schemaless_reader(stream, schema, None)
    consumer.close()
    return count / (time.perf_counter() - (started or time.perf_counter()))


def _bridge_throughput(settings: KafkaSettings, registry_url: str, scale: float) -> dict[str, Any]:
    """Rising DDS rates through one bridge process; the last rate without loss."""
    from skystream.config import RegistrySettings
    from skystream.sal.bridge import Bridge, BridgeSettings
    from skystream.sal.dds import DdsSettings

    duration = max(2.0, 4.0 * scale)
    runs = []
    for rate in (1000, 2000, 3000, 4000, 6000):
        dds = DdsSettings(domain_id=random.randint(1, 200), loopback=True)
        bridge = Bridge(
            BridgeSettings(
                kafka=settings,
                registry=RegistrySettings(url=registry_url),
                dds=dds,
                replication_factor=1,
                subname=f"bb{uuid.uuid4().hex[:6]}",
                interfaces=INTERFACES,
            )
        )
        bridge.start()
        try:
            bridge.add("MTM1M3", ["forceActuatorData"])
            simulator = subprocess.run(
                [str(Path(sys.executable).parent / "skystream"), "sal", "simulate", "MTM1M3",
                 "--rate", "*=0", "--rate", f"forceActuatorData={rate}",
                 "--duration", str(duration), "--wait-readers", "1",
                 "--domain", str(dds.domain_id), "--loopback",
                 "--interfaces", str(INTERFACES), "--json"],
                capture_output=True, text=True, timeout=120, check=True,
            )  # fmt: skip
            written = sum(json.loads(simulator.stdout)["counts"].values())
        finally:
            stats = bridge.stop()
            delete_topic(settings, topic_name(bridge))
        lost = written - stats.sent + stats.failed
        runs.append(
            {"asked_per_second": rate, "written": written, "sent": stats.sent, "lost": lost,
             "written_per_second": round(written / duration, 1)}
        )  # fmt: skip
        if lost:
            break
    clean = [run for run in runs if not run["lost"]]
    return {
        "runs": runs,
        "max_rate_without_loss": clean[-1]["written_per_second"] if clean else 0.0,
    }


def topic_name(bridge: Any) -> str:
    """The Kafka topic the benchmark's bridge wrote."""
    return f"lsst.{bridge.settings.subname}.MTM1M3.forceActuatorData"


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines for ``skystream bench sal``."""
    rates = results["rates"]
    lines = [
        f"MTM1M3 forceActuatorData: {results['messages']:,} messages of "
        f"{results['message_bytes']:,} bytes, median of {results['repeats']} repeats"
    ]
    for acks in ("0", "1", "all"):
        lines.append(
            f"acks={acks:<3}  raw {rates[f'raw_acks_{acks}']:>10,.1f}  sal write "
            f"{rates[f'write_acks_{acks}']:>10,.1f} msgs/s  ({results['write_vs_raw'][acks]:.2f}x)"
        )
    lines.append(
        f"read       raw {rates['raw_read']:>10,.1f}  (bytes only; + fastavro decode "
        f"{rates['raw_read_decode']:,.1f})  sal read {rates['read']:>10,.1f} msgs/s  "
        f"({results['read_vs_raw_read_and_decode']:.2f}x raw + decode)"
    )
    for run in results["bridge"]["runs"]:
        lines.append(
            f"bridge   {run['written_per_second']:>8,.1f} samples/s on DDS for a few seconds: "
            f"{run['written']:,} written, {run['sent']:,} sent to Kafka, {run['lost']} lost"
        )
    lines.append(
        f"bridge: highest rate without loss {results['bridge']['max_rate_without_loss']:,.1f} "
        "samples/s (forceActuatorData, one bridge process)"
    )
    for name, ok in results["targets"].items():
        lines.append(f"target {'met' if ok else 'MISSED'}: {name}")
    return lines
