"""Partitioned runs: one scenario on several worker processes, as deterministic as one.

``run_partitioned(scenario, workers=2)`` plays a scenario with its nodes split among
worker processes (``meshnet sim run SCENARIO --workers 2``). The same scenario, seed
and worker count give the same trace digest; a serial run of the same scenario gives
another (the same behaviour, scheduled in another order).

Theory of operation
-------------------
1. **Partition.** ``partition`` gives every node a worker by a fixed rule that keeps
   neighbours together: nodes sorted by their x position (a random geometric graph is
   cut by vertical lines), or in breadth-first order from node 0 when the topology has
   no positions, then cut into runs of nearly equal size.
2. **Workers.** Each worker (the parent is worker 0, the others are forked) builds the
   whole ``Simulation`` from the scenario, with its own node factory (so its own
   signature and announcement caches), and drives only its nodes (``SimNetwork.local``).
   Every worker draws the same traffic; the source's worker sends and records it.
3. **Frames across the cut** are fated by the sender's worker, which owns that
   direction's queue, loss and delay stream, and handed to the receiver's worker as
   ``RemoteItem``\\s at the next barrier.
4. **Windows.** No frame crosses the cut in less than the *lookahead* ``L``: the least
   ``LinkProfile.delay_floor`` of the links crossing it; and an entry at a node far
   from the cut cannot make one before its *reach* (``cut.reach``: the least sum of
   delay floors on a path across the cut, ``L`` next to it). So once every worker has
   run every entry before ``t``, all may run every entry before ``h``, the least
   ``time + reach`` over the entries pending anywhere (or due to arrive;
   ``Scheduler.horizon``): nothing a worker could receive meanwhile exists yet.
   Between two windows every worker sends every other one its items and its own
   ``h``, and reads theirs (``pipes.py``): all of them then compute the same next
   window. Each costs one message each way per pair of workers; the report counts
   them, the time each worker waited at them, and the *critical path* (the CPU time
   of the busiest worker of each window, summed: the run's wall time on idle cores).
5. **The report** merges the workers' records by ``(time, worker, order)`` into one
   trace (its file and metrics), folds each worker's frame digests into its digests,
   and adds up the link counters (each counter is counted by one side only).

What a partitioned run does not do: faults and scheduled outages (a worker cannot take
down a link it only half holds), frame records in the trace file, and dialling across
the cut (it fails with a reason: the simulator opens every carrier itself, and the
node dials only peers it was told about). Links crossing the cut need a delay floor
above 0: normal jitter has none (docs/simulator.md §8).
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import time
import traceback
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from meshnet.errors import ConfigError, StateError
from meshnet.sim.cut import lookahead, partition, reach
from meshnet.sim.link import DirectionStats, DropReason
from meshnet.sim.metrics import MetricsCollector
from meshnet.sim.network import RemoteItem
from meshnet.sim.pipes import PipeMesh, Pipes, make_pipes
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.report import RunReport
from meshnet.sim.scenario import Scenario
from meshnet.sim.simulation import Simulation
from meshnet.sim.trace import Record, Trace

__all__ = ["lookahead", "partition", "reach", "run_partitioned"]

_STATS = (
    "frames_offered",
    "bytes_offered",
    "frames_sent",
    "bytes_sent",
    "frames_delivered",
    "bytes_delivered",
    "duplicated",
    "reordered",
    "corrupted",
)


@dataclass(frozen=True, slots=True)
class _Build:
    """What every worker builds its simulation from."""

    scenario: Scenario
    node: str | None
    seed: int | None
    duration: float | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """How the run is cut: every node's worker, the lookahead and the end time."""

    owner: list[int]
    ahead: float
    end: float
    reach: list[float]


class _Part:
    """One worker's share of the run: its simulation, stepped window by window."""

    def __init__(self, build: _Build, local: Sequence[bool], plan: _Plan) -> None:
        self.trace = Trace(keep=True)
        self.sim = build.scenario.build(
            node_factory=resolve_node_factory(build.node),
            seed=build.seed,
            trace=self.trace,
            duration=build.duration,
            local=local,
        )
        # an entry acting on another worker's node does nothing here (traffic it sends)
        inf = float("inf")
        ours = [r if here else inf for r, here in zip(plan.reach, local, strict=True)]
        self.sim.scheduler.track_reach(ours, plan.ahead)
        self.windows = 0
        self.wait = 0.0
        """Wall seconds spent blocked in barriers (wall time less CPU time there)."""
        self.window_cpu = array("d")
        """CPU seconds of each window, its barrier included."""
        self.cpu_mark = time.process_time()

    def step(
        self, items: list[RemoteItem], stop: float, final: bool
    ) -> tuple[list[RemoteItem], float | None]:
        network, scheduler = self.sim.network, self.sim.scheduler
        network.deliver_remote(items)
        if final:
            scheduler.run_until_time(stop)
        else:
            scheduler.run_before(stop)
        self.windows += 1
        out, network.outbox = network.outbox, []
        return out, scheduler.horizon(stop)

    def results(self) -> dict[str, Any]:
        links = []
        for link in self.sim.network.links.values():
            for stats in (link.forward.stats, link.reverse.stats):
                counts = [getattr(stats, name) for name in _STATS]
                links.append((counts, {r.value: n for r, n in stats.drops.items()}))
        return {
            "records": self.trace.records,
            "digest": self.trace.digest(),
            "content": self.trace.content_digest(),
            "frames": self.trace.frames_hashed,
            "events": self.sim.scheduler.events_run,
            "links": links,
            "cpu": time.process_time(),
            "windows": self.windows,
            "wait": self.wait,
            "window_cpu": self.window_cpu,
        }


def _child_main(build: _Build, pipes: Pipes, me: int, plan: _Plan) -> None:
    mesh = PipeMesh(me, pipes)
    try:
        part = _Part(build, [w == me for w in plan.owner], plan)
        _windows(part, mesh, plan)
        mesh.send(0, ("results", part.results()))
    except BaseException:
        mesh.send_quietly(("error", traceback.format_exc()))
    finally:
        mesh.close()


def run_partitioned(
    scenario: Scenario,
    *,
    workers: int,
    node: str | None = None,
    seed: int | None = None,
    duration: float | None = None,
    trace: Trace | None = None,
) -> RunReport:
    """Play ``scenario`` on ``workers`` processes (see the module docstring).

    Args:
        scenario: what to play; it must have no faults and no scheduled outages.
        workers: how many processes (this one included).
        node: the node factory spec (``meshnet`` by default), resolved in each worker.
        seed: replaces the scenario's seed.
        duration: replaces the scenario's duration.
        trace: where the merged records go (its file and subscribers).

    Raises:
        ConfigError: the scenario asks for something a partitioned run does not do.
        StateError: a worker failed (its traceback is in the message).
    """
    run_seed = seed if seed is not None else scenario.seed
    if scenario.faults:
        raise ConfigError(f"{scenario.source}: faults are not simulated with --workers")
    if scenario.profile.down or any(profile.down for _, profile in scenario.overrides):
        raise ConfigError(f"{scenario.source}: link outages are not simulated with --workers")
    if scenario.trace_frames or (trace is not None and trace.writes_frames):
        raise ConfigError("frame records (--trace-frames) are not written with --workers")
    topology = scenario.topology.build(run_seed)
    owner = partition(topology, workers)
    end = (duration if duration is not None else scenario.duration) + scenario.measure.drain
    plan = _Plan(owner, lookahead(scenario, topology, owner), end, reach(scenario, topology, owner))
    build = _Build(scenario, node, seed, duration)
    context = multiprocessing.get_context("fork")
    pipes = make_pipes(workers)
    processes = []
    mesh: PipeMesh | None = None
    try:
        for worker in range(1, workers):
            process = context.Process(
                target=_child_main,
                args=(build, pipes, worker, plan),
                name=f"meshnet-sim-worker-{worker}",
                daemon=True,
            )
            process.start()
            processes.append(process)
        mesh = PipeMesh(0, pipes)
        part = _Part(build, [w == 0 for w in owner], plan)
        _windows(part, mesh, plan)
        children = [_payload(mesh.receive(worker), worker) for worker in mesh.peers]
        return _report(part, children, trace if trace is not None else Trace())
    finally:
        if mesh is None:
            for read, write in pipes.values():
                os.close(read)
                os.close(write)
        else:
            mesh.close()
        for process in processes:
            process.join(timeout=5.0)
            if process.is_alive():
                process.kill()
                process.join()


def _payload(message: Any, worker: int) -> Any:
    tag, payload = message
    if tag == "error":
        raise StateError(f"simulation worker {worker} failed:\n{payload}")
    return payload


def _windows(part: _Part, mesh: PipeMesh, plan: _Plan) -> None:
    """Run window after window, exchanging items with every other worker in between.

    Every worker computes the same windows: each message carries, beside the items for
    its receiver, its sender's horizon (the items' own bounds included).
    """
    owner, ahead, end, reach = plan.owner, plan.ahead, plan.end, plan.reach
    inbox: list[RemoteItem] = []
    stop, final = min(ahead, end), False
    while True:
        items, earliest = part.step(inbox, stop, final)
        if final:
            return
        outgoing: dict[int, list[RemoteItem]] = {peer: [] for peer in mesh.peers}
        for item in items:
            node = item[3] if item[4] else item[2]
            outgoing[owner[node]].append(item)
            bound = item[0] + reach[node]
            if earliest is None or bound < earliest:
                earliest = bound
        wall, cpu = time.perf_counter(), time.process_time()
        answers = mesh.exchange({peer: ("window", (outgoing[peer], earliest)) for peer in outgoing})
        now = time.process_time()
        part.wait += (time.perf_counter() - wall) - (now - cpu)
        part.window_cpu.append(now - part.cpu_mark)
        part.cpu_mark = now
        inbox = []
        for peer in mesh.peers:
            theirs, their_earliest = _payload(answers[peer], peer)
            inbox += theirs
            if their_earliest is not None and (earliest is None or their_earliest < earliest):
                earliest = their_earliest
        if stop >= end:
            final = True
        elif earliest is None:
            stop = end
        else:
            stop = min(end, max(stop, earliest))


def _report(part: _Part, children: list[dict[str, Any]], trace: Trace) -> RunReport:
    """One report from every worker's records, digests and link counters."""
    sim = part.sim
    results = [part.results(), *children]
    for result in children:
        _add_link_counts(sim, result["links"])
    metrics = MetricsCollector(bin_width=sim.measure.bin_width, stable=sim.measure.stable_probes)
    trace.subscribe(metrics.consume)
    streams = [
        [(rec["t"], worker, order, rec) for order, rec in enumerate(result["records"])]
        for worker, result in enumerate(results)
    ]
    for _, _, _, rec in heapq.merge(*streams):
        fields: Record = dict(rec)
        t, kind = fields.pop("t"), fields.pop("kind")
        trace.record(t, kind, **fields)
    for result in results:
        trace.fold(digest=result["digest"], content=result["content"], frames=result["frames"])
    trace.record(sim.now, "links", **sim.link_summary())
    events = sum(result["events"] for result in results)
    return replace(
        sim.summarise(events, trace, metrics.finish(sim.now)),
        worker_cpu_seconds=tuple(round(result["cpu"], 3) for result in results),
        worker_wait_seconds=tuple(round(result["wait"], 3) for result in results),
        windows=part.windows,
        critical_cpu_seconds=round(
            sum(map(max, zip(*(result["window_cpu"] for result in results), strict=True))), 3
        ),
    )


def _add_link_counts(sim: Simulation, links: list[tuple[list[int], dict[str, int]]]) -> None:
    """Add a child's link counters to ours: each was counted by one worker only."""
    directions: list[DirectionStats] = []
    for link in sim.network.links.values():
        directions += [link.forward.stats, link.reverse.stats]
    for stats, (counts, drops) in zip(directions, links, strict=True):
        for name, count in zip(_STATS, counts, strict=True):
            setattr(stats, name, getattr(stats, name) + count)
        for reason, count in drops.items():
            key = DropReason(reason)
            stats.drops[key] = stats.drops.get(key, 0) + count
