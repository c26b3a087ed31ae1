"""CrossmatchProcessor on generated Rubin alerts, against a catalogue built around them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skystream.alerts import Alert, read_alert_file
from skystream.alerts.generate import write_alert_file
from skystream.exceptions import ConfigurationError
from skystream.pipeline.names import resolve
from skystream.pipeline.processor import Processor, Verdict
from skystream.pipeline.spec import BuildContext, build_steps, load_spec
from skystream.processors.catalogue import Catalogue, angular_distance_arcsec
from skystream.processors.crossmatch import MATCH_KEYS, CrossmatchProcessor

COUNT = 120
MATCHED = 30  # alerts with a source 1 arcsec away
DOUBLE = 10  # of those, alerts with a second source 1.5 arcsec away
OFFSET = 1.0 / 3600.0


@pytest.fixture(scope="module")
def alerts(tmp_path_factory: pytest.TempPathFactory) -> list[Alert]:
    path = tmp_path_factory.mktemp("crossmatch") / "rubin.avro"
    write_alert_file(path, "rubin", COUNT, seed=1, history=1, cutout_pixels=4, visit_size=40)
    return list(read_alert_file(path))


@pytest.fixture(scope="module")
def catalogue_file(tmp_path_factory: pytest.TempPathFactory, alerts: list[Alert]) -> Path:
    """A Parquet catalogue: sources beside the first alerts, and a random sky."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ra = np.array([a.ra for a in alerts[:MATCHED]])
    dec = np.array([a.dec for a in alerts[:MATCHED]])
    near_dec = dec + OFFSET  # 1 arcsec north
    second_dec = dec[:DOUBLE] - 1.5 * OFFSET  # 1.5 arcsec south
    rng = np.random.default_rng(5)
    sky_ra = rng.uniform(0.0, 360.0, 2000)
    sky_dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, 2000)))
    all_ra = np.concatenate((ra, ra[:DOUBLE], sky_ra))
    all_dec = np.concatenate((near_dec, second_dec, sky_dec))
    # No random source lands within a few arcsec of an alert (else counts would be off).
    alert_ra = np.array([a.ra for a in alerts])
    alert_dec = np.array([a.dec for a in alerts])
    distances = angular_distance_arcsec(
        alert_ra[:, None], alert_dec[:, None], sky_ra[None, :], sky_dec[None, :]
    )
    assert distances.min() > 10.0
    size = all_ra.size
    table = pa.table(
        {
            "objid": [f"S{i}" for i in range(size)],
            "ra": all_ra,
            "dec": all_dec,
            "redshift": np.linspace(0.0, 1.0, size),
            "kind": ["near"] * MATCHED + ["second"] * DOUBLE + ["sky"] * 2000,
        }
    )
    path = tmp_path_factory.mktemp("catalogues") / "galaxies.parquet"
    pq.write_table(table, path)
    return path


def _processor(path: Path, **params: Any) -> CrossmatchProcessor:
    return CrossmatchProcessor("xm", catalogue=path, radius_arcsec=2.0, id_column="objid", **params)


def test_registered_by_name_and_alias_and_is_a_processor(catalogue_file: Path) -> None:
    assert resolve("CrossmatchProcessor", "processor") is CrossmatchProcessor
    assert resolve("Crossmatch", "processor") is CrossmatchProcessor
    assert resolve("uk.org.lsst.CrossmatchProcessor") is CrossmatchProcessor
    processor = _processor(catalogue_file)
    assert isinstance(processor, Processor)
    assert processor.fields == frozenset({"alert_id", "ra", "dec"})
    assert "galaxies" in repr(processor)


def test_annotate_passes_everything_and_annotates_the_nearest(
    alerts: list[Alert], catalogue_file: Path
) -> None:
    processor = _processor(catalogue_file, columns=["redshift", "kind"])
    result = processor.process_batch(alerts)
    assert result.verdicts == [Verdict.PASS] * COUNT
    assert result.annotations is not None and len(result.annotations) == COUNT
    annotated = [i for i, note in enumerate(result.annotations) if note is not None]
    assert annotated == list(range(MATCHED))
    for index in annotated:
        note = result.annotations[index]
        assert note is not None and list(note) == ["xm"]
        (match,) = note["xm"]  # nearest only
        alert = alerts[index]
        assert list(match) == [*MATCH_KEYS, "redshift", "kind"]
        assert match["alert_id"] == alert.alert_id
        assert (match["ra"], match["dec"]) == (alert.ra, alert.dec)
        assert match["catalogue"] == "galaxies"
        assert match["source_id"] == f"S{index}"
        assert match["source_ra"] == alert.ra
        assert match["source_dec"] == pytest.approx(alert.dec + OFFSET)
        assert match["distance_arcsec"] == pytest.approx(1.0, abs=1e-6)
        assert match["kind"] == "near"
        assert isinstance(match["redshift"], float)
    assert processor.counts == {"matched": MATCHED, "matches": MATCHED}


def test_all_matches_nearest_first(alerts: list[Alert], catalogue_file: Path) -> None:
    processor = _processor(catalogue_file, nearest=False, catalogue_name="gal")
    result = processor.process_batch(alerts)
    assert result.annotations is not None
    lengths = [len(note["xm"]) if note else 0 for note in result.annotations]
    assert lengths == [2] * DOUBLE + [1] * (MATCHED - DOUBLE) + [0] * (COUNT - MATCHED)
    first = result.annotations[0]
    assert first is not None
    assert [m["distance_arcsec"] for m in first["xm"]] == pytest.approx([1.0, 1.5], abs=1e-6)
    assert [m["source_id"] for m in first["xm"]] == ["S0", f"S{MATCHED}"]
    assert {m["catalogue"] for m in first["xm"]} == {"gal"}
    assert processor.counts == {"matched": MATCHED, "matches": MATCHED + DOUBLE}


def test_modes(alerts: list[Alert], catalogue_file: Path) -> None:
    keep = _processor(catalogue_file, mode="keep_matched").process_batch(alerts)
    assert keep.verdicts == [Verdict.PASS] * MATCHED + [Verdict.SKIP] * (COUNT - MATCHED)
    drop = _processor(catalogue_file, mode="drop_matched").process_batch(alerts)
    assert drop.verdicts == [Verdict.SKIP] * MATCHED + [Verdict.PASS] * (COUNT - MATCHED)
    assert drop.annotations is not None  # annotated even if the runner drops them


def test_no_match_no_annotations(alerts: list[Alert], catalogue_file: Path) -> None:
    result = _processor(catalogue_file).process_batch(alerts[MATCHED:])
    assert result.annotations is None
    assert result.verdicts == [Verdict.PASS] * (COUNT - MATCHED)
    assert _processor(catalogue_file).process_batch([]).verdicts == []


class _Position:
    """An alert stand-in with the three fields the processor reads."""

    def __init__(self, alert_id: int, ra: float | None, dec: float | None) -> None:
        self._values = {"alert_id": alert_id, "ra": ra, "dec": dec}

    def get(self, name: str) -> Any:
        return self._values[name]


def test_alerts_without_a_position_never_match() -> None:
    catalogue = Catalogue.from_arrays([7], [10.0], [20.0], {"mag": [18.0]}, name="tiny")
    processor = CrossmatchProcessor(catalogue=catalogue, radius_arcsec=1.0, columns=["mag"])
    batch = [_Position(1, None, 20.0), _Position(2, 10.0, None), _Position(3, 10.0, 20.0)]
    result = processor.process_batch(batch)  # type: ignore[arg-type]
    assert result.annotations is not None
    assert result.annotations[:2] == [None, None]
    note = result.annotations[2]
    assert note is not None
    assert note["CrossmatchProcessor"][0]["source_id"] == 7
    assert note["CrossmatchProcessor"][0]["mag"] == 18.0


def test_built_from_a_spec_with_a_path_relative_to_it(
    tmp_path: Path, alerts: list[Alert], catalogue_file: Path
) -> None:
    folder = tmp_path / "specs"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "galaxies.parquet").write_bytes(catalogue_file.read_bytes())
    spec_path = folder / "xmatch.yaml"
    spec_path.write_text(
        textwrap.dedent(
            """
            component:
              name: xmatch
              params: {input_topic: alerts}
              processors:
                - name: galaxies
                  class: Crossmatch
                  params:
                    - catalogue: data/galaxies.parquet
                    - radius_arcsec: 2
                    - id_column: objid
                    - mode: keep_matched
                    - columns: [kind]
            """
        )
    )
    spec = load_spec(spec_path)
    processors, sinks = build_steps(spec)
    assert sinks == []
    (processor,) = processors
    assert isinstance(processor, CrossmatchProcessor) and processor.name == "galaxies"
    result = processor.process_batch(alerts)
    assert result.verdicts.count(Verdict.PASS) == MATCHED
    assert result.annotations is not None
    assert set(result.annotations[0] or {}) == {"galaxies"}

    context = BuildContext(component="c", spec_dir=folder, step="direct")
    direct = CrossmatchProcessor.from_spec(
        {"catalogue": "data/galaxies.parquet", "radius_arcsec": 2.0, "id_column": "objid"},
        context,
    )
    assert direct.name == "direct"
    assert direct.catalogue.path == folder / "data" / "galaxies.parquet"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"radius_arcsec": 0}, "radius_arcsec: Input should be greater than 0"),
        ({"mode": "keep"}, "mode: Input should be 'annotate', 'keep_matched' or 'drop_matched'"),
        ({"radius": 2.0}, "radius: Extra inputs are not permitted"),
        ({"columns": ["ra"]}, r"columns \['ra'\] clash with the keys every match has"),
        ({"columns": ["colour"]}, "no column 'colour'.*'redshift'"),
        ({"id_column": "id"}, r"no column 'id' \(id_column\)"),
        ({"catalogue": "missing.csv"}, "missing.csv' does not exist"),
    ],
)
def test_bad_params_are_refused_with_the_fix(
    tmp_path: Path, catalogue_file: Path, params: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {
        "catalogue": str(catalogue_file),
        "radius_arcsec": 2.0,
        "id_column": "objid",
        **params,
    }
    with pytest.raises(ConfigurationError, match=message):
        CrossmatchProcessor.from_spec(values, BuildContext(component="c", spec_dir=tmp_path))


def test_in_memory_catalogue_checks_its_columns() -> None:
    catalogue = Catalogue.from_arrays([1], [1.0], [1.0], {"mag": [1.0]})
    with pytest.raises(ConfigurationError, match="has no column 'z'; its columns are 'mag'"):
        CrossmatchProcessor(catalogue=catalogue, radius_arcsec=1.0, columns=["z"])
