"""A relay's fast path: ``receive_neighbour_data`` hands back a routed packet's frame
sealed for the next link (``Router.forward_now`` + ``LinkManager.send_now``).

Three nodes in a line, the middle one a relay, every delivery made the way the asyncio
driver makes it: a returned frame is written at once, a returned event is taken at once,
anything else is pumped. After every frame the relay handed back, a pump must find
nothing to send, no command, no event and the same timer; end-to-end streams and
datagrams arrive complete and in order, and the relay's counters match.
"""

from __future__ import annotations

import pytest
from tests.helpers.memory import MemoryNetwork, MemoryNode
from tests.node.test_fastpath import assert_nothing_waits

from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.session.events import DatagramReceived, StreamDataReceived


class RelayNetwork(MemoryNetwork):
    """A ``MemoryNetwork`` whose deliveries take the node's fast path, relayed frames too."""

    def __init__(self, *, datagram: bool) -> None:
        super().__init__(datagram=datagram)
        self.relayed = self.general = 0

    def step(self) -> bool:
        queue = self._queue
        if queue and queue[0].at <= self.now and queue[0].frame is not None:
            delivery = queue.popleft()
            member, node = delivery.node, delivery.node.node
            got = node.receive_neighbour_data(delivery.transport, delivery.frame, self.now)
            if got is None:
                self.general += 1
                member.pump()
            elif isinstance(got, tuple):
                self.relayed += 1
                self.transmit(member, *got)
                assert_nothing_waits(member, self.now)
            else:
                member.events.append(got)
                assert_nothing_waits(member, self.now)
            return True
        return super().step()


def relay_line(
    *,
    datagram: bool,
    config: NodeConfig | None = None,
    network: type[RelayNetwork] = RelayNetwork,
) -> tuple[RelayNetwork, MemoryNode, MemoryNode, MemoryNode]:
    net = network(datagram=datagram)
    a, r, b = (net.add(name, seed=7, config=config) for name in ("a", "r", "b"))
    a.node.connect(r.endpoint, net.now)
    r.node.connect(b.endpoint, net.now)
    net.start()
    net.run_until(
        lambda: a.node.route_to(b.node_id) is not None and b.node.route_to(a.node_id) is not None
    )
    return net, a, r, b


def stream_through(
    net: RelayNetwork, a: MemoryNode, b: MemoryNode, data: bytes, *, piece: int, pause: float
) -> None:
    """Send ``data`` from ``a`` to ``b`` on a new stream, ``piece`` bytes every ``pause``
    virtual seconds, close it, and run until ``b`` received all of it."""
    stream = a.node.open_stream(b.node_id, net.now)
    sent = 0
    while sent < len(data):
        sent += a.node.stream_send(stream, data[sent : sent + piece], net.now)
        a.pump()
        net.advance(pause)
    a.node.stream_close(stream, net.now)
    a.pump()
    net.run_until(lambda: received(b) == data, within=30.0)


def received(member: MemoryNode) -> bytes:
    return b"".join(
        e.data for e in member.of(StreamDataReceived) if isinstance(e, StreamDataReceived)
    )


@pytest.mark.parametrize("datagram", [False, True])
def test_a_relay_passes_stream_data_on_at_once_and_it_arrives_in_order(datagram: bool) -> None:
    net, a, r, b = relay_line(datagram=datagram)
    net.relayed = net.general = 0
    data = bytes(range(256)) * 1024  # 256 KiB
    stream_through(net, a, b, data, piece=16384, pause=0.01)
    assert net.relayed > 20  # the relay's frames, both ways, mostly took the fast path
    counters = r.node.status(net.now).routing.counters
    assert counters.forwarded >= net.relayed
    assert counters.drops == ()
    assert r.node.status(net.now).drops == ()


def test_datagrams_both_ways_through_the_relay_round_trip_in_order() -> None:
    net, a, r, b = relay_line(datagram=False)
    for i in range(100):
        a.node.send_datagram(b.node_id, b"ping %d" % i, net.now)
        a.pump()
        net.advance(0.005)
        b.node.send_datagram(a.node_id, b"pong %d" % i, net.now)
        b.pump()
        net.advance(0.005)
    net.advance(1.0)
    got_b = [e.payload for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    got_a = [e.payload for e in a.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert got_b == [b"ping %d" % i for i in range(100)]
    assert got_a == [b"pong %d" % i for i in range(100)]
    assert net.relayed >= 200
    assert r.node.status(net.now).routing.counters.drops == ()


def test_a_rekey_on_the_relay_link_goes_the_general_way_and_nothing_is_lost() -> None:
    config = NodeConfig(link=LinkConfig(rekey_after_frames=40))
    net, a, r, b = relay_line(datagram=True, config=config)
    link = r.node.link_to(b.node_id)
    assert link is not None
    conn = r.node.links.connection(link)
    assert conn is not None
    first = conn.indices()[0]
    net.relayed = net.general = 0
    for i in range(200):
        a.node.send_datagram(b.node_id, b"%d" % i, net.now)
        a.pump()
        net.advance(0.005)
    net.advance(1.0)
    got = [e.payload for e in b.of(DatagramReceived) if isinstance(e, DatagramReceived)]
    assert got == [b"%d" % i for i in range(200)]
    assert conn.indices()[0] != first  # the relay's onward link rekeyed on the way
    assert net.relayed > 0 and net.general > 0
    assert r.node.status(net.now).routing.counters.drops == ()
