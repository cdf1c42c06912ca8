"""How a partitioned run is cut: which worker drives each node, and how far ahead it may run.

* ``partition``: every node's worker, by a fixed rule that keeps neighbours together
  (x position, else breadth-first order), in runs of nearly equal size.
* ``lookahead``: the least delay floor of the links between two workers (``L``).
* ``reach``: for every node, the least delay before anything it does can arrive at
  another worker: the least sum of delay floors along a path that crosses the cut.
  A node deep inside its worker's share has a reach of several ``L``, so an entry
  pending there holds the other workers back less than one next to the cut
  (``Scheduler.horizon``, ``parallel.py``).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence

from meshnet.errors import ConfigError
from meshnet.sim.scenario import Scenario
from meshnet.sim.topology import Topology

__all__ = ["lookahead", "partition", "reach"]


def partition(topology: Topology, workers: int) -> list[int]:
    """The worker of every node: contiguous runs of an order that keeps neighbours close.

    The runs carry about equal *load*, each node weighing its degree + 1 (a node's
    frames grow with its links: floods and probes cross every one), unless that would
    leave a worker without nodes; then they hold about equal numbers of nodes.

    Raises:
        ConfigError: fewer than one worker, or more workers than nodes.
    """
    if not 1 <= workers <= topology.nodes:
        raise ConfigError(f"--workers must lie in [1, {topology.nodes}], got {workers}")
    if topology.positions is not None:
        positions = topology.positions
        order = sorted(range(topology.nodes), key=lambda n: (positions[n][0], n))
    else:
        order = _breadth_first(topology)
    neighbours = topology.neighbours()
    weights = [len(neighbours[node]) + 1 for node in order]
    total, before = sum(weights), 0
    owner = [0] * topology.nodes
    for node, weight in zip(order, weights, strict=True):
        owner[node] = (2 * before + weight) * workers // (2 * total)  # by its middle
        before += weight
    if len(set(owner)) < workers:  # a node heavier than a worker's share
        for rank, node in enumerate(order):
            owner[node] = rank * workers // topology.nodes
    return owner


def _breadth_first(topology: Topology) -> list[int]:
    neighbours = topology.neighbours()
    seen = [False] * topology.nodes
    order: list[int] = []
    for root in range(topology.nodes):  # every component, lowest index first
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue:
            node = queue.popleft()
            order.append(node)
            for other in sorted(neighbours[node]):
                if not seen[other]:
                    seen[other] = True
                    queue.append(other)
    return order


def reach(scenario: Scenario, topology: Topology, owner: Sequence[int]) -> list[float]:
    """For every node, the least delay before anything it does can reach another worker.

    The least sum of delay floors along a path from the node across a link between two
    workers (that link included): Dijkstra from both ends of every such link at once.
    Infinite for every node when no link crosses.
    """
    overrides = dict(scenario.overrides)
    floors = {edge: overrides.get(edge, scenario.profile).delay_floor for edge in topology.edges}
    best = [float("inf")] * topology.nodes
    heap: list[tuple[float, int]] = []
    for (a, b), floor in floors.items():
        if owner[a] != owner[b]:
            for end in (a, b):
                if floor < best[end]:
                    best[end] = floor
                    heapq.heappush(heap, (floor, end))
    links: list[list[tuple[int, float]]] = [[] for _ in range(topology.nodes)]
    for (a, b), floor in floors.items():
        links[a].append((b, floor))
        links[b].append((a, floor))
    while heap:
        here_reach, here = heapq.heappop(heap)
        if here_reach > best[here]:
            continue
        for there, floor in links[here]:
            if here_reach + floor < best[there]:
                best[there] = here_reach + floor
                heapq.heappush(heap, (best[there], there))
    return best


def lookahead(scenario: Scenario, topology: Topology, owner: Sequence[int]) -> float:
    """The least delay floor of the links between two workers (inf when none crosses).

    Raises:
        ConfigError: a link crossing the cut has no delay floor above 0.
    """
    overrides = dict(scenario.overrides)
    floor = float("inf")
    for a, b in topology.edges:
        if owner[a] != owner[b]:
            profile = overrides.get((a, b), scenario.profile)
            if profile.delay_floor <= 0.0:
                raise ConfigError(
                    f"{scenario.source}: link {a}-{b} joins two workers but has no delay "
                    f"floor (latency {profile.latency}, jitter {profile.jitter}, "
                    f"{profile.jitter_model.value} jitter): a partitioned run needs one "
                    "(exponential jitter, or uniform jitter below the latency)"
                )
            floor = min(floor, profile.delay_floor)
    return floor
