"""``Router.forward_now``: a relay passes a routed packet on at once when nothing waits.

The mesh below delivers every packet with ``forward_now`` and sends what it hands back
straight onto the wire, as the node's hot path does. After each such return the router
must hold nothing a general pump would find (no event, no packet to send), and the
packets must arrive as they would have the general way: same payloads, same order, same
counters; whatever is not a packet to pass on at once goes the general way.
"""

from __future__ import annotations

import heapq

from tests.routing.mesh import Mesh

from meshnet.ids import LinkId
from meshnet.routing.events import PacketDelivered
from meshnet.routing.packets import decode_header
from meshnet.wire.codes import RoutingPacket


class FastMesh(Mesh):
    """A ``Mesh`` whose routers receive through ``forward_now``."""

    def __init__(self) -> None:
        super().__init__()
        self.fast = self.general = 0

    def deliver(self, receiver: int, link: LinkId, packet: bytes) -> None:
        router = self.nodes[receiver].router
        hop = router.forward_now(link, packet, self.now)
        if hop is None:
            self.general += 1
            self._touched.add(receiver)
            return
        self.fast += 1
        assert router.next_event() is None  # what a pump right after would find: nothing
        assert router.packets_to_send(self.now) == []
        out, sent = hop
        wire = self._by_link[(receiver, out)]
        forwarded = bytes(sent)
        self.sent.append((self.now, receiver, wire.other(receiver), forwarded))
        entry = (self.now + wire.latency, next(self._seq), receiver, forwarded, wire)
        heapq.heappush(self._heap, entry)
        self._timers.set(receiver, router.get_timer())


def test_a_relay_passes_data_on_at_once_and_it_arrives_in_order() -> None:
    mesh = FastMesh()
    mesh.line(4)
    mesh.run_for(3.0)
    mesh.fast = mesh.general = 0
    for i in range(50):
        mesh.send(0, 3, b"there %d" % i)
        mesh.send(3, 0, b"back %d" % i)
        mesh.run_for(0.01)
    mesh.run_for(1.0)
    assert [e.payload for e in mesh.nodes[3].of(PacketDelivered)] == [
        b"there %d" % i for i in range(50)
    ]
    assert [e.payload for e in mesh.nodes[0].of(PacketDelivered)] == [
        b"back %d" % i for i in range(50)
    ]
    assert mesh.fast == 200  # two relays, both ways; the ends' deliveries go the general way
    for relay in (1, 2):
        counters = mesh.nodes[relay].router.status(mesh.now).counters
        assert (counters.forwarded, counters.drops) == (100, ())


def test_the_forwarded_packet_is_the_one_the_queue_would_have_sent() -> None:
    fast, general = FastMesh(), Mesh()
    for mesh in (fast, general):
        mesh.line(3)
        mesh.run_for(3.0)
        mesh.sent.clear()
        for i in range(5):
            mesh.send(0, 2, b"x" * (100 * i))
        mesh.run_for(1.0)
    assert fast.fast == 5

    def relayed(mesh: Mesh) -> list[tuple[float, int, int, bytes]]:
        return [s for s in mesh.sent if s[1] == 1 and s[3][0] == RoutingPacket.DATA]

    assert relayed(fast) == relayed(general)
    assert len(relayed(fast)) == 5


def test_a_busy_or_paused_next_hop_takes_the_general_way_in_order() -> None:
    mesh = FastMesh()
    mesh.line(3)
    mesh.run_for(3.0)
    relay = mesh.nodes[1].router
    onward = mesh.wire(1, 2).link_at(1)
    relay.set_link_paused(onward, True)
    for i in range(3):
        mesh.send(0, 2, b"held %d" % i)
    mesh.run_for(0.1)
    assert mesh.fast == 0 and mesh.general >= 3
    assert mesh.nodes[2].of(PacketDelivered) == []
    relay.set_link_paused(onward, False)
    mesh.touch(1)
    mesh.send(0, 2, b"after")  # reaches the relay after the queue drained: fast again
    mesh.run_for(1.0)
    assert [e.payload for e in mesh.nodes[2].of(PacketDelivered)] == [
        b"held 0",
        b"held 1",
        b"held 2",
        b"after",
    ]
    assert mesh.fast == 1


def test_a_packet_behind_a_queued_one_is_queued_behind_it() -> None:
    mesh = FastMesh()
    mesh.line(3)
    mesh.run_for(3.0)
    relay = mesh.nodes[1].router
    from_0, onward = mesh.wire(0, 1).link_at(1), mesh.wire(1, 2).link_at(1)
    packets = []
    for i in range(2):
        mesh.send(0, 2, b"p%d" % i)
        ((_, sent),) = mesh.nodes[0].router.packets_to_send(mesh.now)
        packets.append(bytes(sent))
    relay.receive_packet(from_0, packets[0], mesh.now)  # queued, not yet sent
    assert relay.forward_now(from_0, packets[1], mesh.now) is None
    out = relay.packets_to_send(mesh.now)
    assert [link for link, _ in out] == [onward, onward]
    bodies = [bytes(p)[decode_header(bytes(p), max_body=1 << 16).size :] for _, p in out]
    assert bodies == [b"p0", b"p1"]


def test_what_is_not_a_packet_to_pass_on_goes_the_general_way() -> None:
    mesh = FastMesh()
    mesh.line(2)
    mesh.run_for(3.0)
    router = mesh.nodes[1].router
    link = mesh.wire(0, 1).link_at(1)
    mesh.send(0, 1, b"for us")
    ((_, sent),) = mesh.nodes[0].router.packets_to_send(mesh.now)
    assert router.forward_now(link, bytes(sent), mesh.now) is None
    delivered = router.next_event()
    assert isinstance(delivered, PacketDelivered) and bytes(delivered.payload) == b"for us"
    assert router.forward_now(LinkId(999), bytes(sent), mesh.now) is None  # unknown link
    assert router.forward_now(link, b"", mesh.now) is None
    assert router.forward_now(link, bytes([RoutingPacket.DATA, 1, 2]), mesh.now) is None
    drops = dict(router.status(mesh.now).counters.drops)
    assert drops == {"malformed": 1, "unknown_link": 1, "unknown_type": 1}
