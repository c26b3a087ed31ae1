"""What a SAL writer puts in a message: item values and the private fields.

Rubin's writers set ``private_sndStamp`` and ``private_kafkaStamp`` to TAI
now, ``private_efdStamp`` to UTC now, ``private_origin`` to the process id,
``private_identity`` to the writer's name, ``private_seqNum`` counting from 1,
and ``private_revCode`` to the schema's revision code; a reader sets
``private_rcvStamp`` (TAI) when it receives the message.

>>> from skystream.sal.model import SalField, SalTopic
>>> topic = SalTopic("Test", "scalars", "telemetry", "", (SalField("x", "double"),
...                  SalField("flags", "boolean", count=2)))
>>> sample_items(topic)
{'x': 1.5, 'flags': [True, True]}
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

from skystream.sal.model import SalField, SalTopic

__all__ = [
    "INT_RANGES",
    "PrivateFields",
    "sample_items",
    "tai_minus_utc",
    "tai_now",
    "utc_now",
]

#: Inclusive ranges of the IDL integer types.
INT_RANGES: Mapping[str, tuple[int, int]] = {
    "byte": (0, 255),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**31), 2**31 - 1),
    "long long": (-(2**63), 2**63 - 1),
    "unsigned short": (0, 2**16 - 1),
    "unsigned int": (0, 2**32 - 1),
    "unsigned long": (0, 2**32 - 1),
    "unsigned long long": (0, 2**63 - 1),  # Avro long: what Kafka can carry
}


@cache
def tai_minus_utc() -> float:
    """TAI - UTC in seconds today (leap seconds, from ERFA's table)."""
    import erfa

    now = time.gmtime()
    return float(erfa.dat(now.tm_year, now.tm_mon, now.tm_mday, 0.5))


def tai_now() -> float:
    """TAI now, seconds since the Unix epoch (as Rubin's private stamps)."""
    return time.time() + tai_minus_utc()


def utc_now() -> float:
    """UTC now, seconds since the Unix epoch."""
    return time.time()


def _value(field: SalField, position: int) -> Any:
    kind = field.idl_type
    if kind == "boolean":
        return True
    if kind == "string":
        text = f"{field.name} value"
        return text[: field.size] if field.size and field.size > 1 else text
    if kind in ("float", "double"):
        return 1.5 + position
    low, high = INT_RANGES[kind]
    return min(high, max(low, 1 + position))


def sample_items(topic: SalTopic) -> dict[str, Any]:
    """Item values that differ from every default (0, 0.0, False, ""): a full packet."""
    return {
        field.name: (
            [_value(field, position) for position in range(field.count)]
            if field.is_array
            else _value(field, 0)
        )
        for field in topic.fields
    }


class PrivateFields:
    """Fills the private fields of each message one writer sends.

    Parameters
    ----------
    identity
        ``private_identity``: the CSC name, or ``user@host`` for a user.
    rev_code
        ``private_revCode`` of the topic's schema.
    index
        ``salIndex`` for an indexed component (``None`` otherwise).
    """

    def __init__(self, identity: str, rev_code: str, index: int | None = None) -> None:
        self.identity = identity
        self.rev_code = rev_code
        self.index = index
        self.origin = os.getpid()
        self._sequence = 0

    def next(self) -> dict[str, Any]:
        """Return the private fields of the next message (``private_seqNum`` counts from 1)."""
        self._sequence = self._sequence % (2**31 - 1) + 1
        offset = tai_minus_utc()
        utc = time.time()
        fields: dict[str, Any] = {} if self.index is None else {"salIndex": self.index}
        fields.update(
            private_sndStamp=utc + offset,
            private_rcvStamp=0.0,
            private_efdStamp=utc,
            private_kafkaStamp=utc + offset,
            private_seqNum=self._sequence,
            private_revCode=self.rev_code,
            private_identity=self.identity,
            private_origin=self.origin,
        )
        return fields
