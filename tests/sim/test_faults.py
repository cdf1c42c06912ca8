"""Faults: cut and repair, partitions, crash and restart, degraded links, timed faults."""

from __future__ import annotations

import pytest
from tests.helpers.simnet import build_network

from meshnet.errors import ConfigError, StateError
from meshnet.sim.faults import CrashNode, CutLink, DegradeLinks, Partition
from meshnet.sim.link import DropReason
from meshnet.sim.profile import LinkProfile
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.topology import line
from meshnet.sim.trace import Trace

from .toynode import ToyFactory, ToyNode

FAST = LinkProfile(latency=0.01)


def toy(sim: Simulation, index: int) -> ToyNode:
    node = sim.node(index)
    assert isinstance(node, ToyNode)
    return node


def kinds(sim: Simulation, kind: str) -> list[dict[str, object]]:
    return [r for r in sim.trace.records if r["kind"] == kind]


def delivered_after(sim: Simulation, src: int, dst: int, wait: float = 1.0) -> bool:
    before = len(kinds(sim, "deliver"))
    sim.send(src, dst)
    sim.run_for(wait)
    return len(kinds(sim, "deliver")) > before


def test_cut_closes_both_transports_and_repair_opens_new_ones() -> None:
    sim = build_network(n=3, topology="line", node_factory=ToyFactory(), profile=FAST)
    sim.run_for(1.0)
    assert delivered_after(sim, 0, 2)
    sim.cut(1, 2)
    sim.run_for(0.0)
    assert toy(sim, 1).closed_transports == [2]
    assert toy(sim, 2).closed_transports == [1]
    assert not delivered_after(sim, 0, 2)
    assert not sim.network.truth().reachable(0, 2)
    sim.repair(1, 2)
    sim.run_for(0.5)
    assert [o["transport"] for o in toy(sim, 2).opened_with] == [1, 2]
    assert delivered_after(sim, 0, 2)


def test_silent_cut_tells_nobody_and_frames_vanish() -> None:
    sim = build_network(
        n=2, topology="pair", node_factory=ToyFactory(dead_after=100.0), profile=FAST
    )
    sim.run_for(1.0)
    sim.cut(0, 1, silent=True)
    sim.run_for(3.0)
    assert toy(sim, 0).closed_transports == []
    assert not delivered_after(sim, 0, 1)
    assert sim.network.link(0, 1).forward.stats.dropped(DropReason.DOWN) > 0
    sim.repair(0, 1)  # the same transports carry frames again
    sim.run_for(0.1)
    assert len(toy(sim, 0).opened_with) == 1
    assert delivered_after(sim, 0, 1)


def test_silent_cut_is_detected_by_the_node_timeout() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory(dead_after=2.5), profile=FAST)
    sim.run_for(1.0)
    sim.cut(0, 1, silent=True)
    sim.run_for(5.0)
    closes = kinds(sim, "close")
    assert {c["node"] for c in closes} == {0, 1}
    assert all(c["reason"] == "peer timeout" for c in closes)


def test_frames_in_flight_are_lost_when_the_link_goes_down() -> None:
    sim = build_network(
        n=2, topology="pair", node_factory=ToyFactory(), profile=LinkProfile(latency=0.5)
    )
    sim.run_for(1.1)  # the hellos sent at t=1.0 are in flight too
    sim.send(0, 1)
    sim.run_for(0.2)
    sim.cut(0, 1, silent=True)
    sim.repair(0, 1)
    sim.run_for(1.0)
    assert kinds(sim, "deliver") == []
    assert sim.network.link(0, 1).forward.stats.dropped(DropReason.IN_FLIGHT) == 2


def test_partition_and_heal() -> None:
    sim = build_network(n=9, topology="grid", node_factory=ToyFactory(), profile=FAST)
    sim.run_for(1.0)
    sim.partition([0, 1, 3, 4])
    truth = sim.network.truth()
    assert truth.reachable(0, 4) and truth.reachable(2, 8)
    assert not truth.reachable(0, 8)
    assert not delivered_after(sim, 0, 8)
    assert delivered_after(sim, 2, 8)
    sim.heal()
    sim.run_for(0.5)
    assert delivered_after(sim, 0, 8)


def test_new_partition_replaces_the_old() -> None:
    sim = build_network(n=4, topology="line", node_factory=ToyFactory(), profile=FAST)
    sim.run_for(1.0)
    sim.partition([0, 1])
    sim.run_for(1.0)
    sim.partition([0, 2, 3])  # 0-1 and 1-2 cross the new split; 1-2 stays down untouched
    sim.run_for(1.0)
    truth = sim.network.truth()
    assert truth.reachable(2, 3) and not truth.reachable(0, 1) and not truth.reachable(1, 2)
    links = [(r["a"], r["b"], r["up"]) for r in kinds(sim, "link")]
    assert links == [(1, 2, False), (0, 1, False)]
    assert toy(sim, 2).closed_transports == [1]  # its link to 1 was cut once, not twice


def test_crash_loses_state_and_restart_rebuilds_the_same_identity() -> None:
    factory = ToyFactory(keep=True)
    sim = build_network(
        n=3, topology="line", node_factory=factory, profile=LinkProfile(latency=0.05)
    )
    sim.run_for(1.0)
    before = sim.node(2)
    node_id = sim.network.nodes[2].node_id
    sim.crash(2)
    sim.run_for(0.01)
    assert toy(sim, 1).closed_transports == []  # the close reaches the peer after 50 ms
    sim.run_for(0.1)
    assert toy(sim, 1).closed_transports == [2]
    assert not delivered_after(sim, 0, 2)
    sim.restart(2)
    after = sim.node(2)
    assert after is not before
    assert after.node_id == node_id
    sim.run_for(0.5)
    assert toy(sim, 2).opened_with[0]["transport"] == 2  # ids are never reused
    assert delivered_after(sim, 0, 2)
    assert len(factory.built) == 4


def test_crash_keeping_state_freezes_and_resumes_the_same_object() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory(), profile=FAST)
    sim.run_for(1.0)
    frozen = toy(sim, 1)
    sim.crash(1, keep_state=True)
    sim.run_for(2.0)
    assert frozen.closed_transports == []  # it is not running: it hears nothing
    sim.restart(1)
    assert sim.node(1) is frozen
    assert frozen.closed_transports == [1]  # first the transport that died
    sim.run_for(0.1)
    assert [o["transport"] for o in frozen.opened_with] == [1, 2]  # then a new one
    assert delivered_after(sim, 0, 1)


def test_silent_freeze_keeps_transports_and_drops_arrivals() -> None:
    sim = build_network(
        n=2, topology="pair", node_factory=ToyFactory(dead_after=100.0), profile=FAST
    )
    sim.run_for(1.0)
    sim.crash(1, keep_state=True, silent=True)
    sim.send(0, 1)
    sim.run_for(1.0)
    assert sim.network.link(0, 1).forward.stats.dropped(DropReason.NODE_DOWN) >= 1
    sim.restart(1)
    sim.run_for(0.1)
    assert toy(sim, 1).closed_transports == []
    assert delivered_after(sim, 0, 1)


def test_crash_and_restart_misuse() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory())
    with pytest.raises(StateError, match="running"):
        sim.restart(0)
    sim.crash(0)
    with pytest.raises(StateError, match="already down"):
        sim.crash(0)


def test_degrade_and_restore_a_link() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory(), profile=FAST)
    sim.degrade([(0, 1)], loss=1.0)
    assert sim.network.link(0, 1).profile.loss == 1.0
    sim.run_for(1.0)
    assert not delivered_after(sim, 0, 1)
    sim.restore([(0, 1)])
    assert sim.network.link(0, 1).profile == FAST
    assert delivered_after(sim, 0, 1)


def test_corruption_fault_is_caught_by_the_node_checksum() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory(), profile=FAST)
    sim.degrade(corrupt=1.0)
    sim.run_for(5.0)
    assert toy(sim, 1).corrupt_dropped == toy(sim, 1).frames_received > 0


def test_duplication_fault_is_absorbed_by_duplicate_suppression() -> None:
    sim = build_network(n=3, topology="line", node_factory=ToyFactory(), profile=FAST)
    sim.degrade(duplicate=1.0)
    sim.run_for(1.0)
    assert delivered_after(sim, 0, 2)
    assert sim.network.link(0, 1).forward.stats.duplicated > 0
    assert kinds(sim, "dup") == []


def test_timed_faults_undo_themselves_and_are_traced() -> None:
    sim = Simulation(
        topology=line(4),
        node_factory=ToyFactory(),
        profile=FAST,
        faults=[
            CutLink(at=2.0, a=1, b=2, duration=1.0),
            Partition(at=5.0, groups=((0,),), duration=1.0),
            CrashNode(at=8.0, node=3, duration=2.0, keep_state=True),
            DegradeLinks(at=11.0, changes=(("loss", 0.5),), duration=1.0),
        ],
        measure=MeasureSpec(probe_pairs=3, probe_interval=0.25),
        duration=15.0,
        trace=Trace(keep=True),
    )
    sim.run()
    faults = [(r["t"], r["fault"]) for r in kinds(sim, "fault")]
    got = [(c.at, c.fault) for c in sim.finish().convergence]
    assert got == [
        (2.0, "cut"),
        (3.0, "repair"),
        (5.0, "partition"),
        (6.0, "heal"),
        (8.0, "crash"),
        (10.0, "restart"),
        (11.0, "degrade"),
        (12.0, "restore"),
    ]
    assert faults == got
    by_fault = {c.fault: c for c in sim.finish().convergence}
    assert by_fault["cut"].pairs == 1  # only (1, 0) of the probe pairs stays reachable
    assert by_fault["repair"].pairs == 3 and by_fault["repair"].time is not None
    # 50% loss on every link: three probes in a row rarely get through within 1 s
    assert by_fault["degrade"].recovered < by_fault["degrade"].pairs
    assert by_fault["degrade"].time is None


def test_fault_values_are_checked() -> None:
    with pytest.raises(ConfigError):
        CutLink(at=1.0, a=0, b=1, duration=0.0)
    with pytest.raises(ConfigError):
        Partition(at=1.0, groups=((0, 1), (1, 2)))
    with pytest.raises(ConfigError):
        DegradeLinks(at=1.0, changes=())
