"""Fragmentation for datagram transports: exact reassembly, bounded memory, clean errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.link.fragment import MAX_FRAGMENTS, Reassembler, split_frame
from meshnet.link.messages import FRAGMENT_HEADER, FrameType


@given(
    st.binary(min_size=0, max_size=20_000),
    st.integers(300, 1500),
    st.randoms(use_true_random=False),
)
@settings(max_examples=200)
def test_split_and_reassemble_in_any_order(frame: bytes, mtu: int, rnd: object) -> None:
    pieces = split_frame(frame, mtu=mtu, frame_id=7)
    assert all(len(p) <= mtu for p in pieces)
    if len(pieces) == 1:
        assert pieces[0] == frame
        return
    order = list(pieces)
    rnd.shuffle(order)  # type: ignore[attr-defined]
    r = Reassembler(max_frame=32_000)
    results = [r.receive(p, now=0.0) for p in order]
    assert results[:-1] == [None] * (len(order) - 1)
    assert results[-1] == frame
    assert r.pending == 0


def test_whole_frame_passes_through() -> None:
    assert split_frame(b"abc", mtu=1200, frame_id=1) == [b"abc"]


def test_too_many_fragments_is_a_local_error() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        split_frame(bytes(300 * MAX_FRAGMENTS), mtu=300, frame_id=1)


def test_duplicates_are_counted_not_doubled() -> None:
    pieces = split_frame(bytes(range(256)) * 10, mtu=500, frame_id=1)
    r = Reassembler(max_frame=10_000)
    assert r.receive(pieces[0], 0.0) is None
    assert r.receive(pieces[0], 0.0) is None
    for p in pieces[1:-1]:
        assert r.receive(p, 0.0) is None
    assert r.receive(pieces[-1], 0.0) == bytes(range(256)) * 10
    assert r.drops == {"duplicate_fragment": 1}


def test_pending_frames_are_bounded_and_oldest_evicted() -> None:
    r = Reassembler(max_frame=10_000, max_pending=4)
    for fid in range(10):
        first = split_frame(bytes(2000), mtu=500, frame_id=fid)[0]
        assert r.receive(first, now=float(fid) * 0.01) is None
    assert r.pending == 4
    assert r.drops["reassembly_full"] == 6


def test_incomplete_frames_time_out() -> None:
    r = Reassembler(max_frame=10_000, timeout=5.0)
    r.receive(split_frame(bytes(2000), mtu=500, frame_id=1)[0], now=0.0)
    assert r.next_deadline() == 5.0
    r.expire(4.9)
    assert r.pending == 1
    r.expire(5.0)
    assert r.pending == 0
    assert r.next_deadline() is None
    assert r.drops == {"reassembly_timeout": 1}


def test_oversized_reassembly_is_refused() -> None:
    r = Reassembler(max_frame=1000)
    pieces = split_frame(bytes(3000), mtu=500, frame_id=1)
    with pytest.raises(DecodeError, match="over 1000"):
        for p in pieces:
            r.receive(p, 0.0)
    assert r.pending == 0


@pytest.mark.parametrize(
    "data",
    [
        b"\x05",
        FRAGMENT_HEADER.pack(FrameType.FRAGMENT, 1, 0, 1) + b"x",  # count 1 is never split
        FRAGMENT_HEADER.pack(FrameType.FRAGMENT, 1, 5, 3) + b"x",  # index past the count
    ],
)
def test_malformed_fragments(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Reassembler(max_frame=1000).receive(data, 0.0)


def test_disagreeing_counts_drop_the_partial_frame() -> None:
    r = Reassembler(max_frame=10_000)
    r.receive(FRAGMENT_HEADER.pack(FrameType.FRAGMENT, 9, 0, 3) + b"a", 0.0)
    with pytest.raises(DecodeError, match="disagree"):
        r.receive(FRAGMENT_HEADER.pack(FrameType.FRAGMENT, 9, 1, 4) + b"b", 0.0)
    assert r.pending == 0


@given(st.binary(max_size=64))
def test_fuzz_never_raises_anything_but_decode_error(data: bytes) -> None:
    r = Reassembler(max_frame=1000)
    with contextlib.suppress(DecodeError):
        r.receive(bytes([FrameType.FRAGMENT]) + data, 0.0)


def test_expiry_agrees_with_the_deadline_it_reports() -> None:
    """A deadline computed as started + timeout must expire at exactly that time."""
    r = Reassembler(max_frame=10_000, timeout=3.0)
    started = 0.013436424411240122  # (started + 3.0) - 3.0 < started in floating point
    r.receive(split_frame(bytes(2000), mtu=500, frame_id=1)[0], now=started)
    deadline = r.next_deadline()
    assert deadline is not None
    r.expire(deadline)
    assert r.pending == 0
