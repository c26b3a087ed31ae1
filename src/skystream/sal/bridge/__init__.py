"""The DDS-to-Kafka bridge: every sample of chosen SAL components, as Avro, on Kafka.

What Rubin's DDS-to-Kafka producer does, plus changes without a restart::

    DDS reader ──take──▶ read queue (L samples) ──▶ Avro (Confluent wire format) ──▶ Kafka
    (one per topic)       monitored: 10, L/2, 9L/10, L

- One DDS reader per topic of each bridged component (or of a topic set).
  A reader thread takes samples into the topic's bounded *read queue*; a
  sender thread stamps them (``private_rcvStamp`` TAI when read,
  ``private_efdStamp`` = ``private_sndStamp`` in UTC, ``private_kafkaStamp``
  TAI when produced), writes them as Avro with the schema registered under
  ``lsst.<subname>.<CSC>.<topic>-value`` and produces them. Event topics are
  keyed and compacted; Kafka topics are created only when missing.
- Backpressure: a full read queue stops the reader thread taking that topic;
  the DDS reader then keeps the last ``dds_depth`` samples and drops older
  ones, as SAL's readers do (the writer is never slowed down).
  :class:`ReadQueueMonitor` logs as Rubin's producer does:
  ``"MTM2.application DDS read queue is filling: 24 of 100 elements"``
  (warning) and ``"... is full (100 elements); data may be lost"`` (error).
- :meth:`Bridge.add` and :meth:`Bridge.remove` change the components of a
  running bridge; readers of the other components are not touched, so they
  lose nothing. ``skystream sal bridge-ctl`` reaches a running bridge
  through a Unix socket in its control directory (:func:`control_request`).
- :meth:`Bridge.stop` is graceful: what DDS has delivered is taken, queued
  samples are sent and the producer is flushed.
- :func:`run_topic_sets` runs a topic-sets file (:class:`TopicSetsFile`, Rubin's
  layout): each set in its own process.

The modules, each importing only those above it:

- :mod:`.monitor` — :class:`ReadQueueMonitor`, the read queue's warnings.
- :mod:`.settings` — :class:`BridgeSettings` and :func:`with_scram`.
- :mod:`.control` — the control socket (server and :func:`control_request`)
  and the ready file.
- :mod:`.core` — :class:`Bridge`, :class:`BridgeStats` and :func:`run_bridge`.
- :mod:`.topicsets` — topic-sets files, :func:`plan_topic_sets` and the
  process supervisor :func:`run_topic_sets`.

Every public name is imported from here (``from skystream.sal.bridge import
Bridge``); the modules are the implementation.
"""

from __future__ import annotations

from skystream.sal.bridge.control import CONTROL_SOCKET, control_request
from skystream.sal.bridge.core import Bridge, BridgeStats, run_bridge
from skystream.sal.bridge.monitor import MIN_QUEUE_LENGTH, ReadQueueMonitor
from skystream.sal.bridge.settings import BridgeSettings, with_scram
from skystream.sal.bridge.topicsets import (
    ComponentSets,
    TopicSet,
    TopicSetPlan,
    TopicSetsFile,
    plan_topic_sets,
    run_topic_sets,
)

__all__ = [
    "CONTROL_SOCKET",
    "MIN_QUEUE_LENGTH",
    "Bridge",
    "BridgeSettings",
    "BridgeStats",
    "ComponentSets",
    "ReadQueueMonitor",
    "TopicSet",
    "TopicSetPlan",
    "TopicSetsFile",
    "control_request",
    "plan_topic_sets",
    "run_bridge",
    "run_topic_sets",
    "with_scram",
]
