"""``build_network``: a small simulated network in one line (aioquic's client_and_server).

    sim = build_network(n=5, topology="line", seed=1, node_factory=factory)
    sim.run_for(2.0)

``node_factory`` defaults to the real node (``meshnet.sim.registry``), so scenario
tests of the real ``Node`` need no argument; simulator tests pass a toy factory.
"""

from __future__ import annotations

import math
from typing import Any

from meshnet.crypto.entropy import SeededEntropy
from meshnet.sim import topology as topo
from meshnet.sim.harness import NodeFactory
from meshnet.sim.profile import LinkProfile
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.sampling import Sampler
from meshnet.sim.simulation import Simulation
from meshnet.sim.trace import Trace

__all__ = ["build_network", "make_topology"]


def make_topology(
    kind: str, n: int, seed: int = 1, *, mean_degree: float = 4.0, m: int = 2
) -> topo.Topology:
    """A topology by name: pair, line, ring, star, grid (n must be a square),
    boyan_littman (n ignored: 36), rgg (random geometric) or ba (Barabasi-Albert)."""
    sampler = Sampler(SeededEntropy(seed, "test-topology"))
    if kind == "pair":
        return topo.pair()
    if kind == "grid":
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"grid needs a square node count, got {n}")
        return topo.grid(side, side)
    if kind == "boyan_littman":
        return topo.boyan_littman()
    if kind == "rgg":
        return topo.random_geometric(n, mean_degree, sampler)
    if kind == "ba":
        return topo.barabasi_albert(n, m, sampler)
    builders = {"line": topo.line, "ring": topo.ring, "star": topo.star}
    if kind not in builders:
        raise ValueError(f"unknown topology kind {kind!r}")
    return builders[kind](n)


def build_network(
    *,
    n: int = 2,
    topology: str | topo.Topology = "line",
    seed: int = 1,
    node_factory: NodeFactory | None = None,
    profile: LinkProfile | None = None,
    keep_records: bool = True,
    **options: Any,
) -> Simulation:
    """A started ``Simulation`` of ``n`` nodes; extra options go to ``Simulation``.

    Args:
        n: number of nodes (ignored when ``topology`` is a ``Topology``).
        topology: a builder name (see ``make_topology``) or a ready ``Topology``.
        seed: the run seed.
        node_factory: builds nodes; the real ``meshnet`` node by default.
        profile: the default link profile (10 ms, no loss, infinite bandwidth).
        keep_records: keep every trace record in ``sim.trace.records``.
    """
    built = topology if isinstance(topology, topo.Topology) else make_topology(topology, n, seed)
    return Simulation(
        topology=built,
        node_factory=node_factory if node_factory is not None else resolve_node_factory(None),
        seed=seed,
        profile=profile,
        trace=Trace(keep=keep_records),
        **options,
    )
