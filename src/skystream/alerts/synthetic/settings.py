"""The settings of one generation run, checked, as one value.

:func:`skystream.alerts.generate.generate_alerts` checks its arguments and
resolves the defaults (the schema version, the cutout size) into a
:class:`GenerationSettings`; everything below reads only that.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from skystream.alerts.schemas import Survey
from skystream.schemas.avro import AvroSchema

__all__ = ["GenerationSettings"]


@dataclass(frozen=True)
class GenerationSettings:
    """What to generate: survey, schema, how many alerts, and how they look.

    The attributes are the arguments of
    :func:`~skystream.alerts.generate.generate_alerts` after checking, with
    ``version`` and ``cutout_pixels`` resolved and ``schema`` the survey's
    schema of that version.
    """

    survey: Survey
    version: str
    schema: AvroSchema
    count: int
    sso_fraction: float
    seed: int
    history: int
    visit_size: int
    visit_interval_s: float
    start_mjd: float
    cutout_pixels: int

    @property
    def sso_count(self) -> int:
        """How many alerts are solar-system objects: the fraction of ``count``, rounded half up."""
        return math.floor(self.sso_fraction * self.count + 0.5)

    @property
    def sync_marker(self) -> bytes:
        """The 16-byte sync marker of the container file: a digest of every setting.

        Files written with the same settings are byte-identical; files written
        with any setting changed never share a marker.
        """
        identity = (
            self.survey,
            self.version,
            self.count,
            self.seed,
            self.sso_fraction,
            self.history,
            self.visit_size,
            self.visit_interval_s,
            self.start_mjd,
            self.cutout_pixels,
        )
        return hashlib.blake2b(repr(identity).encode(), digest_size=16).digest()
