"""Inner link frames: round trips and hostile bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.link.messages import (
    MAX_CLOSE_TEXT,
    MAX_ECHOES,
    Close,
    CloseReason,
    Data,
    InnerFrame,
    InnerType,
    KeepAlive,
    Probe,
    ProbeEcho,
    ProbeWithEchoes,
    Rekey,
    decode_inner,
    encode_inner,
)

u32 = st.integers(0, 2**32 - 1)
frames: st.SearchStrategy[InnerFrame] = st.one_of(
    st.builds(Data, st.binary(max_size=2000)),
    st.just(KeepAlive()),
    st.builds(Probe, u32),
    st.builds(ProbeEcho, u32),
    st.builds(
        ProbeWithEchoes,
        u32,
        u32,
        st.booleans(),
        st.lists(st.tuples(u32, u32), max_size=MAX_ECHOES).map(tuple),
    ),
    st.builds(Close, st.sampled_from(CloseReason), st.text(max_size=50)),
    st.builds(Rekey, st.sampled_from([1, 2, 3]), u32, st.binary(max_size=3000)),
)


@given(frames)
def test_round_trip(frame: InnerFrame) -> None:
    assert decode_inner(encode_inner(frame)) == frame


@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_inner(data)


def test_close_text_is_truncated_on_encode() -> None:
    encoded = encode_inner(Close(CloseReason.NORMAL, "x" * 1000))
    assert len(encoded) == 2 + MAX_CLOSE_TEXT


def test_unknown_close_reason_becomes_protocol_error() -> None:
    assert decode_inner(bytes([InnerType.CLOSE, 250])) == Close(CloseReason.PROTOCOL_ERROR, "")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        encode_inner(KeepAlive()) + b"x",
        encode_inner(Probe(1))[:-1],
        encode_inner(ProbeWithEchoes(1, 5000, False, ((2, 3),)))[:-1],
        encode_inner(ProbeWithEchoes(1, 5000, False, ((2, 3),))) + b"x",
        encode_inner(ProbeWithEchoes(1, 5000, False))[:-1],
        encode_inner(Rekey(1, 2, b""))[:-1],
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_inner(data)


def test_bad_rekey_step() -> None:
    data = bytearray(encode_inner(Rekey(1, 2, b"m")))
    data[1] = 4
    with pytest.raises(DecodeError, match="step"):
        decode_inner(bytes(data))


def test_probe_with_more_echoes_than_the_limit_is_refused() -> None:
    many = ProbeWithEchoes(1, 5000, False, tuple((i, i) for i in range(MAX_ECHOES + 1)))
    with pytest.raises(DecodeError, match="limit"):
        decode_inner(encode_inner(many))


def test_probe_with_unknown_flags_is_refused() -> None:
    data = bytearray(encode_inner(ProbeWithEchoes(1, 5000, True)))
    data[5] |= 0x80
    with pytest.raises(DecodeError, match="flags"):
        decode_inner(bytes(data))


@given(st.binary(max_size=120))
def test_random_probe_bodies_decode_within_limits_or_raise(body: bytes) -> None:
    """Any bytes behind the PROBE_WITH_ECHOES code: a bounded probe or a DecodeError."""
    try:
        frame = decode_inner(bytes([InnerType.PROBE_WITH_ECHOES]) + body)
    except DecodeError:
        return
    assert isinstance(frame, ProbeWithEchoes)
    assert len(frame.echoes) <= MAX_ECHOES
    assert encode_inner(frame) == bytes([InnerType.PROBE_WITH_ECHOES]) + body
