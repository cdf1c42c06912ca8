"""Inner link frames: round trips and hostile bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.link.messages import (
    MAX_CLOSE_TEXT,
    Close,
    CloseReason,
    Data,
    InnerFrame,
    InnerType,
    KeepAlive,
    Probe,
    ProbeEcho,
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
