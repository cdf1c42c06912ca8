"""Topology builders: who is linked to whom, as plain data.

A ``Topology`` is a node count, a sorted edge list of ``(a, b)`` pairs with ``a < b``,
and optional 2-D positions for plots. Builders never touch the simulator; random ones
take a ``Sampler`` so the same seed gives the same graph.

* ``pair``, ``line``, ``ring``, ``star``, ``grid``: the regular shapes.
* ``boyan_littman``: the irregular 6x6 grid of Boyan & Littman's Q-routing paper.
* ``random_geometric``: nodes uniform in the unit square, linked within a radius chosen
  to hit a target mean degree; made connected.
* ``barabasi_albert``: preferential attachment (scale-free degrees).
* ``from_edges`` / ``load_edge_list``: an explicit edge list.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from meshnet.errors import ConfigError
from meshnet.sim.sampling import Sampler

__all__ = [
    "Topology",
    "barabasi_albert",
    "boyan_littman",
    "from_edges",
    "grid",
    "line",
    "load_edge_list",
    "pair",
    "random_geometric",
    "ring",
    "star",
]

Edge = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """Nodes ``0 .. nodes-1`` and undirected edges between them."""

    name: str
    """What built it, e.g. ``line(10)``."""
    nodes: int
    """Number of nodes."""
    edges: tuple[Edge, ...]
    """Sorted, unique ``(a, b)`` pairs with ``a < b``."""
    positions: tuple[tuple[float, float], ...] | None = None
    """Optional ``(x, y)`` per node, for plots."""

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ConfigError(f"topology {self.name}: needs at least one node")
        previous: Edge | None = None
        for edge in self.edges:
            a, b = edge
            if not (0 <= a < b < self.nodes):
                raise ConfigError(
                    f"topology {self.name}: edge {edge!r} is not a pair a < b of nodes "
                    f"0..{self.nodes - 1}"
                )
            if previous is not None and edge <= previous:
                raise ConfigError(f"topology {self.name}: edges must be sorted and unique")
            previous = edge
        if self.positions is not None and len(self.positions) != self.nodes:
            raise ConfigError(f"topology {self.name}: one position per node is needed")

    def neighbours(self) -> list[list[int]]:
        """Each node's neighbours, in increasing order."""
        adjacency: list[list[int]] = [[] for _ in range(self.nodes)]
        for a, b in self.edges:
            adjacency[a].append(b)
            adjacency[b].append(a)
        for row in adjacency:
            row.sort()
        return adjacency

    @property
    def mean_degree(self) -> float:
        """Average number of neighbours per node."""
        return 2.0 * len(self.edges) / self.nodes

    def components(self) -> list[list[int]]:
        """Connected components, each sorted, ordered by their smallest node."""
        return _components(self.nodes, self.neighbours())

    def is_connected(self) -> bool:
        """True when every node can reach every other."""
        return len(self.components()) == 1


def _components(n: int, adjacency: list[list[int]]) -> list[list[int]]:
    seen = [False] * n
    out: list[list[int]] = []
    for start in range(n):
        if seen[start]:
            continue
        seen[start] = True
        members, queue = [start], deque([start])
        while queue:
            for v in adjacency[queue.popleft()]:
                if not seen[v]:
                    seen[v] = True
                    members.append(v)
                    queue.append(v)
        out.append(sorted(members))
    return out


def _normalise(edges: Iterable[Edge]) -> tuple[Edge, ...]:
    return tuple(sorted({(min(a, b), max(a, b)) for a, b in edges}))


def from_edges(
    nodes: int,
    edges: Iterable[Edge],
    *,
    name: str = "edges",
    positions: tuple[tuple[float, float], ...] | None = None,
) -> Topology:
    """A topology from any iterable of pairs (order and direction do not matter).

    Raises:
        ConfigError: a self-loop or a node outside ``0 .. nodes-1``.
    """
    pairs = list(edges)
    for a, b in pairs:
        if a == b:
            raise ConfigError(f"topology {name}: self-loop on node {a}")
    return Topology(name=name, nodes=nodes, edges=_normalise(pairs), positions=positions)


def pair() -> Topology:
    """Two nodes, one link."""
    return line(2)


def line(n: int) -> Topology:
    """``n`` nodes in a chain: 0-1-2-...-(n-1)."""
    _need(n >= 2, f"line needs at least 2 nodes, got {n}")
    positions = tuple((float(i), 0.0) for i in range(n))
    return from_edges(n, ((i, i + 1) for i in range(n - 1)), name=f"line({n})", positions=positions)


def ring(n: int) -> Topology:
    """``n`` nodes in a cycle."""
    _need(n >= 3, f"ring needs at least 3 nodes, got {n}")
    positions = tuple(
        (math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)) for i in range(n)
    )
    edges = [(i, (i + 1) % n) for i in range(n)]
    return from_edges(n, edges, name=f"ring({n})", positions=positions)


def star(n: int) -> Topology:
    """Node 0 linked to each of ``n - 1`` leaves."""
    _need(n >= 2, f"star needs at least 2 nodes, got {n}")
    leaves = n - 1
    positions = (
        (0.0, 0.0),
        *(
            (math.cos(2 * math.pi * i / leaves), math.sin(2 * math.pi * i / leaves))
            for i in range(leaves)
        ),
    )
    return from_edges(n, ((0, i) for i in range(1, n)), name=f"star({n})", positions=positions)


def grid(rows: int, cols: int) -> Topology:
    """A ``rows`` x ``cols`` lattice; node ``r * cols + c`` sits at row r, column c."""
    _need(rows >= 1 and cols >= 1 and rows * cols >= 2, f"grid {rows}x{cols} is too small")
    edges = []
    for r in range(rows):
        for c in range(cols):
            node = r * cols + c
            if c + 1 < cols:
                edges.append((node, node + 1))
            if r + 1 < rows:
                edges.append((node, node + cols))
    positions = tuple((float(c), float(-r)) for r in range(rows) for c in range(cols))
    return from_edges(rows * cols, edges, name=f"grid({rows}x{cols})", positions=positions)


def boyan_littman() -> Topology:
    """The irregular 6x6 grid of Boyan & Littman's Q-routing experiments.

    J. A. Boyan and M. L. Littman, "Packet Routing in Dynamically Changing Networks: A
    Reinforcement Learning Approach", NIPS 6 (1994), Figure 1. Node ``r * 6 + c`` is at
    row r (0 = top), column c. The left (columns 0-2) and right (columns 3-5) halves
    meet only through two bridges: the top row, reached down the outer columns, and
    the middle of row 2, the bottleneck that shortest-path routing overloads. Row 1
    holds two short horizontal stubs without links to row 0; rows 3-5 are two 3x3
    blocks hanging below row 2. 36 nodes, 50 links.

    The edge set was checked by recomputing the paper's Figure 3 shortest-path route
    counts per node: it reproduces their shape (570/573 at the bottleneck nodes 14 and
    15, under 60 on the row-1 stubs), the residual differences coming from the
    unstated tie-break rule.
    """
    edges: list[Edge] = []

    def link(r1: int, c1: int, r2: int, c2: int) -> None:
        edges.append((r1 * 6 + c1, r2 * 6 + c2))

    for c in range(5):
        link(0, c, 0, c + 1)  # the top row
        link(2, c, 2, c + 1)  # row 2, with the central bottleneck 14-15
    link(1, 1, 1, 2)
    link(1, 3, 1, 4)
    for r in (3, 4, 5):
        for c in (0, 1, 3, 4):  # two 3x3 blocks: no link between columns 2 and 3
            link(r, c, r, c + 1)
    for r in range(5):
        link(r, 0, r + 1, 0)  # the outer columns run the full height
        link(r, 5, r + 1, 5)
    for r in range(1, 5):
        for c in (1, 2, 3, 4):  # inner columns start at row 1
            link(r, c, r + 1, c)
    positions = tuple((float(c), float(-r)) for r in range(6) for c in range(6))
    return from_edges(36, edges, name="boyan_littman", positions=positions)


def random_geometric(
    n: int, mean_degree: float, sampler: Sampler, *, attempts: int = 10
) -> Topology:
    """Nodes uniform in the unit square, linked when closer than a radius.

    The radius is the distance of the ``round(n * mean_degree / 2)``-th closest pair, so
    the mean degree hits the target exactly (before any bridging). The graph is
    redrawn up to ``attempts`` times until it is connected; if it never is, each
    smaller component is joined to the rest by its geometrically closest pair.

    Args:
        n: number of nodes.
        mean_degree: target mean degree (> 0, < n - 1).
        sampler: the random stream for positions.
        attempts: redraws before bridging components.
    """
    _need(n >= 2, f"random_geometric needs at least 2 nodes, got {n}")
    _need(0 < mean_degree < n - 1, f"mean_degree must be in (0, {n - 1}), got {mean_degree}")
    wanted = max(1, round(n * mean_degree / 2))
    for attempt in range(attempts):
        positions = tuple((sampler.uniform(), sampler.uniform()) for _ in range(n))
        edges = _closest_pairs(positions, wanted)
        topology = from_edges(n, edges, name=f"rgg({n},{mean_degree:g})", positions=positions)
        if topology.is_connected() or attempt == attempts - 1:
            break
    return _bridge_components(topology)


def _closest_pairs(positions: tuple[tuple[float, float], ...], wanted: int) -> list[Edge]:
    """The ``wanted`` closest pairs (ties by index), found through a grid of cells.

    Every pair closer than the cell size ``r`` is collected from the 3x3 cells around
    each node; ``r`` grows until at least ``wanted`` pairs are inside it, so the answer
    is the same as sorting all n^2/2 pairs, at a fraction of the cost.
    """
    n = len(positions)
    r = math.sqrt(2.0 * wanted / (math.pi * n * n)) * 1.3
    while True:
        cells: dict[tuple[int, int], list[int]] = {}
        for i, (x, y) in enumerate(positions):
            cells.setdefault((int(x / r), int(y / r)), []).append(i)
        limit = r * r
        found: list[tuple[float, int, int]] = []
        for a, (x, y) in enumerate(positions):
            cx, cy = int(x / r), int(y / r)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for b in cells.get((cx + dx, cy + dy), ()):
                        if b > a:
                            d2 = _dist2(positions[a], positions[b])
                            if d2 <= limit:
                                found.append((d2, a, b))
        if len(found) >= wanted or r >= 2.0:
            found.sort()
            return [(a, b) for _, a, b in found[:wanted]]
        r *= 1.5


def _dist2(p: tuple[float, float], q: tuple[float, float]) -> float:
    return (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2


def _bridge_components(topology: Topology) -> Topology:
    components = topology.components()
    positions = topology.positions
    if len(components) == 1 or positions is None:
        return topology
    edges = list(topology.edges)
    joined = list(components[0])
    for component in components[1:]:
        _, a, b = min((_dist2(positions[a], positions[b]), a, b) for a in component for b in joined)
        edges.append((a, b))
        joined.extend(component)
    return from_edges(topology.nodes, edges, name=topology.name, positions=positions)


def barabasi_albert(n: int, m: int, sampler: Sampler) -> Topology:
    """Preferential attachment: each new node links to ``m`` distinct existing nodes.

    Starts from a star on ``m + 1`` nodes; a target is drawn with probability
    proportional to its degree (Barabasi & Albert, Science 286, 1999).
    """
    _need(m >= 1 and n > m + 1, f"barabasi_albert needs n > m + 1 >= 2, got n={n}, m={m}")
    edges: list[Edge] = [(0, i) for i in range(1, m + 1)]
    ends: list[int] = [v for edge in edges for v in edge]  # each node once per degree
    for new in range(m + 1, n):
        targets: list[int] = []
        while len(targets) < m:
            candidate = ends[sampler.below(len(ends))]
            if candidate not in targets:
                targets.append(candidate)
        for t in targets:
            edges.append((t, new))
            ends.extend((t, new))
    return from_edges(n, edges, name=f"ba({n},{m})")


def load_edge_list(path: Path, *, nodes: int | None = None) -> Topology:
    """Read ``a b`` pairs, one per line (``#`` starts a comment; blank lines skipped).

    Args:
        path: the file.
        nodes: the node count; the largest index + 1 by default.

    Raises:
        ConfigError: unreadable file or a malformed line (the message names both).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read edge list: {exc.strerror}") from None
    edges: list[Edge] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line_text = raw.split("#", 1)[0].strip()
        if not line_text:
            continue
        fields = line_text.replace(",", " ").split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            raise ConfigError(f"{path}:{number}: expected two node numbers, got {raw.strip()!r}")
        edges.append((int(fields[0]), int(fields[1])))
    if not edges:
        raise ConfigError(f"{path}: the edge list is empty")
    count = nodes if nodes is not None else 1 + max(max(e) for e in edges)
    return from_edges(count, edges, name=path.name)


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
