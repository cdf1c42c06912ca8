"""Dijkstra against brute force over every simple path, and its tie-breaking."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.identity import NodeId
from meshnet.routing.paths import shortest_paths

NODES = [NodeId(bytes([i + 1]) * 32) for i in range(7)]

Edges = dict[tuple[int, int], int]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, Edges]:
    count = draw(st.integers(2, len(NODES)))
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    costs = st.integers(1, 6)  # small costs: plenty of ties
    return count, {pair: draw(costs) for pair in chosen}


def _adjacency(
    edges: Edges, order: list[tuple[int, int]]
) -> dict[NodeId, list[tuple[NodeId, int]]]:
    graph: dict[NodeId, list[tuple[NodeId, int]]] = {}
    for a, b in order:
        graph.setdefault(NODES[a], []).append((NODES[b], edges[(a, b)]))
    return graph


def _brute_force(count: int, edges: Edges, source: int) -> dict[int, int]:
    """Cheapest cost to every node over every simple path (exhaustive search)."""
    best: dict[int, int] = {source: 0}

    def walk(node: int, cost: int, seen: frozenset[int]) -> None:
        for nxt in range(count):
            weight = edges.get((node, nxt))
            if weight is None or nxt in seen:
                continue
            total = cost + weight
            if total < best.get(nxt, 1 << 30):
                best[nxt] = total
            walk(nxt, total, seen | {nxt})

    walk(source, 0, frozenset({source}))
    return best


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_costs_match_brute_force_and_paths_are_real(graph: tuple[int, Edges]) -> None:
    count, edges = graph
    order = sorted(edges)
    tree = shortest_paths(_adjacency(edges, order), NODES[0])
    expected = _brute_force(count, edges, 0)
    assert {NODES.index(n): c for n, c in tree.cost.items()} == expected
    for index in range(count):
        path = tree.path_to(NODES[index])
        if index not in expected:
            assert path is None
            continue
        assert path is not None
        hops = [0] + [NODES.index(n) for n in path]
        assert hops[-1] == index
        assert sum(edges[(a, b)] for a, b in itertools.pairwise(hops)) == expected[index]
        assert len(set(hops)) == len(hops)  # loop-free


@settings(max_examples=150, deadline=None)
@given(graphs(), st.randoms(use_true_random=False))
def test_ties_go_to_the_lowest_predecessor_whatever_the_input_order(
    graph: tuple[int, Edges], rng: random.Random
) -> None:
    _, edges = graph
    order = sorted(edges)
    shuffled = list(order)
    rng.shuffle(shuffled)
    first = shortest_paths(_adjacency(edges, order), NODES[0])
    second = shortest_paths(_adjacency(edges, shuffled), NODES[0])
    assert dict(first.parent) == dict(second.parent)
    for node, parent in first.parent.items():
        candidates = [
            NODES[a]
            for (a, b), weight in edges.items()
            if NODES[b] == node
            and NODES[a] in first.cost
            and first.cost[NODES[a]] + weight == first.cost[node]
        ]
        assert parent == min(candidates)


def test_source_path_is_empty_and_unknown_nodes_unreachable() -> None:
    tree = shortest_paths({}, NODES[0])
    assert tree.path_to(NODES[0]) == ()
    assert tree.path_to(NODES[1]) is None


def test_equal_cost_paths_pick_the_lower_relay() -> None:
    # 0 -> 1 -> 3 and 0 -> 2 -> 3 cost the same: relay 1 (lower id) wins.
    edges = {(0, 2): 1, (2, 3): 1, (0, 1): 1, (1, 3): 1}
    tree = shortest_paths(_adjacency(edges, list(edges)), NODES[0])
    assert tree.path_to(NODES[3]) == (NODES[1], NODES[3])


def test_costs_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="below 1"):
        shortest_paths({NODES[0]: [(NODES[1], 0)]}, NODES[0])
