"""The type-code table: every code in its layer's range, no two codes equal."""

from __future__ import annotations

import enum

from meshnet.wire.codes import CODE_SPACES, LinkFrame, LinkInner, RoutingPacket, code_space_of


def _all_codes() -> list[tuple[str, enum.IntEnum]]:
    return [
        (space.name, member)
        for space in CODE_SPACES
        if space.codes is not None
        for member in space.codes
    ]


def test_codes_are_unique_across_every_layer() -> None:
    values = [int(member) for _, member in _all_codes()]
    assert len(values) == len(set(values))
    for space in CODE_SPACES:
        if space.codes is not None:
            assert enum.unique(space.codes) is space.codes  # no aliases inside an enum


def test_every_code_lies_in_its_own_range() -> None:
    for name, member in _all_codes():
        space = code_space_of(member)
        assert space is not None
        assert space.name == name, f"{member!r} is in {space.name}, declared in {name}"


def test_ranges_are_disjoint_ordered_and_leave_zero_and_the_top_free() -> None:
    previous_high = 0x00
    for space in CODE_SPACES:
        assert space.low == previous_high + 1
        assert space.low <= space.high
        previous_high = space.high
    assert previous_high == 0x8F
    assert code_space_of(0x00) is None
    assert all(code_space_of(code) is None for code in range(0x90, 0x100))
    assert all(code_space_of(code) is not None for code in range(0x01, 0x90))


def test_link_codes_the_link_layer_uses() -> None:
    assert {m.name for m in LinkFrame} >= {
        "HANDSHAKE_INIT",
        "HANDSHAKE_RESPONSE",
        "HANDSHAKE_FINISH",
        "TRANSPORT",
    }
    assert {m.name for m in LinkInner} >= {
        "DATA",
        "KEEPALIVE",
        "PROBE",
        "PROBE_ECHO",
        "CLOSE",
        "REKEY",
    }
    assert LinkFrame.HANDSHAKE_INIT.to_bytes(1, "big") == b"\x01"


def test_membership_is_for_integers_only() -> None:
    link_outer = CODE_SPACES[0]
    assert LinkFrame.TRANSPORT in link_outer
    assert 0x10 not in link_outer
    assert "x" not in link_outer


def test_routing_codes_the_routing_layer_uses() -> None:
    assert {m.name for m in RoutingPacket} >= {"ANNOUNCE", "SUMMARY", "DATA", "ROUTE_ERROR"}
    assert all(0x20 <= m <= 0x3F for m in RoutingPacket)
