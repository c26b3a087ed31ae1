import gzip
import io

import msgpack
import msgpack_numpy
import numpy as np
import pytest

from skystream.codecs import describe_bytes, encode


def test_empty() -> None:
    assert describe_bytes(b"") == "0 bytes (empty)"


def test_short_payload_is_shown_whole_with_size() -> None:
    assert describe_bytes(b"hello") == "5 bytes b'hello' (looks like ASCII text)"


def test_single_byte_is_singular() -> None:
    assert describe_bytes(b"\x05").startswith("1 byte b'\\x05'")


def test_long_payload_is_previewed() -> None:
    description = describe_bytes(b"x" * 100)
    assert description.startswith("100 bytes starting b'xxxxxxxxxxxxxxxx'")
    assert "ASCII text" in description


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(3))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "guess"),
    [
        (encode(np.arange(3), "npy"), "npy"),
        (b"Obj\x01\x04\x14avro.codec", "an Avro object container file"),
        (b"\x00\x00\x00\x01\x2a\x02\x06abc", "Confluent wire format, schema id 298"),
        (gzip.compress(b"hello", mtime=0), "gzip"),  # fixed bytes: the same test id everywhere
        (b'{"a": [1, 2]}', "JSON object"),
        (b"[1, 2, 3]", "JSON array"),
        (b"42", "JSON number"),
        ("ünïcode text".encode(), "UTF-8 text"),
        (msgpack.packb({"a": 1}), "msgpack (a map)"),
        (msgpack.packb([1, 2, b"\x00"]), "msgpack (an array)"),
        (msgpack_numpy.packb(np.arange(3)), "msgpack_numpy"),
        (_npz(), "a zip archive (npz?)"),
        (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "a Python pickle"),
        (b"\x89HDF\r\n\x1a\n\x00\x00", "HDF5"),
    ],
)
def test_recognises_formats(payload: bytes, guess: str) -> None:
    assert f"looks like {guess}" in describe_bytes(payload)


def test_xarray_envelope_is_recognised() -> None:
    pytest.importorskip("xarray")
    import xarray as xr

    payload = encode(xr.Dataset({"a": ("x", [1, 2])}), "xarray")
    assert "skystream's xarray encoding" in describe_bytes(payload)


def test_unrecognised_binary() -> None:
    assert describe_bytes(b"\xc1\xff\xfe").endswith("(format not recognised)")


def test_accepts_bytearray_and_memoryview() -> None:
    assert describe_bytes(bytearray(b"abc")) == describe_bytes(b"abc")  # type: ignore[arg-type]
    assert describe_bytes(memoryview(b"abc")) == describe_bytes(b"abc")  # type: ignore[arg-type]
