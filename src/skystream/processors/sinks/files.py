"""What the file sinks share: idempotent names, staged writes, atomic publishing.

:class:`~skystream.processors.sinks.avro_files.AvroFileWriter` and
:class:`~skystream.processors.sinks.parquet.ParquetWriter` buffer what
``add`` gives them and write files only on ``flush``. Each file is written
under a hidden temporary name (``.NAME.PID.tmp``, which readers such as
``pyarrow.parquet.read_table(directory)`` skip), synced to disk, and renamed
into place, so a file is either complete or absent, even after ``kill -9``.

**Idempotent names.** A file's name follows from what it holds, so writing
the same alerts again (a replay of a batch whose offsets were not committed
when the component died) replaces the file instead of adding a second copy:

* when the runner passes the alerts' Kafka positions (the optional
  ``positions`` argument of ``add``), a file is named by topic, partition and
  the first and last offset it holds: ``TOPIC-pPARTITION-FIRST-LAST.EXT``
  (offsets zero-padded to 20 digits, so names sort by offset). The first
  time a sink writes a partition (after a start, or when offsets go back),
  files of that partition whose first offset is at or after the new batch's
  first offset are leftovers of work that was never committed: they are
  deleted once the new files are in place, so a replay that cuts its batches
  differently still leaves each alert in exactly one file. Hidden temporaries
  of those files (a process killed while writing leaves ``.NAME.PID.tmp``)
  are deleted with them;
* without positions, a file is named by the first and last alert id and a
  digest of all its alert ids: ``alerts-FIRST-LAST-DIGEST.EXT``. The same batch
  gives the same name; a replay cut into different batches does not (see
  :class:`SourcePosition` for what the runner needs to pass).

A directory belongs to one sink: another writer's files of the same topic
and partition would be taken for leftovers.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

from skystream.exceptions import ConfigurationError, EncodeError, SkystreamError
from skystream.pipeline.processor import Annotations

if TYPE_CHECKING:
    from skystream.alerts.model import Alert

__all__ = ["NIGHT_OFFSET_HOURS", "SourcePosition", "observing_night", "resolve_directory"]

#: Hours subtracted from the detection time (UTC) before taking its date, per
#: survey, so that one night falls on one date, the date it began. Rubin's own
#: ``dayObs`` is the date at UTC-12h; Palomar (ZTF) is 8 hours further west.
NIGHT_OFFSET_HOURS: Mapping[str, float] = {"rubin": 12.0, "ztf": 20.0}

_MJD_ZERO = date(1858, 11, 17)
_OFFSET_DIGITS = 20
_POSITIONED_NAME = re.compile(
    r"^(?P<topic>.+)-p(?P<partition>\d+)-(?P<first>\d{20})-(?P<last>\d{20})$"
)
_TEMPORARY_NAME = re.compile(r"^\.(?P<final>.+)\.\d+\.tmp$")


class SourcePosition(Protocol):
    """Where an alert was read: its topic, partition and offset.

    The runner's consumed records (:class:`skystream.kafka.records.Record`)
    have exactly these attributes, so the runner can hand a file sink the
    records of the alerts it adds: ``sink.add(alerts, annotations,
    positions=records)``.
    """

    @property
    def topic(self) -> str:
        """The topic the alert was read from."""
        ...

    @property
    def partition(self) -> int:
        """The partition the alert was read from."""
        ...

    @property
    def offset(self) -> int:
        """The alert's offset in its partition."""
        ...


def observing_night(mjd: float, survey: str = "rubin") -> str:
    """Return the observing night of a detection time as ``YYYYMMDD``.

    The night is the date, ``NIGHT_OFFSET_HOURS[survey]`` hours before the
    detection (UTC; Rubin's TAI differs by seconds), on which the night
    began: for Rubin, the same as its ``dayObs``.

    Raises
    ------
    EncodeError
        If ``mjd`` is not a finite number in the calendar's range.

    Examples
    --------
    >>> observing_night(61000.2)   # 2025-11-21 04:48 UTC: the night of the 20th
    '20251120'
    """
    offset_days = NIGHT_OFFSET_HOURS.get(survey, 12.0) / 24
    try:
        value = float(mjd)
        if not math.isfinite(value):
            raise ValueError("not finite")
        night = _MJD_ZERO + timedelta(days=math.floor(value - offset_days))
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(
            f"cannot place mjd={mjd!r} in an observing night: a detection time must be a "
            "finite MJD (days since 1858-11-17)"
        ) from exc
    return night.strftime("%Y%m%d")


def resolve_directory(directory: str | Path, context: Any = None) -> Path:
    """Return ``directory`` as given when absolute, else relative to the spec file's directory.

    ``context`` is a :class:`~skystream.pipeline.spec.BuildContext` (its
    ``spec_dir``); without one, a relative directory is the working directory's.
    """
    path = Path(directory).expanduser()
    spec_dir = getattr(context, "spec_dir", None)
    if not path.is_absolute() and isinstance(spec_dir, Path):
        return spec_dir / path
    return path


@dataclass(frozen=True, slots=True)
class _Entry:
    """One buffered alert: what the sink will write, and how the file is named."""

    alert_id: int
    position: tuple[str, int, int] | None
    group: Hashable
    payload: Any


class _FileSink(ABC):
    """Buffer on ``add``, publish whole files atomically on ``flush``."""

    suffix: str = ""
    #: What a spec may set; every field but ``directory`` is a keyword of ``__init__``.
    Params: ClassVar[type[BaseModel]]

    def __init__(self, directory: str | Path, name: str, max_per_file: int | None) -> None:
        if not str(directory):
            raise ConfigurationError(f"{name} needs a directory (params: directory: PATH)")
        if max_per_file is not None and max_per_file < 1:
            raise ConfigurationError(f"{name}: at most {max_per_file} alerts per file: give >= 1")
        self.name = name
        self.directory = Path(directory).expanduser()
        self.max_per_file = max_per_file
        self.written = 0
        """Alerts written to published files so far."""
        self.files_written = 0
        """Files published so far (a file replaced by a replay counts again)."""
        self._entries: list[_Entry] = []
        self._last_offset: dict[tuple[str, int], int] = {}
        self._closed = False

    @classmethod
    def from_spec(cls, params: BaseModel | Mapping[str, Any], context: Any) -> Any:
        """Build the sink from spec params; a relative directory is the spec file's.

        ``context`` is a :class:`~skystream.pipeline.spec.BuildContext`
        (its ``spec_dir`` and ``step`` are used).
        """
        checked = params if isinstance(params, cls.Params) else cls.Params.model_validate(params)
        options = checked.model_dump()
        directory = resolve_directory(options.pop("directory"), context)
        step = getattr(context, "step", None)
        build: Any = cls  # each format's own __init__ takes its Params as keywords
        return build(directory, **options, name=step if isinstance(step, str) and step else None)

    # -- what each format supplies ----------------------------------------------------
    @abstractmethod
    def _entry_payload(self, alert: Alert, annotations: Annotations | None) -> tuple[Hashable, Any]:
        """Read what will be written of one alert: ``(group, payload)``.

        Alerts of different groups go to different files (a group may name
        the file's subdirectory, see :meth:`_subdirectory`). Raise for a bad value.
        """

    @abstractmethod
    def _write(self, path: Path, group: Hashable, payloads: Sequence[Any], stem: str) -> None:
        """Write one file at ``path`` holding ``payloads`` (all of ``group``)."""

    def _subdirectory(self, group: Hashable) -> str | None:
        """Return the subdirectory of the files of ``group`` (``None``: the directory itself)."""
        return None

    # -- the Sink protocol ------------------------------------------------------------
    def add(
        self,
        alerts: Sequence[Alert],
        annotations: Sequence[Annotations | None],
        positions: Sequence[SourcePosition] | None = None,
    ) -> None:
        """Buffer alerts (with their annotations and, when known, their Kafka positions).

        Nothing is buffered when an alert cannot be written: the error names
        it, and the runner can retry the batch alert by alert.

        Raises
        ------
        EncodeError
            If an alert holds a value the file cannot take.
        ConfigurationError
            If the sink is closed, or the sequences differ in length.
        """
        if self._closed:
            raise ConfigurationError(f"{self.name} is closed: make a new sink to write more")
        if len(alerts) != len(annotations) or (
            positions is not None and len(positions) != len(alerts)
        ):
            given = "" if positions is None else f" and {len(positions)} positions"
            raise ConfigurationError(
                f"{self.name}: {len(alerts)} alerts but {len(annotations)} annotations{given}: "
                "give one of each per alert"
            )
        entries: list[_Entry] = []
        for index, (alert, notes) in enumerate(zip(alerts, annotations, strict=True)):
            where = None
            try:
                if positions is not None:
                    position = positions[index]
                    where = (str(position.topic), int(position.partition), int(position.offset))
                alert_id = alert.alert_id
                group, payload = self._entry_payload(alert, notes)
            except Exception as exc:
                raise EncodeError(
                    f"{self.name}: alert {index} of the batch"
                    f"{_describe(alert, where)} cannot be written: {exc}"
                ) from exc
            entries.append(_Entry(alert_id, where, group, payload))
        self._entries.extend(entries)

    def flush(self) -> None:
        """Write what was added as files and publish them atomically.

        On failure nothing is forgotten: the next ``flush`` (or ``close``)
        writes the same files again, under the same names.

        Raises
        ------
        EncodeError
            If a file cannot be encoded (the message names the file and the cause).
        OSError
            If the disk refused (full, read-only, permissions).
        """
        entries = self._entries
        if not entries:
            return
        plan = list(self._plan(entries))
        published: set[Path] = set()
        directories: set[Path] = set()
        for group, stem, chunk in plan:
            subdirectory = self._subdirectory(group)
            folder = self.directory / subdirectory if subdirectory else self.directory
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / f"{stem}{self.suffix}"
            self._publish(final, group, chunk, stem)
            published.add(final)
            directories.add(folder)
        self._supersede(entries, published, directories)
        for folder in directories:
            _sync_directory(folder)
        for entry in entries:
            if entry.position is not None:
                topic, partition, offset = entry.position
                key = (topic, partition)
                self._last_offset[key] = max(offset, self._last_offset.get(key, -1))
        self.written += len(entries)
        self.files_written += len(plan)
        self._entries = []

    def close(self) -> None:
        """Flush; after this, ``add`` refuses."""
        try:
            self.flush()
        finally:
            self._closed = True

    # -- internals ----------------------------------------------------------------------
    def _publish(self, final: Path, group: Hashable, chunk: Sequence[_Entry], stem: str) -> None:
        """Write through a hidden temporary file, sync it, and rename it to ``final``."""
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")  # see _TEMPORARY_NAME
        try:
            self._write(temporary, group, [entry.payload for entry in chunk], stem)
            descriptor = os.open(temporary, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, final)
        except BaseException as exc:
            temporary.unlink(missing_ok=True)
            if isinstance(exc, SkystreamError | OSError) or not isinstance(exc, Exception):
                raise
            raise EncodeError(
                f"{self.name}: cannot write {final}: {type(exc).__name__}: {exc}"
            ) from exc

    def _plan(self, entries: Sequence[_Entry]) -> Iterator[tuple[Hashable, str, list[_Entry]]]:
        """Split the buffer into files: by group and partition, then by size; name each."""
        groups: dict[tuple[Hashable, tuple[str, int] | None], list[_Entry]] = {}
        for entry in entries:
            where = entry.position[:2] if entry.position is not None else None
            groups.setdefault((entry.group, where), []).append(entry)
        size = self.max_per_file
        for (group, _), members in groups.items():
            step = size or len(members)
            for start in range(0, len(members), step):
                chunk = members[start : start + step]
                yield group, _stem(chunk), chunk

    def _supersede(
        self, entries: Sequence[_Entry], published: set[Path], directories: set[Path]
    ) -> None:
        """Delete leftovers of uncommitted work on partitions that start or go back.

        Leftovers are the published files, and the hidden temporaries of a
        process killed while writing, whose first offset is at or after the
        new batch's: this sink's own temporaries are all renamed by now.
        """
        firsts: dict[tuple[str, int], int] = {}
        for entry in entries:
            if entry.position is not None:
                topic, partition, offset = entry.position
                key = (topic, partition)
                firsts[key] = min(offset, firsts.get(key, offset))
        for (topic, partition), first in firsts.items():
            last = self._last_offset.get((topic, partition))
            if last is not None and first > last:
                continue  # going on from what this sink wrote: nothing to replace
            prefix = f"{topic}-p{partition}-"
            finals = self.directory.rglob(f"{prefix}*{self.suffix}")
            temporaries = self.directory.rglob(f".{prefix}*{self.suffix}.*.tmp")
            for path in [*finals, *temporaries]:
                temporary = _TEMPORARY_NAME.match(path.name)
                name = temporary["final"] if temporary is not None else path.name
                match = _POSITIONED_NAME.match(name.removesuffix(self.suffix))
                if (
                    match is not None
                    and name.endswith(self.suffix)
                    and match["topic"] == topic
                    and int(match["partition"]) == partition
                    and int(match["first"]) >= first
                    and path not in published
                ):
                    path.unlink(missing_ok=True)
                    directories.add(path.parent)


def _stem(chunk: Sequence[_Entry]) -> str:
    """Name a chunk's file (without suffix): by offsets when known, else by alert ids."""
    position = chunk[0].position
    if position is not None:
        offsets = [entry.position[2] for entry in chunk if entry.position is not None]
        topic, partition = position[0], position[1]
        return (
            f"{topic}-p{partition}-{min(offsets):0{_OFFSET_DIGITS}d}-"
            f"{max(offsets):0{_OFFSET_DIGITS}d}"
        )
    ids = [entry.alert_id for entry in chunk]
    digest = hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=6).hexdigest()
    return f"alerts-{ids[0]}-{ids[-1]}-{digest}"


def _sync_directory(folder: Path) -> None:
    """Make renames and deletions in ``folder`` durable (where the OS allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its renames are durable enough
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _describe(alert: Alert, where: tuple[str, int, int] | None) -> str:
    parts = []
    try:
        parts.append(f"id {alert.alert_id}")
    except Exception:  # an alert too broken to have an id is still worth naming
        parts.append("(no readable id)")
    if where is not None:
        parts.append(f"at {where[0]}/{where[1]}@{where[2]}")
    return " (" + ", ".join(parts) + ")"
