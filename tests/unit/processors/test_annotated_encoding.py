"""Annotated alerts: the alert's bytes plus an appended annotations field (= a full encode)."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pytest

from skystream.alerts import Alert, AlertDecoder, rubin_schema, rubin_schema_id
from skystream.alerts.generate import generate_alerts
from skystream.codecs import wire
from skystream.config import KafkaSettings, RegistrySettings
from skystream.exceptions import ConfigurationError, EncodeError
from skystream.pipeline.processor import annotation_field_name, annotation_schema_of
from skystream.pipeline.spec import BuildContext, build_steps, load_spec
from skystream.processors.catalogue import Catalogue
from skystream.processors.crossmatch import CrossmatchProcessor
from skystream.processors.sinks.annotated import (
    ANNOTATIONS_FIELD,
    OTHER_FIELD,
    AnnotatedAlertEncoder,
    alert_annotations,
    extend_schema,
    record_body,
    split_schema,
)
from skystream.processors.sinks.kafka import KafkaStreamWriter
from skystream.schemas.avro import AvroSchema

VERSION = "11.1"
COUNT = 12
ZTF_ALERTS = Path("/work/shared/data/ztf/alerts")
MATCH_TYPE: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "record",
        "name": "Match",
        "namespace": "test.xm",
        "fields": [{"name": "source_id", "type": "long"}, {"name": "distance", "type": "double"}],
    },
}


def _encode(schema: Any, record: Any) -> bytes:
    stream = io.BytesIO()
    fastavro.schemaless_writer(stream, schema, record)
    return stream.getvalue()


def _decode(data: bytes, writer: Any, reader: Any = None) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), writer, reader)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return list(generate_alerts("rubin", COUNT, seed=3, history=2, cutout_pixels=8))


@pytest.fixture(scope="module")
def wire_alerts(records: list[dict[str, Any]]) -> list[Alert]:
    """The records as Rubin sends them: wire format, schema id 1101."""
    parsed = rubin_schema(VERSION).parsed
    decoder = AlertDecoder()
    return [
        decoder.decode(wire.pack(rubin_schema_id(VERSION), _encode(parsed, r))) for r in records
    ]


def test_appended_annotations_equal_fastavro_full_encode(
    records: list[dict[str, Any]], wire_alerts: list[Alert]
) -> None:
    encoder = AnnotatedAlertEncoder({"xm-step": MATCH_TYPE})
    annotated = encoder.schema_for(wire_alerts[0].layout)
    assert annotated.schema.name == "lsst.v11_1.alert"
    assert [f["name"] for f in annotated.record["fields"]] == ["xm_step", OTHER_FIELD]
    extended = annotated.schema.parsed
    notes: list[dict[str, Any] | None] = [
        {"xm-step": [{"source_id": 7, "distance": 0.5}, {"source_id": 8, "distance": 1.5}]},
        {"xm-step": [{"source_id": 9, "distance": 1.0}], "flag": {"a": [1, 2]}},
        {"flag": True},
        None,
    ]
    for alert, record, note in zip(wire_alerts, records, notes, strict=False):
        body = annotated.body(alert, note)
        expected_value = None
        if note is not None:
            expected_value = {
                "xm_step": note.get("xm-step"),
                OTHER_FIELD: {"flag": "true"}
                if note.get("flag") is True
                else ({"flag": '{"a":[1,2]}'} if "flag" in note else None),
            }
        full = _encode(extended, {**record, ANNOTATIONS_FIELD: expected_value})
        assert body == full
        # Consumers with the survey's schema read the original alert (resolution).
        assert _decode(body, extended, rubin_schema(VERSION).parsed) == record
        assert _decode(body, extended)[ANNOTATIONS_FIELD] == expected_value


def test_annotated_alert_is_still_a_rubin_alert_with_readable_annotations(
    wire_alerts: list[Alert],
) -> None:
    encoder = AnnotatedAlertEncoder({"xm": MATCH_TYPE})
    annotated = encoder.schema_for(wire_alerts[0].layout)
    source = wire_alerts[1]
    note = {"xm": [{"source_id": 3, "distance": 0.25}], "score": 0.5}
    decoder = AlertDecoder(schema=annotated.schema)
    alert = decoder.decode(annotated.body(source, note))
    assert (alert.survey, alert.schema_version) == ("rubin", VERSION)
    assert alert.alert_id == source.alert_id
    assert (alert.ra, alert.dec) == (source.ra, source.dec)
    assert alert.record[ANNOTATIONS_FIELD]["xm"] == note["xm"]
    assert alert_annotations(alert) == note
    assert alert_annotations(decoder.decode(annotated.body(source, None))) is None
    assert alert_annotations(source) is None  # not annotated at all


def test_annotated_input_keeps_its_annotations_and_gains_ours(
    records: list[dict[str, Any]], wire_alerts: list[Alert]
) -> None:
    first = AnnotatedAlertEncoder({"xm": MATCH_TYPE}).schema_for(wire_alerts[0].layout)
    once = AlertDecoder(schema=first.schema).decode(
        first.body(wire_alerts[2], {"xm": [{"source_id": 1, "distance": 0.1}], "a": 1})
    )
    second_encoder = AnnotatedAlertEncoder(
        {"class": {"type": "enum", "name": "test.C", "symbols": ["SN", "AGN"]}}
    )
    second = second_encoder.schema_for(once.layout)
    assert second.base.canonical == rubin_schema(VERSION).canonical
    assert [f["name"] for f in second.record["fields"]] == ["xm", OTHER_FIELD, "class"]
    twice = second.body(once, {"class": "SN", "b": [2]})
    value = _decode(twice, second.schema.parsed)
    assert {k: v for k, v in value.items() if k != ANNOTATIONS_FIELD} == records[2]
    assert value[ANNOTATIONS_FIELD] == {
        "xm": [{"source_id": 1, "distance": 0.1}],
        OTHER_FIELD: {"a": "1", "b": "[2]"},
        "class": "SN",
    }
    # Again, with nothing new: the input's annotations are kept as they were.
    kept = _decode(second.body(once, None), second.schema.parsed)[ANNOTATIONS_FIELD]
    assert kept == {
        "xm": [{"source_id": 1, "distance": 0.1}],
        OTHER_FIELD: {"a": "1"},
        "class": None,
    }
    # A chain declaring the same step with another type refuses, clearly.
    clash = AnnotatedAlertEncoder({"xm": "double"})
    with pytest.raises(EncodeError, match="rename the step"):
        clash.schema_for(once.layout)


def test_ztf_container_alerts_are_sliced_not_reencoded() -> None:
    decoder = AlertDecoder()
    paths = sorted(ZTF_ALERTS.glob("*.avro"))
    assert paths
    for path in paths:
        raw = path.read_bytes()
        alert = decoder.decode(raw)
        body = record_body(alert)
        assert raw.find(body) == alert.record_offset  # a slice of the message itself
        with path.open("rb") as stream:
            (record,) = list(fastavro.reader(stream))
        assert _decode(body, alert.layout.schema.parsed) == record
        annotated = AnnotatedAlertEncoder({}).schema_for(alert.layout)
        out = annotated.body(alert, {"note": "x"})
        assert _decode(out, annotated.schema.parsed) == {
            **record,
            ANNOTATIONS_FIELD: {OTHER_FIELD: {"note": '"x"'}},
        }
        again = AlertDecoder(schema=annotated.schema).decode(out)
        assert (again.survey, again.alert_id) == ("ztf", alert.alert_id)


def test_alert_from_a_record_is_encoded(
    records: list[dict[str, Any]], wire_alerts: list[Alert]
) -> None:
    alert = Alert.from_record(records[0], wire_alerts[0].layout)
    assert record_body(alert) == record_body(wire_alerts[0])


def test_bad_annotations_and_schemas_are_refused(wire_alerts: list[Alert]) -> None:
    annotated = AnnotatedAlertEncoder({"xm": MATCH_TYPE}).schema_for(wire_alerts[0].layout)
    with pytest.raises(EncodeError, match="declared Avro types"):
        annotated.body(wire_alerts[0], {"xm": [{"source_id": "not a long", "distance": 1.0}]})
    with pytest.raises(EncodeError, match="declared Avro types"):
        annotated.body(wire_alerts[0], {"xm": [{"source_id": 1, "distance": 1.0, "extra": 2}]})
    # A schema with someone else's "annotations" field.
    foreign = copy.deepcopy(rubin_schema(VERSION).definition)
    foreign["fields"].append(
        {"name": ANNOTATIONS_FIELD, "type": ["null", "string"], "default": None}
    )
    with pytest.raises(EncodeError, match="not skystream's"):
        split_schema(AvroSchema.from_definition(foreign))
    with pytest.raises(EncodeError, match="already has a field"):
        extend_schema(AvroSchema.from_definition(foreign), AnnotatedAlertEncoder({}).record)
    with pytest.raises(ConfigurationError, match="rename one of them"):
        AnnotatedAlertEncoder({"a-b": "long", "a_b": "long"})
    with pytest.raises(ConfigurationError, match="not valid Avro"):
        AnnotatedAlertEncoder({"bad": "no-such-type"})


def test_field_names_of_steps() -> None:
    assert annotation_field_name("nearby-galaxies") == "nearby_galaxies"
    assert annotation_field_name("2mass") == "_2mass"
    assert annotation_field_name("ok_name") == "ok_name"


def _catalogue(ids: Any, **columns: Any) -> Catalogue:
    size = len(ids)
    return Catalogue.from_arrays(
        ids, np.linspace(10, 11, size), np.zeros(size), columns, name="cat"
    )


def test_crossmatch_declares_its_matches_with_the_catalogue_types() -> None:
    catalogue = _catalogue(
        np.array([1, 2, 3], dtype=np.int64),
        mag=np.array([1.0, np.nan, 2.0]),
        name=np.array(["a", None, "c"], dtype=object),
        flag=np.array([True, False, True]),
    )
    step = CrossmatchProcessor(
        "near-by", catalogue=catalogue, radius_arcsec=1.0, columns=["mag", "name", "flag"]
    )
    declared = annotation_schema_of(step)
    assert declared["type"] == "array"
    items = declared["items"]
    assert items["namespace"] == "skystream.crossmatch.near_by"
    types = {f["name"]: f["type"] for f in items["fields"]}
    assert types == {
        "alert_id": "long",
        "ra": "double",
        "dec": "double",
        "catalogue": "string",
        "source_id": "long",
        "source_ra": "double",
        "source_dec": "double",
        "distance_arcsec": "double",
        "mag": "double",
        "name": ["null", "string"],
        "flag": "boolean",
    }
    text_ids = CrossmatchProcessor(
        "t", catalogue=_catalogue(np.array(["x", "y"])), radius_arcsec=1.0
    )
    assert {f["name"]: f["type"] for f in text_ids.annotation_schema["items"]["fields"]}[
        "source_id"
    ] == "string"


def test_crossmatch_refuses_columns_avro_cannot_hold() -> None:
    dates = _catalogue(
        np.arange(2), when=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")
    )
    step = CrossmatchProcessor("xm", catalogue=dates, radius_arcsec=1.0, columns=["when"])
    with pytest.raises(ConfigurationError, match="no Avro type"):
        annotation_schema_of(step)
    dashed = _catalogue(np.arange(2), **{"b-v": np.array([0.1, 0.2])})
    step = CrossmatchProcessor("xm", catalogue=dashed, radius_arcsec=1.0, columns=["b-v"])
    with pytest.raises(ConfigurationError, match="not a valid Avro field name"):
        annotation_schema_of(step)
    # The writer says so when it is built, and how to do without Avro.
    with pytest.raises(ConfigurationError, match="annotations: header"):
        KafkaStreamWriter("127.0.0.1:9", "t", registry="http://127.0.0.1:9", processors=[step])
    assert KafkaStreamWriter("127.0.0.1:9", "t", processors=[step]).output == "header"


def test_writer_output_follows_the_chain_and_the_registry() -> None:
    catalogue = _catalogue(np.arange(3))
    xm = CrossmatchProcessor("xm", catalogue=catalogue, radius_arcsec=1.0)
    url = "http://127.0.0.1:9"  # never contacted: writers connect at first use
    assert KafkaStreamWriter("127.0.0.1:9", "t").output == "header"
    assert KafkaStreamWriter("127.0.0.1:9", "t", processors=[xm]).output == "header"
    assert KafkaStreamWriter("127.0.0.1:9", "t", registry=url).output == "header"  # filters only
    assert KafkaStreamWriter("127.0.0.1:9", "t", registry=url, processors=[xm]).output == "avro"
    assert KafkaStreamWriter("127.0.0.1:9", "t", registry=url, annotations="avro").output == "avro"
    header = KafkaStreamWriter(
        "127.0.0.1:9", "t", registry=url, processors=[xm], annotations="header"
    )
    assert header.output == "header"
    with pytest.raises(ConfigurationError, match="needs a schema registry"):
        KafkaStreamWriter("127.0.0.1:9", "t", annotations="avro")
    with pytest.raises(ConfigurationError, match="needs a schema registry"):
        KafkaStreamWriter("127.0.0.1:9", "t", registry=RegistrySettings(), annotations="avro")


def test_spec_sinks_get_the_chain_from_the_build_context(tmp_path: Path) -> None:
    (tmp_path / "cat.csv").write_text("id,ra,dec,mag\n1,10.0,0.0,15.5\n2,20.0,1.0,16.0\n")
    spec = load_spec(
        """\
component:
  name: annotate
  params: {input_topic: alerts}
  processors:
    - name: nearby-stars
      class: CrossmatchProcessor
      params: {catalogue: cat.csv, radius_arcsec: 1.0, columns: [mag]}
    - name: out
      class: KafkaStreamWriter
      params: {topic: annotated}
"""
    )
    context = BuildContext(
        component="annotate",
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        registry=RegistrySettings(url="http://127.0.0.1:9"),  # never contacted
        spec_dir=tmp_path,
    )
    processors, sinks = build_steps(spec, context)
    assert [p.name for p in processors] == ["nearby-stars"]
    (writer,) = sinks
    assert isinstance(writer, KafkaStreamWriter)
    try:
        assert writer.output == "avro"
        assert writer.subject == "annotated-value"
        assert writer._encoder is not None
        assert writer._encoder.fields == {"nearby-stars": "nearby_stars"}
    finally:
        writer.close()
