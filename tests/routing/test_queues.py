"""Deficit round robin between sources, and longest-queue drop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.identity import NodeId
from meshnet.routing.queues import FairQueue

A, B, C = (NodeId(bytes([i]) * 32) for i in (1, 2, 3))


def queue(**kwargs: int) -> FairQueue:
    return FairQueue(
        max_packets=kwargs.get("max_packets", 1000),
        max_bytes=kwargs.get("max_bytes", 1 << 30),
        quantum=kwargs.get("quantum", 1500),
    )


def drain(q: FairQueue) -> list[bytes]:
    out = []
    while (packet := q.pop()) is not None:
        out.append(packet)
    return out


def test_sources_take_turns_whatever_order_they_queued_in() -> None:
    q = queue(quantum=100)
    for i in range(6):
        q.push(A, b"A%d" % i + bytes(98))
    for i in range(3):
        q.push(B, b"B%d" % i + bytes(98))
    order = [p[:2] for p in drain(q)]
    assert order == [b"A0", b"B0", b"A1", b"B1", b"A2", b"B2", b"A3", b"A4", b"A5"]
    assert len(q) == 0 and q.size == 0 and q.sources() == 0


def test_shares_are_equal_in_bytes_not_packets() -> None:
    q = queue(quantum=1000)
    for _ in range(40):
        q.push(A, bytes(1000))  # big packets
    for _ in range(400):
        q.push(B, bytes(100))  # small packets
    first = [q.pop() for _ in range(110)]
    sent_a = sum(len(p) for p in first if p is not None and len(p) == 1000)
    sent_b = sum(len(p) for p in first if p is not None and len(p) == 100)
    assert sent_a == 10 * 1000 and sent_b == 100 * 100


def test_a_packet_larger_than_the_quantum_still_goes() -> None:
    q = queue(quantum=10)
    q.push(A, bytes(95))
    q.push(B, bytes(5))
    assert [len(p) for p in drain(q)] == [5, 95]


def test_longest_queue_loses_when_full() -> None:
    q = queue(max_packets=10)
    for i in range(8):
        assert q.push(A, b"a%d" % i) == 0
    assert q.push(B, b"b0") == 0
    assert q.push(B, b"b1") == 0
    assert q.push(B, b"b2") == 1  # full: A (longest) loses its newest
    assert q.push(A, b"late") == 1  # A is still longest: its newcomer goes
    packets = drain(q)
    assert [p for p in packets if p.startswith(b"b")] == [b"b0", b"b1", b"b2"]
    assert b"a7" not in packets and b"late" not in packets
    assert len(packets) == 10


def test_byte_bound() -> None:
    q = queue(max_bytes=100)
    assert q.push(A, bytes(60)) == 0
    assert q.push(B, bytes(30)) == 0
    assert q.push(B, bytes(30)) == 1  # 120 bytes; A and B tie at 60: the newcomer goes
    assert q.size == 90 and len(q) == 2
    assert q.push(C, bytes(20)) == 1  # 110 bytes: A (60) is longest and loses
    assert q.size == 50 and [len(p) for p in drain(q)] == [30, 20]


def test_clear_reports_what_was_held() -> None:
    q = queue()
    q.push(A, b"x")
    q.push(B, b"y")
    assert q.clear() == 2
    assert q.pop() is None and len(q) == 0


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.sampled_from([A, B, C]), st.integers(1, 3000)), max_size=200),
    st.integers(1, 50),
    st.integers(100, 20000),
)
def test_bounds_and_per_source_order_always_hold(
    pushes: list[tuple[NodeId, int]], max_packets: int, max_bytes: int
) -> None:
    q = queue(max_packets=max_packets, max_bytes=max_bytes, quantum=1500)
    kept = 0
    for n, (source, size) in enumerate(pushes):
        kept += 1 - q.push(source, source.raw[:1] + n.to_bytes(4, "big") + bytes(size))
        assert len(q) <= max_packets and q.size <= max_bytes
        assert len(q) == kept
    out = drain(q)
    assert len(out) == kept
    for source in (A, B, C):
        numbers = [int.from_bytes(p[1:5], "big") for p in out if p[:1] == source.raw[:1]]
        assert numbers == sorted(numbers)  # each source's packets stay in order


def test_a_lone_source_with_large_packets_earns_its_turns_at_once() -> None:
    queue = FairQueue(max_packets=10, max_bytes=100_000, quantum=1500)
    source = NodeId(b"s" * 32)
    for _ in range(2):
        queue.push(source, b"x" * 4000)
    queue.push(source, b"y" * 10)
    assert queue.pop() == b"x" * 4000
    assert queue._deficit[source] == 500  # three turns of 1500, as round robin gives
    assert queue.pop() == b"x" * 4000
    assert queue._deficit[source] == 1000  # 500 + three more turns - 4000
    assert queue.pop() == b"y" * 10
    assert queue.pop() is None
