"""A component started before its input topic exists picks the topic up when it appears."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from skystream.alerts.generate import write_alert_file
from skystream.config import KafkaSettings
from skystream.pipeline.runner import ComponentRunner
from skystream.processors.filters import SolarSystemFilter
from skystream.simulator.create import create_stream


def test_component_waits_for_its_topic_to_appear(
    kafka_settings: KafkaSettings, unique_topic: str, unique_group: str, tmp_path: Path
) -> None:
    night = write_alert_file(tmp_path / "night.avro", "rubin", 40, sso_fraction=0.25, seed=5)
    runner = ComponentRunner(
        "late", kafka_settings, unique_topic, unique_group, [SolarSystemFilter(include=True)], []
    )
    outcome: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: outcome.update(metrics=runner.run(max_alerts=41, idle_timeout_s=30))
    )
    thread.start()
    time.sleep(3)  # the component has subscribed to a topic that does not exist yet
    create_stream(kafka_settings, [night.path], unique_topic)
    thread.join(90)
    assert not thread.is_alive()
    metrics = outcome["metrics"]
    assert metrics.alerts_in == 41  # 40 alerts and the end-of-stream marker
    assert metrics.alerts_out == 10
