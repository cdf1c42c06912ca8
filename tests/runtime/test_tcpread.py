"""FrameReader over a shared ReadBuffer: frames cut in place from any chunking, views
valid while the read is handled, bad lengths refused before anything is buffered."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.runtime.tcpread import ReadBuffer
from meshnet.wire.framing import FrameReader, encode_frame

payloads = st.lists(st.binary(max_size=300), max_size=12)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def read_all(reader: FrameReader, buffer: ReadBuffer, chunks: list[bytes]) -> list[bytes]:
    """What a connection does: each chunk lands in the shared buffer, is cut, and the
    frames are used at once; the buffer is then scribbled over by "another" read."""
    out: list[bytes] = []
    for chunk in chunks:
        buffer.view[: len(chunk)] = chunk
        out.extend(bytes(frame) for frame in reader.cut(buffer.view[: len(chunk)]))
        buffer.view[:] = b"\xee" * len(buffer.view)
    return out


@given(payloads, st.lists(st.integers(min_value=0), max_size=40))
def test_any_chunking_gives_the_frames_exactly(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in frames)
    reader = FrameReader(max_frame=300)
    assert read_all(reader, ReadBuffer(4096), _chunks(stream, cuts)) == frames
    assert reader.buffered == 0


@settings(max_examples=50)
@given(payloads)
def test_byte_at_a_time(frames: list[bytes]) -> None:
    stream = b"".join(encode_frame(p) for p in frames)
    reader = FrameReader(max_frame=300)
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert read_all(reader, ReadBuffer(16), chunks) == frames


def test_whole_frames_are_views_of_the_read_and_a_completed_one_owns_its_bytes() -> None:
    buffer = ReadBuffer(64)
    reader = FrameReader(max_frame=32)
    stream = encode_frame(b"first") + encode_frame(b"second")
    buffer.view[: len(stream) - 2] = stream[:-2]
    (first,) = reader.cut(buffer.view[: len(stream) - 2])
    assert first.obj is buffer.view.obj  # type: ignore[union-attr]  # no copy
    assert bytes(first) == b"first" and reader.buffered == 4 + 4
    buffer.view[:2] = stream[-2:]
    (second,) = reader.cut(buffer.view[:2])
    buffer.view[:] = bytes(64)  # the next read: the completed frame is not in the buffer
    assert bytes(second) == b"second" and reader.buffered == 0


@pytest.mark.parametrize("prefix", [b"\xff\xff\xff\xff", b"\x00\x00\x01\x01"])
def test_oversized_length_fails_as_soon_as_the_header_is_complete(prefix: bytes) -> None:
    buffer = ReadBuffer(16)
    reader = FrameReader(max_frame=256)
    buffer.view[:3] = prefix[:3]
    assert reader.cut(buffer.view[:3]) == []
    buffer.view[:1] = prefix[3:]
    with pytest.raises(DecodeError, match="over the limit of 256"):
        reader.cut(buffer.view[:1])
    assert reader.buffered == 0
    with pytest.raises(DecodeError, match="already failed"):
        reader.cut(memoryview(encode_frame(b"x")))


def test_oversized_length_after_good_frames_in_one_read() -> None:
    reader = FrameReader(max_frame=4)
    with pytest.raises(DecodeError):
        reader.cut(memoryview(encode_frame(b"ok") + b"\x00\x00\x00\x05" + b"x" * 5))
    assert reader.buffered == 0


def test_a_frame_larger_than_the_read_buffer_is_held_until_whole() -> None:
    big = bytes(range(256)) * 40
    stream = encode_frame(big)
    reader = FrameReader(max_frame=len(big))
    assert read_all(
        reader, ReadBuffer(1000), _chunks(stream, list(range(0, len(stream), 999)))
    ) == [big]


def test_limits_of_the_constructors() -> None:
    with pytest.raises(ValueError):
        FrameReader(max_frame=-1)
    with pytest.raises(ValueError):
        ReadBuffer(3)
    assert FrameReader(max_frame=5).cut(memoryview(encode_frame(b"12345")))[0] == b"12345"


@settings(max_examples=60)
@given(
    st.lists(st.binary(max_size=3000), max_size=10),
    st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=2000),
)
def test_reading_the_rest_of_a_frame_straight_into_its_buffer(
    frames: list[bytes], sizes: list[int], minimum: int
) -> None:
    """What the TCP carrier does: a large frame's missing part is read into ``space``."""
    stream = memoryview(b"".join(encode_frame(p) for p in frames))
    reader, buffer = FrameReader(max_frame=3000), ReadBuffer(4096)
    out: list[bytes] = []
    pos, turn = 0, 0
    while pos < len(stream):
        size = sizes[turn % len(sizes)]
        turn += 1
        space = reader.space(minimum)
        if space is not None:
            assert len(space) >= minimum
            n = min(size, len(space), len(stream) - pos)
            space[:n] = stream[pos : pos + n]
            got = reader.filled(n)
        else:
            n = min(size, len(buffer.view), len(stream) - pos)
            buffer.view[:n] = stream[pos : pos + n]
            got = reader.cut(buffer.view[:n])
        out.extend(bytes(frame) for frame in got)
        buffer.view[:] = b"\xee" * len(buffer.view)  # the next read scribbles over it
        pos += n
    assert out == frames and reader.buffered == 0
