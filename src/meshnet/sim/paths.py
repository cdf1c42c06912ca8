"""``GroundTruth``: what the network really looks like at one moment.

The simulator knows every link's true state and profile, which no node does. Metrics
compare what the nodes achieved with this truth: which destinations were reachable
when a message was sent (for the delivery ratio among reachable pairs and for
convergence), and the best possible path (for stretch). One snapshot is computed per
topology version (a link or node changed state) and per source, on demand.
"""

from __future__ import annotations

import heapq
from collections import deque

__all__ = ["GroundTruth"]


class GroundTruth:
    """Reachability and best paths over the links that are up between live nodes.

    Args:
        nodes: number of nodes.
        edges: ``(a, b, delay)`` for every usable link; ``delay`` is its expected
            one-way propagation delay (the true link cost).
        alive: whether each node is running.
    """

    __slots__ = ("_adjacency", "_best", "alive", "component")

    def __init__(self, nodes: int, edges: list[tuple[int, int, float]], alive: list[bool]) -> None:
        self.alive = alive
        adjacency: list[list[tuple[int, float]]] = [[] for _ in range(nodes)]
        for a, b, delay in edges:
            if alive[a] and alive[b]:
                adjacency[a].append((b, delay))
                adjacency[b].append((a, delay))
        self._adjacency = adjacency
        self.component = [-1] * nodes
        """Component number of each live node (-1 for a node that is down)."""
        label = 0
        for start in range(nodes):
            if not alive[start] or self.component[start] >= 0:
                continue
            self.component[start] = label
            queue = deque([start])
            while queue:
                for v, _ in adjacency[queue.popleft()]:
                    if self.component[v] < 0:
                        self.component[v] = label
                        queue.append(v)
            label += 1
        self._best: dict[int, tuple[list[float], list[int]]] = {}

    def reachable(self, src: int, dst: int) -> bool:
        """True when both nodes run and a path of up links joins them."""
        c = self.component[src]
        return c >= 0 and c == self.component[dst]

    def _paths_from(self, src: int) -> tuple[list[float], list[int]]:
        cached = self._best.get(src)
        if cached is not None:
            return cached
        n = len(self._adjacency)
        inf = float("inf")
        delay = [inf] * n
        delay[src] = 0.0
        heap = [(0.0, src)]
        while heap:
            d, u = heapq.heappop(heap)
            if d > delay[u]:
                continue
            for v, w in self._adjacency[u]:
                if d + w < delay[v]:
                    delay[v] = d + w
                    heapq.heappush(heap, (d + w, v))
        hops = [-1] * n
        hops[src] = 0
        queue = deque([src])
        while queue:
            u = queue.popleft()
            for v, _ in self._adjacency[u]:
                if hops[v] < 0:
                    hops[v] = hops[u] + 1
                    queue.append(v)
        result = (delay, hops)
        self._best[src] = result
        return result

    def best_delay(self, src: int, dst: int) -> float | None:
        """The smallest sum of expected link delays from ``src`` to ``dst``, or None."""
        if not self.reachable(src, dst):
            return None
        return self._paths_from(src)[0][dst]

    def min_hops(self, src: int, dst: int) -> int | None:
        """The fewest links from ``src`` to ``dst``, or None when unreachable."""
        if not self.reachable(src, dst):
            return None
        return self._paths_from(src)[1][dst]
