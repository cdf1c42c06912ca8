"""Simulator scale: wall-clock per simulated second and memory per node, 1,000 nodes.

A random geometric graph (mean degree 8) of ``--nodes`` nodes runs for ``--seconds``
simulated seconds with random-pair traffic and probes. Figures:

* wall-clock seconds per simulated second (the figure of merit for CI budgets);
* scheduler entries and link frames per wall second, and microseconds per frame;
* peak memory per node: the growth of the process's peak resident set from before the
  network was built (``resource.getrusage``), divided by the node count;
* the simulator's own cost per frame, measured apart: two ``EchoNode``s (which return
  every frame they get and do nothing else) keep 50 frames in flight each way over a
  link with jitter and a bandwidth limit; CPU microseconds per frame delivered.

``--node toy`` (the default until the real node can send end to end) runs the test
suite's plaintext flooding node (``tests/sim/toynode.py``): it costs little, so the
figures are mostly the simulator's own overhead; flooding makes every message cross
every link, so frames per message are high. ``--node meshnet`` runs the real node.
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


def run(nodes: int, seconds: float, rate: float, node: str, seed: int) -> dict[str, object]:
    factory = factory_for(node)
    before = peak_rss_kib()
    build_start = time.perf_counter()
    topology = random_geometric(nodes, 8.0, Sampler(SeededEntropy(seed, "topology")))
    sim = Simulation(
        topology=topology,
        node_factory=factory,
        seed=seed,
        profile=LinkProfile(latency=0.005, jitter=0.001, bandwidth=10_000_000),
        traffic=[RandomPairs(rate=rate, size=128, start=2.0)],
        measure=MeasureSpec(probe_pairs=20, probe_interval=1.0, probe_start=2.0, drain=1.0),
        duration=seconds,
    )
    build = time.perf_counter() - build_start
    run_start = time.perf_counter()
    report = sim.run()
    wall = time.perf_counter() - run_start
    after = peak_rss_kib()
    frames = report.frames_sent
    return {
        "node": node,
        "nodes": nodes,
        "links": len(topology.edges),
        "simulated_seconds": report.virtual_time,
        "build_seconds": round(build, 3),
        "wall_seconds": round(wall, 3),
        "wall_per_simulated_second": round(wall / report.virtual_time, 4),
        "events": report.events,
        "events_per_wall_second": round(report.events / wall),
        "frames": frames,
        "us_per_frame": round(wall / frames * 1e6, 2) if frames else None,
        "messages": report.metrics.offered,
        "pdr": report.metrics.pdr,
        "peak_rss_mib": round(after / 1024, 1),
        "memory_per_node_kib": round((after - before) / nodes, 1),
        "digest": report.digest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=None, help="simulated seconds")
    parser.add_argument("--rate", type=float, default=2.0, help="messages/s, whole network")
    parser.add_argument("--node", default="toy", help="toy, meshnet or package.module:factory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else (5.0 if args.quick else 60.0)
    result = run(args.nodes, seconds, args.rate, args.node, args.seed)
    result["sim_us_per_frame"] = round(simulator_overhead(2.0 if args.quick else 10.0), 2)
    result["python"] = platform.python_version()
    print(f"sim_scale: {result['nodes']} nodes, {result['links']} links, node={result['node']}")
    print(f"  simulated     {result['simulated_seconds']} s in {result['wall_seconds']} s wall")
    print(f"  cost          {result['wall_per_simulated_second']} wall s per simulated s")
    print(
        f"  throughput    {result['events_per_wall_second']} events/s, "
        f"{result['us_per_frame']} us per link frame ({result['frames']} frames)"
    )
    print(
        f"  memory        {result['memory_per_node_kib']} KiB per node "
        f"(peak RSS {result['peak_rss_mib']} MiB)"
    )
    print(f"  traffic       {result['messages']} messages, delivery ratio {result['pdr']}")
    print(f"  simulator     {result['sim_us_per_frame']} us CPU per frame (echo nodes, pair)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
