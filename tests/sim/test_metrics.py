"""Metrics from trace records: delivery, percentiles, stretch, overhead, convergence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshnet.errors import ConfigError
from meshnet.sim.faults import CutLink
from meshnet.sim.metrics import Distribution, MetricsCollector
from meshnet.sim.profile import LinkProfile
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.topology import ring
from meshnet.sim.trace import Trace, read_trace
from meshnet.sim.traffic import Flow

from .toynode import ToyFactory


def send(t: float, msg: int, **extra: Any) -> dict[str, Any]:
    rec = {
        "t": t,
        "kind": "send",
        "msg": msg,
        "src": 0,
        "dst": 1,
        "size": 100,
        "flow": "f",
        "reachable": True,
        "best": 0.05,
        "min_hops": 2,
    }
    rec.update(extra)
    return rec


def deliver(t: float, msg: int, latency: float, hops: int | None = None) -> dict[str, Any]:
    return {"t": t, "kind": "deliver", "msg": msg, "node": 1, "latency": latency, "hops": hops}


def links(t: float, total: int) -> dict[str, Any]:
    return {"t": t, "kind": "links", "total_bytes": total, "drops": {}, "usage": []}


def test_distribution_nearest_rank() -> None:
    d = Distribution.of([float(x) for x in range(100, 0, -1)])
    assert (d.count, d.median, d.p95, d.p99, d.max) == (100, 50.0, 95.0, 99.0, 100.0)
    assert d.mean == pytest.approx(50.5)
    assert Distribution.of([]) == Distribution(count=0)
    assert Distribution.of([3.0]).p99 == 3.0


def test_delivery_ratio_latency_and_stretch() -> None:
    c = MetricsCollector()
    for rec in [
        send(1.0, 1),
        send(1.1, 2, reachable=False, best=None, min_hops=None),
        send(1.2, 3),
        send(1.3, 4, refused="no route"),
        deliver(1.1, 1, 0.1),
        deliver(1.35, 3, 0.15),
    ]:
        c.consume(rec)
    m = c.finish(10.0)
    assert (m.offered, m.delivered, m.refused) == (3, 2, 1)
    assert m.pdr == pytest.approx(2 / 3)
    assert m.pdr_reachable == 1.0
    assert m.latency.median == pytest.approx(0.1)
    assert m.latency.max == pytest.approx(0.15)
    assert sorted(m.latencies) == [0.1, 0.15]
    assert m.stretch.max == pytest.approx(3.0)
    assert m.hop_stretch.count == 0
    [flow] = m.flows
    assert (flow.name, flow.offered, flow.refused, flow.delivered) == ("f", 3, 1, 2)
    assert m.timeline == ((1.0, 3, 2),)


def test_overhead_counts_payload_once_per_hop() -> None:
    c = MetricsCollector()
    c.consume({"t": 0.0, "kind": "node", "node": 0, "id": "a"})
    c.consume({"t": 0.0, "kind": "node", "node": 1, "id": "b"})
    c.consume(send(1.0, 1))
    c.consume(deliver(1.1, 1, 0.1, hops=3))
    c.consume(links(10.0, 1300))
    m = c.finish(10.0)
    assert m.overhead is not None
    assert m.overhead.app_link_bytes == 300
    assert m.overhead.overhead_bytes == 1000
    assert m.overhead.share == pytest.approx(1000 / 1300)
    assert m.overhead.per_node_per_second == pytest.approx(1000 / 2 / 10.0)
    assert m.overhead.hops == "observed"
    assert m.hop_stretch.median == pytest.approx(1.5)


def test_overhead_estimates_hops_when_the_node_does_not_report_them() -> None:
    c = MetricsCollector()
    c.consume(send(1.0, 1))
    c.consume(deliver(1.1, 1, 0.1))
    c.consume(links(5.0, 1000))
    overhead = c.finish().overhead
    assert overhead is not None
    assert (overhead.app_link_bytes, overhead.hops) == (200, "min-hop estimate")


def probe_run(c: MetricsCollector, pair: int, start: float, ok_from: float, end: float) -> int:
    """Probes every second; those sent before ``ok_from`` are lost."""
    msg = pair * 1000
    t = start
    while t < end:
        msg += 1
        c.consume(send(t, msg, flow="probe", pair=pair))
        if t >= ok_from:
            c.consume(deliver(t + 0.2, msg, 0.2))
        t += 1.0
    return msg


def test_convergence_is_the_slowest_reachable_pair() -> None:
    c = MetricsCollector(stable=3)
    c.consume({"t": 10.0, "kind": "fault", "fault": "cut", "probe_reach": [True, True, False]})
    probe_run(c, 0, 0.0, 13.0, 30.0)  # recovers with the probe sent at 13
    probe_run(c, 1, 0.5, 0.0, 30.0)  # never affected
    probe_run(c, 2, 0.0, 99.0, 30.0)  # unreachable: ignored
    [conv] = c.finish(30.0).convergence
    assert (conv.fault, conv.pairs, conv.recovered, conv.disturbed) == ("cut", 2, 2, 1)
    assert conv.time == pytest.approx(13.2 - 10.0)


def test_convergence_needs_a_stable_run_and_reports_never() -> None:
    c = MetricsCollector(stable=3)
    c.consume({"t": 0.0, "kind": "fault", "fault": "partition", "probe_reach": [True]})
    outcomes = [(1.0, True), (2.0, False), (3.0, True), (4.0, True), (5.0, True)]
    for msg, (t, ok) in enumerate(outcomes):
        c.consume(send(t, msg, flow="probe", pair=0))
        if ok:
            c.consume(deliver(t + 0.1, msg, 0.1))
    c.consume({"t": 20.0, "kind": "fault", "fault": "heal", "probe_reach": [True]})
    first, second = c.finish(25.0).convergence
    assert first.time == pytest.approx(3.1)  # the flapping probe at 1.0 does not count
    assert first.disturbed == 1
    assert second.time is None and second.recovered == 0  # no probes after the heal


def test_an_undisturbing_fault_converges_in_zero() -> None:
    c = MetricsCollector(stable=2)
    c.consume({"t": 5.0, "kind": "fault", "fault": "cut", "probe_reach": [True]})
    probe_run(c, 0, 0.3, 0.0, 12.0)
    [conv] = c.finish(12.0).convergence
    assert (conv.time, conv.disturbed, conv.recovered) == (0.0, 0, 1)


def test_metrics_replayed_from_a_trace_file_match_the_live_ones(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with path.open("w") as sink:
        sim = Simulation(
            topology=ring(6),
            node_factory=ToyFactory(),
            seed=2,
            profile=LinkProfile(latency=0.01, jitter=0.002, loss=0.05),
            traffic=[Flow(src=0, dst=3, rate=5.0, start=1.0)],
            faults=[CutLink(at=4.0, a=0, b=1, duration=2.0)],
            measure=MeasureSpec(probe_pairs=4, probe_interval=0.5, probe_start=1.0),
            duration=10.0,
            trace=Trace(sink=sink, frames=True),
        )
        live = sim.run().metrics
    replay = MetricsCollector(stable=3)
    for rec in read_trace(path):
        replay.consume(rec)
    assert replay.finish(live.duration) == live
    assert live.delivered > 0 and len(live.convergence) == 2


def test_read_trace_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 1, "kind": "send"}\nnot json\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2"):
        list(read_trace(path))
