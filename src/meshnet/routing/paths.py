"""Shortest paths over the link-state graph: Dijkstra with deterministic ties.

Costs are positive integers (``policy.py``), so path costs are exact. Among paths of
equal cost the one whose last relay has the lowest node id (by bytes) wins, applied hop
by hop back to the source: when a node is settled, every equal-cost predecessor has
been settled before it (costs are at least 1), so the choice does not depend on the
order in which edges or nodes were stored. ``tests/routing/test_paths.py`` checks the
costs against brute force over every simple path and the paths against shuffled input.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId

__all__ = ["Graph", "ShortestPaths", "shortest_paths"]

Graph = Mapping[NodeId, Sequence[tuple[NodeId, int]]]
"""Directed adjacency: node -> (neighbour, cost >= 1) pairs."""


@dataclass(frozen=True, slots=True)
class ShortestPaths:
    """The shortest-path tree from one source."""

    source: NodeId
    """The root of the tree."""
    cost: Mapping[NodeId, int]
    """Cost of the best path to every reachable node (0 for the source)."""
    parent: Mapping[NodeId, NodeId]
    """The node before each reachable node on its best path (not for the source)."""

    def path_to(self, destination: NodeId) -> tuple[NodeId, ...] | None:
        """The nodes after the source up to ``destination``; ``()`` for the source itself.

        Returns None when ``destination`` is unreachable.
        """
        if destination not in self.cost:
            return None
        path: list[NodeId] = []
        node = destination
        while node != self.source:
            path.append(node)
            node = self.parent[node]
        path.reverse()
        return tuple(path)


def shortest_paths(graph: Graph, source: NodeId) -> ShortestPaths:
    """Dijkstra from ``source``.

    Nodes are keyed by ``NodeId``, a ``bytes`` subclass whose hash and comparisons run
    in C: the loop does a dictionary lookup per edge (1,600 in a 200-node mesh of
    degree 8). A node's heap entry is stale when its cost has gone
    down since it was pushed (entries are pushed only on a strict decrease, so a node
    is settled exactly once); a settled node is never relaxed again, since every later
    candidate exceeds its cost (costs are at least 1).

    Args:
        graph: directed edges with integer costs of at least 1.
        source: where paths start.

    Raises:
        ValueError: an edge cost below 1.
    """
    cost: dict[NodeId, int] = {source: 0}
    parent: dict[NodeId, NodeId] = {}
    heap: list[tuple[int, NodeId]] = [(0, source)]
    pop, push, edges_of = heapq.heappop, heapq.heappush, graph.get
    while heap:
        here_cost, here = pop(heap)
        if here_cost > cost[here]:
            continue  # stale: a cheaper entry settled it
        for there, weight in edges_of(here, ()):
            if weight < 1:
                raise ValueError(f"edge cost {weight} below 1")
            candidate = here_cost + weight
            known = cost.get(there)
            if known is None or candidate < known:
                cost[there] = candidate
                parent[there] = here
                push(heap, (candidate, there))
            elif candidate == known and here < parent[there]:
                parent[there] = here
    return ShortestPaths(source=source, cost=cost, parent=parent)
