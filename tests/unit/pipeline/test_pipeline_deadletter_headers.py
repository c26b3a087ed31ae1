"""Dead letters: their headers, counts and what reaches the producer (no broker)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from skystream.exceptions import AlertDecodeError, DecodeError
from skystream.pipeline.deadletter import (
    HEADER_COMPONENT,
    HEADER_ERROR,
    HEADER_SOURCE,
    HEADER_STEP,
    MAX_ERROR_CHARS,
    DeadLetters,
    dead_letter_headers,
    error_reason,
    error_text,
)


@dataclass
class FakeMessage:
    topic: str = "alerts"
    partition: int = 3
    offset: int = 42
    key: bytes | None = b"k"
    value: bytes = b"\x00garbage"
    headers: list[tuple[str, bytes | None]] = field(
        default_factory=lambda: [("alertsim-pass", b"1"), ("empty", None)]
    )


@dataclass
class FakeProducer:
    sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes | None]] | None]] = (
        field(default_factory=list)
    )
    flushes: int = 0
    closed: bool = False

    def produce(self, topic, value, key=None, headers=None):  # type: ignore[no-untyped-def]
        self.sent.append((topic, value, key, headers))

    def flush(self, timeout_s=None):  # type: ignore[no-untyped-def]
        self.flushes += 1

    def close(self, timeout_s=5.0):  # type: ignore[no-untyped-def]
        self.closed = True


def test_headers_keep_the_originals_then_add_ours() -> None:
    headers = dead_letter_headers(
        "filter", "decode", ValueError("bad bytes"), "alerts", 3, 42, [("a", b"1"), ("b", None)]
    )
    assert headers[:2] == [("a", b"1"), ("b", None)]
    assert dict(headers[2:]) == {
        HEADER_COMPONENT: b"filter",
        HEADER_STEP: b"decode",
        HEADER_ERROR: b"ValueError: bad bytes",
        HEADER_SOURCE: b"alerts/3/42",
    }


def test_error_text_is_cut_to_a_sane_length() -> None:
    text = error_text(RuntimeError("x" * 10_000))
    assert len(text) == MAX_ERROR_CHARS
    assert text.startswith("RuntimeError: xxx") and text.endswith("...")
    assert error_text(RuntimeError("short")) == "RuntimeError: short"


def test_reasons_count_decode_kinds_and_error_types() -> None:
    assert error_reason(AlertDecodeError("unknown-schema", "id 9")) == "unknown-schema"
    assert error_reason(DecodeError("cut short")) == "corrupt"
    assert error_reason(ZeroDivisionError()) == "ZeroDivisionError"


def test_a_dead_letter_is_the_message_unchanged_with_headers() -> None:
    producer = FakeProducer()
    letters = DeadLetters("filter", "filter-dlq", producer)
    message = FakeMessage()
    letters.add(message, "decode", AlertDecodeError("not-an-alert", "cannot tell"))
    letters.add(message, "Bright", ZeroDivisionError("division by zero"))
    ((topic, value, key, headers), second) = producer.sent
    assert (topic, value, key) == ("filter-dlq", message.value, message.key)
    assert headers is not None and headers[:2] == message.headers
    assert dict(headers)[HEADER_STEP] == b"decode"
    assert dict(headers)[HEADER_ERROR] == b"AlertDecodeError: cannot tell"
    assert dict(second[3] or [])[HEADER_STEP] == b"Bright"
    assert letters.counts == {("decode", "not-an-alert"): 1, ("Bright", "ZeroDivisionError"): 1}
    assert letters.by_step() == {"decode": 1, "Bright": 1}
    assert letters.total == 2
    letters.flush()
    letters.flush()  # nothing pending: no second producer flush
    assert producer.flushes == 1
    letters.close()
    assert producer.closed


def test_without_a_topic_bad_messages_are_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    letters = DeadLetters("filter")
    with caplog.at_level(logging.WARNING):
        letters.add(FakeMessage(), "decode", DecodeError("cut short"))
    assert letters.counts == {("decode", "corrupt"): 1}
    assert "alerts/3/42" in caplog.text and "no dead-letter topic" in caplog.text
    letters.close()


def test_a_topic_needs_a_producer() -> None:
    with pytest.raises(ValueError, match="needs a producer"):
        DeadLetters("filter", "dlq")
