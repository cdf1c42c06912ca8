"""The node's fast path: ``receive_neighbour_data`` and ``send_to_neighbour_now``.

The driver publishes what ``receive_neighbour_data`` returns and writes what
``send_to_neighbour_now`` returns without pumping (docs/protocol/link.md §7). These tests
drive two nodes the same way and check that the shortcut never hides work: after every
fast-path return a pump finds nothing to send, no command and no event, and the node's
timer is still the earliest of its layers'; payloads arrive complete and in order through
probes, end-to-end traffic and rekeys; every other input still goes the general way.
"""

from __future__ import annotations

import pytest
from tests.helpers.memory import MemoryNetwork, MemoryNode
from tests.node.test_hotpath import earliest_of_layers

from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import NeighbourDataReceived
from meshnet.session.events import DatagramReceived


class FastNetwork(MemoryNetwork):
    """A ``MemoryNetwork`` whose deliveries and neighbour sends take the fast path."""

    def __init__(self, *, datagram: bool) -> None:
        super().__init__(datagram=datagram)
        self.fast_received = self.general_received = 0
        self.fast_sent = self.general_sent = 0

    def step(self) -> bool:
        queue = self._queue
        if queue and queue[0].at <= self.now and queue[0].frame is not None:
            delivery = queue.popleft()
            member, node = delivery.node, delivery.node.node
            event = node.receive_neighbour_data(delivery.transport, delivery.frame, self.now)
            if event is None:
                self.general_received += 1
                member.pump()
            else:
                self.fast_received += 1
                member.events.append(event)
                assert_nothing_waits(member, self.now)
            return True
        return super().step()

    def send(self, member: MemoryNode, peer: MemoryNode, payload: bytes) -> None:
        sent = member.node.send_to_neighbour_now(peer.node_id, payload, self.now)
        if sent is None:
            self.general_sent += 1
            member.pump()
        else:
            self.fast_sent += 1
            self.transmit(member, *sent)
            assert_nothing_waits(member, self.now)


def assert_nothing_waits(member: MemoryNode, now: float) -> None:
    """What a pump right after a fast-path return would find: nothing at all."""
    node = member.node
    assert node.datagrams_to_send(now) == []
    assert node.transport_commands() == []
    assert node.next_event() is None
    assert node.get_timer() == earliest_of_layers(node)
    held = node.links.get_timer()  # no link's deadline is earlier than the one held
    for conn in node.links._links.values():
        deadline = conn.get_timer()
        assert deadline is None or (held is not None and held <= deadline)


def fast_pair(
    *, datagram: bool, config: NodeConfig | None = None
) -> tuple[FastNetwork, MemoryNode, MemoryNode]:
    net = FastNetwork(datagram=datagram)
    a, b = net.add("a", seed=5, config=config), net.add("b", seed=5, config=config)
    a.node.connect(b.endpoint, net.now)
    net.start()
    net.run_until(
        lambda: a.node.link_to(b.node_id) is not None and bool(b.node.route_to(a.node_id))
    )
    return net, a, b


def payloads(member: MemoryNode) -> list[bytes]:
    return [e.payload for e in member.of(NeighbourDataReceived)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("datagram", [False, True])
def test_neighbour_frames_take_the_fast_path_both_ways_and_arrive_in_order(
    datagram: bool,
) -> None:
    net, a, b = fast_pair(datagram=datagram)
    net.fast_received = net.general_received = 0
    for i in range(200):
        net.send(a, b, b"ping %d" % i)
        net.run_until(lambda i=i: len(payloads(b)) == i + 1)
        net.send(b, a, b"pong %d" % i)
        net.run_until(lambda i=i: len(payloads(a)) == i + 1)
        net.advance(0.05)  # probes and their echoes in between (every 10 s; the loop spans more)
    assert payloads(b) == [b"ping %d" % i for i in range(200)]
    assert payloads(a) == [b"pong %d" % i for i in range(200)]
    assert net.fast_sent == 400 and net.general_sent == 0
    assert net.fast_received == 400  # each payload frame; probes went the general way
    assert net.general_received > 0
    assert a.node.status(net.now).drops == () and b.node.status(net.now).drops == ()


def test_other_traffic_and_queued_frames_send_the_general_way_in_order() -> None:
    net, a, b = fast_pair(datagram=False)
    a.node.send_datagram(b.node_id, b"routed", net.now)  # queued: not pumped yet
    net.send(a, b, b"after the routed one")  # must not overtake it
    assert net.general_sent == 1
    net.send(a, b, b"now alone")
    assert net.fast_sent == 1
    net.run_until(lambda: len(payloads(b)) == 2 and bool(b.of(DatagramReceived)))
    assert payloads(b) == [b"after the routed one", b"now alone"]
    got = [e.payload for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert got == [b"routed"]


def test_a_rekey_triggered_by_a_send_goes_the_general_way_and_nothing_is_lost() -> None:
    config = NodeConfig(link=LinkConfig(rekey_after_frames=50))
    net, a, b = fast_pair(datagram=True, config=config)
    link = a.node.link_to(b.node_id)
    assert link is not None
    conn = a.node.links.connection(link)
    assert conn is not None
    first = conn.indices()[0]
    for i in range(300):
        net.send(a, b, b"%d" % i)
        net.run_until(lambda i=i: len(payloads(b)) == i + 1)
    assert payloads(b) == [b"%d" % i for i in range(300)]
    assert conn.indices()[0] != first  # the link rekeyed on the way
    assert net.general_sent > 0 and net.fast_sent > net.general_sent
    assert a.node.status(net.now).drops == () and b.node.status(net.now).drops == ()
