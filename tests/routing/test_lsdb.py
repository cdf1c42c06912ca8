"""The link-state database: acceptance order, rate limits, expiry, prefixes, both ends."""

from __future__ import annotations

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId
from meshnet.routing.lsdb import LinkStateDatabase, Verdict
from meshnet.routing.messages import Announcement, NeighbourEntry, prefix_of
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.policy import HopCountPolicy


def make_identity(label: str) -> Identity:
    return Identity.generate(SeededEntropy(11, label), created=1_700_000_000)


A, B, C, ME = (make_identity(name) for name in ("a", "b", "c", "me"))


def announce(
    who: Identity, sequence: int, *neighbours: Identity, lifetime: int = 100
) -> Announcement:
    entries = sorted(
        (NeighbourEntry(prefix=prefix_of(n.node_id), rtt_ms=10, loss=0) for n in neighbours),
        key=lambda e: e.prefix,
    )
    return Announcement.create(
        who, sequence=sequence, lifetime=lifetime, neighbours=tuple(entries), endpoints=()
    )


def database(**kwargs: int) -> LinkStateDatabase:
    return LinkStateDatabase(
        accept_rate=kwargs.get("rate", 1),
        accept_burst=kwargs.get("burst", 2),
        max_origins=kwargs.get("max_origins", 10),
    )


def test_newer_replaces_older_and_the_rest_is_classified() -> None:
    db = database()
    assert db.classify(announce(A, 5), 0) is None
    assert db.admit(announce(A, 5), 0, now=0.0) is Verdict.ACCEPTED
    assert db.classify(announce(A, 5), 0) is Verdict.DUPLICATE
    assert db.classify(announce(A, 4), 0) is Verdict.STALE
    assert db.classify(announce(A, 6), 100) is Verdict.EXPIRED
    assert db.classify(announce(A, 6), 0) is None
    entry = db.get(A.node_id)
    assert entry is not None and entry.announcement.sequence == 5


def test_database_is_bounded_in_origins() -> None:
    db = database(max_origins=2)
    db.admit(announce(A, 1), 0, 0.0)
    db.admit(announce(B, 1), 0, 0.0)
    assert db.classify(announce(C, 1), 0) is Verdict.DATABASE_FULL
    assert db.classify(announce(A, 2), 0) is None  # known origins still update


def test_a_fast_origin_is_deferred_and_its_latest_installed_later() -> None:
    db = database(rate=1, burst=2)
    assert db.admit(announce(A, 1), 0, 0.0) is Verdict.ACCEPTED
    assert db.admit(announce(A, 2), 0, 0.0) is Verdict.ACCEPTED
    assert db.admit(announce(A, 3), 0, 0.1) is Verdict.RATE_LIMITED
    assert db.classify(announce(A, 3), 0) is Verdict.DUPLICATE  # already waiting
    assert db.classify(announce(A, 4), 0) is None
    assert db.admit(announce(A, 4), 0, 0.2) is Verdict.RATE_LIMITED  # replaces 3
    assert db.classify(announce(A, 3), 0) is Verdict.STALE
    entry = db.get(A.node_id)
    assert entry is not None and entry.announcement.sequence == 2
    due = db.next_deadline()
    assert due is not None and 0.99 < due <= 1.0 + 1e-6  # one token a second
    assert db.handle_timer(due - 0.01) == ([], [])
    expired, installed = db.handle_timer(due)
    assert expired == [] and [a.sequence for a in installed] == [4]
    entry = db.get(A.node_id)
    assert entry is not None and entry.announcement.sequence == 4
    assert (entry.received, entry.age) == (due, 0)


def test_deferred_announcement_ages_while_it_waits() -> None:
    db = database(rate=1, burst=1)
    db.admit(announce(A, 1), 0, 0.0)
    db.admit(announce(A, 2, lifetime=10), 9, 0.0)  # deferred with 1 s left to live
    _, installed = db.handle_timer(1.0)
    assert installed == []  # it expired while waiting
    entry = db.get(A.node_id)
    assert entry is not None and entry.announcement.sequence == 1


def test_entries_expire_after_lifetime_minus_age() -> None:
    db = database()
    db.admit(announce(A, 1, lifetime=100), 30, now=10.0)
    entry = db.get(A.node_id)
    assert entry is not None
    assert entry.expires == 80.0
    assert entry.age_at(50.0) == 70
    assert db.next_deadline() == 80.0
    assert db.handle_timer(79.9) == ([], [])
    assert db.handle_timer(80.0) == ([A.node_id], [])
    assert A.node_id not in db and len(db) == 0
    assert db.resolve(prefix_of(A.node_id)) is None


def test_own_announcements_bypass_the_rate_limit() -> None:
    db = database(rate=1, burst=1)
    for sequence in range(1, 6):
        db.install_own(announce(ME, sequence), 0.0)
    entry = db.get(ME.node_id)
    assert entry is not None and entry.announcement.sequence == 5


def test_origins_are_sorted_and_ranges_select_them() -> None:
    db = database()
    for who in (A, B, C):
        db.admit(announce(who, 1), 0, 0.0)
    ordered = sorted(w.node_id for w in (A, B, C))
    assert list(db.origins()) == ordered
    middle = ordered[1].raw
    assert [e.announcement.origin for e in db.between(middle, middle)] == [ordered[1]]
    assert len(list(db.between(bytes(32), b"\xff" * 32))) == 3


def _unsigned(node: NodeId, sequence: int = 1) -> Announcement:
    """An announcement from a made-up id (the database does not check signatures)."""
    record = IdentityRecord(node_id=node, static_public=bytes(32), created=0, signature=bytes(64))
    return Announcement(
        record=record,
        sequence=sequence,
        lifetime=100,
        neighbours=(),
        endpoints=(),
        signature=bytes(64),
    )


def test_ambiguous_prefixes_resolve_to_nothing() -> None:
    db = database()
    first, second = NodeId(b"p" * 8 + b"\x01" * 24), NodeId(b"p" * 8 + b"\x02" * 24)
    db.admit(_unsigned(first), 0, 0.0)
    assert db.resolve(b"p" * 8) == first
    db.admit(_unsigned(second), 0, 0.0)
    assert db.resolve(b"p" * 8) is None
    db.remove(first)
    assert db.resolve(b"p" * 8) == second
    assert db.resolve(b"\x00" * 8) is None
    third = NodeId(b"p" * 8 + b"\x03" * 24)
    db.admit(_unsigned(first), 0, 0.0)
    db.admit(_unsigned(third), 0, 0.0)
    db.remove(second)
    assert db.resolve(b"p" * 8) is None  # still two: first and third
    db.remove(first)
    assert db.resolve(b"p" * 8) == third
    db.remove(third)
    assert db.resolve(b"p" * 8) is None


def _graph(
    db: LinkStateDatabase,
    local: dict[NodeId, LinkMetrics] | None = None,
    excluded: set[tuple[NodeId, bytes]] | None = None,
) -> dict[NodeId, list[tuple[NodeId, int]]]:
    return db.graph(ME.node_id, local or {}, HopCountPolicy(), excluded or set())


def test_a_link_counts_only_when_both_ends_announce_it() -> None:
    db = database()
    db.admit(announce(A, 1, B, C), 0, 0.0)  # A claims B and C
    db.admit(announce(B, 1, A), 0, 0.0)  # B confirms A
    db.admit(announce(C, 1), 0, 0.0)  # C does not
    graph = _graph(db)
    assert graph[A.node_id] == [(B.node_id, 1)]
    assert graph[B.node_id] == [(A.node_id, 1)]
    assert graph[C.node_id] == []
    links = {peer: ok for _, peer, ok in db.links_of(A.node_id, ME.node_id, {})}
    assert links == {B.node_id: True, C.node_id: False}


def test_our_own_edges_come_from_our_live_links() -> None:
    db = database()
    db.admit(announce(A, 1, ME, B), 0, 0.0)
    db.admit(announce(B, 1, A), 0, 0.0)
    measured = LinkMetrics(rtt=0.01, loss=0)
    assert _graph(db, {A.node_id: measured})[ME.node_id] == [(A.node_id, 1)]
    # A's claim of a link to us holds only while we have one to A
    mine = {peer: ok for _, peer, ok in db.links_of(A.node_id, ME.node_id, {})}
    assert mine[ME.node_id] is False
    mine = {peer: ok for _, peer, ok in db.links_of(A.node_id, ME.node_id, {A.node_id: measured})}
    assert mine[ME.node_id] is True


def test_suspended_links_are_left_out() -> None:
    db = database()
    db.admit(announce(A, 1, B), 0, 0.0)
    db.admit(announce(B, 1, A), 0, 0.0)
    graph = _graph(db, excluded={(A.node_id, prefix_of(B.node_id))})
    assert graph[A.node_id] == []
    assert graph[B.node_id] == [(A.node_id, 1)]


def test_unknown_neighbour_prefixes_make_no_edges() -> None:
    db = database()
    db.admit(announce(A, 1, B), 0, 0.0)  # B never announced
    assert _graph(db)[A.node_id] == []
    ((_, peer, confirmed),) = db.links_of(A.node_id, ME.node_id, {})
    assert (peer, confirmed) == (None, False)
    assert db.links_of(C.node_id, ME.node_id, {}) == []
