"""Healing after failures with the default timers, and damping of a flapping link."""

from __future__ import annotations

import itertools

from tests.routing.mesh import Mesh

from meshnet.routing.config import RoutingConfig
from meshnet.routing.messages import decode_announcement
from meshnet.wire.codes import RoutingPacket

SIDE = 5


def grid() -> Mesh:
    mesh = Mesh(seed=3)
    mesh.add_many(SIDE * SIDE)
    for i in range(SIDE * SIDE):
        if i % SIDE < SIDE - 1:
            mesh.connect(i, i + 1, latency=0.010, rtt=0.020)
        if i < SIDE * (SIDE - 1):
            mesh.connect(i, i + SIDE, latency=0.010, rtt=0.020)
    return mesh


def all_routes_live(mesh: Mesh) -> bool:
    """Every node has a path to every other, and every hop of it is a live link."""
    for source in range(len(mesh.nodes)):
        for destination in range(len(mesh.nodes)):
            if source == destination:
                continue
            path = mesh.path(source, destination)
            if path is None:
                return False
            hops = [source, *path]
            if any((min(a, b), max(a, b)) not in mesh.wires for a, b in itertools.pairwise(hops)):
                return False
    return True


def time_to_converge(mesh: Mesh, *, limit: float, step: float = 0.05) -> float:
    start = mesh.now
    while mesh.now - start < limit:
        if all_routes_live(mesh):
            return mesh.now - start
        mesh.run_for(step)
    return float("inf")


def test_convergence_after_link_failures_is_fast() -> None:
    config = RoutingConfig()
    mesh = grid()
    mesh.run_for(config.flap_reset + 5.0)  # start-up, and its damping, are over
    assert all_routes_live(mesh)
    failures = [(0, 1), (6, 11), (12, 13), (7, 8), (18, 23), (3, 4), (16, 17), (21, 22)]
    times = []
    for a, b in failures:
        latency = mesh.wire(a, b).latency
        mesh.disconnect(a, b)
        times.append(time_to_converge(mesh, limit=10.0))
        mesh.connect(a, b, latency=latency, rtt=0.020)
        mesh.run_for(config.flap_reset + 5.0)  # quiet again before the next failure
        assert all_routes_live(mesh)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    assert p95 < 3.0, times


def test_a_flapping_link_is_damped() -> None:
    config = RoutingConfig()
    mesh = grid()
    mesh.run_for(config.flap_reset + 5.0)
    start = mesh.now
    ends = (12, 13)
    for flap in range(60):  # down and up again every half second for a minute
        if flap % 2 == 0:
            mesh.disconnect(*ends)
        else:
            mesh.connect(*ends, latency=0.010, rtt=0.020)
        mesh.run_for(0.5)
    assert ends in mesh.wires  # the last flap brought it back up
    window = mesh.now - start
    for end in ends:
        origin = mesh.nodes[end].node_id
        made = {
            decode_announcement(p)[0].sequence
            for t, s, _, p in mesh.sent
            if t >= start
            and s == end
            and p[0] == RoutingPacket.ANNOUNCE
            and decode_announcement(p)[0].origin == origin
        }
        assert len(made) <= 10, (end, len(made), window)  # 60 changes, at most 10 floods
    mesh.run_for(config.flap_max_interval + 1.0)
    assert all_routes_live(mesh)
    assert mesh.path(12, 13) == [13]
