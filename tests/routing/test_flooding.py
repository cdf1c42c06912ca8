"""Announcements across a mesh: both ends, replays, rate limits, signatures, ageing,
restarts, database sync and the control traffic it all costs."""

from __future__ import annotations

import itertools

from tests.routing.mesh import Mesh, MeshNode

from meshnet.crypto.identity import NodeId
from meshnet.routing.config import RoutingConfig
from meshnet.routing.messages import Announcement, NeighbourEntry, decode_announcement, prefix_of
from meshnet.wire.codes import RoutingPacket


def announcements_sent(mesh: Mesh, sender: int, receiver: int, origin: NodeId) -> list[int]:
    """Sequence numbers of ``origin``'s announcements that crossed sender -> receiver."""
    return [
        decode_announcement(packet)[0].sequence
        for _, s, r, packet in mesh.sent
        if (s, r) == (sender, receiver)
        and packet[0] == RoutingPacket.ANNOUNCE
        and decode_announcement(packet)[0].origin == origin
    ]


def rejected(node: MeshNode) -> dict[str, int]:
    return dict(node.router.status(0.0).counters.announcements_rejected)


def held_sequence(node: MeshNode, origin: NodeId) -> int | None:
    for entry in node.router.status(0.0).database:
        if entry.origin == origin:
            return entry.sequence
    return None


def forged(node: MeshNode, sequence: int, *claims: tuple[NodeId, int]) -> Announcement:
    """An announcement signed by ``node`` claiming links to ``claims`` (id, rtt in ms)."""
    entries = sorted(
        (NeighbourEntry(prefix=prefix_of(peer), rtt_ms=rtt, loss=0) for peer, rtt in claims),
        key=lambda e: e.prefix,
    )
    return Announcement.create(
        node.identity, sequence=sequence, lifetime=1800, neighbours=tuple(entries), endpoints=()
    )


def test_a_link_announced_by_one_end_only_is_ignored() -> None:
    mesh = Mesh()
    a, b, c, m = mesh.add_many(4)
    mesh.connect(a, b, rtt=0.100)
    mesh.connect(b, c, rtt=0.100)
    link = mesh.connect(a, m, rtt=0.001).link_a
    mesh.run_for(3.0)
    liar = mesh.nodes[m]
    lie = forged(
        liar, liar.router.sequence + 1, (mesh.nodes[a].node_id, 1), (mesh.nodes[c].node_id, 1)
    )
    mesh.nodes[a].router.receive_packet(link, lie.encode(0), mesh.now)
    mesh.run_for(3.0)
    assert held_sequence(mesh.nodes[c], liar.node_id) == lie.sequence  # accepted, flooded ...
    assert mesh.path(a, c) == [b, c]  # ... but the cheap link to c is not used
    assert mesh.path(b, m) == [a, m]
    entry = next(
        e for e in mesh.nodes[a].router.status(mesh.now).database if e.origin == liar.node_id
    )
    confirmed = {link.node: link.confirmed for link in entry.links}
    assert confirmed == {mesh.nodes[a].node_id: True, mesh.nodes[c].node_id: False}


def test_replayed_old_announcements_are_dropped() -> None:
    mesh = Mesh()
    a, b = mesh.line(2)
    mesh.run_for(3.0)
    origin = mesh.nodes[b]
    old = next(p for _, s, _, p in mesh.sent if s == b and p[0] == RoutingPacket.ANNOUNCE)
    origin.router.set_endpoints(["udp:198.51.100.1:4100"], mesh.now)
    mesh.run_for(3.0)
    newest = held_sequence(mesh.nodes[a], origin.node_id)
    assert newest is not None and newest > decode_announcement(old)[0].sequence
    mesh.nodes[a].router.receive_packet(mesh.wire(a, b).link_a, old, mesh.now)
    assert held_sequence(mesh.nodes[a], origin.node_id) == newest
    assert rejected(mesh.nodes[a])["stale"] == 1
    assert mesh.nodes[a].router.endpoints_of(origin.node_id) == ("udp:198.51.100.1:4100",)


def test_a_flooding_origin_is_rate_limited_and_only_its_latest_survives() -> None:
    mesh = Mesh()
    a, b, m = mesh.add_many(3)
    mesh.connect(a, b)
    link = mesh.connect(m, a).link_b
    mesh.run_for(3.0)
    noisy = mesh.nodes[m]
    start = noisy.router.sequence
    storm = [forged(noisy, start + i, (mesh.nodes[a].node_id, 5)) for i in range(1, 21)]
    for announcement in storm:
        mesh.nodes[a].router.receive_packet(link, announcement.encode(0), mesh.now)
    counts = rejected(mesh.nodes[a])
    assert counts["rate_limited"] == 20 - RoutingConfig().accept_burst
    mesh.run_for(1.0)
    # b heard only what a installed: the burst, then the newest once a's bucket refilled
    seen = announcements_sent(mesh, a, b, noisy.node_id)
    assert seen[-1] == start + 20
    assert len([s for s in seen if s > start]) <= RoutingConfig().accept_burst + 1
    assert held_sequence(mesh.nodes[b], noisy.node_id) == start + 20


def test_bad_signatures_are_dropped_and_a_lying_link_penalised() -> None:
    mesh = Mesh()
    a, b, m = mesh.add_many(3)
    mesh.connect(a, b)
    link = mesh.connect(m, a).link_b
    mesh.run_for(3.0)
    router = mesh.nodes[a].router
    base = mesh.nodes[m].router.sequence
    burst = RoutingConfig().bad_signature_burst
    for i in range(1, burst + 1):
        tampered = bytearray(forged(mesh.nodes[m], base + i, (mesh.nodes[a].node_id, 5)).encode(0))
        tampered[-1] ^= 0x55  # the signature's last byte
        router.receive_packet(link, bytes(tampered), mesh.now)
    assert rejected(mesh.nodes[a])["bad_signature"] == burst
    assert held_sequence(mesh.nodes[a], mesh.nodes[m].node_id) == base
    honest = forged(mesh.nodes[m], base + 50, (mesh.nodes[a].node_id, 5))
    router.receive_packet(link, honest.encode(0), mesh.now)
    assert rejected(mesh.nodes[a])["penalised"] == 1  # ignored unverified for now
    mesh.run_for(1.5)
    router.receive_packet(link, honest.encode(0), mesh.now)  # the bucket refilled
    assert held_sequence(mesh.nodes[a], mesh.nodes[m].node_id) == base + 50
    assert not [
        s for s in announcements_sent(mesh, a, b, mesh.nodes[m].node_id) if base < s < base + 50
    ]


def test_announcements_of_a_vanished_node_age_out() -> None:
    config = RoutingConfig(refresh_interval=10.0, lifetime=30)
    mesh = Mesh(config=config)
    a, b, c = mesh.line(3)
    mesh.run_for(5.0)
    mesh.disconnect(b, c)
    gone = mesh.nodes[c].node_id
    last_heard = mesh.now
    mesh.run_until(last_heard + 20.0)
    assert held_sequence(mesh.nodes[a], gone) is not None  # unreachable, still held
    assert mesh.path(a, c) is None
    mesh.run_until(last_heard + 31.0)
    assert held_sequence(mesh.nodes[a], gone) is None
    assert mesh.nodes[a].router.status(mesh.now).counters.announcements_expired == 1
    mesh.run_until(200.0)  # refreshed every 10 s, the live nodes never age out
    assert held_sequence(mesh.nodes[a], mesh.nodes[b].node_id) is not None
    assert held_sequence(mesh.nodes[b], mesh.nodes[a].node_id) is not None


def test_a_restarted_node_recovers_its_sequence_number() -> None:
    mesh = Mesh()
    a, _, c = mesh.line(3)
    mesh.run_for(3.0)
    node = mesh.nodes[c]
    for i in range(4):
        node.router.set_endpoints([f"udp:192.0.2.{i}:4100"], mesh.now)
        mesh.run_for(2.0)
    before = node.router.sequence
    assert held_sequence(mesh.nodes[a], node.node_id) == before
    mesh.restart(c)  # lost its sequence number
    node.router.set_endpoints(["udp:192.0.2.99:4100"], mesh.now)
    mesh.run_for(3.0)
    assert node.router.sequence > before
    assert rejected(node)["own"] >= 1
    assert held_sequence(mesh.nodes[a], node.node_id) == node.router.sequence
    assert mesh.nodes[a].router.endpoints_of(node.node_id) == ("udp:192.0.2.99:4100",)


def test_a_persisted_sequence_number_needs_no_recovery() -> None:
    mesh = Mesh()
    a, b = mesh.line(2)
    mesh.run_for(3.0)
    saved = mesh.nodes[b].router.sequence
    mesh.restart(b, initial_sequence=saved)
    mesh.run_for(3.0)
    # No recovery jump: our copy echoed back before our first announcement is merely
    # not newer than what we hold.
    assert mesh.nodes[b].router.sequence == saved + 1
    assert held_sequence(mesh.nodes[a], mesh.nodes[b].node_id) == saved + 1


def test_joining_two_meshes_syncs_both_databases() -> None:
    mesh = Mesh()
    left = mesh.line(4)
    right = [mesh.add() for _ in range(4)]
    for x, y in itertools.pairwise(right):
        mesh.connect(x, y)
    mesh.run_for(3.0)
    assert len(mesh.nodes[left[0]].router.status(mesh.now).database) == 4
    mesh.connect(left[-1], right[0])
    mesh.run_for(3.0)
    for index in left + right:
        assert len(mesh.nodes[index].router.status(mesh.now).database) == 8
    assert mesh.path(left[0], right[-1]) == left[1:] + right


def test_a_link_flap_in_a_converged_mesh_costs_summaries_not_the_database() -> None:
    mesh = Mesh()
    nodes = mesh.ring(8)
    mesh.run_for(3.0)
    mark = len(mesh.sent)
    mesh.disconnect(nodes[0], nodes[1])
    mesh.run_for(2.0)
    mesh.connect(nodes[0], nodes[1])
    mesh.run_for(2.0)
    resent = [p for _, s, r, p in mesh.sent[mark:] if {s, r} == {nodes[0], nodes[1]}]
    announces = [p for p in resent if p[0] == RoutingPacket.ANNOUNCE]
    summaries = [p for p in resent if p[0] == RoutingPacket.SUMMARY]
    assert len(summaries) == 2  # one each way: 8 origins fit one chunk
    # only what changed during the flap crosses: the two ends' new announcements
    origins = {decode_announcement(p)[0].origin for p in announces}
    assert origins <= {mesh.nodes[nodes[0]].node_id, mesh.nodes[nodes[1]].node_id}


def test_steady_state_control_traffic_stays_within_budget() -> None:
    """Default timers on a 16-node grid: what one link carries per second, measured over
    two refresh periods, against the routing.md §6 budget (2% of 1 Mbit/s)."""
    config = RoutingConfig()
    mesh = Mesh(config=config)
    mesh.add_many(16)
    for i in range(16):
        if i % 4 < 3:
            mesh.connect(i, i + 1, rtt=0.02)
        if i < 12:
            mesh.connect(i, i + 4, rtt=0.02)
    mesh.run_for(config.flap_reset + config.cost_interval)  # start-up settles
    since = mesh.now
    mesh.run_for(2 * config.refresh_interval)
    directions = 2 * len(mesh.wires)
    rate = mesh.control_bytes(since) / directions / (2 * config.refresh_interval)
    assert 0 < rate * 8 < 0.02 * 1_000_000
    # each direction of a link carries each refresh about once: 16 nodes, 2 periods
    per_direction = (
        sum(1 for t, _, _, p in mesh.sent if t >= since and p[0] == RoutingPacket.ANNOUNCE)
        / directions
    )
    assert per_direction <= 2 * 16 * 1.5


def test_a_neighbour_the_sender_links_to_is_left_to_the_sender() -> None:
    """Triangle a-b-c with d hanging off b: a's news reaches b and c from a; b passes it
    to d only (c is covered by a, both ends announce a-c), c passes it to nobody."""
    mesh = Mesh()
    a, b, c, d = mesh.add_many(4)
    mesh.connect(a, b, rtt=0.02)
    mesh.connect(b, c, rtt=0.02)
    mesh.connect(a, c, rtt=0.02)
    mesh.connect(b, d, rtt=0.02)
    mesh.run_for(3.0)
    origin = mesh.nodes[a]
    origin.router.set_endpoints(["udp:198.51.100.1:4100"], mesh.now)
    since = len(mesh.sent)
    mesh.run_for(3.0)
    sequence = origin.router.sequence
    crossed = sorted(
        (s, r)
        for _, s, r, p in mesh.sent[since:]
        if p[0] == RoutingPacket.ANNOUNCE and decode_announcement(p)[0].origin == origin.node_id
    )
    assert crossed == [(a, b), (a, c), (b, d)]
    assert all(held_sequence(node, origin.node_id) == sequence for node in mesh.nodes[1:])


def test_a_link_only_one_end_announces_covers_nobody() -> None:
    """m claims a link to c that c does not announce: b still floods a's news to c."""
    mesh = Mesh()
    a, b, c, m = mesh.add_many(4)
    mesh.connect(a, m, rtt=0.02)
    mesh.connect(m, b, rtt=0.02)
    mesh.connect(b, c, rtt=0.02)
    mesh.run_for(3.0)
    liar = mesh.nodes[m]
    lie = forged(
        liar,
        liar.router.sequence + 1,
        (mesh.nodes[a].node_id, 20),
        (mesh.nodes[b].node_id, 20),
        (mesh.nodes[c].node_id, 20),
    )
    mesh.nodes[b].router.receive_packet(mesh.wire(m, b).link_b, lie.encode(0), mesh.now)
    mesh.run_for(3.0)
    origin = mesh.nodes[a]
    origin.router.set_endpoints(["udp:198.51.100.1:4100"], mesh.now)
    since = len(mesh.sent)
    mesh.run_for(3.0)
    assert (b, c) in [
        (s, r)
        for _, s, r, p in mesh.sent[since:]
        if p[0] == RoutingPacket.ANNOUNCE and decode_announcement(p)[0].origin == origin.node_id
    ]
    assert held_sequence(mesh.nodes[c], origin.node_id) == origin.router.sequence


def _announced_rtts(mesh: Mesh, index: int) -> list[float | None]:
    """The RTTs in ``index``'s own announcement as the other nodes hold it."""
    origin = mesh.nodes[index].node_id
    return [
        link.rtt
        for node in mesh.nodes
        if node.node_id != origin
        for entry in node.router.status(mesh.now).database
        if entry.origin == origin
        for link in entry.links
    ]


def test_a_refresh_carries_the_metrics_measured_now() -> None:
    """A change within the hysteresis is not announced on its own, but the refresh, which
    goes out anyway, says what is measured now (the hysteresis would keep it forever)."""
    config = RoutingConfig()
    mesh = Mesh(config=config)
    mesh.add_many(2)
    mesh.connect(0, 1, rtt=0.010)
    mesh.run_for(config.flap_reset + config.cost_interval)
    sequence = mesh.nodes[0].router.sequence
    mesh.measure(0, 1, rtt=0.011)  # +1 ms: below the hysteresis
    mesh.run_for(config.cost_interval)
    assert mesh.nodes[0].router.sequence == sequence
    assert _announced_rtts(mesh, 0) == [0.010]
    mesh.run_for(config.refresh_interval)
    assert mesh.nodes[0].router.sequence == sequence + 1  # the refresh alone
    assert _announced_rtts(mesh, 0) == [0.011]
