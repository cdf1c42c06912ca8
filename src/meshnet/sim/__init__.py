"""The deterministic simulator: the same Node on virtual time and in-memory links.

``meshnet.sim`` is a driver, like ``meshnet.runtime``: it gives a sans-IO node a clock
(virtual), carriers (simulated links with latency, loss, bandwidth, MTU and faults)
and randomness (seeded), and records what happens. The same scenario and seed give a
byte-identical trace. The public surface:

* ``Simulation``: one run (``run_for``, ``run_until``, ``step``, faults, ``run()``);
* ``SimNetwork``, ``LinkProfile``, ``GilbertElliott``, ``JitterModel``: the network;
* ``Topology`` and the builders ``pair``, ``line``, ``ring``, ``star``, ``grid``,
  ``boyan_littman``, ``random_geometric``, ``barabasi_albert``, ``from_edges``,
  ``load_edge_list``;
* ``Scenario``, ``load_scenario``, ``parse_scenario``: TOML scenario files;
* traffic (``Flow``, ``RandomPairs``, ``Burst``, ``Probes``) and faults (``CutLink``,
  ``Partition``, ``CrashNode``, ...);
* ``Metrics``, ``MetricsCollector``, ``RunReport``, ``Trace``, ``read_trace``;
* ``DrivenNode`` and ``NodeFactory``: the contract a node and its factory meet.
"""

from __future__ import annotations

from meshnet.sim.faults import (
    CrashNode,
    CutLink,
    DegradeLinks,
    Fault,
    FaultSpec,
    Heal,
    Partition,
    RepairLink,
    RestartNode,
    RestoreLinks,
)
from meshnet.sim.harness import DrivenNode, NodeFactory
from meshnet.sim.metrics import Metrics, MetricsCollector
from meshnet.sim.network import SimNetwork
from meshnet.sim.profile import GilbertElliott, JitterModel, LinkProfile
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.report import RunReport, format_report, report_to_json
from meshnet.sim.scenario import Scenario, load_scenario, parse_scenario
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.topology import (
    Topology,
    barabasi_albert,
    boyan_littman,
    from_edges,
    grid,
    line,
    load_edge_list,
    pair,
    random_geometric,
    ring,
    star,
)
from meshnet.sim.trace import Trace, read_trace
from meshnet.sim.traffic import Burst, Flow, Probes, RandomPairs, TrafficSpec

__all__ = [
    # running
    "Simulation",
    "MeasureSpec",
    "SimNetwork",
    "DrivenNode",
    "NodeFactory",
    "resolve_node_factory",
    # links
    "LinkProfile",
    "GilbertElliott",
    "JitterModel",
    # topologies
    "Topology",
    "pair",
    "line",
    "ring",
    "star",
    "grid",
    "boyan_littman",
    "random_geometric",
    "barabasi_albert",
    "from_edges",
    "load_edge_list",
    # scenarios, traffic, faults
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "TrafficSpec",
    "Flow",
    "RandomPairs",
    "Burst",
    "Probes",
    "Fault",
    "FaultSpec",
    "CutLink",
    "RepairLink",
    "Partition",
    "Heal",
    "CrashNode",
    "RestartNode",
    "DegradeLinks",
    "RestoreLinks",
    # results
    "Trace",
    "read_trace",
    "Metrics",
    "MetricsCollector",
    "RunReport",
    "format_report",
    "report_to_json",
]
