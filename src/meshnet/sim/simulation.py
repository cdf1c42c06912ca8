"""``Simulation``: one run, from a topology and a node factory to a report.

It owns the scheduler (and so the clock), the ``SimNetwork``, the traffic generator,
the timed faults, the trace and the metrics collector, all forked from one seed:

* ``run_for(seconds)``, ``run_until(predicate, limit)``, ``step()`` drive time;
* ``cut``/``repair``/``partition``/``heal``/``crash``/``restart``/``degrade``/``restore``
  apply a fault now (``schedule(fault)`` applies one later); every fault is traced with
  the ground-truth reachability of the probe pairs, for convergence;
* ``send(src, dst, size)`` sends one traced message now;
* ``run()`` plays a whole scenario (its duration, then a drain period without new
  traffic) and returns a ``RunReport``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshnet.errors import StateError
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
from meshnet.sim.harness import DrivenNode, NodeFactory
from meshnet.sim.link import DropReason
from meshnet.sim.metrics import Metrics, MetricsCollector
from meshnet.sim.network import SimNetwork
from meshnet.sim.profile import LinkProfile
from meshnet.sim.report import RunReport
from meshnet.sim.sampling import root_entropy
from meshnet.sim.scheduler import Scheduler
from meshnet.sim.topology import Topology
from meshnet.sim.trace import Trace
from meshnet.sim.traffic import HEADER_SIZE, Probes, TrafficGenerator, TrafficSpec

__all__ = ["MeasureSpec", "Simulation"]

Edge = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasureSpec:
    """What to measure and how."""

    probe_pairs: int = 0
    """Sampled (source, destination) pairs probed for convergence; 0 for none."""
    probe_interval: float = 1.0
    """Seconds between two probes of one pair."""
    probe_size: int = HEADER_SIZE
    """Bytes per probe payload."""
    probe_start: float = 0.0
    """When probing starts."""
    stable_probes: int = 3
    """Consecutive delivered probes that count as recovered."""
    bin_width: float = 1.0
    """Seconds per bin of the delivery timeline."""
    drain: float = 2.0
    """Seconds run after the traffic stops, so late messages can arrive."""


class Simulation:
    """One deterministic run of many nodes on virtual time.

    Args:
        topology: who is linked to whom.
        node_factory: builds each node from seeded entropy.
        seed: the one seed every random stream is forked from.
        profile: the default link profile.
        overrides: per-edge profiles.
        traffic: traffic sources.
        faults: timed faults.
        measure: probing and metric settings.
        duration: seconds of traffic (sources stop then); None for open-ended runs.
        trace: where records go; a new ``Trace`` by default.
        name: a label for reports.
        local: for a worker of a partitioned run (``parallel.py``), the nodes it
            drives; None (the default) drives them all.
    """

    def __init__(
        self,
        *,
        topology: Topology,
        node_factory: NodeFactory,
        seed: int = 1,
        profile: LinkProfile | None = None,
        overrides: Mapping[Edge, LinkProfile] | None = None,
        traffic: Sequence[TrafficSpec] = (),
        faults: Sequence[FaultSpec] = (),
        measure: MeasureSpec | None = None,
        duration: float | None = None,
        trace: Trace | None = None,
        name: str = "simulation",
        local: Sequence[bool] | None = None,
    ) -> None:
        self.name = name
        self.seed = seed
        self.topology = topology
        self.duration = duration
        self.measure = measure if measure is not None else MeasureSpec()
        self.scheduler = Scheduler()
        self.trace = trace if trace is not None else Trace()
        self.metrics = MetricsCollector(
            bin_width=self.measure.bin_width, stable=self.measure.stable_probes
        )
        self.trace.subscribe(self.metrics.consume)
        self.network = SimNetwork(
            topology=topology,
            node_factory=node_factory,
            scheduler=self.scheduler,
            seed=seed,
            profile=profile,
            overrides=overrides,
            trace=self.trace,
            local=local,
        )
        specs = tuple(traffic)
        if self.measure.probe_pairs:
            specs += (
                Probes(
                    pairs=self.measure.probe_pairs,
                    interval=self.measure.probe_interval,
                    size=self.measure.probe_size,
                    start=self.measure.probe_start,
                ),
            )
        self.traffic = TrafficGenerator(
            self.network,
            specs,
            root_entropy(seed).fork("traffic"),
            end=duration if duration is not None else math.inf,
        )
        self.network.on_datagram = self.traffic.on_datagram
        self.network.start()
        self.traffic.start()
        for fault in faults:
            self.schedule(fault)
        self._finished: Metrics | None = None

    # -- time --------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The current simulated time."""
        return self.scheduler.now

    def run_for(self, seconds: float) -> None:
        """Run ``seconds`` of simulated time."""
        self.scheduler.run_for(seconds)

    def run_until(self, predicate: Callable[[], bool], limit: float) -> bool:
        """Run until ``predicate()`` holds or the clock reaches ``limit`` (absolute)."""
        return self.scheduler.run_until(predicate, limit)

    def step(self) -> bool:
        """Run one scheduled entry; False when nothing is pending."""
        return self.scheduler.step()

    # -- nodes and traffic -------------------------------------------------------------

    def node(self, index: int) -> DrivenNode:
        """The node object running as ``index`` now."""
        return self.network.node(index)

    def send(self, src: int, dst: int, size: int = 64) -> int:
        """Send one traced message (flow ``adhoc``) from ``src`` to ``dst`` now.

        Returns:
            The message id (see the trace's ``send`` and ``deliver`` records).
        """
        if size < HEADER_SIZE:
            raise StateError(f"messages carry at least {HEADER_SIZE} bytes")
        names = self.traffic.names
        if "adhoc" not in names:
            names.append("adhoc")
        return self.traffic.send(src, dst, size, names.index("adhoc"))

    # -- faults --------------------------------------------------------------------------

    def schedule(self, fault: FaultSpec) -> None:
        """Apply ``fault`` at ``fault.at`` (and undo it after its duration, if any)."""
        self.scheduler.call_at(max(fault.at, self.now), self._apply, fault)

    def _apply(self, fault: FaultSpec) -> None:
        if self.network.partitioned:
            raise StateError("faults are not simulated in a partitioned run")
        fault.apply(self.network)
        self.trace.record(
            self.now, "fault", **fault.describe(), probe_reach=self.traffic.probe_reachability()
        )
        undo = fault.undo()
        if undo is not None:
            self.schedule(undo)

    def cut(self, a: int, b: int, *, silent: bool = False) -> None:
        """Take the link a-b down now."""
        self._apply(CutLink(at=self.now, a=a, b=b, silent=silent))

    def repair(self, a: int, b: int) -> None:
        """Bring the cut link a-b back now."""
        self._apply(RepairLink(at=self.now, a=a, b=b))

    def partition(self, *groups: Sequence[int], silent: bool = False) -> None:
        """Split the network into ``groups`` now (unlisted nodes form one more group)."""
        self._apply(Partition(at=self.now, groups=tuple(tuple(g) for g in groups), silent=silent))

    def heal(self) -> None:
        """End the partition now."""
        self._apply(Heal(at=self.now))

    def crash(self, node: int, *, keep_state: bool = False, silent: bool = False) -> None:
        """Stop ``node`` now (its state is lost unless ``keep_state``)."""
        self._apply(CrashNode(at=self.now, node=node, keep_state=keep_state, silent=silent))

    def restart(self, node: int) -> None:
        """Bring the crashed ``node`` back now."""
        self._apply(RestartNode(at=self.now, node=node))

    def degrade(self, edges: Sequence[Edge] | None = None, **changes: Any) -> None:
        """Change profile fields of some links (all when ``edges`` is None) now."""
        chosen = None if edges is None else tuple(edges)
        self._apply(DegradeLinks(at=self.now, edges=chosen, changes=tuple(changes.items())))

    def restore(self, edges: Sequence[Edge] | None = None) -> None:
        """Give links their scenario profile back now."""
        self._apply(RestoreLinks(at=self.now, edges=None if edges is None else tuple(edges)))

    # -- results -------------------------------------------------------------------------

    def finish(self) -> Metrics:
        """Record the link totals and return the metrics (once; later calls repeat them)."""
        if self._finished is None:
            self.trace.record(self.now, "links", **self.link_summary())
            self._finished = self.metrics.finish(self.now)
        return self._finished

    def link_summary(self) -> dict[str, Any]:
        """Frames and bytes put on links, drops by reason, bytes per link (the totals)."""
        drops: dict[str, int] = {}
        usage = []
        frames = 0
        for (a, b), link in self.network.links.items():
            for stats in (link.forward.stats, link.reverse.stats):
                frames += stats.frames_sent
                for reason, count in stats.drops.items():
                    drops[reason.value] = drops.get(reason.value, 0) + count
            usage.append([a, b, link.forward.stats.bytes_sent + link.reverse.stats.bytes_sent])
        return {
            "total_bytes": self.network.total_link_bytes(),
            "frames_sent": frames,
            "drops": {r.value: drops[r.value] for r in DropReason if r.value in drops},
            "usage": usage,
        }

    def run(self) -> RunReport:
        """Play the scenario: ``duration`` seconds of traffic, then the drain period.

        Raises:
            StateError: the simulation has no duration.
        """
        if self.duration is None:
            raise StateError("run() needs a duration; use run_for() for open-ended runs")
        self.scheduler.run_until_time(self.duration + self.measure.drain)
        return self.report()

    def report(self) -> RunReport:
        """The report of the run so far (finishing it)."""
        metrics = self.finish()
        return self.summarise(self.scheduler.events_run, self.trace, metrics)

    def summarise(self, events: int, trace: Trace, metrics: Metrics) -> RunReport:
        """A report of this simulation's scenario and link totals, with the events run,
        the trace digested and the metrics given (a partitioned run merges its own)."""
        summary = self.link_summary()
        return RunReport(
            name=self.name,
            seed=self.seed,
            topology=self.topology.name,
            nodes=self.topology.nodes,
            links=len(self.topology.edges),
            virtual_time=self.now,
            events=events,
            frames_sent=summary["frames_sent"],
            frames_delivered=trace.frames_hashed,
            link_bytes=summary["total_bytes"],
            drops=tuple(summary["drops"].items()),
            link_usage=tuple((a, b, n) for a, b, n in summary["usage"]),
            digest=trace.digest(),
            content_digest=trace.content_digest(),
            metrics=metrics,
        )
