"""Routed DATA payloads are lent by the link (a view of its reused opening buffer), and
nothing keeps such a view past the pump of the frame that brought it.

The node declares routed DATA payloads lent (``LinkManager.lend_payloads``), so a large
routed packet reaches the router as a view of the link's opening buffer, which the next
frame overwrites: a relay copies it once (``routing.packets.advance``), the destination
opens it at once into the sessions' buffer. Here, after every frame a node took, its
opening buffer is scribbled over as the next frame would; a view kept any longer would
corrupt the stream (or fail authentication, a counted drop).
"""

from __future__ import annotations

import os

from tests.helpers.memory import MemoryNode
from tests.node.test_relay_fastpath import RelayNetwork, relay_line, stream_through

from meshnet.link.events import LinkPayloadReceived
from meshnet.node.pumps import NEIGHBOUR_CODE
from meshnet.wire.codes import RoutingPacket


class ScribblingNetwork(RelayNetwork):
    """After each delivery, every node's link opening buffer is overwritten in place."""

    def step(self) -> bool:
        moved = super().step()
        for member in self.nodes.values():
            opened = member.node.links._buffers._opened  # what the next frame overwrites
            opened[:] = b"\xee" * len(opened)  # same length: views of it stay valid
        return moved


def count_lent(member: MemoryNode, lent: list[int]) -> None:
    """Count the routed DATA payloads ``member``'s links hand up as views of their
    opening buffer (the fast path's returned event and the queued ones)."""
    links = member.node.links
    buffers = links._buffers

    def check(event: object) -> None:
        if isinstance(event, LinkPayloadReceived):
            payload = event.payload
        elif isinstance(event, tuple):  # receive_payload's (link, peer, payload)
            payload = event[2]
        else:
            return
        if len(payload) > 4096 and payload[0] == RoutingPacket.DATA:
            lent[0] += payload.obj is buffers._opened
            lent[1] += 1

    receive_payload, next_event = links.receive_payload, links.next_event

    def spy_receive_payload(*args: object, **kwargs: object) -> object:
        event = receive_payload(*args, **kwargs)  # type: ignore[arg-type]
        check(event)
        return event

    def spy_next_event() -> object:
        event = next_event()
        check(event)
        return event

    links.receive_payload = spy_receive_payload  # type: ignore[method-assign,assignment]
    links.next_event = spy_next_event  # type: ignore[method-assign,assignment]


def test_routed_payloads_are_lent_and_a_scribbled_buffer_corrupts_nothing() -> None:
    net, a, r, b = relay_line(datagram=False, network=ScribblingNetwork)
    at_relay, at_sink = [0, 0], [0, 0]
    count_lent(r, at_relay)
    count_lent(b, at_sink)
    data = os.urandom(1 << 20)
    stream_through(net, a, b, data, piece=65536, pause=0.002)
    # large routed packets came up lent, at the relay and at the destination
    assert at_relay[1] >= 8 and at_relay[0] == at_relay[1]
    assert at_sink[1] >= 8 and at_sink[0] == at_sink[1]
    for member in (a, r, b):
        assert member.node.status(net.now).routing.counters.drops == ()
        assert member.node.status(net.now).drops == ()
    assert b.node.sessions.status(net.now).drops == ()  # nothing failed to authenticate


def test_neighbour_and_routed_data_are_the_lent_codes() -> None:
    net = RelayNetwork(datagram=False)
    node = net.add("n", seed=3).node
    assert node.links._buffers.lent == {NEIGHBOUR_CODE, int(RoutingPacket.DATA)}
