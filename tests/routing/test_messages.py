"""Announcements and summaries: round trips, signatures, limits and hostile bytes."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import DecodeError
from meshnet.routing.messages import (
    MAX_ANNOUNCEMENT,
    MAX_ENDPOINT_LENGTH,
    MAX_ENDPOINTS,
    MAX_NEIGHBOURS,
    MAX_SUMMARY_ENTRIES,
    Announcement,
    NeighbourEntry,
    Summary,
    decode_announcement,
    decode_summary,
    encode_summary,
    prefix_of,
)


def make_identity(seed: int, label: str) -> Identity:
    return Identity.generate(SeededEntropy(seed, label), created=1_700_000_000)


ALICE = make_identity(7, "alice")
BOB = make_identity(7, "bob")

prefixes = st.binary(min_size=8, max_size=8).filter(lambda p: p != prefix_of(ALICE.node_id))
entries = st.builds(
    NeighbourEntry,
    prefix=prefixes,
    rtt_ms=st.none() | st.integers(0, 0xFFFE),
    loss=st.integers(0, 255),
)
endpoint = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)


@st.composite
def announcements(draw: st.DrawFn) -> Announcement:
    neighbours = draw(st.lists(entries, max_size=MAX_NEIGHBOURS, unique_by=lambda e: e.prefix))
    neighbours.sort(key=lambda e: e.prefix)
    return Announcement.create(
        ALICE,
        sequence=draw(st.integers(0, (1 << 63) - 1)),
        lifetime=draw(st.integers(1, 0xFFFF)),
        neighbours=tuple(neighbours),
        endpoints=tuple(draw(st.lists(endpoint, max_size=MAX_ENDPOINTS, unique=True))),
    )


def _simple(**changes: object) -> Announcement:
    fields: dict[str, object] = {
        "sequence": 5,
        "lifetime": 1800,
        "neighbours": (NeighbourEntry(prefix=prefix_of(BOB.node_id), rtt_ms=12, loss=3),),
        "endpoints": ("udp:192.0.2.1:4100",),
    }
    fields.update(changes)
    return Announcement.create(ALICE, **fields)  # type: ignore[arg-type]


@settings(max_examples=60)
@given(announcements(), st.integers(0, 0xFFFF))
def test_announcement_round_trip(announcement: Announcement, age: int) -> None:
    data = announcement.encode(age)
    assert len(data) <= MAX_ANNOUNCEMENT
    decoded, decoded_age = decode_announcement(data)
    assert decoded == announcement
    assert decoded.body == announcement.body
    assert decoded_age == age
    assert decoded.encode(age) == data


def test_signatures_verify_and_tampering_is_caught() -> None:
    verifier = SignatureVerifier()
    announcement = _simple()
    assert announcement.verify(verifier)
    data = bytearray(announcement.encode(0))
    for position in (3 + 140, len(data) - 1, len(data) - 70):  # sequence, signature, body
        forged = bytearray(data)
        forged[position] ^= 0x01
        with contextlib.suppress(DecodeError):
            decoded, _ = decode_announcement(bytes(forged))
            assert not decoded.verify(verifier)


def test_age_is_outside_the_signature() -> None:
    verifier = SignatureVerifier()
    decoded, age = decode_announcement(_simple().encode(1234))
    assert age == 1234
    assert decoded.verify(verifier)


def test_a_record_from_another_node_fails_verification() -> None:
    announcement = _simple()
    borrowed = Announcement(
        record=BOB.record,
        sequence=announcement.sequence,
        lifetime=announcement.lifetime,
        neighbours=(),
        endpoints=(),
        signature=announcement.signature,
    )
    assert not borrowed.verify(SignatureVerifier())


def test_the_largest_announcement_fits_the_limit() -> None:
    neighbours = tuple(
        NeighbourEntry(prefix=bytes([1, i]) + bytes(6), rtt_ms=0xFFFE, loss=255)
        for i in range(MAX_NEIGHBOURS)
    )
    endpoints = tuple(f"{i}" * MAX_ENDPOINT_LENGTH for i in range(MAX_ENDPOINTS))
    biggest = _simple(sequence=(1 << 63) - 1, neighbours=neighbours, endpoints=endpoints)
    assert len(biggest.encode(0)) == MAX_ANNOUNCEMENT
    assert decode_announcement(biggest.encode(0))[0] == biggest
    with pytest.raises(DecodeError, match="over"):
        decode_announcement(biggest.encode(0) + b"x")


@pytest.mark.parametrize(
    "changes",
    [
        {
            "neighbours": tuple(
                NeighbourEntry(prefix=bytes([i]) * 8, rtt_ms=1, loss=0) for i in (2, 1)
            )
        },
        {"neighbours": (NeighbourEntry(prefix=b"\x01" * 8, rtt_ms=1, loss=0),) * 2},
        {"neighbours": (NeighbourEntry(prefix=prefix_of(ALICE.node_id), rtt_ms=1, loss=0),)},
        {"endpoints": ("",)},
        {"endpoints": ("a\nb",)},
        {"endpoints": ("x" * (MAX_ENDPOINT_LENGTH + 1),)},
        {"endpoints": ("a", "a")},
        {"endpoints": tuple(str(i) for i in range(MAX_ENDPOINTS + 1))},
        {"lifetime": 0},
        {"sequence": -1},
    ],
)
def test_fields_no_encoder_may_produce_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _simple(**changes)


def test_decoder_refuses_what_the_constructor_refuses() -> None:
    good = bytearray(_simple().encode(0))
    # the one neighbour entry sits after header (3) + record (137) + seq (1) + lifetime (2)
    # + count (1); make it the origin's own prefix: a self-link.
    start = 3 + 137 + 1 + 2 + 1
    good[start : start + 8] = prefix_of(ALICE.node_id)
    with pytest.raises(DecodeError, match="malformed"):
        decode_announcement(bytes(good))


def test_unmeasured_rtt_round_trips_as_none() -> None:
    entry = NeighbourEntry(prefix=prefix_of(BOB.node_id), rtt_ms=None, loss=0)
    decoded, _ = decode_announcement(_simple(neighbours=(entry,)).encode(0))
    assert decoded.neighbours[0].rtt_ms is None


@given(st.binary(max_size=600))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_announcement(b"\x20" + data)
    with contextlib.suppress(DecodeError):
        decode_summary(b"\x21" + data)


@settings(max_examples=200)
@given(st.integers(0, 400), st.integers(0, 255))
def test_mutated_announcements_raise_only_decode_error(position: int, value: int) -> None:
    data = bytearray(_simple().encode(9))
    data[position % len(data)] = value
    with contextlib.suppress(DecodeError):
        decoded, age = decode_announcement(bytes(data))
        assert decoded.encode(age) == bytes(data)  # whatever parses re-encodes identically


def test_truncations_are_refused() -> None:
    data = _simple().encode(0)
    for length in range(len(data)):
        with pytest.raises(DecodeError):
            decode_announcement(data[:length])


# -- summaries ---------------------------------------------------------------------------

node_ids = st.binary(min_size=32, max_size=32).map(NodeId)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(node_ids, st.integers(0, (1 << 63) - 1)), max_size=100, unique_by=lambda e: e[0]
    )
)
def test_summary_chunks_cover_the_id_space_and_round_trip(
    held: list[tuple[NodeId, int]],
) -> None:
    held.sort()
    chunks = Summary.chunk(held)
    assert chunks[0].low == bytes(32)
    assert chunks[-1].high == b"\xff" * 32
    for before, after in itertools.pairwise(chunks):
        assert int.from_bytes(before.high, "big") + 1 == int.from_bytes(after.low, "big")
    assert [e for chunk in chunks for e in chunk.entries] == held
    for chunk in chunks:
        assert len(chunk.entries) <= MAX_SUMMARY_ENTRIES
        assert all(chunk.covers(origin) for origin, _ in chunk.entries)
        assert decode_summary(encode_summary(chunk)) == chunk


def test_an_empty_database_is_one_empty_summary() -> None:
    (only,) = Summary.chunk([])
    assert only.entries == ()
    assert decode_summary(encode_summary(only)) == only


@pytest.mark.parametrize(
    "entries",
    [
        ((NodeId(b"\x02" * 32), 1), (NodeId(b"\x01" * 32), 1)),  # out of order
        ((NodeId(b"\x01" * 32), 1), (NodeId(b"\x01" * 32), 2)),  # repeated
    ],
)
def test_summary_entries_must_ascend(entries: tuple[tuple[NodeId, int], ...]) -> None:
    with pytest.raises(ValueError):
        Summary(low=bytes(32), high=b"\xff" * 32, entries=entries)


def test_summary_entry_outside_its_range_is_refused_on_decode() -> None:
    inside = Summary(low=b"\x10" * 32, high=b"\x20" * 32, entries=((NodeId(b"\x15" * 32), 3),))
    data = bytearray(encode_summary(inside))
    data[1 + 64 + 1] = 0x30  # the origin's first byte: now above ``high``
    with pytest.raises(DecodeError, match="malformed"):
        decode_summary(bytes(data))
