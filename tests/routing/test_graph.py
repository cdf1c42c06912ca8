"""The link graph kept up to date as announcements come and go equals one built afresh."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.messages import Announcement, NeighbourEntry, prefix_of
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.policy import EtxLatencyPolicy, PathPolicy

NODES = [Identity.generate(SeededEntropy(5, f"graph/{i}"), created=0) for i in range(6)]
ME = NODES[0].node_id

# (origin, its neighbours, rtt of each link in ms) to install, or (origin, None, 0) to forget
operation = st.tuples(
    st.integers(0, len(NODES) - 1),
    st.none() | st.frozensets(st.integers(0, len(NODES) - 1), max_size=5),
    st.sampled_from([None, 1, 7, 30, 250]),
)


def fresh_graph(
    db: LinkStateDatabase, policy: PathPolicy
) -> dict[NodeId, list[tuple[NodeId, int]]]:
    """The confirmed, costed edges computed from nothing but the entries held."""
    held = {origin: db.get(origin) for origin in db.origins()}
    graph: dict[NodeId, list[tuple[NodeId, int]]] = {}
    for origin, entry in held.items():
        assert entry is not None
        edges = []
        for neighbour in entry.announcement.neighbours:
            owners = [o for o in held if prefix_of(o) == neighbour.prefix]
            if len(owners) != 1:
                continue
            other = held[owners[0]]
            assert other is not None
            if prefix_of(origin) in other.prefixes:
                cost = policy.link_cost(LinkMetrics.from_entry(neighbour))
                edges.append((owners[0], cost))
        graph[origin] = edges
    return graph


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, min_size=1, max_size=25))
def test_incremental_graph_equals_a_fresh_one(operations: list[tuple[int, object, object]]) -> None:
    db = LinkStateDatabase(accept_rate=1.0, accept_burst=1, max_origins=16)
    policy = EtxLatencyPolicy()
    local = {NODES[1].node_id: LinkMetrics(rtt=0.01, loss=0.0)}
    sequence = 0
    for index, neighbours, rtt in operations:
        who = NODES[index]
        if neighbours is None:
            db.remove(who.node_id)
        else:
            assert isinstance(neighbours, frozenset)
            assert rtt is None or isinstance(rtt, int)
            sequence += 1
            entries = sorted(
                (
                    NeighbourEntry(prefix=prefix_of(NODES[n].node_id), rtt_ms=rtt, loss=n)
                    for n in neighbours
                    if n != index
                ),
                key=lambda e: e.prefix,
            )
            announcement = Announcement.create(
                who, sequence=sequence, lifetime=100, neighbours=tuple(entries), endpoints=()
            )
            db.install_own(announcement, 0.0)
        graph = db.graph(ME, local, policy)
        expected = fresh_graph(db, policy)
        expected[ME] = [(NODES[1].node_id, policy.link_cost(local[NODES[1].node_id]))]
        assert graph == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(NODES) - 1),
            st.sampled_from([frozenset({1, 2}), frozenset({0, 1, 2, 3})]),
            st.sampled_from([None, 1, 7, 30, 250]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_cost_only_changes_keep_the_graph_equal_to_a_fresh_one(
    operations: list[tuple[int, frozenset[int], int | None]],
) -> None:
    """Mostly the same neighbour lists with new costs: only the origin is rebuilt."""
    db = LinkStateDatabase(accept_rate=1.0, accept_burst=1, max_origins=16)
    policy = EtxLatencyPolicy()
    for sequence, (index, neighbours, rtt) in enumerate(operations, start=1):
        entries = sorted(
            (
                NeighbourEntry(prefix=prefix_of(NODES[n].node_id), rtt_ms=rtt, loss=0)
                for n in neighbours
                if n != index
            ),
            key=lambda e: e.prefix,
        )
        db.install_own(
            Announcement.create(
                NODES[index],
                sequence=sequence,
                lifetime=100,
                neighbours=tuple(entries),
                endpoints=(),
            ),
            0.0,
        )
        graph = db.graph(ME, {}, policy)
        expected = fresh_graph(db, policy)
        expected[ME] = []
        assert graph == expected
