"""Partitioned runs (``meshnet.sim.parallel``): the split, the lookahead, determinism,
the merged report, what is refused, and a failing worker."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from tests.sim.toynode import ToyFactory, ToyNode

from meshnet.cli.main import main
from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import ConfigError, StateError
from meshnet.sim import topology as topo
from meshnet.sim.parallel import lookahead, partition, reach, run_partitioned
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.scenario import Scenario, parse_scenario
from meshnet.sim.trace import Trace, read_trace

TOY = "tests.sim.toynode:make_toy_node"


def scenario(**changes: Any) -> Scenario:
    """A 24-node random geometric graph with a delay floor of 4 ms and random traffic."""
    data: dict[str, Any] = {
        "scenario": {"name": "rgg24", "duration": 6.0, "seed": 5, "warmup": 1.0},
        "topology": {"kind": "rgg", "nodes": 24, "mean_degree": 5.0},
        "links": {
            "latency": 0.004,
            "jitter": 0.002,
            "jitter_model": "exponential",
            "bandwidth": 1_000_000,
        },
        "traffic": [{"kind": "random", "rate": 20.0, "size": 100}],
        "measure": {"probe_pairs": 4, "probe_interval": 0.5},
    }
    for key, value in changes.items():
        merge = isinstance(value, dict) and key != "topology"
        data[key] = {**data.get(key, {}), **value} if merge else value
    return parse_scenario(data, source="test.toml")


def test_partition_cuts_by_position_or_breadth_first_in_runs_of_even_load() -> None:
    line = topo.line(7)  # positions 0..6 along x; loads (degree + 1) 2 3 3 3 3 3 2
    assert partition(line, 2) == [0, 0, 0, 1, 1, 1, 1]
    assert partition(line, 3) == [0, 0, 1, 1, 1, 2, 2]
    unplaced = topo.from_edges(6, [(0, 5), (5, 1), (1, 4), (4, 2), (2, 3)])
    assert partition(unplaced, 2) == [0, 0, 1, 1, 1, 0]  # BFS from 0: 0 5 1 | 4 2 3
    # a dense clique of 5 then a tail of 10: equal loads, not equal node counts
    clique = [(a, b) for a in range(5) for b in range(a + 1, 5)]
    tadpole = topo.from_edges(15, clique + [(n, n + 1) for n in range(4, 14)])
    owner = partition(tadpole, 2)
    assert owner == [0] * 5 + [1] * 10  # loads 26 and 29; by count 8 and 7 nodes: 35 and 20
    star = topo.from_edges(4, [(0, 1), (0, 2), (0, 3)])  # loads 4 2 2 2
    assert partition(star, 4) == [0, 1, 2, 3]  # by load, worker 1 would get no node
    assert partition(line, 1) == [0] * 7
    with pytest.raises(ConfigError, match="--workers"):
        partition(line, 0)
    with pytest.raises(ConfigError, match="--workers"):
        partition(line, 8)


def test_lookahead_is_the_least_delay_floor_on_the_cut() -> None:
    s = scenario(links={"jitter_model": "uniform", "latency": 0.010, "jitter": 0.003})
    graph = s.topology.build(s.seed)
    owner = partition(graph, 2)
    assert lookahead(s, graph, owner) == pytest.approx(0.007)
    assert lookahead(s, graph, [0] * graph.nodes) == float("inf")  # nothing crosses
    normal = scenario(links={"jitter_model": "normal"})
    with pytest.raises(ConfigError, match="no delay floor"):
        lookahead(normal, graph, owner)


def test_reach_is_the_least_delay_floor_sum_across_the_cut() -> None:
    s = scenario(
        topology={"kind": "edges", "nodes": 6, "edges": [[0, 1], [1, 2], [2, 3], [3, 4], [1, 5]]},
        links={
            "latency": 0.004,
            "jitter": 0.001,
            "override": [{"edges": [[1, 5]], "latency": 0.01}],
        },
    )
    graph = s.topology.build(s.seed)
    owner = [0, 0, 0, 1, 1, 0]  # the cut is the link 2-3
    assert reach(s, graph, owner) == pytest.approx([0.012, 0.008, 0.004, 0.004, 0.008, 0.018])
    assert reach(s, graph, [0] * 6) == [float("inf")] * 6


def test_same_seed_and_workers_give_the_same_digest_and_the_serial_run_s_traffic() -> None:
    s = scenario()
    first = run_partitioned(s, workers=2, node=TOY)
    second = run_partitioned(s, workers=2, node=TOY)
    other_seed = run_partitioned(s, workers=2, node=TOY, seed=6)
    three = run_partitioned(s, workers=3, node=TOY)
    serial = s.build(node_factory=resolve_node_factory(TOY)).run()
    assert first.digest == second.digest
    assert first.content_digest == second.content_digest
    assert first.digest not in {other_seed.digest, three.digest}
    assert first.worker_cpu_seconds is not None and len(first.worker_cpu_seconds) == 2
    # the same messages are offered, and the healthy mesh delivers them all
    for report in (first, three):
        assert report.metrics.offered == serial.metrics.offered > 100
        assert report.metrics.delivered == report.metrics.offered
        assert report.metrics.duplicates == serial.metrics.duplicates == 0
        assert report.virtual_time == serial.virtual_time
        assert report.link_bytes > 0 and report.frames_delivered > 0


def test_the_merged_trace_is_in_time_order_and_holds_every_node(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with path.open("w", encoding="utf-8") as sink:
        report = run_partitioned(scenario(), workers=2, node=TOY, trace=Trace(sink=sink))
    records = list(read_trace(path))
    times = [rec["t"] for rec in records]
    assert times == sorted(times)
    assert sorted(rec["node"] for rec in records if rec["kind"] == "node") == list(range(24))
    sends = [rec for rec in records if rec["kind"] == "send"]
    delivered = {rec["msg"] for rec in records if rec["kind"] == "deliver"}
    assert len(sends) == report.metrics.offered
    assert {rec["msg"] for rec in sends} == delivered
    links = [rec for rec in records if rec["kind"] == "links"]
    assert len(links) == 1 and links[0]["frames_sent"] == report.frames_sent


def test_what_a_partitioned_run_does_not_do_is_refused() -> None:
    faults = scenario(faults=[{"at": 2.0, "kind": "crash", "node": 3}])
    with pytest.raises(ConfigError, match="faults"):
        run_partitioned(faults, workers=2, node=TOY)
    frames = scenario(measure={"trace_frames": True})
    with pytest.raises(ConfigError, match="frame records"):
        run_partitioned(frames, workers=2, node=TOY)
    outages = scenario(links={"down": [[2.0, 3.0]]})
    with pytest.raises(ConfigError, match="outages"):
        run_partitioned(outages, workers=2, node=TOY)


class _Failing(ToyNode):
    def handle_timer(self, now: float) -> None:
        if now > 2.0:
            raise RuntimeError("a bug in the node")
        super().handle_timer(now)


class _FailingFactory(ToyFactory):
    """Toy nodes; the last node's timer raises after 2 s (it runs in the last worker)."""

    def __call__(
        self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> ToyNode:
        node = super().__call__(index=index, identity_entropy=identity_entropy, entropy=entropy)
        if index == 6:
            node.__class__ = _Failing
        return node


failing_factory = _FailingFactory()


def test_a_failing_worker_stops_the_run_with_its_traceback_and_leaves_no_process() -> None:
    line = scenario(topology={"kind": "line", "nodes": 7})
    with pytest.raises(StateError) as caught:
        run_partitioned(line, workers=2, node="tests.sim.test_parallel:failing_factory")
    assert "worker 1 failed" in str(caught.value)
    assert "a bug in the node" in str(caught.value)
    assert multiprocessing.active_children() == []


def test_cli_workers_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rgg24.toml"
    path.write_text(
        "[scenario]\nduration = 4.0\nwarmup = 1.0\n"
        '[topology]\nkind = "rgg"\nnodes = 24\nmean_degree = 5.0\n'
        '[links]\nlatency = 0.004\njitter = 0.001\njitter_model = "exponential"\n'
        '[[traffic]]\nkind = "random"\nrate = 10.0\n',
        encoding="utf-8",
    )
    args = ["sim", "run", str(path), "--node", TOY, "--json", "--workers", "2"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["digest"] == second["digest"]
    assert len(first["worker_cpu_seconds"]) == 2
    assert first["metrics"]["delivered"] == first["metrics"]["offered"] > 0
