"""Alerts from Rubin and ZTF: one decoder, one view, synthetic alerts.

>>> from skystream.alerts import AlertDecoder
>>> decoder = AlertDecoder()                      # Rubin ids need no registry
>>> decoder.layout_for_id(1101).survey, decoder.layout_for_id(1101).version
('rubin', '11.1')
"""

from skystream.alerts.decoder import AlertDecoder, layout_of, read_alert_file
from skystream.alerts.fields import FieldReader
from skystream.alerts.model import UNIFORM_FIELDS, Alert, AlertLayout
from skystream.alerts.schemas import (
    Survey,
    latest_rubin_version,
    rubin_schema,
    rubin_schema_id,
    rubin_versions,
    ztf_schema,
)

__all__ = [
    "UNIFORM_FIELDS",
    "Alert",
    "AlertDecoder",
    "AlertLayout",
    "FieldReader",
    "Survey",
    "latest_rubin_version",
    "layout_of",
    "read_alert_file",
    "rubin_schema",
    "rubin_schema_id",
    "rubin_versions",
    "ztf_schema",
]
