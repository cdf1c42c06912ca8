"""Forwarding on the header alone: loop refusal, hop limit, route errors and rerouting,
and fairness between sources at a relay."""

from __future__ import annotations

import pytest
from tests.routing.mesh import Mesh, MeshNode, make_identity

from meshnet.crypto.identity import NodeId
from meshnet.ids import LinkId
from meshnet.routing.config import RoutingConfig
from meshnet.routing.events import PacketDelivered, RouteChanged
from meshnet.routing.forward import DropReason, check_route, next_hop, route_error_for
from meshnet.routing.messages import prefix_of
from meshnet.routing.packets import RoutedHeader, encode_routed
from meshnet.wire.codes import RoutingPacket

S, R1, R2, D = (NodeId(bytes([i]) * 32) for i in (1, 2, 3, 4))


def header(relays: tuple[NodeId, ...], position: int, **changes: object) -> RoutedHeader:
    fields: dict[str, object] = {
        "kind": RoutingPacket.DATA,
        "hop_limit": 8,
        "next": position,
        "source": S,
        "destination": D,
        "relays": tuple(prefix_of(r) for r in relays),
    }
    fields.update(changes)
    return RoutedHeader(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("h", "me", "previous", "verdict"),
    [
        (header((R1, R2), 0), R1, S, None),
        (header((R1, R2), 1), R2, R1, None),
        (header((R1, R2), 2), D, R2, None),
        (header((), 0), D, S, None),
        (header((R1, R2, R1), 1), R2, R1, DropReason.LOOP),  # a relay twice
        (header((R1, S), 0), R1, S, DropReason.LOOP),  # the source as a relay
        (header((R1, D), 0), R1, S, DropReason.LOOP),  # the destination as a relay
        (header((R1,), 1, destination=S), S, R1, DropReason.LOOP),  # source is destination
        (header((R1,), 1), S, R1, DropReason.LOOP),  # back at its source
        (header((R1, R2), 0), R2, S, DropReason.MISDIRECTED),  # not our turn
        (header((R1, R2), 2), R1, R2, DropReason.MISDIRECTED),  # not for us
        (header((R1, R2), 1), R2, S, DropReason.WRONG_PREVIOUS_HOP),  # skipped R1
        (header((R1,), 0), R1, R2, DropReason.WRONG_PREVIOUS_HOP),  # not from the source
    ],
)
def test_check_route(
    h: RoutedHeader, me: NodeId, previous: NodeId, verdict: DropReason | None
) -> None:
    assert check_route(h, me, previous) is verdict


def test_next_hop_is_the_following_relay_then_the_destination() -> None:
    assert next_hop(header((R1, R2), 0)) == prefix_of(R2)
    assert next_hop(header((R1, R2), 1)) == D


def drops(node: MeshNode) -> dict[str, int]:
    return dict(node.router.status(0.0).counters.drops)


def inject(mesh: Mesh, sender: int, receiver: int, h: RoutedHeader, body: bytes) -> None:
    link = mesh.wire(sender, receiver).link_at(receiver)
    mesh.nodes[receiver].router.receive_packet(link, encode_routed(h, body), mesh.now)


def test_relays_refuse_loops_the_source_wrote() -> None:
    mesh = Mesh()
    a, b, c = mesh.line(3)
    mesh.run_for(3.0)
    ids = [n.node_id for n in mesh.nodes]
    looping = RoutedHeader(
        kind=RoutingPacket.DATA,
        hop_limit=8,
        next=0,
        source=ids[a],
        destination=ids[c],
        relays=(prefix_of(ids[b]), prefix_of(make_identity(9, "x").node_id), prefix_of(ids[b])),
    )
    inject(mesh, a, b, looping, b"round and round")
    mesh.run_for(1.0)
    assert drops(mesh.nodes[b]) == {"loop": 1}
    assert not mesh.nodes[c].of(PacketDelivered)


def test_the_hop_limit_runs_out() -> None:
    mesh = Mesh()
    a, b, c, d = mesh.line(4)
    mesh.run_for(3.0)
    ids = [n.node_id for n in mesh.nodes]
    short = RoutedHeader(
        kind=RoutingPacket.DATA,
        hop_limit=2,
        next=0,
        source=ids[a],
        destination=ids[d],
        relays=(prefix_of(ids[b]), prefix_of(ids[c])),
    )
    inject(mesh, a, b, short, b"tired")
    mesh.run_for(1.0)
    assert mesh.nodes[b].router.status(mesh.now).counters.forwarded == 1
    assert drops(mesh.nodes[c]) == {"hop_limit": 1}
    assert not mesh.nodes[d].of(PacketDelivered)


def test_a_packet_from_the_wrong_neighbour_is_dropped() -> None:
    mesh = Mesh()
    a, b, c = mesh.line(3)
    mesh.run_for(3.0)
    ids = [n.node_id for n in mesh.nodes]
    spoofed = RoutedHeader(
        kind=RoutingPacket.DATA, hop_limit=8, next=0, source=ids[a], destination=ids[b], relays=()
    )
    inject(mesh, c, b, spoofed, b"claims to come from a")
    assert drops(mesh.nodes[b]) == {"wrong_previous_hop": 1}


def _ring_with_route(size: int = 6) -> tuple[Mesh, list[int]]:
    mesh = Mesh()
    mesh.ring(size)
    mesh.run_for(3.0)
    path = mesh.path(0, size // 2)
    assert path is not None and len(path) == size // 2
    return mesh, path


def test_a_route_error_makes_the_source_reroute_at_once() -> None:
    mesh, path = _ring_with_route()
    relay, broken = path[0], path[1]
    # only the link layer of the two ends knows: no announcement gets out
    mesh.filter = lambda s, r, p: None if p[0] == RoutingPacket.ANNOUNCE else p
    mesh.disconnect(relay, broken)
    mesh.send(0, 3, b"first")
    mesh.run_for(0.5)
    assert drops(mesh.nodes[relay]) == {"next_hop_gone": 1}
    source = mesh.nodes[0].router.status(mesh.now)
    assert source.counters.route_errors_received == 1 and source.suspended_links == 1
    other_way = [i for i in mesh.path(0, 3) or []]
    assert other_way and relay not in other_way and other_way[-1] == 3
    mesh.send(0, 3, b"second")
    mesh.run_for(0.5)
    (change,) = mesh.nodes[0].of(RouteChanged)  # reported when the route is next used
    assert change.path == tuple(mesh.nodes[i].node_id for i in other_way)
    assert [e.payload for e in mesh.nodes[3].of(PacketDelivered)] == [b"second"]
    assert mesh.nodes[relay].router.status(mesh.now).counters.route_errors_sent == 1


def test_the_reporters_next_announcement_lifts_the_suspension() -> None:
    mesh, path = _ring_with_route()
    relay, broken = path[0], path[1]
    mesh.filter = lambda s, r, p: None if p[0] == RoutingPacket.ANNOUNCE else p
    mesh.disconnect(relay, broken)
    mesh.send(0, 3, b"x")
    mesh.run_for(0.5)
    assert mesh.nodes[0].router.status(mesh.now).suspended_links == 1
    mesh.filter = lambda s, r, p: p
    mesh.nodes[relay].router.set_endpoints(["udp:192.0.2.1:1"], mesh.now)  # any announcement
    mesh.run_for(3.0)  # (start-up damping still spaces the relay's announcements)
    assert mesh.nodes[0].router.status(mesh.now).suspended_links == 0
    assert relay not in (mesh.path(0, 3) or [relay])


def test_suspensions_end_after_the_hold_time() -> None:
    mesh = Mesh(config=RoutingConfig(route_error_hold=5.0))
    mesh.ring(6)
    mesh.run_for(3.0)
    path = mesh.path(0, 3)
    assert path is not None
    relay, broken = path[0], path[1]
    mesh.filter = lambda s, r, p: None if p[0] == RoutingPacket.ANNOUNCE else p
    mesh.disconnect(relay, broken)
    mesh.send(0, 3, b"x")
    mesh.run_for(4.0)
    assert mesh.nodes[0].router.status(mesh.now).suspended_links == 1
    mesh.run_for(2.0)
    assert mesh.nodes[0].router.status(mesh.now).suspended_links == 0
    assert mesh.path(0, 3) == path  # no announcement came: the old view is back


def test_route_errors_are_rate_limited_and_never_answered() -> None:
    mesh, path = _ring_with_route()
    relay, broken = path[0], path[1]
    mesh.filter = lambda s, r, p: (
        None if p[0] in (RoutingPacket.ANNOUNCE, RoutingPacket.ROUTE_ERROR) else p
    )
    mesh.disconnect(relay, broken)
    for i in range(5):
        mesh.send(0, 3, b"%d" % i)
    mesh.run_for(0.5)
    counted = drops(mesh.nodes[relay])
    assert counted == {"next_hop_gone": 5, "route_error_limited": 4}
    assert mesh.nodes[relay].router.status(mesh.now).counters.route_errors_sent == 1


def test_stale_forged_and_baseless_route_errors_are_ignored() -> None:
    mesh, path = _ring_with_route()
    relay = path[0]
    ids = [n.node_id for n in mesh.nodes]
    dropped = RoutedHeader(
        kind=RoutingPacket.DATA,
        hop_limit=8,
        next=0,
        source=ids[0],
        destination=ids[3],
        relays=tuple(prefix_of(ids[i]) for i in path[:-1]),
    )
    reporter = mesh.nodes[relay]
    stale = route_error_for(
        reporter.identity, dropped, unreachable=prefix_of(ids[path[1]]), sequence=0, hop_limit=8
    )
    link = mesh.wire(0, relay).link_at(0)
    mesh.nodes[0].router.receive_packet(link, stale, mesh.now)
    forged = bytearray(
        route_error_for(
            reporter.identity,
            dropped,
            unreachable=prefix_of(ids[path[1]]),
            sequence=reporter.router.sequence,
            hop_limit=8,
        )
    )
    forged[-1] ^= 1
    mesh.nodes[0].router.receive_packet(link, bytes(forged), mesh.now)
    unrelated = route_error_for(
        reporter.identity,
        dropped,
        unreachable=prefix_of(make_identity(9, "not a neighbour").node_id),
        sequence=reporter.router.sequence,
        hop_limit=8,
    )
    mesh.nodes[0].router.receive_packet(link, unrelated, mesh.now)
    assert drops(mesh.nodes[0]) == {"stale_route_error": 2, "bad_route_error": 1}
    assert mesh.nodes[0].router.status(mesh.now).suspended_links == 0


def two_sources_through_a_relay(*, queue_max_packets: int) -> Mesh:
    """Nodes 0 and 1 linked to relay 2 (its queue bounded, quantum 100), 2 linked to 3."""
    mesh = Mesh()
    for _ in range(2):
        mesh.add()
    mesh.add(config=RoutingConfig(queue_max_packets=queue_max_packets, drr_quantum=100))
    mesh.add()
    mesh.connect(0, 2)
    mesh.connect(1, 2)
    mesh.connect(2, 3)
    mesh.run_for(3.0)
    return mesh


def test_a_relay_shares_its_link_fairly_between_two_sources() -> None:
    """Sources 0 and 1 send through relay 2 to 3; 0 sends ten times as much. The relay's
    queue toward 3 holds 20: 0 loses its own excess, 1 loses nothing, and they take turns."""
    mesh = two_sources_through_a_relay(queue_max_packets=20)
    for i in range(100):
        mesh.send(0, 3, b"heavy %02d" % i)
    for i in range(10):
        mesh.send(1, 3, b"light %02d" % i)
    mesh.run_for(1.0)
    delivered = [e.payload for e in mesh.nodes[3].of(PacketDelivered)]
    assert [p for p in delivered if p.startswith(b"light")] == [
        b"light %02d" % i for i in range(10)
    ]
    assert [p for p in delivered if p.startswith(b"heavy")] == [
        b"heavy %02d" % i for i in range(10)
    ]
    assert drops(mesh.nodes[2]) == {"queue_full": 90}
    heavy = light = 0
    for payload in delivered:  # DRR: neither gets ahead by over quantum + a packet (2 here)
        heavy += payload.startswith(b"heavy")
        light += payload.startswith(b"light")
        assert abs(heavy - light) <= 2


def test_a_relay_claiming_many_sources_gets_one_neighbours_share() -> None:
    """Node 0 pretends to relay for 50 made-up sources (its own prefix as the first relay,
    so relay 2 cannot tell); node 1 sends as itself. Relay 2's queue toward 3 is fair
    between the neighbours the packets came from: 1 gets half the link, not 1/51."""
    mesh = two_sources_through_a_relay(queue_max_packets=40)
    ids = [n.node_id for n in mesh.nodes]
    relay = mesh.nodes[2].router
    toward_3 = mesh.wire(2, 3).link_at(2)
    relay.set_link_paused(toward_3, True)  # let both backlogs build up at the relay
    for i in range(100):
        fake = make_identity(50 + i % 50, "fake").node_id
        claimed = RoutedHeader(
            kind=RoutingPacket.DATA,
            hop_limit=8,
            next=1,
            source=fake,
            destination=ids[3],
            relays=(prefix_of(ids[0]), prefix_of(ids[2])),
        )
        inject(mesh, 0, 2, claimed, b"claimed %02d" % i)
    for i in range(20):
        mesh.send(1, 3, b"honest %02d" % i)
    mesh.run_for(1.0)
    assert drops(mesh.nodes[2]) == {"queue_full": 80}  # 0's lane is the longest: 0 loses
    relay.set_link_paused(toward_3, False)
    mesh.touch(2)
    mesh.run_for(1.0)
    delivered = [e.payload for e in mesh.nodes[3].of(PacketDelivered)]
    assert [p for p in delivered if p.startswith(b"honest")] == [
        b"honest %02d" % i for i in range(20)
    ]
    assert sum(p.startswith(b"claimed") for p in delivered[:20]) == 10  # half the turns


def test_a_paused_link_holds_its_packets_in_the_bounded_queue_until_it_resumes() -> None:
    """Relay 1's carrier toward 2 is full: the router keeps the packets (up to the
    queue's bound, the rest dropped and counted) instead of handing them out."""
    mesh = Mesh()
    mesh.add()
    mesh.add(config=RoutingConfig(queue_max_packets=20))
    mesh.add()
    mesh.connect(0, 1)
    mesh.connect(1, 2)
    mesh.run_for(3.0)
    relay = mesh.nodes[1].router
    toward_2 = mesh.wire(1, 2).link_at(1)
    relay.set_link_paused(toward_2, True)
    for i in range(30):
        mesh.send(0, 2, b"held %02d" % i)
    mesh.run_for(1.0)
    assert mesh.nodes[2].of(PacketDelivered) == []
    assert relay.get_timer() is None or relay.get_timer() > mesh.now  # no busy loop
    assert drops(mesh.nodes[1]) == {"queue_full": 10}
    relay.set_link_paused(toward_2, False)
    mesh.touch(1)
    mesh.run_for(1.0)
    delivered = [e.payload for e in mesh.nodes[2].of(PacketDelivered)]
    assert delivered == [b"held %02d" % i for i in range(20)]
    relay.set_link_paused(LinkId(999), True)  # an unknown link: ignored


def test_packets_handed_up_as_views_are_forwarded_and_delivered_intact() -> None:
    # The node hands the router a view of the link's plaintext (no copy): relays patch
    # the header into the one copy they send, the destination's payload is a view.
    mesh = Mesh(seed=41)
    a, _, _, d = mesh.line(4)
    mesh.run_for(3.0)
    mesh.filter = lambda sender, receiver, packet: memoryview(packet)
    payloads = [bytes([n]) * (100 + 997 * n) for n in range(5)]
    for payload in payloads:
        mesh.send(a, d, payload)
    mesh.run_for(1.0)
    delivered = mesh.nodes[d].of(PacketDelivered)
    assert [bytes(event.payload) for event in delivered] == payloads
    assert all(event.hops == 3 and event.source == mesh.nodes[a].node_id for event in delivered)
    assert [mesh.nodes[n].router.status(mesh.now).counters.forwarded for n in (1, 2)] == [5, 5]
