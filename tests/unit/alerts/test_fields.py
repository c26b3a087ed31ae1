"""Partial reads: the fields asked for, the bytes after them untouched."""

from __future__ import annotations

import pytest

from skystream.alerts import FieldReader
from skystream.codecs import avro
from skystream.exceptions import DecodeError, SchemaError
from skystream.schemas.avro import AvroSchema

SCHEMA = AvroSchema.from_definition(
    {
        "type": "record",
        "name": "alert",
        "namespace": "test",
        "fields": [
            {"name": "id", "type": "long"},
            {
                "name": "source",
                "type": {
                    "type": "record",
                    "name": "source",
                    "fields": [
                        {"name": "ra", "type": "double"},
                        {"name": "dec", "type": "double"},
                        {"name": "sso", "type": ["null", "long"], "default": None},
                        {"name": "notes", "type": "string"},
                    ],
                },
            },
            {"name": "history", "type": {"type": "array", "items": "test.source"}},
            {"name": "object", "type": ["null", "test.source"], "default": None},
            {"name": "cutout", "type": "bytes"},
        ],
    }
)
RECORD = {
    "id": 7,
    "source": {"ra": 10.5, "dec": -3.25, "sso": None, "notes": "x"},
    "history": [{"ra": 10.4, "dec": -3.2, "sso": 5, "notes": "y"}],
    "object": {"ra": 1.0, "dec": 2.0, "sso": 9, "notes": "z"},
    "cutout": b"\x00" * 5000,
}
DATA = avro.encode(RECORD, SCHEMA)


def test_reads_only_the_fields_asked_for() -> None:
    reader = FieldReader(SCHEMA, [("id",), ("source", "ra"), ("source", "sso")])
    assert reader.read(DATA) == {("id",): 7, ("source", "ra"): 10.5, ("source", "sso"): None}


def test_stops_before_the_bytes_it_does_not_need() -> None:
    reader = FieldReader(SCHEMA, [("id",), ("source", "dec")])
    # Everything after source.dec may be missing: the reader never gets there.
    cut = DATA[: 1 + 8 + 8]
    assert reader.read(cut) == {("id",): 7, ("source", "dec"): -3.25}


def test_later_fields_and_arrays_are_read_whole() -> None:
    reader = FieldReader(SCHEMA, [("object", "sso"), ("history",)])
    values = reader.read(DATA)
    assert values[("object", "sso")] == 9
    assert values[("history",)] == RECORD["history"]


def test_a_null_record_on_the_way_gives_none() -> None:
    data = avro.encode({**RECORD, "object": None}, SCHEMA)
    assert FieldReader(SCHEMA, [("object", "ra")]).read(data) == {("object", "ra"): None}


def test_select_works_on_a_full_record_too() -> None:
    reader = FieldReader(SCHEMA, [("source", "ra"), ("object", "dec")])
    assert reader.select(RECORD) == reader.read(DATA)


def test_offset_skips_a_header() -> None:
    reader = FieldReader(SCHEMA, [("id",)])
    assert reader.read(b"\x00\x00\x00\x00\x01" + DATA, offset=5) == {("id",): 7}


def test_unknown_fields_are_named_with_the_ones_there_are() -> None:
    with pytest.raises(SchemaError, match="has no field 'decl'; fields: ra, dec, sso, notes"):
        FieldReader(SCHEMA, [("source", "decl")])
    with pytest.raises(SchemaError, match="no field 'alertId'"):
        FieldReader(SCHEMA, [("alertId",)])


def test_truncated_data_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"cannot read fields source\.dec"):
        FieldReader(SCHEMA, [("source", "dec")]).read(DATA[:5])
