"""Rubin's alert-stream simulator: preload a stream, replay it at survey pace.

>>> from skystream.simulator import create_stream, play_stream    # doctest: +SKIP
>>> create_stream("127.0.0.1:9092", ["visit.avro"], "alerts-preload").message
'successfully preloaded stream with 1000 alerts'
>>> play_stream("127.0.0.1:9092", "alerts-preload", "alerts", speed=10).sent
1000
"""

from skystream.simulator.cadence import Cadence, RubinVisitCadence
from skystream.simulator.create import PreloadSummary, create_stream
from skystream.simulator.play import PassReport, PlaySummary, play_stream
from skystream.simulator.read import Bound, StreamEntry, read_stream
from skystream.simulator.topics import (
    HEADER_END,
    HEADER_PASS,
    HEADER_SOURCE_OFFSET,
    HEADER_TIME_OFFSET,
)

__all__ = [
    "HEADER_END",
    "HEADER_PASS",
    "HEADER_SOURCE_OFFSET",
    "HEADER_TIME_OFFSET",
    "Bound",
    "Cadence",
    "PassReport",
    "PlaySummary",
    "PreloadSummary",
    "RubinVisitCadence",
    "StreamEntry",
    "create_stream",
    "play_stream",
    "read_stream",
]
