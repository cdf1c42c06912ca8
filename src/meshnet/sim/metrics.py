"""Metrics computed from the trace: delivery, latency, stretch, overhead, convergence.

``MetricsCollector`` consumes trace records (live, as a subscriber, or replayed from a
JSONL file) and ``finish()`` turns them into a ``Metrics`` value:

* **Delivery ratio**: first copies delivered / messages the source node accepted;
  also among messages whose destination was reachable (ground truth) when sent.
* **Latency**: end-to-end, from the send time carried in the payload; median, p95,
  p99 (nearest rank).
* **Stretch**: observed latency / best path delay, where the best path minimises the
  sum of the links' expected propagation delays (ground truth at send time). The real
  node's relays do not report the path a message took, so this is a latency stretch
  (it includes queueing and serialization). When a node's ``DatagramReceived`` event
  carries ``hops``, the hop stretch (hops / fewest hops) is reported as well.
* **Control overhead**: bytes on all links minus application payload bytes carried
  across links, where a delivered payload counts once per hop (the observed hops when
  the node reports them, else the fewest hops: an estimate, labelled as such). Per
  node per second and as a share of all link bytes.
* **Convergence** after each fault: for every probed pair still reachable after the
  fault, the time until its probes get through again, stably (``stable`` probes in a
  row delivered); the fault's convergence time is the largest over those pairs, and
  None when some pair never recovered before the next fault or the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from meshnet.sim.trace import Record

__all__ = ["Convergence", "Distribution", "FlowStats", "Metrics", "MetricsCollector", "Overhead"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """Summary of samples (all None when there are none)."""

    count: int
    mean: float | None = None
    median: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, samples: list[float]) -> Distribution:
        """Nearest-rank percentiles of ``samples``."""
        if not samples:
            return cls(count=0)
        ordered = sorted(samples)

        def rank(p: float) -> float:
            return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]

        return cls(
            count=len(ordered),
            mean=math.fsum(ordered) / len(ordered),
            median=rank(50),
            p95=rank(95),
            p99=rank(99),
            max=ordered[-1],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStats:
    """Delivery of one traffic source."""

    name: str
    offered: int
    refused: int
    delivered: int
    pdr: float | None
    latency: Distribution


@dataclass(frozen=True, slots=True, kw_only=True)
class Convergence:
    """How long delivery took to work again after one fault."""

    at: float
    fault: str
    pairs: int
    """Probe pairs reachable after the fault and probed before the next fault or the end."""
    recovered: int
    """Of those, the pairs whose probes got through again."""
    disturbed: int
    """Of those, the pairs that lost a probe sent after the fault before recovering."""
    time: float | None
    """Seconds from the fault until the last disturbed pair recovered (0.0 when no pair
    was disturbed); None if some pair never recovered or no pair was measured."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Overhead:
    """Bytes on links that were not application payload."""

    link_bytes: int
    app_link_bytes: int
    overhead_bytes: int
    share: float | None
    per_node_per_second: float
    hops: str
    """How payload hops were counted: ``observed``, ``min-hop estimate`` or ``mixed``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """Everything measured in one run."""

    duration: float
    offered: int
    refused: int
    delivered: int
    duplicates: int
    misdelivered: int
    pdr: float | None
    pdr_reachable: float | None
    latency: Distribution
    stretch: Distribution
    hop_stretch: Distribution
    flows: tuple[FlowStats, ...]
    convergence: tuple[Convergence, ...]
    overhead: Overhead | None
    timeline: tuple[tuple[float, int, int], ...]
    """(bin start, messages sent, of which delivered) by send time."""
    latencies: tuple[float, ...]
    """Every delivered message's latency, in delivery order (for plots)."""


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


class MetricsCollector:
    """Builds ``Metrics`` from trace records.

    Args:
        bin_width: seconds per timeline bin.
        stable: consecutive delivered probes that count as recovered.
    """

    def __init__(self, *, bin_width: float = 1.0, stable: int = 3) -> None:
        self.bin_width = bin_width
        self.stable = stable
        self._pending: dict[int, tuple[Any, ...]] = {}
        self._flows: dict[str, list[Any]] = {}  # name -> [offered, refused, delivered, lat]
        self._latencies: list[float] = []
        self._stretch: list[float] = []
        self._hop_stretch: list[float] = []
        self._reach = [0, 0]  # offered to a reachable destination, of which delivered
        self._counts = {"duplicates": 0, "misdelivered": 0}
        self._bins: dict[int, list[int]] = {}
        self._probes: dict[int, list[list[float | None]]] = {}
        self._faults: list[tuple[float, str, list[bool]]] = []
        self._app_link_bytes = 0
        self._hop_sources: set[str] = set()
        self._links: Record | None = None
        self._nodes = 0
        self._last_t = 0.0

    def consume(self, rec: Record) -> None:
        """Take one trace record into account."""
        kind, t = rec["kind"], rec["t"]
        self._last_t = max(self._last_t, t)
        if kind == "send":
            self._on_send(rec)
        elif kind == "deliver":
            self._on_deliver(rec)
        elif kind == "dup":
            self._counts["duplicates"] += 1
        elif kind == "misdelivered":
            self._counts["misdelivered"] += 1
        elif kind == "fault":
            self._faults.append((t, rec["fault"], list(rec.get("probe_reach", []))))
        elif kind == "links":
            self._links = rec
        elif kind == "node":
            self._nodes = max(self._nodes, rec["node"] + 1)

    def _flow(self, name: str) -> list[Any]:
        return self._flows.setdefault(name, [0, 0, 0, []])

    def _on_send(self, rec: Record) -> None:
        flow = self._flow(rec["flow"])
        if "refused" in rec:
            flow[1] += 1
            return
        flow[0] += 1
        t = rec["t"]
        self._bins.setdefault(int(t // self.bin_width), [0, 0])[0] += 1
        pair = rec.get("pair")
        probe_index = None
        if pair is not None:
            series = self._probes.setdefault(pair, [])
            probe_index = len(series)
            series.append([t, None])
        if rec["reachable"]:
            self._reach[0] += 1
        self._pending[rec["msg"]] = (
            t,
            rec["flow"],
            rec["reachable"],
            rec["best"],
            rec["min_hops"],
            rec["size"],
            pair,
            probe_index,
        )

    def _on_deliver(self, rec: Record) -> None:
        sent = self._pending.pop(rec["msg"], None)
        if sent is None:
            return
        t_sent, flow_name, reachable, best, min_hops, size, pair, probe_index = sent
        latency = rec["latency"]
        self._latencies.append(latency)
        flow = self._flow(flow_name)
        flow[2] += 1
        flow[3].append(latency)
        self._bins.setdefault(int(t_sent // self.bin_width), [0, 0])[1] += 1
        if reachable:
            self._reach[1] += 1
        if best:
            self._stretch.append(latency / best)
        hops = rec.get("hops")
        if hops is not None:
            self._hop_sources.add("observed")
            if min_hops:
                self._hop_stretch.append(hops / min_hops)
        else:
            self._hop_sources.add("min-hop estimate")
            hops = min_hops or 0
        self._app_link_bytes += size * hops
        if pair is not None and probe_index is not None:
            self._probes[pair][probe_index][1] = rec["t"]

    def _convergence(self, end: float) -> tuple[Convergence, ...]:
        out = []
        for k, (at, kind, reach) in enumerate(self._faults):
            until = self._faults[k + 1][0] if k + 1 < len(self._faults) else end
            windows = [self._window(p, at, until) for p, ok in enumerate(reach) if ok]
            recoveries = [self._recovery(w, at) for w in windows if w]  # pairs probed after
            done = [r for r in recoveries if r is not None]
            complete = recoveries and len(done) == len(recoveries)
            out.append(
                Convergence(
                    at=at,
                    fault=kind,
                    pairs=len(recoveries),
                    recovered=len(done),
                    disturbed=sum(1 for r in recoveries if r != 0.0),
                    time=max(done) if complete else None,
                )
            )
        return tuple(out)

    def _window(self, pair: int, at: float, until: float) -> list[list[float | None]]:
        """The pair's probes sent in ``[at, until)``: ``[send time, delivery time]``."""
        return [p for p in self._probes.get(pair, []) if at <= p[0] < until]  # type: ignore[operator]

    def _recovery(self, series: list[list[float | None]], at: float) -> float | None:
        """Seconds until the pair's probes got through stably; 0.0 if none was lost.

        A probe starts a recovery when it and the next ``stable - 1`` probes were all
        delivered; when that is the very first probe after the fault, the pair was not
        disturbed.
        """
        for i, (_, delivered) in enumerate(series):
            run = series[i : i + self.stable]
            if delivered is not None and all(d is not None for _, d in run):
                return 0.0 if i == 0 else delivered - at
        return None

    def finish(self, end: float | None = None) -> Metrics:
        """The metrics of everything consumed (``end`` defaults to the last record time)."""
        end = self._last_t if end is None else end
        offered = sum(f[0] for f in self._flows.values())
        delivered = sum(f[2] for f in self._flows.values())
        flows = tuple(
            FlowStats(
                name=name,
                offered=f[0],
                refused=f[1],
                delivered=f[2],
                pdr=_ratio(f[2], f[0]),
                latency=Distribution.of(f[3]),
            )
            for name, f in sorted(self._flows.items())
        )
        timeline = tuple(
            (b * self.bin_width, counts[0], counts[1]) for b, counts in sorted(self._bins.items())
        )
        return Metrics(
            duration=end,
            offered=offered,
            refused=sum(f[1] for f in self._flows.values()),
            delivered=delivered,
            duplicates=self._counts["duplicates"],
            misdelivered=self._counts["misdelivered"],
            pdr=_ratio(delivered, offered),
            pdr_reachable=_ratio(self._reach[1], self._reach[0]),
            latency=Distribution.of(self._latencies),
            stretch=Distribution.of(self._stretch),
            hop_stretch=Distribution.of(self._hop_stretch),
            flows=flows,
            convergence=self._convergence(end),
            overhead=self._overhead(end),
            timeline=timeline,
            latencies=tuple(self._latencies),
        )

    def _overhead(self, end: float) -> Overhead | None:
        if self._links is None:
            return None
        link_bytes = int(self._links["total_bytes"])
        overhead = max(0, link_bytes - self._app_link_bytes)
        sources = sorted(self._hop_sources)
        seconds = end if end > 0 else 1.0
        return Overhead(
            link_bytes=link_bytes,
            app_link_bytes=self._app_link_bytes,
            overhead_bytes=overhead,
            share=_ratio(overhead, link_bytes),
            per_node_per_second=overhead / max(1, self._nodes) / seconds,
            hops=sources[0] if len(sources) == 1 else ("mixed" if sources else "none"),
        )
