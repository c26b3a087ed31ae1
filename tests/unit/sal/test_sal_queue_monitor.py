"""The bridge's read-queue monitor: thresholds, messages and re-arming, as SAL's checker."""

from __future__ import annotations

import logging

import pytest

from skystream.exceptions import ConfigurationError
from skystream.sal.bridge import ReadQueueMonitor

WARNING, ERROR = logging.WARNING, logging.ERROR


def armed(monitor: ReadQueueMonitor) -> tuple[int, ...]:
    # A call, not the property: type checkers would narrow the property between asserts.
    return monitor.armed


@pytest.mark.parametrize(
    ("length", "thresholds"),
    [
        (10, (5, 9, 10)),
        (19, (5, 17, 19)),
        (20, (5, 10, 18, 20)),
        (100, (10, 50, 90, 100)),
        (1000, (10, 500, 900, 1000)),
    ],
)
def test_thresholds_follow_the_queue_length(length: int, thresholds: tuple[int, ...]) -> None:
    assert ReadQueueMonitor("Test.scalars", length).thresholds == thresholds


@pytest.mark.parametrize("length", [-1, 0, 1, 9])
def test_too_short_a_queue_is_refused(length: int) -> None:
    with pytest.raises(ConfigurationError, match="at least 10"):
        ReadQueueMonitor("Test.scalars", length)


def test_each_threshold_logs_once_on_the_way_up() -> None:
    monitor = ReadQueueMonitor("MTM2.application", 100)
    reports = [monitor.check(size) for size in range(101)]
    logged = [(size, report) for size, report in enumerate(reports) if report is not None]
    assert logged == [
        (10, (WARNING, "MTM2.application DDS read queue is filling: 10 of 100 elements")),
        (50, (WARNING, "MTM2.application DDS read queue is filling: 50 of 100 elements")),
        (90, (WARNING, "MTM2.application DDS read queue is filling: 90 of 100 elements")),
        (100, (ERROR, "MTM2.application DDS read queue is full (100 elements); data may be lost")),
    ]


def test_a_jump_logs_the_size_reached_once() -> None:
    monitor = ReadQueueMonitor("MTM2.application", 100)
    assert monitor.check(24) == (
        WARNING,
        "MTM2.application DDS read queue is filling: 24 of 100 elements",
    )
    assert monitor.check(30) is None
    assert armed(monitor) == (50, 90, 100)
    assert monitor.check(95) == (
        WARNING,
        "MTM2.application DDS read queue is filling: 95 of 100 elements",
    )
    assert armed(monitor) == (100,)


def test_full_logs_an_error_once_until_it_drains_to_half() -> None:
    monitor = ReadQueueMonitor("Test.scalars", 100)
    assert monitor.check(100) == (
        ERROR,
        "Test.scalars DDS read queue is full (100 elements); data may be lost",
    )
    assert monitor.check(100) is None
    assert monitor.check(51) is None  # not yet half of 100
    assert monitor.check(100) is None
    assert monitor.check(50) is None  # half of 100: "full" re-arms
    assert armed(monitor) == (100,)
    assert monitor.check(100) is not None


def test_thresholds_re_arm_at_half_of_themselves() -> None:
    monitor = ReadQueueMonitor("Test.scalars", 100)
    for size in (10, 50, 90):
        monitor.check(size)
    assert armed(monitor) == (100,)
    monitor.check(46)  # not yet half of 90
    assert armed(monitor) == (100,)
    monitor.check(45)
    assert armed(monitor) == (90, 100)
    monitor.check(25)  # half of 50
    assert armed(monitor) == (50, 90, 100)
    monitor.check(6)  # not yet half of 10
    assert armed(monitor) == (50, 90, 100)
    monitor.check(5)
    assert armed(monitor) == (10, 50, 90, 100)
    assert monitor.check(10) is not None


def test_after_draining_the_queue_warns_again_on_the_way_up() -> None:
    monitor = ReadQueueMonitor("Test.scalars", 100)
    monitor.check(100)
    assert monitor.check(40) is None
    assert armed(monitor) == (90, 100)  # 50 re-arms only at 25
    assert monitor.check(60) is None
    assert monitor.check(20) is None
    assert armed(monitor) == (50, 90, 100)
    assert monitor.check(60) == (
        WARNING,
        "Test.scalars DDS read queue is filling: 60 of 100 elements",
    )
    assert armed(monitor) == (90, 100)


def test_messages_go_to_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.sal.queue")
    monitor = ReadQueueMonitor("Test.arrays", 20, logger)
    with caplog.at_level(logging.WARNING, logger="test.sal.queue"):
        for size in range(21):
            monitor.check(size)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (WARNING, "Test.arrays DDS read queue is filling: 5 of 20 elements"),
        (WARNING, "Test.arrays DDS read queue is filling: 10 of 20 elements"),
        (WARNING, "Test.arrays DDS read queue is filling: 18 of 20 elements"),
        (ERROR, "Test.arrays DDS read queue is full (20 elements); data may be lost"),
    ]
