"""encode_frame/StreamDeframer: any chunking reassembles exactly; bad lengths fail at once."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.wire.framing import MAX_FRAME_SIZE, StreamDeframer, encode_frame

payloads = st.lists(st.binary(max_size=300), max_size=12)


def _chunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def test_encode_frame_prefixes_a_big_endian_length() -> None:
    assert encode_frame(b"") == b"\x00\x00\x00\x00"
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(bytes(258))[:4] == b"\x00\x00\x01\x02"


def test_encode_frame_refuses_what_four_bytes_cannot_state() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return MAX_FRAME_SIZE + 1

    with pytest.raises(ValueError, match="too long"):
        encode_frame(Huge())


@given(payloads, st.lists(st.integers(min_value=0), max_size=40))
def test_any_chunking_reassembles_the_frames_exactly(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in frames)
    deframer = StreamDeframer(max_frame=300)
    out: list[bytes] = []
    for chunk in _chunk(stream, cuts):
        out.extend(deframer.feed(chunk))
    assert out == frames
    assert deframer.buffered == 0


@settings(max_examples=50)
@given(payloads)
def test_byte_at_a_time(frames: list[bytes]) -> None:
    stream = b"".join(encode_frame(p) for p in frames)
    deframer = StreamDeframer(max_frame=300)
    out = [f for i in range(len(stream)) for f in deframer.feed(stream[i : i + 1])]
    assert out == frames


@given(payloads, st.binary(min_size=1, max_size=20))
def test_incomplete_tail_is_held_not_emitted(frames: list[bytes], tail_payload: bytes) -> None:
    tail = encode_frame(tail_payload)[:-1]
    deframer = StreamDeframer(max_frame=300)
    assert deframer.feed(b"".join(encode_frame(p) for p in frames) + tail) == frames
    assert deframer.buffered == len(tail)
    assert deframer.feed(encode_frame(tail_payload)[-1:]) == [tail_payload]


def test_input_types_bytearray_and_memoryview() -> None:
    deframer = StreamDeframer(max_frame=10)
    stream = encode_frame(b"hi") + encode_frame(b"there")
    assert deframer.feed(bytearray(stream[:3])) == []
    assert deframer.feed(memoryview(stream)[3:]) == [b"hi", b"there"]
    assert all(type(f) is bytes for f in deframer.feed(encode_frame(b"x")))


@pytest.mark.parametrize("prefix", [b"\xff\xff\xff\xff", b"\x00\x00\x01\x01"])
def test_oversized_length_fails_as_soon_as_the_header_is_complete(prefix: bytes) -> None:
    deframer = StreamDeframer(max_frame=256)
    assert deframer.feed(prefix[:3]) == []
    with pytest.raises(DecodeError, match="over the limit of 256"):
        deframer.feed(prefix[3:])
    assert deframer.buffered == 0


def test_oversized_length_after_good_frames_in_one_chunk() -> None:
    deframer = StreamDeframer(max_frame=4)
    with pytest.raises(DecodeError):
        deframer.feed(encode_frame(b"ok") + b"\x00\x00\x00\x05" + b"x" * 5)


def test_a_failed_stream_stays_failed() -> None:
    deframer = StreamDeframer(max_frame=1)
    with pytest.raises(DecodeError):
        deframer.feed(encode_frame(b"too long"))
    with pytest.raises(DecodeError, match="already failed"):
        deframer.feed(encode_frame(b"x"))


def test_frame_of_exactly_max_frame_is_accepted() -> None:
    deframer = StreamDeframer(max_frame=5)
    assert deframer.feed(encode_frame(b"12345")) == [b"12345"]
    assert deframer.feed(encode_frame(b"")) == [b""]


def test_max_frame_bounds() -> None:
    assert StreamDeframer(MAX_FRAME_SIZE).max_frame == MAX_FRAME_SIZE
    with pytest.raises(ValueError):
        StreamDeframer(-1)
    with pytest.raises(ValueError):
        StreamDeframer(MAX_FRAME_SIZE + 1)


def test_large_frames_in_small_chunks_keep_memory_bounded() -> None:
    payload = bytes(range(256)) * 256  # 64 KiB
    stream = encode_frame(payload) * 3
    deframer = StreamDeframer(max_frame=len(payload))
    out: list[bytes] = []
    for i in range(0, len(stream), 1000):
        out.extend(deframer.feed(stream[i : i + 1000]))
        assert deframer.buffered <= len(payload) + 4
    assert out == [payload] * 3


@given(st.lists(st.binary(max_size=64), max_size=10), st.integers(0, 100))
def test_arbitrary_stream_bytes_give_frames_or_decode_error(
    chunks: list[bytes], max_frame: int
) -> None:
    deframer = StreamDeframer(max_frame=max_frame)
    frames: list[bytes] = []
    try:
        for chunk in chunks:
            frames.extend(deframer.feed(chunk))
    except DecodeError:
        return
    consumed = sum(4 + len(f) for f in frames)
    assert consumed + deframer.buffered == sum(len(c) for c in chunks)
    assert all(len(f) <= max_frame for f in frames)
    assert deframer.buffered <= max_frame + 4
