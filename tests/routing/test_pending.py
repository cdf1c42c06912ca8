"""Packets waiting for a path: bounded, in order, and given up on time."""

from __future__ import annotations

from meshnet.crypto.identity import NodeId
from meshnet.routing.pending import PendingPackets

A, B = NodeId(b"\x01" * 32), NodeId(b"\x02" * 32)


def test_held_payloads_come_back_in_order() -> None:
    pending = PendingPackets(timeout=3.0, max_packets=10, max_bytes=1000)
    assert not pending
    assert pending.hold(B, b"1", now=0.0)
    assert pending.hold(A, b"x", now=0.5)
    assert pending.hold(B, b"2", now=1.0)
    assert len(pending) == 3 and pending.destinations() == [A, B]
    assert pending.take(B) == [b"1", b"2"]
    assert pending.take(B) == []
    assert len(pending) == 1 and pending.next_deadline() == 3.5


def test_bounds_in_packets_and_bytes() -> None:
    pending = PendingPackets(timeout=3.0, max_packets=2, max_bytes=10)
    assert pending.hold(A, b"12345", 0.0)
    assert not pending.hold(A, b"123456", 0.0)  # 11 bytes
    assert pending.hold(B, b"12345", 0.0)
    assert not pending.hold(B, b"", 0.0)  # 3 packets


def test_expiry_is_per_payload() -> None:
    pending = PendingPackets(timeout=3.0, max_packets=10, max_bytes=1000)
    pending.hold(A, b"old", 0.0)
    pending.hold(A, b"new", 2.0)
    assert pending.expire(2.9) == []
    assert pending.expire(3.0) == [(A, 1)]
    assert pending.next_deadline() == 5.0
    assert pending.expire(5.0) == [(A, 1)]
    assert not pending and pending.next_deadline() is None
