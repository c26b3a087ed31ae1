"""The :class:`Alert` view: the same names for every survey, decoded on demand.

An alert is held as the bytes it arrived in. Asking for a summary field
(``alert_id``, ``ra``, ``dec``, ``mjd``, ``band``, ``flux``, ``mag``,
``sso_id``, ...) reads only the first few fields of the record, all of them at
once, and caches them; the light curve, the cutouts and :attr:`Alert.record`
decode the whole alert, once. Survey differences live in an
:class:`AlertLayout` (built by :mod:`skystream.alerts.rubin` and
:mod:`skystream.alerts.ztf`): where each uniform field sits in that survey's
schema version, and how to compute it from what is there.

Uniform fields, for every survey:

===================== ==========================================================
``alert_id``          the alert's id (Rubin ``diaSourceId``/``alertId``; ZTF ``candid``)
``object_id``         the object (Rubin ``diaObjectId``, ``None`` for solar-system
                      sources; ZTF ``objectId``)
``ra``, ``dec``       position of the triggering detection, degrees
``mjd``               time of the detection, MJD (Rubin: exposure midpoint, TAI;
                      ZTF: ``jd`` - 2400000.5, start of exposure)
``band``              filter: u g r i z y (ZTF ``fid`` 1, 2, 3 -> g, r, i)
``flux``, ``flux_err`` difference-image PSF flux in nJy (ZTF: from ``magpsf``,
                      negative when ``isdiffpos`` is false)
``mag``, ``mag_err``  AB magnitude of ``|flux|`` (ZTF ``magpsf``, ``sigmapsf``)
``snr``               signal to noise of the detection
``sso_id``            the associated solar-system object (Rubin ``ssObjectId``;
                      ZTF ``ssnamenr``), ``None`` when there is none
``sso_name``          its designation (Rubin ``ssSource``/``mpc_orbits``; ZTF ``ssnamenr``)
``sso_distance_arcsec`` distance to the object's predicted position
``sso_mag``           the object's predicted magnitude (Rubin V; ZTF ``ssmagnr``)
===================== ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from skystream.alerts.fields import FieldPath, FieldReader
from skystream.alerts.schemas import Survey
from skystream.exceptions import DecodeError
from skystream.schemas.avro import AvroSchema

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["AB_ZERO_POINT_NJY", "Alert", "AlertLayout", "Field", "UNIFORM_FIELDS"]

#: AB magnitude of a flux of 1 nJy: ``mag = 31.4 - 2.5 log10(flux / nJy)``.
AB_ZERO_POINT_NJY = 31.4

#: The uniform field names every layout provides, in display order.
UNIFORM_FIELDS = (
    "alert_id",
    "object_id",
    "ra",
    "dec",
    "mjd",
    "band",
    "flux",
    "flux_err",
    "mag",
    "mag_err",
    "snr",
    "sso_id",
    "sso_name",
    "sso_distance_arcsec",
    "sso_mag",
)


@dataclass(frozen=True)
class Field:
    """Where a uniform field comes from: raw field paths and how to combine them.

    ``compute`` receives the values of ``paths`` in order (``None`` where a
    nullable record on the way is null); with one path and no ``compute`` the
    raw value is the field.
    """

    paths: tuple[FieldPath, ...]
    compute: Callable[..., Any] | None = None

    def value(self, raw: Mapping[FieldPath, Any]) -> Any:
        """Compute the field from the raw values of its paths."""
        if not self.paths:  # a field this schema version does not carry
            return None
        values = [raw[path] for path in self.paths]
        if self.compute is not None:
            return self.compute(*values)
        return values[0]


@dataclass(eq=False)
class AlertLayout:
    """One survey's schema version, and where the uniform fields sit in it.

    Parameters
    ----------
    survey, version
        The survey and the schema version (``"11.1"``, ``"3.3"``).
    schema
        The writer schema alerts of this layout were written with.
    fields
        Every name of :data:`UNIFORM_FIELDS`, mapped to its :class:`Field`.
    head
        The names read together, cheaply, on the first summary access.
    light_curve
        Builds the light-curve table from a full record.
    cutouts
        Returns the cutouts of a full record as FITS bytes, by kind.
    history_length
        Counts the previous detections in a full record.
    schema_id
        Registry id of ``schema`` when it is known (wire format, Rubin ids).
    """

    survey: Survey
    version: str
    schema: AvroSchema
    fields: Mapping[str, Field]
    head: tuple[str, ...]
    light_curve: Callable[[Mapping[str, Any]], Table]
    cutouts: Callable[[Mapping[str, Any]], dict[str, bytes]]
    history_length: Callable[[Mapping[str, Any]], int]
    schema_id: int | None = None
    _readers: dict[tuple[str, ...], FieldReader] = field(default_factory=dict, repr=False)

    def reader(self, names: Iterable[str]) -> FieldReader:
        """Return a reader for the raw paths behind ``names`` (compiled once per set).

        Raises
        ------
        KeyError
            If a name is not a uniform field (the message lists them).
        """
        key = tuple(sorted(set(names)))
        reader = self._readers.get(key)
        if reader is None:
            paths: dict[FieldPath, None] = {}
            for name in key:
                paths.update(dict.fromkeys(self._field(name).paths))
            if not paths:  # only fields this version does not carry
                paths[self._first_path()] = None
            reader = self._readers[key] = FieldReader(self.schema, paths)
        return reader

    @cached_property
    def head_reader(self) -> FieldReader:
        """The reader of the :attr:`head` fields."""
        return self.reader(self.head)

    def _field(self, name: str) -> Field:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(
                f"{name!r} is not an alert field; fields are: {', '.join(UNIFORM_FIELDS)}"
            ) from None

    def _first_path(self) -> FieldPath:
        return (self.schema.definition["fields"][0]["name"],)

    def values(self, raw: Mapping[FieldPath, Any], names: Iterable[str]) -> dict[str, Any]:
        """Compute ``names`` from raw values (which hold every path they need)."""
        return {name: self._field(name).value(raw) for name in names}

    def values_from_record(self, record: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        """Compute ``names`` from a full (or far enough) decoded record."""
        names = tuple(names)
        reader = self.reader(names)
        return self.values(reader.select(dict(record)), names)


class Alert:
    """One alert, Rubin or ZTF, with the same names for both.

    Built by :class:`~skystream.alerts.decoder.AlertDecoder` (from message
    bytes) or by :meth:`from_record`. Summary fields decode a few bytes;
    :attr:`record`, :attr:`light_curve` and :attr:`cutouts` decode it all.

    Examples
    --------
    >>> from skystream.alerts import AlertDecoder
    >>> alert = AlertDecoder().decode(open(path, "rb").read())  # doctest: +SKIP
    >>> alert.survey, alert.alert_id, alert.ra, alert.dec, alert.is_sso  # doctest: +SKIP
    ('ztf', 739260766315010006, 75.2007803, 35.3613954, False)
    """

    __slots__ = ("_data", "_head", "_offset", "_record", "_values", "layout")

    def __init__(
        self,
        layout: AlertLayout,
        data: bytes | None = None,
        offset: int = 0,
        record: Mapping[str, Any] | None = None,
    ) -> None:
        if data is None and record is None:
            raise ValueError("an Alert needs its bytes or its decoded record")
        self.layout = layout
        self._data = data
        self._offset = offset
        self._record = record
        self._values: dict[str, Any] = {}
        self._head: Mapping[FieldPath, Any] | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any], layout: AlertLayout) -> Alert:
        """Wrap an already decoded record (from an Avro file, say)."""
        return cls(layout, record=record)

    # -- identity -----------------------------------------------------------------
    @property
    def survey(self) -> Survey:
        """``"rubin"`` or ``"ztf"``."""
        return self.layout.survey

    @property
    def schema_version(self) -> str:
        """The survey's schema version the alert was written with (``"11.1"``)."""
        return self.layout.version

    @property
    def schema_id(self) -> int | None:
        """The registry id in the message header, when it had one."""
        return self.layout.schema_id

    @property
    def raw(self) -> bytes | None:
        """The bytes the alert arrived in (``None`` when built from a record)."""
        return self._data

    @property
    def record_offset(self) -> int:
        """Where the Avro record starts in :attr:`raw`.

        0 for schemaless Avro, 5 after a wire-format header, past the header
        and block header for an Avro container.
        """
        return self._offset

    # -- summary fields -----------------------------------------------------------
    def get(self, name: str) -> Any:
        """Return one uniform field by name (see :data:`UNIFORM_FIELDS`)."""
        values = self._values
        if name in values:
            return values[name]
        layout = self.layout
        if self._record is not None:
            values.update(layout.values_from_record(self._record, (name,)))
        elif name in layout.head:
            # One cheap read of the first fields serves every head field.
            if self._head is None:
                self._head = layout.head_reader.read(self._payload, self._offset)
            values.update(layout.values(self._head, (name,)))
        else:
            raw = layout.reader((name,)).read(self._payload, self._offset)
            values.update(layout.values(raw, (name,)))
        return values[name]

    def fields(self, names: Iterable[str] = UNIFORM_FIELDS) -> dict[str, Any]:
        """Return several uniform fields as a dict (all of them by default)."""
        return {name: self.get(name) for name in names}

    @property
    def alert_id(self) -> int:
        """The alert's id (Rubin ``diaSourceId``/``alertId``, ZTF ``candid``)."""
        return int(self.get("alert_id"))

    @property
    def object_id(self) -> int | str | None:
        """The object (Rubin ``diaObjectId``, ZTF ``objectId``); ``None`` for Rubin SSOs."""
        return self.get("object_id")  # type: ignore[no-any-return]

    @property
    def ra(self) -> float:
        """Right ascension of the detection, degrees."""
        return float(self.get("ra"))

    @property
    def dec(self) -> float:
        """Declination of the detection, degrees."""
        return float(self.get("dec"))

    @property
    def mjd(self) -> float:
        """Time of the detection, MJD."""
        return float(self.get("mjd"))

    @property
    def band(self) -> str | None:
        """Filter of the detection (u g r i z y)."""
        return self.get("band")  # type: ignore[no-any-return]

    @property
    def flux(self) -> float | None:
        """Difference-image PSF flux, nJy."""
        return self.get("flux")  # type: ignore[no-any-return]

    @property
    def flux_err(self) -> float | None:
        """Uncertainty of :attr:`flux`, nJy."""
        return self.get("flux_err")  # type: ignore[no-any-return]

    @property
    def mag(self) -> float | None:
        """AB magnitude of the detection."""
        return self.get("mag")  # type: ignore[no-any-return]

    @property
    def mag_err(self) -> float | None:
        """Uncertainty of :attr:`mag`."""
        return self.get("mag_err")  # type: ignore[no-any-return]

    @property
    def snr(self) -> float | None:
        """Signal to noise of the detection."""
        return self.get("snr")  # type: ignore[no-any-return]

    @property
    def sso_id(self) -> int | str | None:
        """The associated solar-system object, ``None`` if there is none."""
        return self.get("sso_id")  # type: ignore[no-any-return]

    @property
    def is_sso(self) -> bool:
        """Whether the alert is associated with a known solar-system object."""
        return self.get("sso_id") is not None

    @property
    def sso_name(self) -> str | None:
        """Designation of the solar-system object, when the alert carries it."""
        return self.get("sso_name")  # type: ignore[no-any-return]

    @property
    def sso_distance_arcsec(self) -> float | None:
        """Distance to the solar-system object's predicted position, arcsec."""
        return self.get("sso_distance_arcsec")  # type: ignore[no-any-return]

    @property
    def sso_mag(self) -> float | None:
        """Predicted magnitude of the solar-system object."""
        return self.get("sso_mag")  # type: ignore[no-any-return]

    # -- the whole alert ------------------------------------------------------------
    @property
    def record(self) -> Mapping[str, Any]:
        """The whole decoded record, exactly as the survey's schema has it."""
        if self._record is None:
            from skystream.codecs import avro  # the full decode: the slow path

            stream = _stream(self._payload, self._offset)
            record = avro.read(stream, self.layout.schema)
            if not isinstance(record, Mapping):
                raise DecodeError(f"alert record is a {type(record).__name__}, not a record")
            self._record = record
        return self._record

    @property
    def history_length(self) -> int:
        """How many previous detections the alert carries."""
        return self.layout.history_length(self.record)

    @property
    def light_curve(self) -> Table:
        """Detections, forced photometry and limits as an astropy Table, by time."""
        return self.layout.light_curve(self.record)

    @property
    def cutouts(self) -> dict[str, bytes]:
        """The image cutouts as FITS bytes: ``science``, ``template``, ``difference``."""
        return self.layout.cutouts(self.record)

    @property
    def _payload(self) -> bytes:
        if self._data is None:  # cannot happen: without bytes the record is set
            raise DecodeError("this alert was built from a record and has no bytes")
        return self._data

    def __repr__(self) -> str:
        try:
            where = f"ra={self.ra:.5f}, dec={self.dec:+.5f}"
            return (
                f"<Alert {self.survey} v{self.schema_version} id={self.alert_id} {where}"
                f"{' sso' if self.is_sso else ''}>"
            )
        except Exception:  # a broken alert still needs a repr
            return f"<Alert {self.survey} v{self.schema_version} (undecodable)>"


def _stream(data: bytes, offset: int) -> Any:
    from io import BytesIO

    stream = BytesIO(data)
    stream.seek(offset)
    return stream


def magnitude(flux_njy: float | None) -> float | None:
    """AB magnitude of ``|flux|`` in nJy (``None`` for no flux or zero)."""
    if flux_njy is None or flux_njy == 0 or math.isnan(flux_njy):
        return None
    return AB_ZERO_POINT_NJY - 2.5 * math.log10(abs(flux_njy))


def magnitude_error(flux_njy: float | None, flux_err_njy: float | None) -> float | None:
    """Uncertainty of :func:`magnitude`: 2.5 / ln(10) * err / |flux|."""
    if flux_njy is None or flux_err_njy is None or flux_njy == 0:
        return None
    return 2.5 / math.log(10) * flux_err_njy / abs(flux_njy)


def flux_from_magnitude(mag: float | None, negative: bool = False) -> float | None:
    """Flux in nJy of an AB magnitude (negated for a negative difference flux)."""
    if mag is None:
        return None
    flux = 10 ** (-0.4 * (mag - AB_ZERO_POINT_NJY))
    return -flux if negative else flux
