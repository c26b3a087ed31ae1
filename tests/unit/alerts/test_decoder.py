"""The alert decoder and the Alert view, on the real alerts: ZTF's and lsst-alert-packet's."""

from __future__ import annotations

import io
import math
from pathlib import Path

import fastavro
import pytest
from astropy.io import fits

from skystream.alerts import (
    AlertDecoder,
    read_alert_file,
    rubin_schema,
    rubin_schema_id,
    rubin_versions,
)
from skystream.codecs import avro, wire
from skystream.exceptions import AlertDecodeError, DecodeError

SHARED = Path("/work/shared/data")  # the team's shared real data (see ../shared)
ZTF_ALERTS = sorted((SHARED / "ztf" / "alerts").glob("*.avro"))


def _rubin_sample(version: str) -> Path:
    import lsst.alert.packet

    major, minor = version.split(".")
    root = Path(lsst.alert.packet.__file__).parent / "schema"
    return root / major / minor / "sample_data" / "fakeAlert.avro"


def _only_record(path: Path) -> dict:
    with path.open("rb") as stream:
        (record,) = list(fastavro.reader(stream))
    return record


def test_the_shared_ztf_alerts_are_there() -> None:
    assert len(ZTF_ALERTS) == 2


@pytest.mark.parametrize("path", ZTF_ALERTS, ids=lambda p: p.name)
def test_ztf_alert_fields_match_the_raw_record(path: Path) -> None:
    raw = _only_record(path)
    candidate = raw["candidate"]
    alert = AlertDecoder().decode(path.read_bytes())

    assert alert.survey == "ztf"
    assert alert.schema_version == raw["schemavsn"]
    assert alert.alert_id == raw["candid"] == candidate["candid"]
    assert alert.object_id == raw["objectId"]
    assert (alert.ra, alert.dec) == (candidate["ra"], candidate["dec"])
    assert alert.mjd == pytest.approx(candidate["jd"] - 2400000.5, abs=1e-9)
    assert alert.band == {1: "g", 2: "r", 3: "i"}[candidate["fid"]]
    assert alert.mag == candidate["magpsf"]
    assert alert.mag_err == candidate["sigmapsf"]
    # The flux is the magnitude's, negative for a negative difference.
    assert 31.4 - 2.5 * math.log10(abs(alert.flux)) == pytest.approx(candidate["magpsf"])
    assert (alert.flux > 0) == (candidate["isdiffpos"] in ("t", "1"))
    # Neither real alert is near a known solar-system object ("null", -999).
    assert candidate["ssnamenr"] in (None, "null")
    assert not alert.is_sso
    assert alert.sso_id is None and alert.sso_distance_arcsec is None and alert.sso_mag is None
    assert alert.record == raw


# ZTF's real cutouts write "SIMPLE  =  T" off its column: astropy reads them, with a warning.
@pytest.mark.filterwarnings("ignore:Found a SIMPLE card:astropy.io.fits.verify.VerifyWarning")
@pytest.mark.parametrize("path", ZTF_ALERTS, ids=lambda p: p.name)
def test_ztf_light_curve_and_cutouts(path: Path) -> None:
    raw = _only_record(path)
    alert = AlertDecoder().decode(path.read_bytes())

    history = raw["prv_candidates"] or []
    table = alert.light_curve
    assert len(table) == 1 + len(history) + len(raw.get("fp_hists") or [])
    assert list(table["mjd"]) == sorted(table["mjd"])
    detections = table[table["kind"] == "detection"]
    limits = table[table["kind"] == "upper_limit"]
    assert len(detections) == 1 + sum(1 for p in history if p["candid"] is not None)
    assert len(limits) == sum(1 for p in history if p["candid"] is None)
    assert raw["candid"] in set(detections["source_id"])
    assert alert.history_length == len(detections) - 1

    cutouts = alert.cutouts
    assert set(cutouts) == {"science", "template", "difference"}
    for data in cutouts.values():
        with fits.open(io.BytesIO(data)) as hdus:
            assert hdus[0].data.shape == (63, 63)


@pytest.mark.parametrize("version", rubin_versions())
def test_every_rubin_sample_alert_decodes_in_every_framing(version: str) -> None:
    path = _rubin_sample(version)
    raw = _only_record(path)
    schema = rubin_schema(version)
    payload = avro.encode(raw, schema)
    framings = {
        "container": path.read_bytes(),
        "wire format (Rubin id)": wire.pack(rubin_schema_id(version), payload),
    }
    decoder = AlertDecoder()
    alerts = {name: decoder.decode(data) for name, data in framings.items()}
    alerts["schemaless"] = AlertDecoder(schema=schema).decode(payload)
    alerts["schemaless (version)"] = AlertDecoder(schema=version).decode(payload)

    source = raw["diaSource"]
    major = int(version.split(".")[0])
    for name, alert in alerts.items():
        assert (alert.survey, alert.schema_version) == ("rubin", version), name
        assert alert.alert_id == raw["diaSourceId" if major >= 8 else "alertId"], name
        assert alert.ra == source["ra"], name
        assert alert.dec == source["dec" if major >= 5 else "decl"], name
        assert alert.mjd == source["midpointMjdTai" if major >= 5 else "midPointTai"], name
        assert alert.band == source["band" if major >= 5 else "filterName"], name
        assert alert.flux == pytest.approx(source["psfFlux" if major >= 5 else "psFlux"]), name
        assert alert.is_sso == (source["ssObjectId"] not in (None, 0)), name
        assert alert.record == raw, name


@pytest.mark.parametrize("version", ["3.0", "7.4", "11.1"])
def test_rubin_light_curve_has_every_source(version: str) -> None:
    raw = _only_record(_rubin_sample(version))
    alert = AlertDecoder().decode(_rubin_sample(version).read_bytes())
    table = alert.light_curve
    previous = raw.get("prvDiaSources") or []
    forced = raw.get("prvDiaForcedSources") or []
    assert len(table) == 1 + len(previous) + len(forced)
    assert sorted(table["source_id"][table["kind"] == "detection"]) == sorted(
        [raw["diaSource"]["diaSourceId"], *(p["diaSourceId"] for p in previous)]
    )
    assert alert.history_length == len(previous)


def test_rubin_cutouts_are_the_records_bytes() -> None:
    version = "11.1"
    raw = _only_record(_rubin_sample(version))
    raw["cutoutScience"] = b"SIMPLE  =                    T"
    data = wire.pack(1101, avro.encode(raw, rubin_schema(version)))
    cutouts = AlertDecoder().decode(data).cutouts
    assert cutouts == {"science": raw["cutoutScience"]}


def test_read_alert_file_gives_records_and_their_exact_bytes() -> None:
    path = _rubin_sample("11.1")
    (alert,) = list(read_alert_file(path))
    assert alert.raw == avro.encode(_only_record(path), rubin_schema("11.1"))
    assert alert.fields() == AlertDecoder().decode(path.read_bytes()).fields()


def test_field_reads_agree_with_the_full_decode() -> None:
    data = ZTF_ALERTS[0].read_bytes()
    decoder = AlertDecoder()
    lazy = decoder.decode(data).fields()
    full = decoder.decode(data)
    _ = full.record  # decode everything first: fields then come from the record
    assert full.fields() == lazy


def test_registry_ids_other_than_rubins_need_a_registry() -> None:
    own_schema = AlertDecoder().decode(ZTF_ALERTS[0].read_bytes()).layout.schema
    payload = avro.encode(_only_record(ZTF_ALERTS[0]), own_schema)
    with pytest.raises(AlertDecodeError, match=r"unknown alert schema id 42.*no registry") as info:
        AlertDecoder().decode(wire.pack(42, payload))
    assert info.value.kind == "unknown-schema"


def test_garbage_is_not_an_alert() -> None:
    with pytest.raises(
        AlertDecodeError, match=r"neither an Avro container .* nor the Confluent wire format"
    ) as info:
        AlertDecoder().decode(b"hello, this is not an alert")
    assert info.value.kind == "not-an-alert"


def test_a_truncated_wire_message_fails_when_read() -> None:
    raw = _only_record(_rubin_sample("11.1"))
    data = wire.pack(1101, avro.encode(raw, rubin_schema("11.1")))
    alert = AlertDecoder().decode(data[:20])
    with pytest.raises(DecodeError, match="truncated"):
        _ = alert.ra


def test_a_truncated_container_is_corrupt() -> None:
    data = ZTF_ALERTS[0].read_bytes()
    with pytest.raises(AlertDecodeError, match="cut short") as info:
        AlertDecoder().decode(data[: len(data) // 2])
    assert info.value.kind == "corrupt"


def test_a_container_of_something_else_is_not_an_alert_schema() -> None:
    buffer = io.BytesIO()
    schema = {"type": "record", "name": "Reading", "fields": [{"name": "v", "type": "int"}]}
    fastavro.writer(buffer, schema, [{"v": 1}])
    with pytest.raises(AlertDecodeError, match="'Reading', not a Rubin") as info:
        AlertDecoder().decode(buffer.getvalue())
    assert info.value.kind == "unknown-schema"


def test_a_file_that_is_not_avro(tmp_path: Path) -> None:
    path = tmp_path / "notes.avro"
    path.write_text("observing log, not Avro\n")
    with pytest.raises(AlertDecodeError, match="is not an Avro container file"):
        list(read_alert_file(path))


def test_unknown_field_names_are_listed() -> None:
    alert = AlertDecoder().decode(ZTF_ALERTS[0].read_bytes())
    with pytest.raises(KeyError, match="'redshift' is not an alert field; fields are: alert_id"):
        alert.get("redshift")
