"""Topology builders: edge counts, connectivity, degrees, determinism, edge-list files."""

from __future__ import annotations

import itertools
from collections import deque
from pathlib import Path

import pytest

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import ConfigError
from meshnet.sim import topology as topo
from meshnet.sim.sampling import Sampler


def sampler(seed: int = 1, label: str = "topology") -> Sampler:
    return Sampler(SeededEntropy(seed, label))


def hops_from(t: topo.Topology, source: int) -> list[int]:
    dist = [-1] * t.nodes
    dist[source] = 0
    queue = deque([source])
    adjacency = t.neighbours()
    while queue:
        u = queue.popleft()
        for v in adjacency[u]:
            if dist[v] < 0:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


@pytest.mark.parametrize(
    ("built", "nodes", "edges"),
    [
        (topo.pair(), 2, 1),
        (topo.line(10), 10, 9),
        (topo.ring(8), 8, 8),
        (topo.star(7), 7, 6),
        (topo.grid(4, 5), 20, 4 * 4 + 3 * 5),
        (topo.boyan_littman(), 36, 50),
    ],
)
def test_regular_shapes(built: topo.Topology, nodes: int, edges: int) -> None:
    assert built.nodes == nodes
    assert len(built.edges) == edges
    assert built.is_connected()
    assert list(built.edges) == sorted(set(built.edges))
    assert built.positions is not None and len(built.positions) == nodes


def test_shape_details() -> None:
    assert topo.line(4).edges == ((0, 1), (1, 2), (2, 3))
    assert (0, 7) in topo.ring(8).edges
    assert all(a == 0 for a, _ in topo.star(5).edges)
    g = topo.grid(3, 3)
    assert [len(n) for n in g.neighbours()] == [2, 3, 2, 3, 4, 3, 2, 3, 2]


def test_boyan_littman_has_two_bridges_between_halves() -> None:
    t = topo.boyan_littman()
    left = {r * 6 + c for r in range(6) for c in range(3)}
    crossing = [(a, b) for a, b in t.edges if (a in left) != (b in left)]
    assert crossing == [(2, 3), (14, 15)]  # the top row and the central bottleneck
    # row 1's inner nodes have no link up to row 0
    assert not any((c, 6 + c) in t.edges for c in range(1, 5))
    # cutting the bottleneck leaves the grid connected, the long way round the top
    without = topo.from_edges(36, [e for e in t.edges if e != (14, 15)])
    assert without.is_connected()
    assert hops_from(t, 14)[15] == 1
    assert hops_from(without, 14)[15] == 13  # 14-13-12-6-0-1-...-5-11-17-16-15


def test_random_geometric_hits_mean_degree_and_is_connected() -> None:
    t = topo.random_geometric(200, 8.0, sampler())
    assert t.nodes == 200
    assert t.is_connected()
    assert t.mean_degree == pytest.approx(8.0, abs=0.3)
    assert t.positions is not None
    assert all(0.0 <= x < 1.0 and 0.0 <= y < 1.0 for x, y in t.positions)


def test_random_geometric_radius_is_a_threshold() -> None:
    t = topo.random_geometric(60, 6.0, sampler(3))
    assert t.positions is not None
    pos = t.positions

    def d2(a: int, b: int) -> float:
        return (pos[a][0] - pos[b][0]) ** 2 + (pos[a][1] - pos[b][1]) ** 2

    base = topo.from_edges(60, topo._closest_pairs(pos, round(60 * 6.0 / 2)))
    radius = max(d2(a, b) for a, b in base.edges)
    for a, b in itertools.combinations(range(60), 2):
        assert ((a, b) in base.edges) == (d2(a, b) <= radius)


def test_sparse_random_geometric_is_bridged_into_one_component() -> None:
    t = topo.random_geometric(50, 1.5, sampler(5), attempts=1)
    assert t.is_connected()


def test_random_builders_are_deterministic_per_seed() -> None:
    assert topo.random_geometric(80, 5.0, sampler(9)) == topo.random_geometric(80, 5.0, sampler(9))
    assert topo.random_geometric(80, 5.0, sampler(9)) != topo.random_geometric(80, 5.0, sampler(10))
    assert topo.barabasi_albert(100, 2, sampler(4)) == topo.barabasi_albert(100, 2, sampler(4))


def test_barabasi_albert_edges_and_hubs() -> None:
    n, m = 300, 3
    t = topo.barabasi_albert(n, m, sampler(2))
    assert len(t.edges) == m + (n - m - 1) * m
    assert t.is_connected()
    degrees = sorted((len(x) for x in t.neighbours()), reverse=True)
    assert min(degrees) >= 1
    assert degrees[0] >= 5 * m  # preferential attachment grows hubs


def test_from_edges_normalises_and_rejects_bad_edges() -> None:
    t = topo.from_edges(4, [(3, 2), (0, 1), (1, 0)])
    assert t.edges == ((0, 1), (2, 3))
    assert not t.is_connected()
    assert t.components() == [[0, 1], [2, 3]]
    with pytest.raises(ConfigError, match="self-loop"):
        topo.from_edges(3, [(1, 1)])
    with pytest.raises(ConfigError, match="edge"):
        topo.from_edges(3, [(0, 5)])


def test_load_edge_list(tmp_path: Path) -> None:
    path = tmp_path / "mesh.edges"
    path.write_text("# a comment\n0 1\n1,2  # trailing\n\n2 3\n")
    t = topo.load_edge_list(path)
    assert t.nodes == 4
    assert t.edges == ((0, 1), (1, 2), (2, 3))
    assert topo.load_edge_list(path, nodes=6).nodes == 6


def test_load_edge_list_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.edges"
    path.write_text("0 1\n1 x\n")
    with pytest.raises(ConfigError, match=r"bad.edges:2"):
        topo.load_edge_list(path)
    with pytest.raises(ConfigError, match="cannot read"):
        topo.load_edge_list(tmp_path / "missing.edges")


@pytest.mark.parametrize(
    "build",
    [
        lambda: topo.line(1),
        lambda: topo.ring(2),
        lambda: topo.grid(1, 1),
        lambda: topo.random_geometric(10, 20.0, sampler()),
        lambda: topo.barabasi_albert(3, 2, sampler()),
    ],
)
def test_builders_reject_impossible_sizes(build: object) -> None:
    with pytest.raises(ConfigError):
        build()  # type: ignore[operator]
