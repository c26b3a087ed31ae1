"""AvroFileWriter and ParquetWriter on generated Rubin alerts: rows, nights, idempotent files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skystream.alerts import Alert, read_alert_file
from skystream.alerts.generate import write_alert_file
from skystream.exceptions import ConfigurationError, EncodeError, SpecError
from skystream.pipeline.processor import Sink
from skystream.pipeline.spec import build_steps, load_spec
from skystream.processors.sinks import (
    AvroFileWriter,
    ParquetWriter,
    observing_night,
    read_annotations,
)
from skystream.processors.sinks.parquet import DEFAULT_COLUMNS

COUNT = 60


class Position(NamedTuple):
    topic: str
    partition: int
    offset: int


def _generate(path: Path, **options: Any) -> list[Alert]:
    settings: dict[str, Any] = {
        "sso_fraction": 0.2,
        "seed": 1,
        "history": 2,
        "cutout_pixels": 4,
        "visit_size": 20,
        **options,
    }
    write_alert_file(path, "rubin", COUNT, **settings)
    return list(read_alert_file(path))


@pytest.fixture(scope="module")
def alerts(tmp_path_factory: pytest.TempPathFactory) -> list[Alert]:
    return _generate(tmp_path_factory.mktemp("file-sinks") / "rubin.avro")


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> list[Alert]:
    """Three visits an hour apart around the Rubin night boundary (UTC noon: mjd .5)."""
    found = _generate(
        tmp_path_factory.mktemp("file-sinks") / "nights.avro",
        start_mjd=61000.5 - 1.5 / 24,
        visit_interval_s=3600.0,
    )
    assert len({observing_night(alert.mjd) for alert in found}) == 2
    return found


def _files(directory: Path, suffix: str) -> list[Path]:
    return sorted(path for path in directory.rglob(f"*{suffix}") if path.is_file())


def _rows_by_id(directory: Path) -> dict[int, dict[str, Any]]:
    rows = pq.read_table(directory).to_pylist()
    by_id = {row["alert_id"]: row for row in rows}
    assert len(by_id) == len(rows), "duplicate rows"
    return by_id


# -- ParquetWriter ----------------------------------------------------------------------


def test_parquet_rows_equal_the_alerts(tmp_path: Path, alerts: list[Alert]) -> None:
    writer = ParquetWriter(tmp_path)
    assert isinstance(writer, Sink)
    writer.add(alerts, [None] * len(alerts))
    writer.flush()
    rows = _rows_by_id(tmp_path)
    assert len(rows) == len(alerts)
    for alert in alerts:
        row = rows[alert.alert_id]
        for column in DEFAULT_COLUMNS:
            expected = alert.get(column)
            if isinstance(expected, float) and math.isnan(expected):
                assert math.isnan(row[column])
            else:
                assert row[column] == expected, column
        assert str(row["night"]) == observing_night(alert.mjd)
    assert any(row["sso_id"] is not None for row in rows.values())
    assert any(row["object_id"] is None for row in rows.values())  # Rubin SSOs: no diaObject
    assert writer.written == len(alerts)


def test_parquet_partitions_by_night(tmp_path: Path, two_nights: list[Alert]) -> None:
    writer = ParquetWriter(tmp_path, columns=["alert_id", "mjd"])
    writer.add(two_nights, [None] * len(two_nights))
    writer.flush()
    nights = sorted(path.name for path in tmp_path.iterdir())
    assert nights == ["night=20251120", "night=20251121"]
    for alert_id, row in _rows_by_id(tmp_path).items():
        # The night changes at noon UTC (mjd .5): Rubin's dayObs.
        expected = "20251120" if row["mjd"] < 61000.5 else "20251121"
        assert str(row["night"]) == expected, alert_id
    assert len(_rows_by_id(tmp_path)) == len(two_nights)


def test_observing_night_rules() -> None:
    assert observing_night(61000.49) == "20251120"
    assert observing_night(61000.5) == "20251121"
    # ZTF's night at Palomar turns 8 hours later.
    assert observing_night(61000.6, "ztf") == "20251120"
    with pytest.raises(EncodeError, match="finite MJD"):
        observing_night(math.nan)


def test_parquet_same_batch_twice_gives_the_same_files(tmp_path: Path, alerts: list[Alert]) -> None:
    batches = [alerts[:25], alerts[25:]]
    listings = []
    for _ in range(2):
        for batch in batches:
            writer = ParquetWriter(tmp_path)
            writer.add(batch, [None] * len(batch))
            writer.close()
        listings.append(_files(tmp_path, ".parquet"))
    assert listings[0] == listings[1]
    assert len(_rows_by_id(tmp_path)) == len(alerts)


def test_parquet_replay_cut_differently_with_positions(tmp_path: Path, alerts: list[Alert]) -> None:
    positions = [Position("alerts.in", index % 2, index // 2) for index in range(len(alerts))]
    notes = [None] * len(alerts)
    # A run flushes two batches; the second is never committed (kill -9).
    before = ParquetWriter(tmp_path)
    before.add(alerts[:20], notes[:20], positions[:20])
    before.flush()
    before.add(alerts[20:50], notes[20:50], positions[20:50])
    before.flush()
    # The restart reads again from the committed offsets, in other batches.
    after = ParquetWriter(tmp_path)
    for start, stop in ((20, 31), (31, len(alerts))):
        after.add(alerts[start:stop], notes[start:stop], positions[start:stop])
        after.flush()
    assert sorted(_rows_by_id(tmp_path)) == sorted(alert.alert_id for alert in alerts)
    names = [path.name for path in _files(tmp_path, ".parquet")]
    assert all(name.startswith(("alerts.in-p0-", "alerts.in-p1-")) for name in names)


def test_parquet_files_appear_only_on_flush(tmp_path: Path, alerts: list[Alert]) -> None:
    writer = ParquetWriter(tmp_path)
    writer.add(alerts, [None] * len(alerts))
    assert not tmp_path.exists() or not any(tmp_path.rglob("*"))
    writer.flush()
    everything = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert everything, "flush wrote nothing"
    assert all(path.suffix == ".parquet" and not path.name.startswith(".") for path in everything)


def test_parquet_failed_write_leaves_no_file(
    tmp_path: Path, alerts: list[Alert], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ParquetWriter(tmp_path)
    writer.add(alerts, [None] * len(alerts))

    def half_a_file(table: Any, where: Any, **options: Any) -> None:
        Path(where).write_bytes(b"PAR1 and then the power went")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", half_a_file)
    with pytest.raises(OSError, match="disk full"):
        writer.flush()
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]
    monkeypatch.undo()
    writer.flush()  # what was added is still there to write
    assert len(_rows_by_id(tmp_path)) == len(alerts)


def test_parquet_annotations_as_columns(tmp_path: Path, alerts: list[Alert]) -> None:
    notes: list[dict[str, Any] | None] = [
        {"catalogue_id": index, "distance_arcsec": index / 10} if index % 3 else None
        for index in range(len(alerts))
    ]
    writer = ParquetWriter(
        tmp_path,
        columns=["alert_id", "ra"],
        annotations={"catalogue_id": "int64", "distance_arcsec": "float64"},
    )
    writer.add(alerts, notes)
    writer.flush()
    table = pq.read_table(tmp_path)
    assert table.schema.field("catalogue_id").type == pa.int64()
    rows = _rows_by_id(tmp_path)
    for alert, note in zip(alerts, notes, strict=True):
        row = rows[alert.alert_id]
        assert row["catalogue_id"] == (note or {}).get("catalogue_id")
        assert row["distance_arcsec"] == (note or {}).get("distance_arcsec")


def test_parquet_dotted_annotation_keys_read_the_first_match(
    tmp_path: Path, alerts: list[Alert]
) -> None:
    # A cross-match annotates {step: [matches, nearest first]}.
    notes: list[dict[str, Any] | None] = [
        {"xm": [{"source_id": 10 * i, "distance_arcsec": 0.1}, {"source_id": -1}]}
        if i % 2
        else None
        for i in range(len(alerts))
    ]
    writer = ParquetWriter(
        tmp_path,
        columns=["alert_id"],
        annotations={"xm.source_id": "int64", "xm.distance_arcsec": "float64"},
    )
    writer.add(alerts, notes)
    writer.flush()
    assert pq.read_table(tmp_path).schema.field("xm_source_id").type == pa.int64()
    rows = _rows_by_id(tmp_path)
    for i, alert in enumerate(alerts):
        row = rows[alert.alert_id]
        assert row["xm_source_id"] == (10 * i if i % 2 else None)
        assert row["xm_distance_arcsec"] == (0.1 if i % 2 else None)


def test_parquet_inferred_annotation_missing_from_a_whole_file(
    tmp_path: Path, alerts: list[Alert]
) -> None:
    writer = ParquetWriter(tmp_path, columns=["alert_id"], annotations=["distance_arcsec"])
    writer.add(alerts[:10], [{"distance_arcsec": 0.5}] * 10)
    writer.flush()
    writer.add(alerts[10:20], [None] * 10)
    writer.flush()
    assert len(_rows_by_id(tmp_path)) == 20  # files agree on the column's type


def test_parquet_annotation_types_that_disagree_fail_on_flush(
    tmp_path: Path, alerts: list[Alert]
) -> None:
    writer = ParquetWriter(tmp_path, columns=["alert_id"], annotations=["kind"])
    writer.add(alerts[:2], [{"kind": "star"}, {"kind": 1.5}])
    with pytest.raises(EncodeError, match=r"annotation 'kind' cannot be written.*declare it"):
        writer.flush()
    typed = ParquetWriter(tmp_path / "typed", columns=["alert_id"], annotations={"n": "int64"})
    typed.add(alerts[:1], [{"n": "seven"}])
    with pytest.raises(EncodeError, match=r"annotation 'n' cannot be written as int64"):
        typed.flush()
    assert not _files(tmp_path, ".parquet")
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]  # no temporary left


def test_parquet_bad_column_value_names_the_alert(tmp_path: Path, alerts: list[Alert]) -> None:
    class Broken(Alert):
        __slots__ = ()

        @property
        def mjd(self) -> float:
            return math.inf

    broken = Broken(alerts[3].layout, alerts[3].raw)
    writer = ParquetWriter(tmp_path)
    with pytest.raises(EncodeError, match=rf"id {alerts[3].alert_id}.*finite MJD"):
        writer.add([alerts[0], broken], [None, None])
    writer.flush()
    assert not any(tmp_path.rglob("*"))  # the batch was refused whole: nothing buffered


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"columns": ["alert_id", "colour"]}, "unknown column"),
        ({"columns": []}, "at least one"),
        ({"annotations": ["ra"]}, "named twice"),
        ({"annotations": ["night"]}, "partitioning column"),
    ],
)
def test_parquet_refuses_bad_columns(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ParquetWriter(tmp_path, **options)


# -- AvroFileWriter -----------------------------------------------------------------------


def _read_avro(directory: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in _files(directory, ".avro"):
        with open(path, "rb") as stream:
            records.extend(fastavro.reader(stream))  # type: ignore[arg-type]
    return records


def test_avro_files_hold_the_records(tmp_path: Path, alerts: list[Alert]) -> None:
    writer = AvroFileWriter(tmp_path, max_alerts_per_file=25, codec="deflate")
    assert isinstance(writer, Sink)
    writer.add(alerts, [None] * len(alerts))
    writer.flush()
    files = _files(tmp_path, ".avro")
    assert len(files) == 3  # 25 + 25 + 10
    layout = alerts[0].layout
    records = {Alert.from_record(r, layout).alert_id: r for r in _read_avro(tmp_path)}
    assert len(records) == len(alerts)
    for alert in alerts:
        assert records[alert.alert_id] == alert.record
    # The files are alert files: skystream reads them back too.
    again = {a.alert_id for path in files for a in read_alert_file(path)}
    assert again == {alert.alert_id for alert in alerts}
    assert all(read_annotations(path) is None for path in files)


def test_avro_annotations_in_the_header(tmp_path: Path, alerts: list[Alert]) -> None:
    notes = [{"match": index} if index % 2 else None for index in range(10)]
    writer = AvroFileWriter(tmp_path)
    writer.add(alerts[:10], notes)
    writer.flush()
    (path,) = _files(tmp_path, ".avro")
    assert read_annotations(path) == notes
    with open(path, "rb") as stream:
        assert json.loads(fastavro.reader(stream).metadata["skystream.annotations"]) == notes


def test_avro_same_batch_twice_gives_the_same_bytes(tmp_path: Path, alerts: list[Alert]) -> None:
    contents = []
    for _ in range(2):
        writer = AvroFileWriter(tmp_path, max_alerts_per_file=20)
        writer.add(alerts, [None] * len(alerts))
        writer.close()
        contents.append({path.name: path.read_bytes() for path in _files(tmp_path, ".avro")})
    assert contents[0] == contents[1]
    assert len(_read_avro(tmp_path)) == len(alerts)


def test_avro_replay_with_positions_replaces_leftovers(tmp_path: Path, alerts: list[Alert]) -> None:
    positions = [Position("in", 3, 100 + index) for index in range(len(alerts))]
    notes = [None] * len(alerts)
    first = AvroFileWriter(tmp_path)
    first.add(alerts[:10], notes[:10], positions[:10])
    first.flush()  # offsets 100-109: flushed and committed
    first.add(alerts[10:40], notes[10:40], positions[10:40])
    first.flush()  # offsets 110-139: flushed, then kill -9 before the commit
    second = AvroFileWriter(tmp_path)  # the restart reads from 110, in one batch
    second.add(alerts[10:], notes[10:], positions[10:])
    second.flush()
    layout = alerts[0].layout
    ids = [Alert.from_record(r, layout).alert_id for r in _read_avro(tmp_path)]
    assert sorted(ids) == sorted(alert.alert_id for alert in alerts)
    names = [path.name for path in _files(tmp_path, ".avro")]
    assert names == [f"in-p3-{100:020d}-{109:020d}.avro", f"in-p3-{110:020d}-{159:020d}.avro"]


def test_avro_files_appear_only_on_flush(tmp_path: Path, alerts: list[Alert]) -> None:
    writer = AvroFileWriter(tmp_path)
    writer.add(alerts[:5], [None] * 5)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    writer.flush()
    assert [path.suffix for path in tmp_path.iterdir()] == [".avro"]
    assert os.listdir(tmp_path)[0].startswith("alerts-")


def test_closed_sink_refuses(tmp_path: Path, alerts: list[Alert]) -> None:
    writer = AvroFileWriter(tmp_path)
    writer.close()
    with pytest.raises(ConfigurationError, match="closed"):
        writer.add(alerts[:1], [None])


# -- through a spec -----------------------------------------------------------------------


SPEC = """
component:
  name: to-files
  params:
    kafka_url: 127.0.0.1:9092
    input_topic: alerts
  processors:
    - name: no-sso
      class: SolarSystemFilter
      params: [{include: false}]
    - name: parquet
      class: uk.org.lsst.ParquetWriter
      params:
        - directory: out/parquet
        - columns: [alert_id, ra, dec, mjd]
        - annotations: {distance_arcsec: float64}
    - name: avro
      class: AvroFileWriter
      params: {directory: out/avro, codec: deflate, max_alerts_per_file: 500}
"""


def test_spec_builds_file_sinks_relative_to_the_spec(tmp_path: Path, alerts: list[Alert]) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    spec = load_spec(path)
    processors, sinks = build_steps(spec)
    assert [p.name for p in processors] == ["no-sso"]
    parquet, avro = sinks
    assert isinstance(parquet, ParquetWriter) and isinstance(avro, AvroFileWriter)
    assert parquet.name == "parquet" and avro.name == "avro"
    assert parquet.directory == tmp_path / "out" / "parquet"
    assert avro.directory == tmp_path / "out" / "avro"
    assert parquet.columns == ("alert_id", "ra", "dec", "mjd")
    assert avro.max_alerts_per_file == 500
    passing = [alert for alert in alerts if not alert.is_sso]
    for sink in sinks:
        sink.add(passing, [None] * len(passing))
        sink.close()
    assert len(_rows_by_id(tmp_path / "out" / "parquet")) == len(passing)
    assert len(_read_avro(tmp_path / "out" / "avro")) == len(passing)


def test_spec_with_a_bad_column_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("[alert_id, ra, dec, mjd]", "[alert_id, colour]"))
    with pytest.raises(SpecError, match="colour"):
        load_spec(path)
