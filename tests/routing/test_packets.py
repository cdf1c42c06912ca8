"""Routed headers and route errors: round trips, patching in place, hostile bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import DecodeError
from meshnet.routing.messages import MAX_RELAYS, prefix_of
from meshnet.routing.packets import (
    RoutedHeader,
    RouteError,
    RouteErrorReason,
    advance,
    decode_routed,
    encode_routed,
    header_size,
)
from meshnet.wire.codes import RoutingPacket
from meshnet.wire.headroom import PACKET_ROOM, Headroom


def make_identity(seed: int, label: str) -> Identity:
    return Identity.generate(SeededEntropy(seed, label), created=1_700_000_000)


REPORTER = make_identity(3, "reporter")
SOURCE = make_identity(3, "source").node_id
DESTINATION = make_identity(3, "destination").node_id

node_ids = st.binary(min_size=32, max_size=32).map(NodeId)


@st.composite
def headers(draw: st.DrawFn) -> RoutedHeader:
    relays = tuple(draw(st.lists(st.binary(min_size=8, max_size=8), max_size=MAX_RELAYS)))
    return RoutedHeader(
        kind=draw(st.sampled_from([RoutingPacket.DATA, RoutingPacket.ROUTE_ERROR])),
        hop_limit=draw(st.integers(1, 255)),
        next=draw(st.integers(0, len(relays))),
        source=draw(node_ids),
        destination=draw(node_ids),
        relays=relays,
        stream_path=draw(st.booleans()),
    )


@settings(max_examples=100)
@given(headers(), st.binary(max_size=300))
def test_routed_round_trip(header: RoutedHeader, body: bytes) -> None:
    data = encode_routed(header, body)
    assert len(data) == header.size + len(body) == header_size(len(header.relays)) + len(body)
    assert decode_routed(data, max_body=300) == (header, body)


@given(headers())
def test_advance_moves_next_and_spends_one_hop(header: RoutedHeader) -> None:
    if header.hop_limit < 2 or header.next >= len(header.relays):
        return
    moved, body = decode_routed(bytes(advance(encode_routed(header, b"payload"))), max_body=100)
    assert body == b"payload"
    assert (moved.next, moved.hop_limit) == (header.next + 1, header.hop_limit - 1)
    assert (moved.source, moved.destination, moved.relays) == (
        header.source,
        header.destination,
        header.relays,
    )
    assert moved.stream_path == header.stream_path  # a stream link keeps the flag


def test_a_datagram_link_clears_the_stream_path_flag() -> None:
    data = encode_routed(_header(stream_path=True), b"body")
    kept, _ = decode_routed(bytes(advance(data, stream_link=True)), max_body=10)
    cleared, body = decode_routed(bytes(advance(data, stream_link=False)), max_body=10)
    assert kept.stream_path and not cleared.stream_path
    assert (cleared.next, cleared.relays, body) == (1, (b"r" * 8,), b"body")
    again, _ = decode_routed(
        bytes(advance(encode_routed(_header(), b""), stream_link=True)), max_body=1
    )
    assert not again.stream_path  # a relay never sets it


def test_the_reserved_flag_is_refused() -> None:
    data = bytearray(encode_routed(_header(), b""))
    data[3] |= 0x40
    with pytest.raises(DecodeError, match="reserved"):
        decode_routed(bytes(data), max_body=10)


def _header(**changes: object) -> RoutedHeader:
    fields: dict[str, object] = {
        "kind": RoutingPacket.DATA,
        "hop_limit": 8,
        "next": 0,
        "source": SOURCE,
        "destination": DESTINATION,
        "relays": (b"r" * 8,),
    }
    fields.update(changes)
    return RoutedHeader(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("offset", "value", "match"),
    [
        (0, 0x20, "not a routed"),
        (1, 0, "hop limit 0"),
        (2, 2, "next"),
        (3, MAX_RELAYS + 1, "relay"),
    ],
)
def test_bad_header_fields_are_refused(offset: int, value: int, match: str) -> None:
    data = bytearray(encode_routed(_header(), b""))
    data[offset] = value
    with pytest.raises(DecodeError, match=match):
        decode_routed(bytes(data), max_body=10)


def test_body_over_the_limit_is_refused() -> None:
    with pytest.raises(DecodeError, match="over"):
        decode_routed(encode_routed(_header(), b"x" * 11), max_body=10)


@pytest.mark.parametrize(
    "changes",
    [{"kind": RoutingPacket.ANNOUNCE}, {"hop_limit": 0}, {"next": 2}, {"relays": (b"short",)}],
)
def test_header_fields_out_of_range_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _header(**changes)


@given(st.binary(max_size=400))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for kind in (b"\x22", b"\x23"):
        with contextlib.suppress(DecodeError):
            decode_routed(kind + data, max_body=200)


# -- route errors ------------------------------------------------------------------------


def _error(**changes: object) -> RouteError:
    fields: dict[str, object] = {
        "source": SOURCE,
        "unreachable": prefix_of(DESTINATION),
        "destination": DESTINATION,
        "reporter_sequence": 41,
        "reason": RouteErrorReason.NEXT_HOP_GONE,
    }
    fields.update(changes)
    return RouteError.create(REPORTER, **fields)  # type: ignore[arg-type]


@given(st.integers(0, (1 << 63) - 1), st.binary(min_size=8, max_size=8))
def test_route_error_round_trip_and_signature(sequence: int, unreachable: bytes) -> None:
    error = _error(reporter_sequence=sequence, unreachable=unreachable)
    decoded = RouteError.decode_body(error.encode_body(), reporter=REPORTER.node_id, source=SOURCE)
    assert decoded == error
    assert decoded.verify(SignatureVerifier())


def test_route_error_signature_binds_every_field() -> None:
    verifier = SignatureVerifier()
    error = _error()
    body = error.encode_body()
    assert not RouteError.decode_body(body, reporter=REPORTER.node_id, source=DESTINATION).verify(
        verifier
    )  # sent to someone else
    assert not RouteError.decode_body(body, reporter=SOURCE, source=SOURCE).verify(verifier)
    forged = bytearray(body)
    forged[0] ^= 1  # another unreachable hop
    decoded = RouteError.decode_body(bytes(forged), reporter=REPORTER.node_id, source=SOURCE)
    assert not decoded.verify(verifier)


def test_route_error_unknown_reason_and_truncation_are_refused() -> None:
    body = bytearray(_error().encode_body())
    body[8 + 32 + 1] = 9  # reason byte (sequence 41 is one varint byte)
    with pytest.raises(DecodeError, match="reason"):
        RouteError.decode_body(bytes(body), reporter=REPORTER.node_id, source=SOURCE)
    with pytest.raises(DecodeError):
        RouteError.decode_body(_error().encode_body()[:-1], reporter=SOURCE, source=SOURCE)


@given(st.binary(max_size=200))
def test_random_route_error_bodies_raise_only_decode_error(body: bytes) -> None:
    with contextlib.suppress(DecodeError):
        RouteError.decode_body(body, reporter=SOURCE, source=DESTINATION)


def test_a_body_with_room_gets_the_header_in_place() -> None:
    header = _header()
    body = Headroom.allocate(4, room=PACKET_ROOM)
    body.view()[:] = b"body"
    buffer = body.buffer
    packet = encode_routed(header, body)
    assert packet is body and body.buffer is buffer  # written in front: no copy
    assert bytes(packet) == encode_routed(header, b"body")
    tight = Headroom(bytearray(b"xbody"), 1)  # too little room: joined as before
    assert encode_routed(header, tight) == encode_routed(header, b"body")


def test_a_forwarded_packet_leaves_room_for_the_link() -> None:
    data = encode_routed(_header(), b"body")
    moved = advance(memoryview(data))
    assert moved.room > 0 and moved.prepend(b"\x01")
    assert bytes(moved)[1:] == bytes(advance(data))


def test_a_session_packet_has_room_for_the_longest_routed_header() -> None:
    assert header_size(MAX_RELAYS) + 1 <= PACKET_ROOM  # and the link's inner type
