"""Scenario files: the shipped examples, and errors that name the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from meshnet.errors import ConfigError
from meshnet.sim.faults import CrashNode, CutLink, DegradeLinks, Partition
from meshnet.sim.profile import GilbertElliott, JitterModel
from meshnet.sim.scenario import load_scenario
from meshnet.sim.traffic import Burst, Flow, RandomPairs

from .toynode import ToyFactory

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))

MINIMAL = """
[scenario]
duration = 10.0
[topology]
kind = "line"
nodes = 4
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario(write(tmp_path, text))
    return str(info.value)


def test_the_examples_exist() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"line10", "rgg200", "failures", "partition_heal"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_example_parses_and_runs(path: Path) -> None:
    scenario = load_scenario(path)
    sim = scenario.build(node_factory=ToyFactory(), duration=2.0)
    assert sim.topology.nodes == scenario.topology.nodes
    if sim.topology.nodes <= 50:
        sim.run()  # a short run: the scenario's faults come later and are scheduled only


def test_a_full_scenario_is_read_into_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [scenario]
        name = "full"
        duration = 30.0
        seed = 9
        warmup = 2.0
        node = "tests.sim.toynode:make_toy_node"

        [topology]
        kind = "grid"
        rows = 3
        cols = 3

        [links]
        latency = 0.02
        jitter = 0.004
        jitter_model = "exponential"
        loss = 0.01
        bandwidth = 1e6
        queue_bytes = 8000
        mtu = 1000
        down = [[10.0, 12.0]]
        [links.burst_loss]
        to_bad = 0.02
        to_good = 0.5

        [[links.override]]
        edges = [[0, 1], [1, 2]]
        latency = 0.2

        [[traffic]]
        kind = "flow"
        src = 0
        dst = 8
        rate = 2.0

        [[traffic]]
        kind = "random"
        rate = 5.0
        nodes = [0, 4, 8]
        stop = 20.0

        [[traffic]]
        kind = "burst"
        src = 2
        dst = 6
        count = 10
        at = 7.0
        size = 500

        [[faults]]
        at = 5.0
        kind = "cut"
        edge = [4, 5]
        duration = 2.0
        silent = true

        [[faults]]
        at = 8.0
        kind = "partition"
        groups = [[0, 1], [2]]

        [[faults]]
        at = 9.0
        kind = "crash"
        node = 4
        keep_state = true
        duration = 1.0

        [[faults]]
        at = 11.0
        kind = "degrade"
        loss = 0.5
        corrupt = 0.01

        [measure]
        probe_pairs = 4
        probe_interval = 0.5
        drain = 1.0
        trace_frames = true
        """,
    )
    s = load_scenario(path)
    assert (s.name, s.duration, s.seed, s.node) == (
        "full",
        30.0,
        9,
        "tests.sim.toynode:make_toy_node",
    )
    assert s.profile.jitter_model is JitterModel.EXPONENTIAL
    assert s.profile.burst_loss == GilbertElliott(to_bad=0.02, to_good=0.5)
    assert s.profile.down == ((10.0, 12.0),)
    assert [(edge, p.latency, p.mtu) for edge, p in s.overrides] == [
        ((0, 1), 0.2, 1000),
        ((1, 2), 0.2, 1000),
    ]
    flow, random_pairs, burst = s.traffic
    assert flow == Flow(src=0, dst=8, rate=2.0, start=2.0)
    assert random_pairs == RandomPairs(rate=5.0, start=2.0, stop=20.0, nodes=(0, 4, 8))
    assert burst == Burst(src=2, dst=6, count=10, at=7.0, size=500)
    assert s.faults == (
        CutLink(at=5.0, a=4, b=5, duration=2.0, silent=True),
        Partition(at=8.0, groups=((0, 1), (2,))),
        CrashNode(at=9.0, node=4, keep_state=True, duration=1.0),
        DegradeLinks(at=11.0, changes=(("loss", 0.5), ("corrupt", 0.01))),
    )
    assert s.measure.probe_start == 2.0 and s.trace_frames
    report = s.build(node_factory=ToyFactory()).run()
    assert report.metrics.delivered > 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "[links]\nlatncy = 0.1\n",
            r"unknown key 'links.latncy' (did you mean 'latency'?)",
        ),
        (
            MINIMAL + "[[traffic]]\nkind = 'flow'\nsrc = 0\ndst = 1\nrate = 'fast'\n",
            "traffic[0].rate: expected a number > 0, got the string 'fast'",
        ),
        (
            MINIMAL + "[[traffic]]\nkind = 'flow'\nsrc = 0\ndst = 7\nrate = 1.0\n",
            "traffic[0].dst: there is no node 7",
        ),
        (
            MINIMAL + "[[faults]]\nat = 1.0\nkind = 'crash'\nnode = -1\n",
            "faults[0].node: expected an integer >= 0",
        ),
        (
            MINIMAL + "[[faults]]\nat = 1.0\nkind = 'cut'\nedge = [0, 2]\n",
            "faults[0].edge: the topology has no link [0, 2]",
        ),
        (
            MINIMAL + "[[faults]]\nat = 1.0\nkind = 'explode'\n",
            "faults[0].kind: expected one of cut, repair",
        ),
        (MINIMAL + "[[faults]]\nat = 1.0\nkind = 'degrade'\n", "at least one link profile key"),
        (
            MINIMAL + "[[faults]]\nat = 1.0\nkind = 'degrade'\nloss = 2.0\n",
            "faults[0].loss: expected a number >= 0 and <= 1",
        ),
        (
            MINIMAL + "[links]\nmtu = 2000\nqueue_bytes = 100\n",
            "links: queue_bytes must be an integer >= mtu",
        ),
        (
            MINIMAL + "[links]\njitter_model = 'gaussian'\n",
            "links.jitter_model: expected one of uniform, normal, exponential",
        ),
        (
            MINIMAL + "[measure]\nprobe_pairs = true\n",
            "measure.probe_pairs: expected an integer >= 0, got the boolean true",
        ),
        (MINIMAL + "[extra]\nx = 1\n", "unknown key 'extra'"),
        ("[topology]\nkind = 'line'\nnodes = 3\n", "scenario.duration: is required"),
        ("[scenario]\nduration = 5.0\n", "topology: is required"),
        (
            "[scenario]\nduration = 5.0\n[topology]\nkind = 'rgg'\nnodes = 10\nmean_degree = 3.0\n"
            "[[faults]]\nat = 1.0\nkind = 'cut'\nedge = [0, 1]\n",
            "set topology.seed to name its edges",
        ),
        (
            "[scenario]\nduration = 5.0\n[topology]\nkind = 'hypercube'\n",
            "topology.kind: expected one of pair, line",
        ),
        ("[scenario]\nduration = 5.0\n[topology]\nkind = 'edges'\n", "exactly one of 'edges'"),
        ("[scenario\nduration = 5.0\n", "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "s.toml"))
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read scenario"):
        load_scenario(tmp_path / "none.toml")


def test_edge_list_topologies_inline_and_from_a_file(tmp_path: Path) -> None:
    write(tmp_path, "0 1\n1 2\n2 0\n2 3\n", name="mesh.edges")
    head = "[scenario]\nduration = 1.0\n[topology]\nkind = 'edges'\n"
    from_file = load_scenario(write(tmp_path, head + "file = 'mesh.edges'\n"))
    assert from_file.topology.nodes == 4
    assert from_file.topology.build(1).edges == ((0, 1), (0, 2), (1, 2), (2, 3))
    inline = load_scenario(write(tmp_path, head + "edges = [[0, 1], [3, 1]]\nnodes = 5\n"))
    assert inline.topology.nodes == 5
    assert inline.topology.edges == ((0, 1), (1, 3))


def test_random_topologies_follow_the_run_seed_unless_pinned(tmp_path: Path) -> None:
    base = "[scenario]\nduration = 1.0\n[topology]\nkind = 'rgg'\nnodes = 40\nmean_degree = 5.0\n"
    loose = load_scenario(write(tmp_path, base, "loose.toml")).topology
    pinned = load_scenario(write(tmp_path, base + "seed = 3\n", "pinned.toml")).topology
    assert loose.build(1) != loose.build(2)
    assert pinned.build(1) == pinned.build(2)


def test_seed_override_changes_the_run(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(tmp_path, MINIMAL + "[[traffic]]\nkind = 'random'\nrate = 5.0\nstart = 1.0\n")
    )
    a = scenario.build(node_factory=ToyFactory()).run().digest
    b = scenario.build(node_factory=ToyFactory(), seed=1).run().digest
    c = scenario.build(node_factory=ToyFactory(), seed=2).run().digest
    assert a == b != c
