"""What the simulator's topics carry: the header names of preloaded and replayed alerts."""

from __future__ import annotations

__all__ = ["HEADER_END", "HEADER_PASS", "HEADER_SOURCE_OFFSET", "HEADER_TIME_OFFSET"]

#: Seconds from the stream's first alert to this one (float as text).
HEADER_TIME_OFFSET = "alertsim-time-offset"
#: On the end-of-stream marker of a preloaded stream: alerts before it (int as text).
HEADER_END = "alertsim-end-of-stream"
#: Added by play-stream: the alert's offset in the source topic (``partition:offset``).
HEADER_SOURCE_OFFSET = "alertsim-source-offset"
#: Added by play-stream: which pass of a repeated replay sent the alert (from 1).
HEADER_PASS = "alertsim-pass"
