"""Scale: 200 real nodes in a random geometric graph, ten virtual minutes of traffic.

``scenarios/rgg200.toml`` (the scenario ``meshnet sim run`` plays too): every node runs
the real ``Node`` (hybrid link handshakes, signed link-state routing, hybrid IK
end-to-end sessions), random pairs exchange 20 messages per second in total plus one
long-haul flow, on a healthy network (jitter, 2 Mbit/s links with bounded queues, no
faults, no random loss). Issue 6: the delivery ratio between connected pairs must be
at least 99.9%. Its cost (CPU seconds per virtual second, memory per node) is measured
by ``bench/sim_scale.py`` and recorded in ``docs/benchmarks.md``, not asserted here.
The run is split between two worker processes (``meshnet.sim.parallel``), as
``meshnet sim run scenarios/rgg200.toml --workers 2`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshnet.sim.parallel import run_partitioned
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "rgg200.toml"


@pytest.mark.slow
def test_two_hundred_nodes_deliver_at_least_999_per_mille_for_ten_minutes() -> None:
    scenario = load_scenario(SCENARIO)
    assert scenario.duration == 600.0
    sim = scenario.build(node_factory=resolve_node_factory(scenario.node))
    assert sim.network.topology.nodes == 200
    truth = sim.network.truth()
    assert all(truth.reachable(0, node) for node in range(200))  # the graph is connected
    del sim
    # two worker processes (meshnet.sim.parallel): the CI machine has two cores
    report = run_partitioned(scenario, workers=2, node=scenario.node)
    metrics = report.metrics
    print(
        f"\nrgg200: {metrics.delivered}/{metrics.offered} delivered, "
        f"latency median {metrics.latency.median}, p95 {metrics.latency.p95}; "
        f"{report.events} events, {report.frames_sent} frames"
    )
    assert metrics.offered > 12_000  # about 22 messages per second for 600 s
    assert metrics.refused == 0 and metrics.misdelivered == 0
    assert metrics.pdr_reachable is not None and metrics.pdr_reachable >= 0.999
    assert metrics.pdr is not None and metrics.pdr >= 0.999
