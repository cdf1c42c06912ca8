"""The Router's API end to end: delivery, waiting for a path, queries, status, hostile bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.routing.mesh import Mesh, make_identity

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import SignatureVerifier
from meshnet.errors import LocalError, StateError
from meshnet.ids import LinkId
from meshnet.routing.config import RoutingConfig
from meshnet.routing.events import (
    DestinationUnreachable,
    PacketDelivered,
    RouteChanged,
    UnreachableReason,
)
from meshnet.routing.policy import EtxLatencyPolicy, HopCountPolicy
from meshnet.routing.router import Router
from meshnet.wire.codes import RoutingPacket


def test_line_of_ten_delivers_the_first_packet_intact() -> None:
    mesh = Mesh()
    mesh.line(10)
    payload = bytes(range(256)) * 4
    mesh.send(0, 9, payload)  # sent before anything converged: it waits for a path
    mesh.run_for(5.0)
    (delivered,) = mesh.nodes[9].of(PacketDelivered)
    assert delivered == PacketDelivered(source=mesh.nodes[0].node_id, payload=payload, hops=9)
    assert mesh.path(0, 9) == list(range(1, 10))
    assert not mesh.nodes[0].of(DestinationUnreachable)
    for relay in range(1, 9):
        assert mesh.nodes[relay].router.status(mesh.now).counters.forwarded == 1
    counters = mesh.nodes[0].router.status(mesh.now).counters
    assert (counters.originated, counters.drops) == (1, ())


@pytest.mark.parametrize(
    ("streams", "room"), [((True, True, True), 65535), ((True, False, True), 0)]
)
def test_the_destination_learns_whether_every_link_was_a_stream_link(
    streams: tuple[bool, ...], room: int
) -> None:
    mesh = Mesh()
    nodes = mesh.add_many(4)
    for (a, b), stream in zip(itertools.pairwise(nodes), streams, strict=True):
        mesh.connect(a, b, stream=stream)
    mesh.run_for(3.0)
    mesh.send(0, 3, b"there")
    mesh.send(3, 0, b"back")
    mesh.run_for(1.0)
    (there,) = mesh.nodes[3].of(PacketDelivered)
    (back,) = mesh.nodes[0].of(PacketDelivered)
    assert (there.payload, there.hops, there.room) == (b"there", 3, room)
    assert (back.payload, back.room) == (b"back", room)


def test_packets_follow_the_path_with_a_route_in_place() -> None:
    mesh = Mesh()
    mesh.line(4)
    mesh.run_for(3.0)
    for i in range(5):
        mesh.send(3, 0, b"back %d" % i)
    mesh.run_for(1.0)
    assert [e.payload for e in mesh.nodes[0].of(PacketDelivered)] == [
        b"back %d" % i for i in range(5)
    ]
    assert all(e.hops == 3 for e in mesh.nodes[0].of(PacketDelivered))


def test_a_packet_with_no_path_waits_then_is_reported() -> None:
    mesh = Mesh()
    mesh.add_many(2)
    stranger = make_identity(1, "stranger").node_id
    router = mesh.nodes[0].router
    router.send(stranger, b"one", 0.0)
    router.send(stranger, b"two", 1.0)
    mesh.run_until(2.9)
    assert not mesh.nodes[0].of(DestinationUnreachable)
    assert router.status(mesh.now).pending_packets == 2
    mesh.run_until(3.0)
    assert mesh.nodes[0].of(DestinationUnreachable) == [
        DestinationUnreachable(destination=stranger, reason=UnreachableReason.NO_ROUTE, packets=1)
    ]
    mesh.run_until(5.0)
    assert len(mesh.nodes[0].of(DestinationUnreachable)) == 2
    assert dict(router.status(mesh.now).counters.drops) == {"no_route": 2}


def test_the_wait_is_bounded() -> None:
    mesh = Mesh(config=RoutingConfig(pending_max_packets=2))
    mesh.add()
    stranger = make_identity(1, "stranger").node_id
    for payload in (b"1", b"2", b"3"):
        mesh.nodes[0].router.send(stranger, payload, 0.0)
    mesh.run_until(0.0)
    assert mesh.nodes[0].of(DestinationUnreachable) == [
        DestinationUnreachable(
            destination=stranger, reason=UnreachableReason.PENDING_FULL, packets=1
        )
    ]


def test_paths_longer_than_the_limits_are_refused() -> None:
    mesh = Mesh(config=RoutingConfig(hop_limit=3))
    mesh.line(5)
    mesh.run_for(3.0)
    mesh.send(0, 3, b"fits")
    mesh.send(0, 4, b"too far")
    mesh.run_for(1.0)
    assert [e.payload for e in mesh.nodes[3].of(PacketDelivered)] == [b"fits"]
    assert mesh.nodes[0].of(DestinationUnreachable) == [
        DestinationUnreachable(
            destination=mesh.nodes[4].node_id,
            reason=UnreachableReason.PATH_TOO_LONG,
            packets=1,
        )
    ]


def test_sending_to_ourselves_and_payload_limit() -> None:
    mesh = Mesh(config=RoutingConfig(max_payload=10))
    mesh.add()
    node = mesh.nodes[0]
    node.router.send(node.node_id, b"loopback", 0.0)
    mesh.run_until(0.0)
    assert node.of(PacketDelivered) == [
        PacketDelivered(source=node.node_id, payload=b"loopback", hops=0)
    ]
    with pytest.raises(LocalError, match="over 10"):
        node.router.send(node.node_id, bytes(11), 0.0)
    assert node.router.route_to(node.node_id) == ()


def test_link_misuse_raises() -> None:
    mesh = Mesh()
    mesh.add_many(2)
    wire = mesh.connect(0, 1)
    router = mesh.nodes[0].router
    with pytest.raises(StateError, match="already up"):
        router.link_up(wire.link_a, mesh.nodes[1].node_id, 0.0)
    with pytest.raises(StateError, match="ourselves"):
        router.link_up(LinkId(99), mesh.nodes[0].node_id, 0.0)
    router.link_down(LinkId(12345), 0.0)  # unknown: ignored
    router.link_measured(LinkId(12345), 0.01, False, 0.0)
    with pytest.raises(LocalError):
        Router(
            identity=mesh.nodes[0].identity,
            config=RoutingConfig(),
            entropy=SeededEntropy(1),
            verifier=SignatureVerifier(),
            initial_sequence=-1,
        )


def test_records_and_endpoints_come_from_links_and_announcements() -> None:
    mesh = Mesh()
    mesh.line(3)
    far, near, me = mesh.nodes[2], mesh.nodes[1], mesh.nodes[0]
    assert me.router.record_of(near.node_id) == near.identity.record  # from link_up
    assert me.router.record_of(far.node_id) is None
    far.router.set_endpoints(["udp:192.0.2.7:4100", "tcp:[2001:db8::7]:4100"], mesh.now)
    mesh.run_for(3.0)
    assert me.router.record_of(far.node_id) == far.identity.record
    assert me.router.endpoints_of(far.node_id) == ("udp:192.0.2.7:4100", "tcp:[2001:db8::7]:4100")
    assert far.router.endpoints_of(far.node_id) == me.router.endpoints_of(far.node_id)
    assert me.router.record_of(me.node_id) == me.identity.record
    assert me.router.endpoints_of(make_identity(1, "nobody").node_id) == ()


@pytest.mark.parametrize("endpoints", [[""], ["x" * 129], ["a\tb"], [str(i) for i in range(9)]])
def test_bad_endpoints_are_refused(endpoints: list[str]) -> None:
    mesh = Mesh()
    mesh.add()
    with pytest.raises(LocalError):
        mesh.nodes[0].router.set_endpoints(endpoints, 0.0)


def test_status_snapshot_describes_the_mesh() -> None:
    mesh = Mesh()
    mesh.line(3)
    mesh.measure(0, 1, rtt=0.020)
    mesh.send(0, 2, b"hi")
    mesh.run_for(3.0)
    status = mesh.nodes[0].router.status(mesh.now)
    ids = [n.node_id for n in mesh.nodes]
    assert status.node_id == ids[0] and status.policy == "etx-latency"
    assert [e.origin for e in status.database] == sorted(ids)
    middle = next(e for e in status.database if e.origin == ids[1])
    assert {(link.node, link.confirmed) for link in middle.links} == {
        (ids[0], True),
        (ids[2], True),
    }
    assert 0 <= middle.age < 3 and middle.expires_in > 1700
    (neighbour,) = status.neighbours
    assert neighbour.peer == ids[1]
    assert neighbour.rtt == pytest.approx(0.020) and neighbour.cost == 30
    assert neighbour.samples == 64
    (route,) = status.routes
    assert route.destination == ids[2] and route.path == (ids[1], ids[2])
    assert status.counters.announcements_accepted == 2
    assert status.sequence == mesh.nodes[0].router.sequence > 0


def test_unknown_links_and_types_are_counted() -> None:
    mesh = Mesh()
    mesh.add_many(2)
    wire = mesh.connect(0, 1)
    router = mesh.nodes[0].router
    router.receive_packet(LinkId(77), b"\x22", 0.0)
    router.receive_packet(wire.link_a, b"", 0.0)
    router.receive_packet(wire.link_a, b"\x3f", 0.0)
    router.receive_packet(wire.link_a, b"\x21", 0.0)
    drops = dict(router.status(0.0).counters.drops)
    assert drops == {"unknown_link": 1, "unknown_type": 2, "malformed": 1}


def _converged_pair() -> tuple[Mesh, LinkId]:
    mesh = Mesh()
    mesh.line(3)
    mesh.run_for(3.0)
    return mesh, mesh.wire(0, 1).link_a


def _counted(router: Router) -> int:
    counters = router.status(0.0).counters
    return sum(n for _, n in counters.drops) + sum(n for _, n in counters.announcements_rejected)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(list(RoutingPacket)), st.binary(max_size=400))
def test_random_bytes_are_counted_never_raised(kind: RoutingPacket, body: bytes) -> None:
    mesh, link = _converged_pair()
    router = mesh.nodes[0].router
    before = _counted(router)
    router.receive_packet(link, bytes([kind]) + body, mesh.now)
    assert _counted(router) == before + 1


def test_mutated_real_packets_are_counted_never_raised() -> None:
    mesh, _ = _converged_pair()
    mesh.send(2, 0, b"payload for mutation")
    mesh.run_for(1.0)
    samples = [packet for _, sender, receiver, packet in mesh.sent if (sender, receiver) == (1, 0)]
    assert {p[0] for p in samples} >= {
        RoutingPacket.ANNOUNCE,
        RoutingPacket.SUMMARY,
        RoutingPacket.DATA,
    }
    target = Mesh(seed=5)
    target.add_many(2)
    link = target.connect(0, 1).link_a
    router = target.nodes[0].router
    for number, packet in enumerate(samples):
        for position in range(0, len(packet), 7):
            mutated = bytearray(packet)
            mutated[position] ^= 1 << (number % 8)
            router.receive_packet(link, bytes(mutated), 0.0)  # must not raise
        router.receive_packet(link, packet[: len(packet) // 2], 0.0)


def test_batches_are_bounded_and_the_timer_says_more_is_waiting() -> None:
    mesh = Mesh(config=RoutingConfig(batch_limit=3))
    mesh.line(2)
    mesh.run_for(3.0)
    router = mesh.nodes[0].router
    for i in range(5):
        router.send(mesh.nodes[1].node_id, b"%d" % i, mesh.now)
    assert len(router.packets_to_send(mesh.now)) == 3
    assert router.get_timer() == mesh.now
    assert len(router.packets_to_send(mesh.now)) == 2
    timer = router.get_timer()
    assert timer is not None and timer > mesh.now


def test_policies_compared_on_a_toy_mesh() -> None:
    """Node 0 reaches 3 over a slow direct link, via 1 over lossy fast links, or via 2 over
    clean medium links; each node measures its links and announces the metrics."""
    for policy, expected in ((HopCountPolicy(), [3]), (EtxLatencyPolicy(), [2, 3])):
        mesh = Mesh()
        mesh.add_many(4, policy=policy)
        mesh.connect(0, 3, rtt=0.400)
        mesh.connect(0, 1, rtt=0.020, loss=0.5)
        mesh.connect(1, 3, rtt=0.020, loss=0.5)
        mesh.connect(0, 2, rtt=0.040)
        mesh.connect(2, 3, rtt=0.040)
        mesh.run_for(3.0)
        assert mesh.path(0, 3) == expected, policy.name
        mesh.send(0, 3, b"x")
        mesh.run_for(1.0)
        assert mesh.nodes[3].of(PacketDelivered)[0].hops == len(expected)


def test_route_changes_are_reported_for_routes_in_use() -> None:
    mesh = Mesh()
    mesh.ring(4)
    mesh.run_for(3.0)
    mesh.send(0, 2, b"x")
    relay, _ = mesh.path(0, 2) or [None, None]
    assert relay in (1, 3)  # equal cost both ways: the lower node id relays
    assert mesh.nodes[relay].node_id < mesh.nodes[4 - relay].node_id
    mesh.disconnect(relay, 2)
    mesh.run_for(3.0)
    assert mesh.nodes[0].of(RouteChanged) == []  # lazy: checked when the route is used
    mesh.send(0, 2, b"y")
    mesh.run_for(0.1)
    changes = mesh.nodes[0].of(RouteChanged)
    assert changes == [
        RouteChanged(
            destination=mesh.nodes[2].node_id,
            path=(mesh.nodes[4 - relay].node_id, mesh.nodes[2].node_id),
            cost=changes[0].cost,
        )
    ]
    assert mesh.nodes[0].router.status(mesh.now).routes[0].path == changes[0].path


def test_a_sender_follows_a_changed_path_with_the_next_packet() -> None:
    mesh = Mesh()
    nodes = mesh.add_many(5)  # 0 - 1, then 2 or 4, then 3: the first hop stays 1
    for a, b in ((0, 1), (1, 2), (2, 3), (1, 4), (4, 3)):
        mesh.connect(nodes[a], nodes[b])
    mesh.run_for(3.0)
    for payload in (b"a", b"b"):  # the second packet reuses the first one's header
        mesh.send(0, 3, payload)
    mesh.run_for(1.0)
    _, middle, _ = mesh.path(0, 3) or [None, None, None]
    assert middle in (2, 4)
    mesh.disconnect(middle, 3)
    mesh.run_for(3.0)
    mesh.send(0, 3, b"c")
    mesh.run_for(1.0)
    delivered = mesh.nodes[3].of(PacketDelivered)
    assert [(e.payload, e.hops) for e in delivered] == [(b"a", 3), (b"b", 3), (b"c", 3)]
    (last,) = [s for s in mesh.sent if s[1] == 1 and s[3].endswith(b"c")]
    assert last[2] == 6 - middle  # through the other middle node, named in its header
