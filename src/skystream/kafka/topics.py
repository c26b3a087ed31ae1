"""Blocking topic helpers for tools that are not async (the simulator, the SAL tools).

:class:`~skystream.kafka.Admin` is async: these helpers run one admin call on a
private event loop in a worker thread, so they also work when the caller
already runs an event loop (a notebook).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from skystream.config import KafkaSettings
from skystream.exceptions import TopicError
from skystream.kafka.admin import Admin, TopicDescription

__all__ = [
    "create_topic",
    "delete_topic",
    "describe_topic",
    "partitions_of",
    "topic_exists",
]

_T = TypeVar("_T")
_RECREATE_WAIT_S = 10.0


def _run(settings: KafkaSettings | str, action: Callable[[Admin], Awaitable[_T]]) -> _T:
    async def run() -> _T:
        async with Admin(settings) as admin:
            return await action(admin)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def topic_exists(settings: KafkaSettings | str, topic: str) -> bool:
    """Return whether ``topic`` exists."""
    return topic in _run(settings, lambda admin: admin.list_topics(include_internal=True))


def describe_topic(settings: KafkaSettings | str, topic: str) -> TopicDescription:
    """Return partitions, replication and configs of ``topic``.

    Raises
    ------
    TopicError
        If the topic does not exist.
    """
    (description,) = _run(settings, lambda admin: admin.describe_topics([topic]))
    return description


def partitions_of(settings: KafkaSettings | str, topic: str) -> list[int]:
    """Return the partition ids of ``topic``.

    Raises
    ------
    TopicError
        If the topic does not exist.
    """
    return list(range(describe_topic(settings, topic).partitions))


def delete_topic(settings: KafkaSettings | str, topic: str) -> None:
    """Delete ``topic`` (nothing happens when it does not exist)."""
    _run(settings, lambda admin: admin.delete_topics([topic]))


def create_topic(
    settings: KafkaSettings | str,
    topic: str,
    *,
    partitions: int = 1,
    config: dict[str, str] | None = None,
    must_be_new: bool = True,
) -> str:
    """Create ``topic``; return ``"created"`` or ``"exists"``.

    With ``must_be_new`` a topic that still exists (a deletion the broker has
    not finished) is waited for, for up to 10 s.

    Raises
    ------
    TopicError
        If it cannot be created, or (``must_be_new``) still exists after the wait.
    """
    deadline = time.monotonic() + _RECREATE_WAIT_S
    while True:
        status = _run(
            settings,
            lambda admin: admin.create_topics([topic], partitions=partitions, config=config),
        )[topic]
        if status == "created" or not must_be_new:
            return status
        if time.monotonic() > deadline:
            raise TopicError(f"topic {topic!r} still exists after deleting it; try again")
        time.sleep(0.2)
