"""Session frames: hypothesis round trips for every frame, and hostile bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.session.frames import (
    MAX_CLOSE_TEXT,
    MAX_OFFSET,
    MAX_PATH_ROOM,
    MAX_REKEY_FRAGMENTS,
    Ack,
    Close,
    CloseReason,
    Datagram,
    Frame,
    FrameType,
    MaxData,
    MaxStreamData,
    MaxStreams,
    PathRoom,
    Ping,
    Rekey,
    ResetStream,
    StopSending,
    Stream,
    decode_frames,
    encode_frame,
    stream_header_size,
)
from meshnet.wire.buffer import Reader, Writer

varints = st.integers(0, MAX_OFFSET)
u32 = st.integers(0, 2**32 - 1)


@st.composite
def acks(draw: st.DrawFn) -> Ack:
    """Valid ACK ranges: descending, disjoint, at least one missing number between."""
    high = draw(st.integers(0, 2**40))
    ranges = []
    for _ in range(draw(st.integers(1, 20))):
        length = draw(st.integers(0, min(high, 50)))
        low = high - length
        ranges.append((low, high))
        gap = draw(st.integers(0, 50))
        high = low - gap - 2
        if high < 0:
            break
    return Ack(tuple(ranges), draw(st.integers(0, 10**7)))


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    data = draw(st.binary(max_size=2000))
    offset = draw(st.integers(0, MAX_OFFSET - len(data)))
    service = draw(st.integers(0, 2**32)) if offset == 0 and draw(st.booleans()) else None
    return Stream(draw(varints), offset, data, draw(st.booleans()), service)


@st.composite
def rekeys(draw: st.DrawFn) -> Rekey:
    count = draw(st.integers(1, MAX_REKEY_FRAGMENTS))
    return Rekey(
        draw(st.sampled_from([1, 2])),
        draw(u32),
        draw(u32),
        draw(st.integers(0, count - 1)),
        count,
        draw(st.binary(max_size=500)),
    )


FRAMES: st.SearchStrategy[Frame] = st.one_of(
    st.just(Ping()),
    acks(),
    streams(),
    st.builds(Datagram, st.binary(max_size=2000)),
    st.builds(MaxData, varints),
    st.builds(MaxStreamData, varints, varints),
    st.builds(MaxStreams, varints),
    st.builds(ResetStream, varints, st.integers(0, 2**62), varints),
    st.builds(StopSending, varints, st.integers(0, 2**62)),
    st.builds(Close, st.sampled_from(CloseReason), st.text(max_size=50)),
    rekeys(),
    st.builds(PathRoom, st.integers(0, MAX_PATH_ROOM)),
)


def _encode(frames: list[Frame]) -> bytes:
    writer = Writer()
    for frame in frames:
        encode_frame(frame, writer)
    return bytes(writer)


@given(FRAMES)
def test_every_frame_round_trips(frame: Frame) -> None:
    assert decode_frames(Reader(_encode([frame]))) == [frame]


@settings(max_examples=50)
@given(st.lists(FRAMES, min_size=1, max_size=8))
def test_several_frames_per_packet(frames: list[Frame]) -> None:
    assert decode_frames(Reader(_encode(frames))) == frames


@given(streams())
def test_stream_header_size_is_exact(frame: Stream) -> None:
    encoded = _encode([frame])
    size = stream_header_size(frame.stream_id, frame.offset, len(frame.data), frame.service)
    assert len(encoded) == size + len(frame.data)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        frames = decode_frames(Reader(data))
    except DecodeError:
        return
    assert frames
    assert all(isinstance(f, Frame) for f in frames)


@settings(max_examples=100)
@given(FRAMES, st.data())
def test_every_strict_prefix_of_a_frame_is_refused(frame: Frame, data: st.DataObject) -> None:
    encoded = _encode([frame])
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        decode_frames(Reader(encoded[:cut]))


@pytest.mark.parametrize(
    "data",
    [
        bytes([0x00]),  # not a session frame
        bytes([FrameType.STREAM, 0x04, 0, 0, 0]),  # unknown STREAM flag
        bytes([FrameType.STREAM, 0x02, 0, 5, 1, 0]),  # service at a nonzero offset
        bytes([FrameType.ACK, 1, 0, 0, 2]),  # first range below packet number 0
        bytes([FrameType.ACK, 3, 0, 1, 0, 5, 0]),  # a later range below 0
        bytes([FrameType.REKEY, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]),  # step 3
        bytes([FrameType.REKEY, 1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 2, 0]),  # fragment 2 of 2
        bytes([FrameType.REKEY, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 17, 0]),  # too many
        bytes([FrameType.CLOSE, 0, MAX_CLOSE_TEXT + 1]) + b"x" * (MAX_CLOSE_TEXT + 1),
        bytes([FrameType.DATAGRAM, 0x80, 0x80, 0x08]) + b"x" * 10,  # over the size limit
        bytes([FrameType.MAX_DATA]) + b"\xff" * 9 + b"\x7f",  # varint too long
    ],
)
def test_hostile_frames(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_frames(Reader(data))


def test_close_text_is_cut_to_its_limit() -> None:
    frame = Close(CloseReason.NORMAL, "é" * MAX_CLOSE_TEXT)
    (decoded,) = decode_frames(Reader(_encode([frame])))
    assert decoded == Close(CloseReason.NORMAL, "é" * (MAX_CLOSE_TEXT // 2))


def test_a_path_room_over_the_limit_is_refused() -> None:
    data = bytes(Writer().u8(FrameType.PATH_ROOM).varint(MAX_PATH_ROOM + 1))
    with pytest.raises(DecodeError):
        decode_frames(Reader(data))
