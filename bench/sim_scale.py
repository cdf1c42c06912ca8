"""Simulator scale: CPU and wall seconds per simulated second, and memory per node.

A random geometric graph (mean degree 8) of ``--nodes`` nodes, every node the real
``Node`` by default (``--node toy`` runs the test suite's plaintext flooding node,
``--node package.module:factory`` any other), links of 5 ms +- 1 ms and 10 Mbit/s,
random-pair traffic of ``--rate`` messages per second and 20 probed pairs. The run is
split in two phases, because they cost very differently:

* start-up, the first ``--warmup`` simulated seconds: every link's hybrid handshake and
  the first flood of every node's signed announcement to every node;
* steady state, the next ``--seconds``: traffic, probes, keepalives, rekeys, the
  announcements hysteresis lets through.

Figures: CPU and wall seconds of each phase, and per simulated second of the steady
state; link frames and CPU microseconds per frame; peak memory per node (the growth of
the process's peak resident set from before the network was built, divided by the node
count); delivery ratio. Beside them, same run: the simulator's own cost per frame (the
ceiling of any node: two ``EchoNode``s that return every frame and do nothing else),
and the goals of issue 5 (200 nodes x 600 virtual s in 60 wall s, i.e. 0.1 wall s per
simulated second including start-up; 2 MiB per node), with ratios against both.
``--json`` makes the last line one JSON object.

    .venv/bin/python bench/sim_scale.py [--quick] [--json] [--nodes N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import NodeId
from meshnet.ids import TransportId
from meshnet.sim.harness import NodeFactory
from meshnet.sim.profile import LinkProfile
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.sampling import Sampler
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.topology import pair, random_geometric
from meshnet.sim.traffic import RandomPairs

ROOT = Path(__file__).resolve().parents[1]
TOY = "tests.sim.toynode:make_toy_node"


def peak_rss_kib() -> int:
    """Peak resident set of this process in KiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


class EchoNode:
    """Returns every frame it receives: a node that costs (almost) nothing."""

    def __init__(self, node_id: NodeId) -> None:
        self.node_id = node_id
        self.out: list[tuple[TransportId, bytes]] = []
        self.received = 0

    def transport_opened(self, transport: TransportId, now: float, **_: object) -> None:
        self.out.extend([(transport, bytes(100))] * 50)

    def transport_closed(self, transport: TransportId, now: float) -> None:
        pass

    def receive_datagram(self, transport: TransportId, data: bytes, now: float) -> None:
        self.received += 1
        self.out.append((transport, data))

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, bytes]]:
        out, self.out = self.out, []
        return out

    def transport_commands(self) -> list[object]:
        return []

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def next_event(self) -> object | None:
        return None

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> None:
        pass


def echo_factory(
    *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
) -> EchoNode:
    return EchoNode(NodeId(identity_entropy.random_bytes(32)))


def simulator_overhead(seconds: float) -> float:
    """CPU microseconds the simulator spends per frame (link model, heap, trace, pump)."""
    sim = Simulation(
        topology=pair(),
        node_factory=echo_factory,
        profile=LinkProfile(latency=0.001, jitter=0.0005, bandwidth=1e9),
    )
    start = time.process_time()
    sim.run_for(seconds)
    cpu = time.process_time() - start
    frames = sum(sn.node.received for sn in sim.network.nodes)  # type: ignore[attr-defined]
    return cpu / frames * 1e6


def factory_for(name: str) -> NodeFactory:
    if name != "toy":
        return resolve_node_factory(name)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the toy node lives in tests/sim/toynode.py
    return resolve_node_factory(TOY)


def run(
    nodes: int, *, warmup: float, seconds: float, rate: float, node: str, seed: int
) -> dict[str, object]:
    factory = factory_for(node)
    before = peak_rss_kib()
    topology = random_geometric(nodes, 8.0, Sampler(SeededEntropy(seed, "topology")))
    sim = Simulation(
        topology=topology,
        node_factory=factory,
        seed=seed,
        profile=LinkProfile(latency=0.005, jitter=0.001, bandwidth=10_000_000),
        traffic=[RandomPairs(rate=rate, size=128, start=warmup)],
        measure=MeasureSpec(probe_pairs=20, probe_interval=1.0, probe_start=warmup, drain=1.0),
        duration=warmup + seconds,
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sim.run_for(warmup)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    frames1 = sim.network.frames_sent()
    report = sim.run()
    cpu2, wall2 = time.process_time(), time.perf_counter()
    after = peak_rss_kib()
    steady_frames = report.frames_sent - frames1
    steady_virtual = report.virtual_time - warmup
    return {
        "node": node,
        "nodes": nodes,
        "links": len(topology.edges),
        "simulated_seconds": report.virtual_time,
        "startup_virtual_seconds": warmup,
        "startup_cpu_seconds": round(cpu1 - cpu0, 2),
        "startup_wall_seconds": round(wall1 - wall0, 2),
        "steady_virtual_seconds": steady_virtual,
        "steady_cpu_seconds": round(cpu2 - cpu1, 2),
        "steady_wall_seconds": round(wall2 - wall1, 2),
        "steady_cpu_per_simulated_second": round((cpu2 - cpu1) / steady_virtual, 4),
        "wall_seconds": round(wall2 - wall0, 2),
        "cpu_seconds": round(cpu2 - cpu0, 2),
        "wall_per_simulated_second": round((wall2 - wall0) / report.virtual_time, 4),
        "events": report.events,
        "frames": report.frames_sent,
        "startup_frames": frames1,
        "steady_frames": steady_frames,
        "steady_us_per_frame": (
            round((cpu2 - cpu1) / steady_frames * 1e6, 2) if steady_frames else None
        ),
        "messages": report.metrics.offered,
        "pdr": report.metrics.pdr,
        "peak_rss_mib": round(after / 1024, 1),
        "memory_per_node_kib": round((after - before) / nodes, 1),
        "digest": report.digest,
    }


GOAL_WALL_PER_SIMULATED_SECOND = 60.0 / 600.0
"""Issue 5: 200 nodes x 10 virtual minutes in under 60 s of wall time."""
GOAL_MEMORY_PER_NODE_KIB = 2048.0
"""Issue 5: under 2 MB of memory per simulated node."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--nodes", type=int, default=None, help="default 1000, --quick 60")
    parser.add_argument("--warmup", type=float, default=None, help="start-up simulated s")
    parser.add_argument("--seconds", type=float, default=None, help="steady simulated s")
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s, whole network")
    parser.add_argument("--node", default="meshnet", help="meshnet, toy or module:factory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    nodes = args.nodes if args.nodes is not None else (60 if args.quick else 1000)
    warmup = args.warmup if args.warmup is not None else 10.0
    seconds = args.seconds if args.seconds is not None else (10.0 if args.quick else 60.0)
    result = run(
        nodes, warmup=warmup, seconds=seconds, rate=args.rate, node=args.node, seed=args.seed
    )
    sim_us = simulator_overhead(2.0 if args.quick else 10.0)
    result["sim_us_per_frame"] = round(sim_us, 2)
    steady_us = result["steady_us_per_frame"]
    result["node_to_simulator_cost_ratio"] = (
        round(float(steady_us) / sim_us, 1) if isinstance(steady_us, float) else None
    )
    result["goal_wall_per_simulated_second"] = GOAL_WALL_PER_SIMULATED_SECOND
    result["goal_memory_per_node_kib"] = GOAL_MEMORY_PER_NODE_KIB
    result["wall_vs_goal"] = round(
        float(result["wall_per_simulated_second"]) / GOAL_WALL_PER_SIMULATED_SECOND,
        2,  # type: ignore[arg-type]
    )
    result["memory_vs_goal"] = round(
        float(result["memory_per_node_kib"]) / GOAL_MEMORY_PER_NODE_KIB,
        3,  # type: ignore[arg-type]
    )
    result["python"] = platform.python_version()
    print(f"sim_scale: {result['nodes']} nodes, {result['links']} links, node={result['node']}")
    print(
        f"  start-up      {warmup} simulated s: {result['startup_cpu_seconds']} CPU s "
        f"({result['startup_frames']} frames)"
    )
    print(
        f"  steady        {result['steady_virtual_seconds']} simulated s: "
        f"{result['steady_cpu_seconds']} CPU s = {result['steady_cpu_per_simulated_second']} "
        f"CPU s per simulated s, {steady_us} us per frame"
    )
    print(
        f"  whole run     {result['wall_seconds']} wall s = "
        f"{result['wall_per_simulated_second']} per simulated s "
        f"({result['wall_vs_goal']} x the goal of {GOAL_WALL_PER_SIMULATED_SECOND})"
    )
    print(
        f"  memory        {result['memory_per_node_kib']} KiB per node (peak RSS "
        f"{result['peak_rss_mib']} MiB; {result['memory_vs_goal']} x the 2 MiB goal)"
    )
    print(f"  traffic       {result['messages']} messages, delivery ratio {result['pdr']}")
    print(
        f"  simulator     {result['sim_us_per_frame']} us CPU per frame (echo nodes: the "
        f"ceiling); the node costs {result['node_to_simulator_cost_ratio']} x that"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
