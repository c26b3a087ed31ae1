"""Synthetic alerts: valid against the real schemas, realistic, and the same for a seed."""

from __future__ import annotations

import gzip
import io
import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from fastavro.validation import validate

from skystream.alerts.generate import GeneratedAlerts, generate_alerts, write_alert_file
from skystream.alerts.schemas import (
    latest_rubin_version,
    rubin_schema,
    rubin_versions,
    ztf_schema,
)
from skystream.alerts.synthetic.plan import compile_plan
from skystream.alerts.synthetic.rules import Fill, generic_rule, leave_null
from skystream.exceptions import ConfigurationError, SchemaError
from skystream.schemas.avro import AvroSchema

SMALL: dict[str, Any] = {
    "sso_fraction": 0.25,
    "seed": 7,
    "history": 9,
    "visit_size": 5,
    "cutout_pixels": 21,
}
CASES = [("rubin", None), ("rubin", "3.0"), ("rubin", "7.4"), ("ztf", None)]
COUNT = 24


def _schema(survey: str, version: str | None) -> AvroSchema:
    return rubin_schema(version) if survey == "rubin" else ztf_schema()


@pytest.fixture(scope="module", params=CASES, ids=lambda case: f"{case[0]}-{case[1] or 'default'}")
def generated(request: pytest.FixtureRequest) -> tuple[str, str | None, list[dict[str, Any]]]:
    survey, version = request.param
    return survey, version, list(generate_alerts(survey, COUNT, version=version, **SMALL))


def null_paths(value: Any, path: str = "") -> set[str]:
    """Every path in a record whose value is null (array items appear as ``name[]``)."""
    if value is None:
        return {path}
    if isinstance(value, dict):
        return set().union(
            *(null_paths(item, f"{path}.{key}" if path else key) for key, item in value.items())
        )
    if isinstance(value, list):
        return set().union(*(null_paths(item, f"{path}[]") for item in value))
    return set()


def is_sso(alert: dict[str, Any]) -> bool:
    if "candidate" in alert:
        return bool(alert["candidate"]["ssnamenr"] != "null")
    return alert["diaSource"]["ssObjectId"] is not None


def separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    return float(SkyCoord(ra1, dec1, unit="deg").separation(SkyCoord(ra2, dec2, unit="deg")).arcsec)


# --------------------------------------------------------------------------- schema


def test_records_validate_against_the_real_schema(
    generated: tuple[str, str | None, list[dict[str, Any]]],
) -> None:
    survey, version, alerts = generated
    schema = _schema(survey, version)
    assert len(alerts) == COUNT
    for alert in alerts:
        validate(alert, schema.parsed, raise_errors=True)


@pytest.mark.parametrize("version", rubin_versions())
def test_every_shipped_rubin_version_generates_valid_alerts(version: str) -> None:
    schema = rubin_schema(version)
    alerts = list(generate_alerts("rubin", 4, version=version, **SMALL))
    assert sum(map(is_sso, alerts)) == 1
    for alert in alerts:
        validate(alert, schema.parsed, raise_errors=True)


RUBIN_NULLS = {
    # No source is withdrawn: timeWithdrawnMjdTai (Rubin 9 on) stays null.
    "latest": (
        {
            "diaSource.ssObjectId",
            "diaSource.timeWithdrawnMjdTai",
            "prvDiaSources[].ssObjectId",
            "prvDiaSources[].timeWithdrawnMjdTai",
            "prvDiaForcedSources[].timeWithdrawnMjdTai",
            "ssSource",
            "mpc_orbits",
        },
        {
            "diaSource.diaObjectId",
            "diaSource.timeWithdrawnMjdTai",
            "diaObject",
            "prvDiaSources",
            "prvDiaForcedSources",
        },
    ),
    "old": (
        {"diaSource.ssObjectId", "prvDiaSources[].ssObjectId", "ssObject"},
        {
            "diaSource.diaObjectId",
            "diaObject",
            "prvDiaSources",
            "prvDiaForcedSources",
            "prvDiaNondetectionLimits",
        },
    ),
}


def test_only_the_documented_fields_are_null(
    generated: tuple[str, str | None, list[dict[str, Any]]],
) -> None:
    survey, version, alerts = generated
    if survey == "ztf":
        for alert in alerts:
            assert (
                null_paths({key: alert[key] for key in alert if key != "prv_candidates"}) == set()
            )
            for previous in alert["prv_candidates"]:
                if previous["candid"] is None:  # an upper limit: exposure values only
                    assert previous["magpsf"] is None
                    assert previous["diffmaglim"] is not None
                    assert previous["jd"] < alert["candidate"]["jd"]
                else:
                    assert null_paths(previous) == set()
        return
    not_solar, solar = RUBIN_NULLS["latest" if version is None else "old"]
    for alert in alerts:
        assert null_paths(alert) == (solar if is_sso(alert) else not_solar)


# --------------------------------------------------------------------------- the file


def test_file_reads_back_as_generated_and_as_fastavro_writes_it(
    generated: tuple[str, str | None, list[dict[str, Any]]], tmp_path: Path
) -> None:
    survey, version, alerts = generated
    schema = _schema(survey, version)
    info = write_alert_file(tmp_path / "alerts.avro", survey, COUNT, version=version, **SMALL)

    data = info.path.read_bytes()
    with info.path.open("rb") as stream:
        reader = fastavro.reader(stream)
        assert reader.writer_schema is not None
        assert reader.writer_schema["name"] == schema.name
        assert reader.codec == "null"
        assert list(reader) == alerts
    # The same bytes fastavro.writer writes for the schema with sorted keys (so the
    # header does not depend on the hash seed) and the file's sync marker (its last 16 bytes).
    expected = io.BytesIO()
    sorted_schema = json.loads(schema.canonical)
    fastavro.writer(expected, sorted_schema, alerts, codec="null", sync_marker=data[-16:])
    assert data == expected.getvalue()


def test_write_alert_file_reports_what_it_wrote(tmp_path: Path) -> None:
    info = write_alert_file(tmp_path / "rubin.avro", "rubin", 12, **SMALL)
    assert info == GeneratedAlerts(
        path=tmp_path / "rubin.avro",
        survey="rubin",
        version=latest_rubin_version(),
        count=12,
        sso_count=3,
        size_bytes=(tmp_path / "rubin.avro").stat().st_size,
    )
    assert write_alert_file(tmp_path / "ztf.avro", "ztf", 2, **SMALL).version == "4.02"


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 8},
        {"count": 3},
        {"version": "7.4"},
        {"sso_fraction": 0.5},
        {"history": 10},
        {"visit_size": 6},
        {"visit_interval_s": 30.0},
        {"start_mjd": 61001.0},
        {"cutout_pixels": 23},
    ],
)
def test_every_setting_changes_the_sync_marker(change: dict[str, Any], tmp_path: Path) -> None:
    base: dict[str, Any] = {"survey": "rubin", "count": 2, **SMALL}
    markers = []
    for n, options in enumerate((base, base, {**base, **change})):
        path = write_alert_file(tmp_path / f"{n}.avro", **options).path
        markers.append(path.read_bytes()[-16:])
    assert markers[0] == markers[1]
    assert markers[0] != markers[2]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for survey in ("rubin", "ztf"):
        paths = [tmp_path / f"{survey}-{n}.avro" for n in range(3)]
        for path, seed in zip(paths, (11, 11, 12), strict=True):
            write_alert_file(path, survey, 12, **{**SMALL, "seed": seed})
        first, again, other = (path.read_bytes() for path in paths)
        assert first == again
        assert first != other


def test_no_alerts_give_an_empty_readable_file(tmp_path: Path) -> None:
    info = write_alert_file(tmp_path / "empty.avro", "rubin", 0)
    assert (info.count, info.sso_count) == (0, 0)
    with info.path.open("rb") as stream:
        assert list(fastavro.reader(stream)) == []
    assert list(generate_alerts("ztf", 0)) == []


# --------------------------------------------------------------------------- what is in the alerts


def test_solar_system_fraction_is_exact() -> None:
    alerts = list(generate_alerts("rubin", 40, **SMALL))
    assert sum(map(is_sso, alerts)) == 10
    # Rounded half up, not to even: 2.5 -> 3 and 0.5 -> 1.
    assert sum(map(is_sso, generate_alerts("rubin", 10, **SMALL))) == 3
    assert sum(map(is_sso, generate_alerts("ztf", 2, **SMALL))) == 1
    assert sum(map(is_sso, generate_alerts("ztf", 7, **{**SMALL, "sso_fraction": 1.0}))) == 7
    assert not any(map(is_sso, generate_alerts("rubin", 7, **{**SMALL, "sso_fraction": 0.0})))
    chosen = [is_sso(alert) for alert in alerts]
    again = [is_sso(alert) for alert in generate_alerts("rubin", 40, **SMALL)]
    other = [is_sso(alert) for alert in generate_alerts("rubin", 40, **{**SMALL, "seed": 8})]
    assert chosen == again
    assert chosen != other


def test_rubin_solar_system_alerts_are_consistent() -> None:
    alerts = [alert for alert in generate_alerts("rubin", 40, **SMALL) if is_sso(alert)]
    designation = re.compile(r"(19|20)\d\d [A-HJ-Y][A-HJ-Z]\d*")
    for alert in alerts:
        source, ss_source, orbit = alert["diaSource"], alert["ssSource"], alert["mpc_orbits"]
        assert source["ssObjectId"] > 0
        assert ss_source["ssObjectId"] == source["ssObjectId"]
        assert ss_source["diaSourceId"] == source["diaSourceId"] == alert["diaSourceId"]
        assert designation.fullmatch(orbit["designation"])
        assert orbit["designation"] == ss_source["designation"]
        assert orbit["q"] == pytest.approx(orbit["a"] * (1 - orbit["e"]))
        assert (
            separation_arcsec(ss_source["ephRa"], ss_source["ephDec"], source["ra"], source["dec"])
            < 5
        )
        # The predicted magnitude agrees with the measured flux (V vs band: within a magnitude).
        measured = 31.4 - 2.5 * np.log10(source["psfFlux"])
        assert abs(ss_source["ephVmag"] - measured) < 1.0
        assert source["trailLength"] > 0.5


def test_rubin_old_versions_use_alert_id_and_ss_object() -> None:
    for alert in generate_alerts("rubin", 20, version="3.0", **SMALL):
        assert alert["alertId"] == alert["diaSource"]["diaSourceId"]
        assert alert["diaSource"]["filterName"] in set("ugrizy")
        if is_sso(alert):
            assert alert["ssObject"]["ssObjectId"] == alert["diaSource"]["ssObjectId"]
        else:
            assert alert["diaObject"]["diaObjectId"] == alert["diaSource"]["diaObjectId"]
            assert alert["prvDiaNondetectionLimits"] is not None


def test_rubin_history_is_the_same_object_earlier() -> None:
    history = 30
    alerts = list(generate_alerts("rubin", 12, **{**SMALL, "history": history}))
    bands: Counter[str] = Counter()
    for alert in (alert for alert in alerts if not is_sso(alert)):
        source, obj = alert["diaSource"], alert["diaObject"]
        assert obj["diaObjectId"] == source["diaObjectId"] > 0
        previous, forced = alert["prvDiaSources"], alert["prvDiaForcedSources"]
        for records in (previous, forced):
            assert 20 <= len(records) <= 40
            times = [record["midpointMjdTai"] for record in records]
            assert times == sorted(times)
            assert times[-1] < source["midpointMjdTai"]
            for record in records:
                assert record["diaObjectId"] == source["diaObjectId"]
                assert (
                    separation_arcsec(record["ra"], record["dec"], source["ra"], source["dec"]) < 1
                )
        bands.update(record["band"] for record in previous)
        assert obj["nDiaSources"] == len(previous) + 1
        assert obj["firstDiaSourceMjdTai"] == previous[0]["midpointMjdTai"]
        assert obj["lastDiaSourceMjdTai"] == source["midpointMjdTai"]
        assert sum(obj[f"{band}_psfFluxNdata"] for band in "ugrizy") == len(previous) + 1
        for record in previous:  # previous sources are detections
            assert abs(record["psfFlux"]) >= 5 * record["psfFluxErr"]
    assert set(bands) == set("ugrizy")


def test_ztf_solar_system_and_history() -> None:
    alerts = list(generate_alerts("ztf", 40, **SMALL))
    assert sum(map(is_sso, alerts)) == 10
    for alert in alerts:
        candidate = alert["candidate"]
        assert re.fullmatch(r"ZTF\d\d[a-z]{7}", alert["objectId"])
        assert 6 <= len(alert["prv_candidates"]) <= 12
        assert 6 <= len(alert["fp_hists"]) <= 12
        assert all(previous["jd"] < candidate["jd"] for previous in alert["prv_candidates"])
        assert 1 <= candidate["fid"] <= 3
        assert candidate["isdiffpos"] in ("t", "f")
        if is_sso(alert):
            assert 0 <= candidate["ssdistnr"] <= 30
            assert 15 <= candidate["ssmagnr"] <= 21
            assert all(previous["candid"] is None for previous in alert["prv_candidates"])
        else:
            assert (candidate["ssdistnr"], candidate["ssmagnr"]) == (-999.0, -999.0)
    limits = [p["candid"] is None for a in alerts if not is_sso(a) for p in a["prv_candidates"]]
    assert 0 < sum(limits) < len(limits)


def test_ids_match_and_are_unique(generated: tuple[str, str | None, list[dict[str, Any]]]) -> None:
    survey, version, alerts = generated
    if survey == "ztf":
        assert all(alert["candid"] == alert["candidate"]["candid"] for alert in alerts)
        assert all(len(str(alert["candid"])) == 19 for alert in alerts)
        candids = [alert["candid"] for alert in alerts] + [
            p["candid"] for a in alerts for p in a["prv_candidates"] if p["candid"] is not None
        ]
        assert len(set(candids)) == len(candids)
        assert len({alert["objectId"] for alert in alerts}) == len(alerts)
        return
    top = "diaSourceId" if version is None else "alertId"
    assert all(alert[top] == alert["diaSource"]["diaSourceId"] for alert in alerts)
    sources = [alert["diaSource"]["diaSourceId"] for alert in alerts] + [
        p["diaSourceId"] for a in alerts for p in a["prvDiaSources"] or []
    ]
    forced = [p["diaForcedSourceId"] for a in alerts for p in a["prvDiaForcedSources"] or []]
    assert len(set(sources)) == len(sources)
    assert len(set(forced)) == len(forced)
    assert all(0 < value < 2**63 for value in sources + forced)


def test_visits_share_time_pointing_and_band() -> None:
    start, interval = 61000.25, 30.0
    options = {**SMALL, "visit_size": 10, "visit_interval_s": interval, "start_mjd": start}
    rubin = list(generate_alerts("rubin", 30, **options))
    for k in range(3):
        visit = [alert["diaSource"] for alert in rubin[k * 10 : (k + 1) * 10]]
        assert {source["midpointMjdTai"] for source in visit} == {start + k * interval / 86400}
        assert len({source["visit"] for source in visit}) == 1
        assert len({source["band"] for source in visit}) == 1
        assert all(0 <= source["detector"] <= 188 for source in visit)
        assert all(0 <= source["ra"] < 360 and source["dec"] < 32 for source in visit)
        # Within the field of view: any two alerts of a visit within its 3.5 deg diameter.
        spread = max(
            separation_arcsec(a["ra"], a["dec"], b["ra"], b["dec"]) for a in visit for b in visit
        )
        assert spread < 3.6 * 3600
    assert len({alert["diaSource"]["visit"] for alert in rubin}) == 3

    ztf = list(generate_alerts("ztf", 20, **options))
    for k in range(2):
        visit = [alert["candidate"] for alert in ztf[k * 10 : (k + 1) * 10]]
        assert {c["jd"] for c in visit} == {start + k * interval / 86400 + 2400000.5}
        assert len({c["fid"] for c in visit}) == 1
        assert all(c["dec"] > -34 and 0 <= c["rcid"] <= 63 for c in visit)
        spread = max(
            separation_arcsec(a["ra"], a["dec"], b["ra"], b["dec"]) for a in visit for b in visit
        )
        assert spread < 10.5 * 3600


# --------------------------------------------------------------------------- sizes and cutouts


def test_rubin_alerts_are_real_size() -> None:
    schema = rubin_schema().parsed
    sizes = []
    for alert in generate_alerts("rubin", 15, seed=3):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema, alert)
        sizes.append(buffer.tell())
    assert 80_000 <= statistics.median(sizes) <= 200_000


def _hdu(data: bytes) -> fits.PrimaryHDU:
    hdu: fits.PrimaryHDU = fits.open(io.BytesIO(data))[0]
    return hdu


def _check_cutout(data: bytes, ra: float, dec: float, flux_sign: float, size: int) -> None:
    hdu = _hdu(data)
    assert hdu.data.shape == (size, size)
    centre = WCS(hdu.header).pixel_to_world((size - 1) / 2, (size - 1) / 2)
    assert centre.separation(SkyCoord(ra, dec, unit="deg")).arcsec < 0.1
    middle = float(hdu.data[size // 2, size // 2])
    assert np.sign(middle - float(np.median(hdu.data))) == flux_sign


def test_rubin_cutouts_are_fits_centred_on_the_source() -> None:
    for alert in generate_alerts("rubin", 6, sso_fraction=0.5, seed=4):
        source = alert["diaSource"]
        sign = float(np.sign(source["psfFlux"]))
        _check_cutout(alert["cutoutDifference"], source["ra"], source["dec"], sign, 95)
        for name in ("cutoutScience", "cutoutTemplate"):
            header = _hdu(alert[name]).header
            assert (header["CRVAL1"], header["CRVAL2"]) == (source["ra"], source["dec"])
            assert header["FILTER"] == source["band"]
            assert header["MJD-OBS"] == source["midpointMjdTai"]


def test_ztf_cutouts_are_gzipped_fits_named_as_ztf_names_them() -> None:
    for alert in generate_alerts("ztf", 4, sso_fraction=0.5, seed=4):
        candidate = alert["candidate"]
        candid, pid = candidate["candid"], candidate["pid"]
        names = {name: alert[name]["fileName"] for name in ("cutoutScience", "cutoutTemplate")}
        assert names == {
            "cutoutScience": f"candid{candid}_pid{pid}_targ_sci.fits.gz",
            "cutoutTemplate": f"candid{candid}_ref.fits.gz",
        }
        stamps = [alert[name]["stampData"] for name in ("cutoutScience", "cutoutDifference")]
        assert all(10_000 < len(stamp) < 20_000 for stamp in stamps)
        sign = 1.0 if candidate["isdiffpos"] == "t" else -1.0
        difference = gzip.decompress(alert["cutoutDifference"]["stampData"])
        _check_cutout(difference, candidate["ra"], candidate["dec"], sign, 63)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("survey", "count", "options", "message"),
    [
        ("rubin", 10, {"sso_fraction": 1.5}, "sso_fraction must be between 0 and 1, got 1.5"),
        ("rubin", -1, {}, "count must be an integer >= 0, got -1"),
        ("foo", 10, {}, "unknown survey 'foo'; choose 'rubin' or 'ztf'"),
        ("rubin", 10, {"version": "99.0"}, "unknown Rubin schema version '99.0'; known versions"),
        ("ztf", 10, {"version": "3.3"}, "ZTF alerts have one schema; version must be None"),
        ("rubin", 10, {"visit_size": 0}, "visit_size must be an integer between 1 and"),
        ("rubin", 10, {"cutout_pixels": 0}, "cutout_pixels must be an integer between 1 and"),
        ("ztf", 10, {"visit_interval_s": -1.0}, "visit_interval_s must be a finite number"),
        ("ztf", 10, {"history": -3}, "history must be an integer >= 0, got -3"),
    ],
)
def test_bad_arguments_are_refused_with_the_allowed_values(
    survey: Any, count: int, options: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        generate_alerts(survey, count, **options)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        write_alert_file(tmp_path / "never.avro", survey, count, **options)
    assert not (tmp_path / "never.avro").exists()


def test_a_field_left_null_must_be_nullable() -> None:
    def rule(name: str, kind: str) -> Fill:
        return leave_null if name == "withdrawn" else generic_rule(name, kind)

    def schema(withdrawn: Any) -> dict[str, Any]:
        source = {
            "type": "record",
            "name": "source",
            "fields": [{"name": "withdrawn", "type": withdrawn}],
        }
        return {"type": "record", "name": "alert", "fields": [{"name": "source", "type": source}]}

    plan = compile_plan(schema(["null", "double"]), rule)
    assert plan.fields[0].record is not None
    assert plan.fields[0].record.fields[0].fill is leave_null
    with pytest.raises(SchemaError, match=r"source\.withdrawn is to stay null"):
        compile_plan(schema("double"), rule)
