"""NodeId: text form, parsing, ordering, mesh address and prefix resolution."""

from __future__ import annotations

import copy
import ipaddress
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.crypto.keys import base32_encode
from meshnet.crypto.nodeid import NODE_ID_TEXT_LENGTH, NodeId, resolve_prefix
from meshnet.crypto.primitives import sha256
from meshnet.errors import (
    AmbiguousPeerError,
    DecodeError,
    InvalidNodeIdError,
    LocalError,
    UnknownPeerError,
)

raw_ids = st.binary(min_size=32, max_size=32)


@given(raw_ids)
def test_text_round_trip(raw: bytes) -> None:
    node = NodeId.from_raw(raw)
    text = str(node)
    assert len(text) == NODE_ID_TEXT_LENGTH == 52
    assert text == text.lower() and "=" not in text
    assert NodeId.from_text(text) == node
    assert NodeId.from_text(f"  {text.upper()}\n") == node
    assert node.short() == text[:8]
    assert node.short(12) == text[:12]
    assert eval(repr(node), {"NodeId": NodeId.from_text}) == node


@given(raw_ids, raw_ids)
def test_order_and_hash_follow_the_bytes(a: bytes, b: bytes) -> None:
    x, y = NodeId(a), NodeId(b)
    assert (x < y) == (a < b)
    assert (x == y) == (a == b)
    if a == b:
        assert hash(x) == hash(y)
    assert len({x, y, NodeId(a)}) == len({a, b})
    assert (x <= y) == (a <= b) and (x > y) == (a > b) and (x >= y) == (a >= b)
    assert sorted([y, x]) == [NodeId(r) for r in sorted([b, a])]
    assert x == a and hash(x) == hash(a)  # a NodeId equals its bytes (a bytes subclass)
    assert type(x.raw) is bytes and x.raw == a


def test_is_immutable_and_copies_as_a_value() -> None:
    node = NodeId(bytes(range(32)))
    with pytest.raises(AttributeError):
        node.raw = bytes(32)
    with pytest.raises(AttributeError):
        del node.raw
    assert copy.copy(node) == node and copy.deepcopy(node) == node
    assert str(copy.deepcopy(node)) == str(node)
    assert node > bytes(32) and not node < bytes(32)  # ordered like its bytes


def test_from_raw_checks_length_as_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="32 bytes, got 31"):
        NodeId.from_raw(bytes(31))
    with pytest.raises(DecodeError):
        NodeId.from_raw(bytes(33))
    assert NodeId.from_raw(bytearray(32)) == NodeId(bytes(32))


def test_constructor_refuses_wrong_size() -> None:
    with pytest.raises(ValueError):
        NodeId(b"short")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected 52"),
        ("abc", "expected 52"),
        ("a" * 53, "expected 52"),
        ("0" + "a" * 51, "not base32"),
        ("a" * 51 + "b", "canonical"),
    ],
)
def test_from_text_rejects_bad_text_as_a_local_error(text: str, reason: str) -> None:
    with pytest.raises(InvalidNodeIdError, match=reason) as info:
        NodeId.from_text(text)
    assert isinstance(info.value, LocalError)
    assert "\n" not in str(info.value)


def test_from_text_excerpt_does_not_echo_long_input() -> None:
    with pytest.raises(InvalidNodeIdError) as info:
        NodeId.from_text("x" * 500)
    assert "x" * 20 not in str(info.value)


def test_mesh_address_is_fd_plus_domain_separated_sha256() -> None:
    node = NodeId(bytes(range(32)))
    expected = b"\xfd" + sha256(b"meshnet mesh address v1\x00", bytes(range(32)))[:15]
    address = node.mesh_address
    assert address == ipaddress.IPv6Address(expected)
    assert address.packed[0] == 0xFD
    assert address in ipaddress.IPv6Network("fd00::/8")
    assert address.is_private


def test_documented_test_vector() -> None:
    # docs/protocol/identity.md §3
    node = NodeId(bytes(range(32)))
    assert str(node) == "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq"
    assert node.short() == "aaaqeaye"
    assert str(node.mesh_address) == "fd8d:6e72:b638:a004:2c83:9375:1ea1:cf10"


@given(raw_ids, raw_ids)
def test_mesh_addresses_differ_for_different_ids(a: bytes, b: bytes) -> None:
    if a != b:
        assert NodeId(a).mesh_address != NodeId(b).mesh_address


def test_pickles_as_a_plain_value() -> None:
    node = NodeId(bytes(range(32)))
    clone = pickle.loads(pickle.dumps(node))
    assert clone == node and str(clone) == str(node)


def _id_with_text_prefix(prefix: str, fill: str = "a") -> NodeId:
    text = prefix + fill * (52 - len(prefix) - 1) + "a"
    return NodeId.from_text(text)


def test_resolve_unique_prefix_any_case() -> None:
    alice = _id_with_text_prefix("alice")
    bob = _id_with_text_prefix("bob")
    assert resolve_prefix("ali", [alice, bob]) == alice
    assert resolve_prefix(" B ", [alice, bob]) == bob
    assert resolve_prefix(str(alice), [alice, bob, alice]) == alice


def test_resolve_unknown_prefix() -> None:
    with pytest.raises(UnknownPeerError, match="no known node has an id starting with 'zz'"):
        resolve_prefix("zz", [_id_with_text_prefix("alice")])
    with pytest.raises(UnknownPeerError):
        resolve_prefix("a", [])


def test_resolve_ambiguous_prefix_lists_distinguishable_short_forms() -> None:
    # Both share 10 characters, so the default 8-character short form would be useless.
    one = _id_with_text_prefix("abcdefghijk")
    two = _id_with_text_prefix("abcdefghijm")
    with pytest.raises(AmbiguousPeerError) as info:
        resolve_prefix("abc", [two, one])
    message = str(info.value)
    assert "matches 2 nodes" in message
    assert "abcdefghijk" in message and "abcdefghijm" in message
    assert "type more characters" in message


def test_resolve_ambiguous_prefix_with_many_candidates_is_bounded() -> None:
    nodes = [_id_with_text_prefix("q" + c) for c in "abcdefghijklmnop"]
    with pytest.raises(AmbiguousPeerError, match="matches 16 nodes") as info:
        resolve_prefix("q", nodes)
    assert "and 8 more" in str(info.value)
    assert str(info.value).count(", ") == 7


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [("", "empty"), ("   ", "empty"), ("a1", "not base32"), ("a" * 53, "longer")],
)
def test_resolve_rejects_malformed_prefixes(prefix: str, reason: str) -> None:
    with pytest.raises(InvalidNodeIdError, match=reason):
        resolve_prefix(prefix, [_id_with_text_prefix("a")])


@given(st.lists(raw_ids, min_size=1, max_size=20, unique=True), st.data())
def test_resolve_agrees_with_a_naive_model(raws: list[bytes], data: st.DataObject) -> None:
    nodes = [NodeId(r) for r in raws]
    target = data.draw(st.sampled_from(nodes))
    length = data.draw(st.integers(min_value=1, max_value=52))
    prefix = base32_encode(target.raw)[:length]
    matches = [n for n in nodes if str(n).startswith(prefix)]
    if len(matches) == 1:
        assert resolve_prefix(prefix, nodes) == target
    else:
        with pytest.raises(AmbiguousPeerError):
            resolve_prefix(prefix, nodes)
