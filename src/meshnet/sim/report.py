"""``RunReport``: the outcome of one run, as text for people and JSON for programs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from meshnet.sim.metrics import Distribution, Metrics

__all__ = ["RunReport", "format_report", "report_to_json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """What a run did and measured."""

    name: str
    seed: int
    topology: str
    nodes: int
    links: int
    virtual_time: float
    """Simulated seconds at the end of the run."""
    events: int
    """Scheduler entries run (frames, timers, traffic, faults)."""
    frames_sent: int
    """Frames put on links."""
    frames_delivered: int
    """Frames handed to nodes."""
    link_bytes: int
    drops: tuple[tuple[str, int], ...]
    """Frames lost on links, by reason."""
    link_usage: tuple[tuple[int, int, int], ...]
    """Bytes each link carried in both directions: ``(a, b, bytes)``."""
    digest: str
    """SHA-256 of the trace (records, frame times, ends and sizes): equal for equal
    scenario and seed, whatever the node."""
    content_digest: str
    """SHA-256 of every frame byte: equal for equal scenario and seed when all the
    node's randomness is seeded (not with hybrid handshakes: ``meshnet.sim.trace``)."""
    metrics: Metrics
    wall_seconds: float | None = None
    """Wall-clock time of the run, when the caller measured it (never in the trace)."""
    worker_cpu_seconds: tuple[float, ...] | None = None
    """CPU seconds of each worker process of a partitioned run (never in the trace)."""
    worker_wait_seconds: tuple[float, ...] | None = None
    """Wall seconds each worker of a partitioned run spent blocked at window barriers
    (waiting for the others; never in the trace)."""
    windows: int | None = None
    """How many windows a partitioned run took (the barriers between them)."""
    critical_cpu_seconds: float | None = None
    """The CPU seconds of the busiest worker of each window, summed over the windows:
    about the wall time of a partitioned run on idle cores (barrier latency aside)."""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _latency_line(d: Distribution) -> str:
    return (
        f"median {_ms(d.median)}, p95 {_ms(d.p95)}, p99 {_ms(d.p99)}, max {_ms(d.max)} "
        f"({d.count} samples)"
    )


def format_report(report: RunReport) -> str:
    """A human-readable summary."""
    m = report.metrics
    lines = [
        f"scenario   {report.name} (seed {report.seed})",
        f"topology   {report.topology}: {report.nodes} nodes, {report.links} links",
        f"simulated  {report.virtual_time:.1f} s, {report.events} events, "
        f"{report.frames_sent} frames on links ({report.link_bytes} bytes)",
    ]
    if report.wall_seconds is not None:
        rate = report.virtual_time / report.wall_seconds if report.wall_seconds > 0 else 0.0
        lines.append(f"wall clock {report.wall_seconds:.2f} s ({rate:.1f} simulated s per s)")
    if report.worker_cpu_seconds is not None:
        cpu = ", ".join(f"{c:.1f}" for c in report.worker_cpu_seconds)
        line = f"workers    {len(report.worker_cpu_seconds)}: CPU s {cpu}"
        if report.worker_wait_seconds is not None:
            wait = ", ".join(f"{w:.1f}" for w in report.worker_wait_seconds)
            line += f"; waiting s {wait}; {report.windows} windows"
        if report.critical_cpu_seconds is not None:
            line += f"; critical path {report.critical_cpu_seconds:.1f} CPU s"
        lines.append(line)
    lines += [
        f"delivery   {m.delivered}/{m.offered} = {_pct(m.pdr)}; among reachable "
        f"{_pct(m.pdr_reachable)}; refused {m.refused}, duplicates {m.duplicates}, "
        f"misdelivered {m.misdelivered}",
        f"latency    {_latency_line(m.latency)}",
        f"stretch    median {_num(m.stretch.median)}, p95 {_num(m.stretch.p95)} "
        "(latency / best-path propagation delay)",
    ]
    if m.hop_stretch.count:
        lines.append(
            f"hops       stretch median {_num(m.hop_stretch.median)}, p95 {_num(m.hop_stretch.p95)}"
        )
    if m.overhead is not None:
        o = m.overhead
        lines.append(
            f"overhead   {o.overhead_bytes} of {o.link_bytes} link bytes ({_pct(o.share)}); "
            f"{o.per_node_per_second:.1f} B/s per node (payload hops: {o.hops})"
        )
    if report.drops:
        lines.append("link drops " + ", ".join(f"{k} {v}" for k, v in report.drops))
    for f in m.flows:
        lines.append(
            f"  flow {f.name:<12} {f.delivered}/{f.offered} = {_pct(f.pdr)}, "
            f"median {_ms(f.latency.median)}, p99 {_ms(f.latency.p99)}"
        )
    for c in m.convergence:
        if not c.pairs:
            lines.append(
                f"  fault {c.fault:<9} at {c.at:.1f} s: convergence not measured (no probes)"
            )
            continue
        time = "never" if c.time is None else f"{c.time:.2f} s"
        lines.append(
            f"  fault {c.fault:<9} at {c.at:.1f} s: converged {time} "
            f"({c.recovered}/{c.pairs} probe pairs recovered, {c.disturbed} disturbed)"
        )
    lines.append(f"digest     {report.digest}")
    lines.append(f"content    {report.content_digest}")
    return "\n".join(lines)


def report_to_json(report: RunReport) -> dict[str, Any]:
    """The report as JSON-ready data (per-message latencies and link usage left out)."""
    data = dataclasses.asdict(report)
    metrics = data["metrics"]
    del metrics["latencies"]
    del data["link_usage"]
    data["drops"] = dict(report.drops)
    metrics["timeline"] = [list(row) for row in report.metrics.timeline]
    return data
