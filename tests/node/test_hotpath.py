"""The node's hot path: neighbour traffic pumped through the link layer alone.

``Node`` skips the router and the sessions after an input that reached the links only,
and caches the earliest deadline of every other layer. These tests check that the
shortcuts never hide work: the node's timer is always the earliest of its layers',
and end-to-end traffic interleaved with neighbour traffic still flows.
"""

from __future__ import annotations

from tests.helpers.memory import MemoryNetwork, MemoryNode

from meshnet.node.events import NeighbourDataReceived
from meshnet.node.node import Node
from meshnet.session.events import DatagramReceived


def earliest_of_layers(node: Node) -> float | None:
    """What ``get_timer`` must say, asked of every layer directly."""
    deadlines = [
        node.links.get_timer(),
        node.router.get_timer(),
        node.sessions.get_timer(),
        node.peers.get_timer(),
        node.messaging.get_timer(),
        node._flush_at,  # credit or acks waiting: a deadline of now
    ]
    known = [d for d in deadlines if d is not None]
    return min(known) if known else None


def linked_pair(*, datagram: bool) -> tuple[MemoryNetwork, MemoryNode, MemoryNode]:
    net = MemoryNetwork(datagram=datagram)
    a, b = net.add("a", seed=3), net.add("b", seed=3)
    a.node.connect(b.endpoint, net.now)
    net.start()
    net.run_until(
        lambda: a.node.link_to(b.node_id) is not None and bool(b.node.route_to(a.node_id))
    )
    return net, a, b


def test_node_timer_is_the_earliest_of_its_layers_through_mixed_traffic() -> None:
    net, a, b = linked_pair(datagram=False)
    checked = 0
    for i in range(40):
        if i % 3 == 0:
            a.node.send_datagram(b.node_id, b"end to end %d" % i, net.now)
        else:
            a.node.send_to_neighbour(b.node_id, b"hop %d" % i, net.now)
        a.pump()
        for _ in range(20):
            net.step()
            for member in (a, b):
                assert member.node.get_timer() == earliest_of_layers(member.node)
                checked += 1
    assert checked == 40 * 20 * 2
    net.advance(2.0)
    hops = [e for e in b.of(NeighbourDataReceived) if isinstance(e, NeighbourDataReceived)]
    datagrams = [e for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert [e.payload for e in hops] == [b"hop %d" % i for i in range(40) if i % 3]
    assert sorted(e.payload for e in datagrams) == sorted(
        b"end to end %d" % i for i in range(40) if i % 3 == 0
    )


def test_routing_packets_after_neighbour_traffic_still_reach_the_router() -> None:
    net, a, b = linked_pair(datagram=True)
    for i in range(10):
        a.node.send_to_neighbour(b.node_id, bytes([i]) * 2000, net.now)  # fragmented frames
        a.pump()
    net.advance(0.1)
    # A routed datagram arrives on the same link as the neighbour payloads.
    a.node.send_datagram(b.node_id, b"routed", net.now)
    a.pump()
    net.run_until(lambda: bool(b.of(DatagramReceived)))
    got = [e for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert [e.payload for e in got] == [b"routed"]
    assert [e.payload for e in b.of(NeighbourDataReceived)] == [  # type: ignore[attr-defined]
        bytes([i]) * 2000 for i in range(10)
    ]
    assert b.node.status(net.now).drops == ()


def test_a_full_carrier_holds_routed_packets_until_it_drains() -> None:
    net, a, b = linked_pair(datagram=False)
    a.node.send_datagram(b.node_id, b"session up", net.now)
    a.pump()
    net.run_until(lambda: bool(b.of(DatagramReceived)))
    link = a.node.link_to(b.node_id)
    (transport,) = [
        t for t in list(a.node.links._transports) if a.node.links.link_of_transport(t) == link
    ]
    a.node.transport_writable(transport, False, net.now)
    for i in range(5):
        a.node.send_datagram(b.node_id, b"held %d" % i, net.now)
        a.pump()
    net.advance(2.0)
    got = [e.payload for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert got == [b"session up"]  # the link itself stays up (its own frames still go)
    assert a.node.link_to(b.node_id) == link
    a.node.transport_writable(transport, True, net.now)
    a.pump()
    net.advance(1.0)
    got = [e.payload for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert got == [b"session up", *(b"held %d" % i for i in range(5))]


def test_a_link_held_for_a_full_carrier_is_released_when_it_moves_to_another() -> None:
    net, a, b = linked_pair(datagram=False)
    link = a.node.link_to(b.node_id)
    (old,) = [
        t for t in list(a.node.links._transports) if a.node.links.link_of_transport(t) == link
    ]
    a.node.transport_writable(old, False, net.now)
    b.node.connect(a.endpoint, net.now)  # b redials: the link moves to the new connection
    b.pump()
    net.run_until(lambda: a.node.links.link_of_transport(old) is None)
    assert a.node.link_to(b.node_id) == link  # the same link, on another carrier
    net.advance(1.0)
    a.node.send_datagram(b.node_id, b"after the move", net.now)
    a.pump()
    net.run_until(lambda: bool(b.of(DatagramReceived)))
    got = [e.payload for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert got == [b"after the move"]
