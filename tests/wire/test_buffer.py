"""Reader/Writer: round trips of every type, varint minimality, truncation, limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.wire.buffer import MAX_VARINT, Reader, Writer, varint_size

FIXED = {"u8": 8, "u16": 16, "u32": 32, "u64": 64}
BLOB_LIMIT = 300

# One field: (kind, value). Every kind the Writer can write.
fields = st.one_of(
    *(st.tuples(st.just(k), st.integers(0, (1 << bits) - 1)) for k, bits in FIXED.items()),
    st.tuples(st.just("varint"), st.integers(0, MAX_VARINT)),
    st.tuples(st.just("varint"), st.integers(0, 300)),
    st.tuples(st.just("raw"), st.binary(max_size=40)),
    st.tuples(st.just("blob"), st.binary(max_size=BLOB_LIMIT)),
)


def _write(fields_: list[tuple[str, Any]]) -> bytes:
    writer = Writer()
    for kind, value in fields_:
        getattr(writer, kind)(value)
    return bytes(writer)


def _read(reader: Reader, fields_: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for kind, value in fields_:
        if kind == "raw":
            out.append((kind, reader.raw(len(value))))
        elif kind == "blob":
            out.append((kind, reader.blob(BLOB_LIMIT)))
        else:
            out.append((kind, getattr(reader, kind)()))
    return out


@given(st.lists(fields, max_size=12))
def test_round_trip_every_type(fields_: list[tuple[str, Any]]) -> None:
    data = _write(fields_)
    reader = Reader(data)
    assert _read(reader, fields_) == fields_
    assert reader.remaining == 0
    reader.finish()
    assert len(Writer().raw(data)) == len(data)


@settings(max_examples=80)
@given(st.lists(fields, min_size=1, max_size=6))
def test_truncation_at_every_position_raises_decode_error(fields_: list[tuple[str, Any]]) -> None:
    data = _write(fields_)
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            reader = Reader(data[:cut])
            _read(reader, fields_)
            reader.finish()


@given(st.lists(fields, min_size=1, max_size=6), st.binary(min_size=1, max_size=5))
def test_trailing_bytes_fail_finish(fields_: list[tuple[str, Any]], extra: bytes) -> None:
    reader = Reader(_write(fields_) + extra)
    _read(reader, fields_)
    assert reader.rest() == extra
    reader.finish()
    reader = Reader(_write(fields_) + extra)
    _read(reader, fields_)
    with pytest.raises(DecodeError, match=f"{len(extra)} trailing bytes"):
        reader.finish()


@given(st.integers(0, MAX_VARINT))
def test_varint_size_and_minimality(value: int) -> None:
    encoded = bytes(Writer().varint(value))
    assert len(encoded) == varint_size(value)
    assert all(b & 0x80 for b in encoded[:-1]) and not encoded[-1] & 0x80
    assert Reader(encoded).varint() == value
    if len(encoded) < 9:
        # The same value with a redundant zero group appended is refused.
        padded = encoded[:-1] + bytes([encoded[-1] | 0x80, 0x00])
        with pytest.raises(DecodeError, match="minimally"):
            Reader(padded).varint()


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (16383, "ff7f"),
        (16384, "808001"),
        (MAX_VARINT, "ff" * 8 + "7f"),
    ],
)
def test_varint_known_encodings(value: int, encoded: str) -> None:
    assert bytes(Writer().varint(value)).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).varint() == value


def test_varint_longer_than_nine_bytes_is_refused() -> None:
    with pytest.raises(DecodeError, match="too long"):
        Reader(b"\xff" * 9 + b"\x01").varint()
    with pytest.raises(DecodeError, match="too long"):
        Reader(b"\x80" * 10).varint()


def test_varint_and_blob_limits() -> None:
    assert Reader(bytes(Writer().varint(10))).varint(limit=10) == 10
    with pytest.raises(DecodeError, match="over limit 9"):
        Reader(bytes(Writer().varint(10))).varint(limit=9)
    assert Reader(bytes(Writer().blob(b"abc"))).blob(3) == b"abc"
    with pytest.raises(DecodeError, match="over limit 2"):
        Reader(bytes(Writer().blob(b"abc"))).blob(2)
    # A huge stated length is refused by the limit, not by trying to read it.
    huge = bytes(Writer().varint(MAX_VARINT))
    with pytest.raises(DecodeError, match="over limit"):
        Reader(huge).blob(1 << 20)


def test_writer_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError):
        Writer().varint(-1)
    with pytest.raises(ValueError):
        Writer().varint(MAX_VARINT + 1)
    with pytest.raises(OverflowError):
        Writer().u8(256)
    with pytest.raises(OverflowError):
        Writer().u16(-1)


def test_reader_never_reads_past_the_end_or_backwards() -> None:
    reader = Reader(b"\x01\x02")
    with pytest.raises(DecodeError, match="need 4 bytes, have 2"):
        reader.u32()
    assert reader.remaining == 2  # a failed read consumes nothing
    with pytest.raises(DecodeError):
        reader.raw(-1)
    assert reader.u16() == 0x0102


def test_fixed_ints_are_big_endian() -> None:
    data = bytes(Writer().u8(1).u16(0x0203).u32(0x04050607).u64(0x08090A0B0C0D0E0F))
    assert data == bytes(range(1, 16))
    reader = Reader(memoryview(data))
    assert (reader.u8(), reader.u16(), reader.u32(), reader.u64()) == (
        1,
        0x0203,
        0x04050607,
        0x08090A0B0C0D0E0F,
    )


@given(st.binary(max_size=64), st.lists(st.sampled_from(sorted([*FIXED, "varint", "blob"]))))
def test_arbitrary_bytes_only_ever_raise_decode_error(data: bytes, kinds: list[str]) -> None:
    reader = Reader(data)
    try:
        for kind in kinds:
            if kind == "blob":
                reader.blob(16)
            else:
                getattr(reader, kind)()
    except DecodeError:
        pass
    assert 0 <= reader.remaining <= len(data)
