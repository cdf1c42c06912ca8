"""RouteTable: lazy recomputation, routes in use, suspensions."""

from __future__ import annotations

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.routing.events import RouteChanged
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.messages import Announcement, NeighbourEntry, prefix_of
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.policy import HopCountPolicy
from meshnet.routing.table import RouteTable


def make_identity(label: str) -> Identity:
    return Identity.generate(SeededEntropy(13, label), created=1_700_000_000)


ME, A, B, C = (make_identity(name) for name in ("me", "a", "b", "c"))
UP = LinkMetrics(rtt=0.01, loss=0.0)


def announce(who: Identity, sequence: int, *neighbours: Identity) -> Announcement:
    entries = sorted(
        (NeighbourEntry(prefix=prefix_of(n.node_id), rtt_ms=10, loss=0) for n in neighbours),
        key=lambda e: e.prefix,
    )
    return Announcement.create(
        who, sequence=sequence, lifetime=1000, neighbours=tuple(entries), endpoints=()
    )


def square(max_in_use: int = 10) -> tuple[LinkStateDatabase, RouteTable]:
    """me - A - C and me - B - C."""
    db = LinkStateDatabase(accept_rate=10, accept_burst=10, max_origins=10)
    db.admit(announce(A, 1, ME, C), 0, 0.0)
    db.admit(announce(B, 1, ME, C), 0, 0.0)
    db.admit(announce(C, 1, A, B), 0, 0.0)
    table = RouteTable(
        me=ME.node_id, lsdb=db, policy=HopCountPolicy(), max_in_use=max_in_use, idle=60.0
    )
    table.set_local({A.node_id: UP, B.node_id: UP})
    return db, table


def test_routes_are_computed_once_per_change() -> None:
    _, table = square()
    first = table.route(C.node_id)
    assert first is not None and first[1] == 2
    table.route(A.node_id)
    table.route(B.node_id)
    assert table.computations == 1 and not table.stale
    table.invalidate()
    assert table.stale
    table.route(C.node_id)
    assert table.computations == 2


def test_suspension_reroutes_until_lifted_or_over() -> None:
    _, table = square()
    found = table.route(C.node_id)
    assert found is not None
    relay = found[0][0]
    other = B.node_id if relay == A.node_id else A.node_id
    table.use(C.node_id, 0.0)
    table.suspend(relay, prefix_of(C.node_id), until=30.0, sequence=1)
    assert table.suspended() == 1
    assert table.refresh(1.0) == [
        RouteChanged(destination=C.node_id, path=(other, C.node_id), cost=2)
    ]
    table.lift(relay, 1)  # not newer than the report: stays
    assert table.suspended() == 1
    assert table.next_deadline() == 30.0
    table.handle_timer(30.0)
    assert table.suspended() == 0
    assert table.refresh(31.0) == [
        RouteChanged(destination=C.node_id, path=(relay, C.node_id), cost=2)
    ]
    table.suspend(relay, prefix_of(C.node_id), until=90.0, sequence=1)
    table.lift(relay, 2)  # the reporter announced again
    assert table.suspended() == 0 and table.next_deadline() is None


def test_routes_in_use_are_bounded_and_forgotten_when_idle() -> None:
    _, table = square(max_in_use=2)
    for destination, when in ((A, 0.0), (B, 1.0), (C, 2.0)):
        table.use(destination.node_id, when)
    assert [d for d, _ in table.routes_in_use()] == sorted([B.node_id, C.node_id])
    table.use(B.node_id, 50.0)
    table.invalidate()
    assert table.refresh(70.0) == []  # C idle for 68 s: dropped; B unchanged
    assert [d for d, _ in table.routes_in_use()] == [B.node_id]


def test_losing_a_neighbour_reports_no_path() -> None:
    _, table = square()
    table.use(A.node_id, 0.0)
    table.set_local({B.node_id: UP})  # our link to A went down: A is reached via B, C
    (change,) = table.refresh(1.0)
    assert change.path == (B.node_id, C.node_id, A.node_id)
    table.set_local({})
    (change,) = table.refresh(2.0)
    assert (change.path, change.cost) == (None, None)
