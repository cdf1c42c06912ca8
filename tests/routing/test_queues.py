"""Deficit round robin between neighbours, then between sources, and longest-queue drop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.identity import NodeId
from meshnet.routing.queues import FairQueue

A, B, C = (NodeId(bytes([i]) * 32) for i in (1, 2, 3))
V, W = (NodeId(bytes([i]) * 32) for i in (9, 10))  # the neighbours packets came from


class Via:
    """Pushes through one neighbour, so the tests of source fairness read as before."""

    def __init__(self, q: FairQueue, via: NodeId = V) -> None:
        self.q, self.via = q, via

    def push(self, source: NodeId, packet: bytes) -> int:
        return self.q.push(self.via, source, packet)


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
        Via(q).push(A, b"A%d" % i + bytes(98))
    for i in range(3):
        Via(q).push(B, b"B%d" % i + bytes(98))
    order = [p[:2] for p in drain(q)]
    assert order == [b"A0", b"B0", b"A1", b"B1", b"A2", b"B2", b"A3", b"A4", b"A5"]
    assert len(q) == 0 and q.size == 0 and q.neighbours() == 0


def test_shares_are_equal_in_bytes_not_packets() -> None:
    q = queue(quantum=1000)
    for _ in range(40):
        Via(q).push(A, bytes(1000))  # big packets
    for _ in range(400):
        Via(q).push(B, bytes(100))  # small packets
    first = [q.pop() for _ in range(110)]
    sent_a = sum(len(p) for p in first if p is not None and len(p) == 1000)
    sent_b = sum(len(p) for p in first if p is not None and len(p) == 100)
    assert sent_a == 10 * 1000 and sent_b == 100 * 100


def test_a_packet_larger_than_the_quantum_still_goes() -> None:
    q = queue(quantum=10)
    Via(q).push(A, bytes(95))
    Via(q).push(B, bytes(5))
    assert [len(p) for p in drain(q)] == [5, 95]


def test_longest_queue_loses_when_full() -> None:
    q = queue(max_packets=10)
    for i in range(8):
        assert Via(q).push(A, b"a%d" % i) == 0
    assert Via(q).push(B, b"b0") == 0
    assert Via(q).push(B, b"b1") == 0
    assert Via(q).push(B, b"b2") == 1  # full: A (longest) loses its newest
    assert Via(q).push(A, b"late") == 1  # A is still longest: its newcomer goes
    packets = drain(q)
    assert [p for p in packets if p.startswith(b"b")] == [b"b0", b"b1", b"b2"]
    assert b"a7" not in packets and b"late" not in packets
    assert len(packets) == 10


def test_byte_bound() -> None:
    q = queue(max_bytes=100)
    assert Via(q).push(A, bytes(60)) == 0
    assert Via(q).push(B, bytes(30)) == 0
    assert Via(q).push(B, bytes(30)) == 1  # 120 bytes; A and B tie at 60: the newcomer goes
    assert q.size == 90 and len(q) == 2
    assert Via(q).push(C, bytes(20)) == 1  # 110 bytes: A (60) is longest and loses
    assert q.size == 50 and [len(p) for p in drain(q)] == [30, 20]


def test_clear_reports_what_was_held() -> None:
    q = queue()
    Via(q).push(A, b"x")
    Via(q).push(B, b"y")
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
        kept += 1 - Via(q).push(source, source.raw[:1] + n.to_bytes(4, "big") + bytes(size))
        assert len(q) <= max_packets and q.size <= max_bytes
        assert len(q) == kept
    out = drain(q)
    assert len(out) == kept
    for source in (A, B, C):
        numbers = [int.from_bytes(p[1:5], "big") for p in out if p[:1] == source.raw[:1]]
        assert numbers == sorted(numbers)  # each source's packets stay in order


def test_a_lone_source_with_large_packets_goes_at_once_and_then_shares_fairly() -> None:
    q = FairQueue(max_packets=10, max_bytes=100_000, quantum=1500)
    for _ in range(3):
        q.push(V, A, b"a" * 4000)  # far above the quantum: alone, no turns to wait
    assert q.pop() == b"a" * 4000
    q.push(V, B, b"b" * 1500)
    q.push(V, B, b"b" * 1500)
    # A and B now share: A's 4000 bytes need three turns; B sends 1500 on each
    assert [p[:1] for p in drain(q)] == [b"b", b"b", b"a", b"a"]


def test_a_neighbour_claiming_many_sources_gets_one_neighbours_share() -> None:
    # W relays for 50 made-up sources; V forwards one honest source. Per-source fairness
    # would give V 1/51 of the link; per-neighbour fairness gives it half.
    q = queue(quantum=1000)
    fakes = [NodeId(bytes([100 + i]) * 32) for i in range(50)]
    for n in range(400):
        q.push(W, fakes[n % 50], b"w" + bytes(999))
    for _ in range(200):
        q.push(V, A, b"v" + bytes(999))
    first = [q.pop() for _ in range(200)]
    assert sum(1 for p in first if p is not None and p[:1] == b"v") == 100
    assert sum(1 for p in first if p is not None and p[:1] == b"w") == 100


def test_within_a_neighbour_its_sources_share_its_turns() -> None:
    q = queue(quantum=100)
    for i in range(4):
        q.push(V, A, b"A%d" % i + bytes(98))
        q.push(V, B, b"B%d" % i + bytes(98))
        q.push(W, C, b"C%d" % i + bytes(98))
    order = [p[:2] for p in drain(q)]
    assert order == [
        b"A0", b"C0", b"B0", b"C1", b"A1", b"C2", b"B1", b"C3", b"A2", b"B2", b"A3", b"B3",
    ]  # fmt: skip


def test_the_flooding_neighbour_loses_its_own_packets() -> None:
    q = queue(max_packets=20)
    fakes = [NodeId(bytes([100 + i]) * 32) for i in range(20)]
    for i in range(5):
        assert q.push(V, A, b"v%d" % i) == 0
    dropped = sum(q.push(W, fakes[n % 20], b"w%d" % n) for n in range(100))
    assert dropped == 85  # W's lane is the longest whichever source it names
    packets = drain(q)
    assert [p for p in packets if p.startswith(b"v")] == [b"v%d" % i for i in range(5)]
    assert len(packets) == 20


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(st.sampled_from([V, W]), st.sampled_from([A, B, C]), st.integers(1, 3000)),
        max_size=200,
    ),
    st.integers(1, 50),
    st.integers(100, 20000),
)
def test_bounds_and_order_per_neighbour_and_source_always_hold(
    pushes: list[tuple[NodeId, NodeId, int]], max_packets: int, max_bytes: int
) -> None:
    q = queue(max_packets=max_packets, max_bytes=max_bytes, quantum=1500)
    kept = 0
    for n, (via, source, size) in enumerate(pushes):
        tag = via.raw[:1] + source.raw[:1]
        kept += 1 - q.push(via, source, tag + n.to_bytes(4, "big") + bytes(size))
        assert len(q) <= max_packets and q.size <= max_bytes
        assert len(q) == kept
    out = drain(q)
    assert len(out) == kept and q.size == 0
    for via in (V, W):
        for source in (A, B, C):
            tag = via.raw[:1] + source.raw[:1]
            numbers = [int.from_bytes(p[2:6], "big") for p in out if p[:2] == tag]
            assert numbers == sorted(numbers)  # each lane's packets stay in order


def test_a_lane_that_empties_leaves_no_credit_to_the_next_one() -> None:
    # A's lane empties with 50 bytes of credit left; the next lane to open (C) must
    # start with none, as a new lane does (lanes are reused, not rebuilt, per packet)
    q = queue(quantum=100)
    Via(q).push(A, b"a" * 50)
    for _ in range(4):
        Via(q).push(B, b"b" * 100)
    assert q.pop() == b"a" * 50
    Via(q).push(C, b"c" * 150)  # needs two turns of credit
    assert [p[:1] for p in drain(q)] == [b"b", b"b", b"c", b"b", b"b"]
