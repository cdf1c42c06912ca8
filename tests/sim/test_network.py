"""Nodes joined by simulated links: carriers, delivery, latency, drops, commands."""

from __future__ import annotations

import pytest
from tests.helpers.simnet import build_network

from meshnet.ids import TransportId
from meshnet.sim.link import DropReason
from meshnet.sim.profile import LinkProfile
from meshnet.sim.simulation import Simulation

from .toynode import _DATA_HEADER, ToyFactory, ToyNode


def toy(sim: Simulation, index: int) -> ToyNode:
    node = sim.node(index)
    assert isinstance(node, ToyNode)
    return node


def records(sim: Simulation, kind: str) -> list[dict[str, object]]:
    return [r for r in sim.trace.records if r["kind"] == kind]


def test_link_up_opens_a_transport_at_both_ends() -> None:
    sim = build_network(
        n=2, topology="pair", node_factory=ToyFactory(), profile=LinkProfile(mtu=1200)
    )
    sim.run_for(0.0)
    a, b = toy(sim, 0).opened_with, toy(sim, 1).opened_with
    assert a == [
        {"transport": 1, "outbound": True, "endpoint": "sim:1", "datagram": True, "mtu": 1200}
    ]
    assert b == [
        {"transport": 1, "outbound": False, "endpoint": "sim:0", "datagram": True, "mtu": 1200}
    ]


def test_multihop_delivery_takes_the_path_latency() -> None:
    sim = build_network(
        n=5, topology="line", node_factory=ToyFactory(), profile=LinkProfile(latency=0.02)
    )
    sim.run_for(1.0)
    msg = sim.send(0, 4, size=100)
    sim.run_for(1.0)
    [deliver] = records(sim, "deliver")
    assert deliver["msg"] == msg
    assert deliver["node"] == 4
    assert deliver["latency"] == pytest.approx(0.08)
    assert deliver["hops"] == 4
    [send] = records(sim, "send")
    assert send["best"] == pytest.approx(0.08)
    assert send["min_hops"] == 4


def test_serialization_and_queueing_add_delay() -> None:
    profile = LinkProfile(latency=0.01, bandwidth=80_000)  # 10 kB/s
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory(), profile=profile)
    sim.run_for(1.5)
    sim.send(0, 1, size=1000)
    sim.run_for(1.0)
    [deliver] = records(sim, "deliver")
    frame = 1000 + _DATA_HEADER.size + 4  # payload + DATA header + CRC
    assert deliver["latency"] == pytest.approx(frame * 8 / 80_000 + 0.01)


def test_oversize_frames_are_dropped_and_counted() -> None:
    sim = build_network(
        n=2, topology="pair", node_factory=ToyFactory(), profile=LinkProfile(mtu=200)
    )
    sim.run_for(1.0)
    sim.send(0, 1, size=500)
    sim.run_for(1.0)
    assert records(sim, "deliver") == []
    assert sim.network.link(0, 1).forward.stats.dropped(DropReason.MTU) == 1


def test_congestion_drops_at_the_queue() -> None:
    profile = LinkProfile(latency=0.001, bandwidth=100_000, queue_bytes=4000, mtu=1500)
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory(), profile=profile)
    sim.run_for(1.0)
    for _ in range(50):
        sim.send(0, 1, size=900)
    sim.run_for(5.0)
    stats = sim.network.link(0, 1).forward.stats
    assert stats.dropped(DropReason.QUEUE) > 30
    assert 0 < len(records(sim, "deliver")) < 10


def test_node_close_command_closes_both_ends_in_order() -> None:
    sim = build_network(
        n=2, topology="pair", node_factory=ToyFactory(), profile=LinkProfile(latency=0.05)
    )
    sim.run_for(1.0)

    class Close:
        transport = TransportId(1)
        reason = "test"

    sim.network.command(sim.network.nodes[0], _interpret(Close()), sim.now)
    sim.run_for(0.01)
    assert toy(sim, 0).closed_transports == [1]
    assert toy(sim, 1).closed_transports == []  # the peer hears after one latency
    sim.run_for(0.1)
    assert toy(sim, 1).closed_transports == [1]
    [close] = records(sim, "close")
    assert close["node"] == 0 and close["reason"] == "test"


def _interpret(command: object) -> object:
    from meshnet.sim.harness import interpret_command

    return interpret_command(command)


def test_toy_redial_is_refused_while_down_and_carrier_returns_after_repair() -> None:
    sim = build_network(
        n=2,
        topology="pair",
        node_factory=ToyFactory(redial=True, redial_after=0.5),
        profile=LinkProfile(latency=0.01),
    )
    sim.run_for(1.0)
    sim.cut(0, 1)
    sim.run_for(2.0)
    dials = records(sim, "dial")
    assert dials and all(d["ok"] is False and d["reason"] == "the link is down" for d in dials)
    sim.repair(0, 1)
    sim.run_for(0.5)
    assert [o["transport"] for o in toy(sim, 0).opened_with] == [1, 2]
    sim.send(0, 1)
    sim.run_for(1.0)
    assert len(records(sim, "deliver")) == 1


def test_frames_on_unknown_transports_are_counted() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory())
    sim.run_for(0.5)
    sim.network.transmit(sim.network.nodes[0], TransportId(99), b"x", sim.now)
    assert sim.network.unknown_transport_frames == 1


def test_foreign_events_are_traced_by_type() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory())
    sim.run_for(0.5)
    events = {r["node"]: r["event"] for r in records(sim, "event")}
    assert {e["type"] for e in events.values()} == {"NeighbourUp"}
    assert events[0]["peer"] == str(sim.network.nodes[1].node_id)
    assert events[1]["peer"] == str(sim.network.nodes[0].node_id)


def test_overrides_must_name_topology_edges() -> None:
    from meshnet.errors import ConfigError

    with pytest.raises(ConfigError, match="not in the topology"):
        build_network(
            n=3, topology="line", node_factory=ToyFactory(), overrides={(0, 2): LinkProfile()}
        )


def test_override_profile_applies_to_its_edge() -> None:
    sim = build_network(
        n=3,
        topology="line",
        node_factory=ToyFactory(),
        profile=LinkProfile(latency=0.01),
        overrides={(1, 2): LinkProfile(latency=0.1)},
    )
    sim.run_for(1.0)
    sim.send(0, 2)
    sim.run_for(1.0)
    [deliver] = records(sim, "deliver")
    assert deliver["latency"] == pytest.approx(0.11)


def test_refused_sends_are_recorded() -> None:
    sim = build_network(n=2, topology="pair", node_factory=ToyFactory())
    sim.send(0, 1)  # t=0: the toy has no neighbour yet and refuses
    [send] = records(sim, "send")
    assert "no neighbours" in str(send["refused"])
    assert sim.finish().refused == 1
