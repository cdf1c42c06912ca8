"""Session packets, handshake fragments and transport parameters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError
from meshnet.session.fragments import MAX_FRAGMENTS, MAX_MESSAGE, Reassembler, split_message
from meshnet.session.packets import (
    INIT_HEADER,
    PacketType,
    TransportParameters,
    encode_init,
    encode_response,
    parse_handshake,
)

indices = st.integers(1, 2**32 - 1)


@settings(max_examples=50)
@given(indices, indices, st.binary(min_size=1, max_size=3000), st.integers(512, 1500))
def test_handshake_packets_round_trip(sender: int, receiver: int, message: bytes, mtu: int) -> None:
    for packets, kind in (
        (encode_init(sender, message, mtu), PacketType.HANDSHAKE_INIT),
        (encode_response(sender, receiver, message, mtu), PacketType.HANDSHAKE_RESPONSE),
    ):
        assert all(len(p) <= mtu for p in packets)
        reassembler: Reassembler[int] = Reassembler(max_pending=4, timeout=10.0)
        result = None
        for packet in reversed(packets):  # any order
            fragment = parse_handshake(packet)
            assert fragment.kind is kind
            assert fragment.sender == sender
            assert fragment.receiver == (receiver if kind is PacketType.HANDSHAKE_RESPONSE else 0)
            result = reassembler.add(1, fragment.fragment, fragment.count, fragment.chunk, 0.0)
        assert result == message


@pytest.mark.parametrize(
    "packet",
    [
        bytes([PacketType.HANDSHAKE_INIT, 0, 0, 0]),  # short
        bytes([PacketType.HANDSHAKE_RESPONSE, 0, 0, 0, 1, 0, 0, 0, 1, 0]),  # short
        INIT_HEADER.pack(PacketType.HANDSHAKE_INIT, 7, 3, 3) + b"x",  # fragment 3 of 3
        INIT_HEADER.pack(PacketType.HANDSHAKE_INIT, 0, 0, 1) + b"x",  # index 0
    ],
)
def test_bad_handshake_packets(packet: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_handshake(packet)


def test_split_refuses_too_many_fragments() -> None:
    with pytest.raises(ValueError, match="fragments"):
        split_message(b"x" * 1000, 10)
    with pytest.raises(ValueError, match="room"):
        split_message(b"x", 0)
    assert split_message(b"", 10) == [b""]


def test_reassembler_is_bounded() -> None:
    reassembler: Reassembler[int] = Reassembler(max_pending=2, timeout=5.0)
    for key in range(5):
        assert reassembler.add(key, 0, 2, b"a", 0.0) is None
    assert len(reassembler) == 2
    assert reassembler.dropped == 3
    assert reassembler.add(4, 1, 2, b"b", 1.0) == b"ab"
    # a stale partial is forgotten; fragment indices out of range are ignored
    assert reassembler.add(3, 1, 2, b"b", 10.0) is None
    assert reassembler.add(9, 5, 2, b"x", 10.0) is None
    assert reassembler.add(9, 0, MAX_FRAGMENTS + 1, b"x", 10.0) is None
    # duplicates change nothing; a different count starts over
    assert reassembler.add(7, 0, 3, b"a", 10.0) is None
    assert reassembler.add(7, 0, 3, b"zzz", 10.0) is None
    assert reassembler.add(7, 0, 2, b"c", 10.0) is None
    assert reassembler.add(7, 1, 2, b"d", 10.0) == b"cd"
    # a message over the size limit is abandoned
    big = b"x" * (MAX_MESSAGE // 2 + 1)
    assert reassembler.add(8, 0, 2, big, 10.0) is None
    assert reassembler.add(8, 1, 2, big, 10.0) is None
    reassembler.discard(8)
    assert len(reassembler) <= 2


@given(st.integers(0, 2**62 - 1), st.integers(0, 2**62 - 1), st.integers(0, 2**32))
def test_transport_parameters_round_trip(max_data: int, per_stream: int, streams: int) -> None:
    params = TransportParameters(max_data=max_data, max_stream_data=per_stream, max_streams=streams)
    assert TransportParameters.decode(params.encode()) == params
    assert TransportParameters.decode(params.encode() + b"later fields") == params


@pytest.mark.parametrize("data", [b"", b"\x02\x01\x01\x01", b"\x01\x01"])
def test_bad_transport_parameters(data: bytes) -> None:
    with pytest.raises(DecodeError):
        TransportParameters.decode(data)
