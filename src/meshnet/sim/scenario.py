"""Scenarios: a TOML file that says what to simulate, parsed into a ``Scenario``.

A scenario file has these tables (docs/simulator.md has the full reference)::

    [scenario]   name, description, duration, seed, node, warmup
    [topology]   kind = pair | line | ring | star | grid | boyan_littman | rgg | ba | edges
    [links]      the default LinkProfile; [links.burst_loss]; [[links.override]] edges = ...
    [[traffic]]  kind = flow | random | burst
    [[faults]]   kind = cut | repair | partition | heal | crash | restart | degrade | restore
    [measure]    probe_pairs, probe_interval, probe_size, stable_probes, bin, drain, trace_frames

Every key is checked (``fields.Table``): an unknown key or a wrong type is a
``ConfigError`` naming the file and the key. Node numbers are checked against the
topology; edges named by overrides and faults must exist in it, so a random topology
(``rgg``, ``ba``) that such edges refer to must pin its own ``seed``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import ConfigError
from meshnet.sim import topology as topo
from meshnet.sim.faults import (
    CrashNode,
    CutLink,
    DegradeLinks,
    FaultSpec,
    Heal,
    Partition,
    RepairLink,
    RestartNode,
    RestoreLinks,
)
from meshnet.sim.fields import Table
from meshnet.sim.harness import NodeFactory
from meshnet.sim.profile import GilbertElliott, JitterModel, LinkProfile
from meshnet.sim.sampling import Sampler
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.trace import Trace
from meshnet.sim.traffic import HEADER_SIZE, Burst, Flow, RandomPairs, TrafficSpec

__all__ = ["TOPOLOGY_KINDS", "Scenario", "TopologySpec", "load_scenario", "parse_scenario"]

Edge = tuple[int, int]
TOPOLOGY_KINDS = ("pair", "line", "ring", "star", "grid", "boyan_littman", "rgg", "ba", "edges")
_RANDOM_KINDS = ("rgg", "ba")
_PROBABILITIES = ("loss", "duplicate", "reorder", "corrupt")


@dataclass(frozen=True, slots=True, kw_only=True)
class TopologySpec:
    """How to build the topology; random kinds draw from the run seed unless pinned."""

    kind: str
    nodes: int
    rows: int = 0
    cols: int = 0
    mean_degree: float = 0.0
    m: int = 0
    edges: tuple[Edge, ...] = ()
    seed: int | None = None
    """A fixed topology seed (the same graph for every run seed)."""

    @property
    def fixed(self) -> bool:
        """True when the graph does not depend on the run seed."""
        return self.kind not in _RANDOM_KINDS or self.seed is not None

    def build(self, run_seed: int) -> topo.Topology:
        """The topology for a run with ``run_seed``."""
        sampler = Sampler(
            SeededEntropy(self.seed if self.seed is not None else run_seed, "topology")
        )
        kind = self.kind
        if kind == "pair":
            return topo.pair()
        if kind == "line":
            return topo.line(self.nodes)
        if kind == "ring":
            return topo.ring(self.nodes)
        if kind == "star":
            return topo.star(self.nodes)
        if kind == "grid":
            return topo.grid(self.rows, self.cols)
        if kind == "boyan_littman":
            return topo.boyan_littman()
        if kind == "rgg":
            return topo.random_geometric(self.nodes, self.mean_degree, sampler)
        if kind == "ba":
            return topo.barabasi_albert(self.nodes, self.m, sampler)
        return topo.from_edges(self.nodes, self.edges, name="edges")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A parsed, validated scenario file."""

    name: str
    description: str
    source: str
    """The file it came from (for messages)."""
    duration: float
    seed: int
    node: str | None
    """The node factory (``meshnet`` or ``module:attribute``); None for the default."""
    topology: TopologySpec
    profile: LinkProfile
    overrides: tuple[tuple[Edge, LinkProfile], ...]
    traffic: tuple[TrafficSpec, ...]
    faults: tuple[FaultSpec, ...]
    measure: MeasureSpec
    trace_frames: bool

    def build(
        self,
        *,
        node_factory: NodeFactory,
        seed: int | None = None,
        trace: Trace | None = None,
        duration: float | None = None,
        local: Sequence[bool] | None = None,
    ) -> Simulation:
        """A started ``Simulation`` of this scenario.

        Args:
            node_factory: builds the nodes.
            seed: overrides the scenario's seed.
            trace: where records go.
            duration: overrides the scenario's duration.
            local: the nodes one worker of a partitioned run drives (``parallel.py``).
        """
        run_seed = seed if seed is not None else self.seed
        try:
            return Simulation(
                topology=self.topology.build(run_seed),
                node_factory=node_factory,
                seed=run_seed,
                profile=self.profile,
                overrides=dict(self.overrides),
                traffic=self.traffic,
                faults=self.faults,
                measure=self.measure,
                duration=duration if duration is not None else self.duration,
                trace=trace,
                name=self.name,
                local=local,
            )
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {exc}") from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file.

    Raises:
        ConfigError: unreadable file, bad TOML, or a bad value (naming file and key).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read scenario: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(data, source=str(path), base=path.parent)


def parse_scenario(data: Mapping[str, Any], *, source: str, base: Path | None = None) -> Scenario:
    """Validate parsed TOML; relative file names resolve against ``base``."""
    root = Table(data, source=source)
    head = root.table("scenario") or Table({}, source=source, path="scenario")
    name = head.string("name", Path(source).stem)
    description = head.string("description", "")
    duration = head.number("duration", positive=True)
    seed = head.integer("seed", 1)
    node = _optional_string(head, "node")
    warmup = head.number("warmup", 5.0, minimum=0)
    head.finish()

    topology_table = root.table("topology")
    if topology_table is None:
        root.fail("topology", "is required (a [topology] table with a kind)")
    spec = _topology(topology_table, base)
    fixed = spec.build(spec.seed or 0) if spec.fixed else None

    links = root.table("links") or Table({}, source=source, path="links")
    profile = _profile(links, LinkProfile())
    overrides: list[tuple[Edge, LinkProfile]] = []
    for t in links.tables("override"):
        edges = _known_edges(t, "edges", spec, fixed)
        override = _profile(t, profile)
        t.finish()
        overrides.extend((edge, override) for edge in edges)
    links.finish()

    traffic = tuple(_traffic(t, spec.nodes, warmup) for t in root.tables("traffic"))
    faults = tuple(_fault(t, spec, fixed) for t in root.tables("faults"))
    measure_table = root.table("measure") or Table({}, source=source, path="measure")
    measure, trace_frames = _measure(measure_table, warmup)
    root.finish()
    return Scenario(
        name=name,
        description=description,
        source=source,
        duration=duration,
        seed=seed,
        node=node,
        topology=spec,
        profile=profile,
        overrides=tuple(overrides),
        traffic=traffic,
        faults=faults,
        measure=measure,
        trace_frames=trace_frames,
    )


def _optional_string(t: Table, key: str) -> str | None:
    if t.has(key):
        return t.string(key)
    t.allow(key)
    return None


def _optional_integer(t: Table, key: str) -> int | None:
    if t.has(key):
        return t.integer(key)
    t.allow(key)
    return None


def _topology(t: Table, base: Path | None) -> TopologySpec:
    kind = t.string("kind", choices=TOPOLOGY_KINDS)
    seed = _optional_integer(t, "seed")
    if kind == "pair":
        spec = TopologySpec(kind=kind, nodes=2)
    elif kind in ("line", "ring", "star"):
        spec = TopologySpec(kind=kind, nodes=t.integer("nodes", minimum=3 if kind == "ring" else 2))
    elif kind == "grid":
        rows, cols = t.integer("rows", minimum=1), t.integer("cols", minimum=1)
        if rows * cols < 2:
            t.fail("rows", "a grid needs at least two nodes")
        spec = TopologySpec(kind=kind, nodes=rows * cols, rows=rows, cols=cols)
    elif kind == "boyan_littman":
        spec = TopologySpec(kind=kind, nodes=36)
    elif kind == "rgg":
        nodes = t.integer("nodes", minimum=2)
        degree = t.number("mean_degree", positive=True, maximum=nodes - 1.5)
        spec = TopologySpec(kind=kind, nodes=nodes, mean_degree=degree, seed=seed)
    elif kind == "ba":
        nodes, m = t.integer("nodes", minimum=3), t.integer("m", minimum=1)
        if nodes <= m + 1:
            t.fail("m", f"needs nodes > m + 1, got nodes={nodes}, m={m}")
        spec = TopologySpec(kind=kind, nodes=nodes, m=m, seed=seed)
    else:
        spec = _edge_topology(t, base)
    t.finish()
    return spec


def _edge_topology(t: Table, base: Path | None) -> TopologySpec:
    if t.has("file") == t.has("edges"):
        t.fail("edges", "give exactly one of 'edges' (inline pairs) or 'file' (an edge list)")
    if t.has("file"):
        path = Path(t.string("file"))
        if not path.is_absolute() and base is not None:
            path = base / path
        nodes = t.integer("nodes", minimum=2) if t.has("nodes") else None
        t.allow("edges", "nodes")
        loaded = topo.load_edge_list(path, nodes=nodes)
        return TopologySpec(kind="edges", nodes=loaded.nodes, edges=loaded.edges)
    t.allow("file")
    bound = t.integer("nodes", minimum=2) if t.has("nodes") else 1 << 30
    edges = t.edges("edges", bound)
    nodes = bound if t.has("nodes") else 1 + max(max(e) for e in edges)
    return TopologySpec(kind="edges", nodes=nodes, edges=tuple(sorted(set(edges))))


def _profile(t: Table, base: LinkProfile) -> LinkProfile:
    changes = _profile_changes(t)
    try:
        return base.replace(**changes)
    except ConfigError as exc:
        raise ConfigError(f"{t.source}: {t.path or 'links'}: {exc}") from None


def _profile_changes(t: Table) -> dict[str, Any]:
    """The LinkProfile fields a table sets (validated one by one)."""
    changes: dict[str, Any] = {}
    for key in ("latency", "jitter", "reorder_delay"):
        if t.has(key):
            changes[key] = t.number(key, minimum=0)
    for key in _PROBABILITIES:
        if t.has(key):
            changes[key] = t.number(key, minimum=0, maximum=1)
    if t.has("jitter_model"):
        choices = tuple(m.value for m in JitterModel)
        changes["jitter_model"] = JitterModel(t.string("jitter_model", choices=choices))
    if t.has("bandwidth"):
        changes["bandwidth"] = t.number("bandwidth", positive=True)
    for key in ("queue_bytes", "mtu"):
        if t.has(key):
            changes[key] = t.integer(key, minimum=1)
    if t.has("down"):
        changes["down"] = tuple(t.intervals("down"))
    chain = t.table("burst_loss")
    if chain is not None:
        changes["burst_loss"] = GilbertElliott(
            to_bad=chain.number("to_bad", minimum=0, maximum=1),
            to_good=chain.number("to_good", minimum=0, maximum=1),
            loss_good=chain.number("loss_good", 0.0, minimum=0, maximum=1),
            loss_bad=chain.number("loss_bad", 1.0, minimum=0, maximum=1),
        )
        chain.finish()
    t.allow(
        "latency",
        "jitter",
        "jitter_model",
        "bandwidth",
        "queue_bytes",
        "mtu",
        "down",
        "reorder_delay",
        "burst_loss",
        *_PROBABILITIES,
    )
    return changes


def _known_edges(t: Table, key: str, spec: TopologySpec, fixed: topo.Topology | None) -> list[Edge]:
    edges = t.edges(key, spec.nodes)
    if fixed is None:
        t.fail(key, f"a {spec.kind} topology is random: set topology.seed to name its edges")
    for edge in edges:
        if edge not in fixed.edges:
            t.fail(key, f"the topology has no link {list(edge)}")
    return edges


def _traffic(t: Table, nodes: int, warmup: float) -> TrafficSpec:
    kind = t.string("kind", choices=("flow", "random", "burst"))
    size = t.integer("size", 64, minimum=HEADER_SIZE)
    name = t.string("name", "")
    try:
        if kind == "flow":
            spec: TrafficSpec = Flow(
                src=t.node("src", nodes),
                dst=t.node("dst", nodes),
                rate=t.number("rate", positive=True),
                size=size,
                start=t.number("start", warmup, minimum=0),
                stop=t.optional_number("stop", minimum=0),
                name=name,
            )
        elif kind == "random":
            pool = tuple(t.node_list("nodes", nodes)) if t.has("nodes") else None
            t.allow("nodes")
            spec = RandomPairs(
                rate=t.number("rate", positive=True),
                size=size,
                start=t.number("start", warmup, minimum=0),
                stop=t.optional_number("stop", minimum=0),
                nodes=pool,
                name=name,
            )
        else:
            spec = Burst(
                src=t.node("src", nodes),
                dst=t.node("dst", nodes),
                count=t.integer("count", minimum=1),
                at=t.number("at", minimum=0),
                size=size,
                interval=t.number("interval", 0.0, minimum=0),
                name=name,
            )
    except ConfigError as exc:
        if str(exc).startswith(t.source):
            raise
        raise ConfigError(f"{t.source}: {t.path}: {exc}") from None
    t.finish()
    return spec


def _fault(t: Table, spec: TopologySpec, fixed: topo.Topology | None) -> FaultSpec:
    kind = t.string(
        "kind",
        choices=("cut", "repair", "partition", "heal", "crash", "restart", "degrade", "restore"),
    )
    at = t.number("at", minimum=0)
    fault: FaultSpec
    try:
        if kind in ("cut", "repair"):
            [(a, b)] = _known_edges_one(t, spec, fixed)
            if kind == "cut":
                fault = CutLink(
                    at=at, a=a, b=b, duration=_duration(t), silent=t.boolean("silent", False)
                )
            else:
                fault = RepairLink(at=at, a=a, b=b)
        elif kind == "partition":
            groups = tuple(tuple(g) for g in t.groups("groups", spec.nodes))
            fault = Partition(
                at=at, groups=groups, duration=_duration(t), silent=t.boolean("silent", False)
            )
        elif kind == "heal":
            fault = Heal(at=at)
        elif kind == "crash":
            fault = CrashNode(
                at=at,
                node=t.node("node", spec.nodes),
                duration=_duration(t),
                keep_state=t.boolean("keep_state", False),
                silent=t.boolean("silent", False),
            )
        elif kind == "restart":
            fault = RestartNode(at=at, node=t.node("node", spec.nodes))
        else:
            edges = tuple(_known_edges(t, "edges", spec, fixed)) if t.has("edges") else None
            t.allow("edges")
            if kind == "restore":
                fault = RestoreLinks(at=at, edges=edges)
            else:
                changes = _profile_changes(t)
                if not changes:
                    t.fail("kind", "a degrade fault must set at least one link profile key")
                LinkProfile().replace(**changes)  # validate the combination now
                fault = DegradeLinks(
                    at=at, edges=edges, changes=tuple(changes.items()), duration=_duration(t)
                )
    except ConfigError as exc:
        if str(exc).startswith(t.source):
            raise
        raise ConfigError(f"{t.source}: {t.path}: {exc}") from None
    t.finish()
    return fault


def _known_edges_one(t: Table, spec: TopologySpec, fixed: topo.Topology | None) -> list[Edge]:
    edge = t.edge("edge", spec.nodes)
    if fixed is None:
        t.fail("edge", f"a {spec.kind} topology is random: set topology.seed to name its edges")
    if edge not in fixed.edges:
        t.fail("edge", f"the topology has no link {list(edge)}")
    return [edge]


def _duration(t: Table) -> float | None:
    return t.optional_number("duration", positive=True)


def _measure(t: Table, warmup: float) -> tuple[MeasureSpec, bool]:
    measure = MeasureSpec(
        probe_pairs=t.integer("probe_pairs", 0, minimum=0),
        probe_interval=t.number("probe_interval", 1.0, positive=True),
        probe_size=t.integer("probe_size", HEADER_SIZE, minimum=HEADER_SIZE),
        probe_start=t.number("probe_start", warmup, minimum=0),
        stable_probes=t.integer("stable_probes", 3, minimum=1),
        bin_width=t.number("bin", 1.0, positive=True),
        drain=t.number("drain", 2.0, minimum=0),
    )
    frames = t.boolean("trace_frames", False)
    t.finish()
    return measure, frames
