"""Our links as the router sees them: lookups by peer and prefix, output order."""

from __future__ import annotations

from collections import deque

from meshnet.crypto.identity import NodeId
from meshnet.ids import LinkId
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.metrics import LinkEstimator, LinkMetrics
from meshnet.routing.neighbours import Neighbour, Neighbours
from meshnet.routing.policy import EtxLatencyPolicy
from meshnet.routing.queues import FairQueue
from meshnet.routing.ratelimit import TokenBucket

P, Q = NodeId(b"p" * 32), NodeId(b"q" * 32)
TWIN = NodeId(b"p" * 8 + b"z" * 24)  # shares P's 8-byte prefix


def neighbour(link: int, peer: NodeId, rtt: float | None = None) -> Neighbour:
    return Neighbour(
        link=LinkId(link),
        peer=peer,
        up_since=0.0,
        estimator=LinkEstimator(rtt_gain=0.125, loss_gain=0.0625),
        announced=LinkMetrics(rtt=rtt, loss=0.0),
        queue=FairQueue(max_packets=10, max_bytes=10_000, quantum=1500),
        control=deque(),
        flood={},
        signatures=TokenBucket(rate=1, burst=1, now=0.0),
        control_limit=2,
    )


def test_lookups_by_link_peer_and_prefix() -> None:
    table = Neighbours()
    table.add(neighbour(5, P))
    table.add(neighbour(3, P))
    table.add(neighbour(4, Q))
    assert [n.link for n in table] == [3, 4, 5]
    assert table.peers() == [P, Q]
    to_p = table.to(P)
    assert to_p is not None and to_p.link == 3  # the lowest LinkId
    by_prefix = table.by_prefix(b"q" * 8)
    assert by_prefix is not None and by_prefix.peer == Q
    table.add(neighbour(6, TWIN))
    assert table.by_prefix(b"p" * 8) is None  # ambiguous: no guess
    table.remove(LinkId(6))
    assert table.by_prefix(b"p" * 8) is not None
    table.remove(LinkId(3))
    table.remove(LinkId(5))
    assert table.to(P) is None and table.by_prefix(b"p" * 8) is None
    assert table.remove(LinkId(99)) is None
    assert LinkId(4) in table and len(table) == 1


def test_view_takes_the_cheapest_link_to_each_peer() -> None:
    table = Neighbours()
    table.add(neighbour(1, P, rtt=0.200))
    table.add(neighbour(2, P, rtt=0.010))
    table.add(neighbour(3, Q))
    view = table.view(EtxLatencyPolicy())
    assert view == {P: LinkMetrics(rtt=0.010, loss=0.0), Q: LinkMetrics(rtt=None, loss=0.0)}


def test_output_order_control_then_announcements_then_data() -> None:
    db = LinkStateDatabase(accept_rate=1, accept_burst=1, max_origins=10)
    n = neighbour(1, P)
    assert not n.has_output()
    n.queue.push(Q, Q, b"data")
    n.flood[Q] = None  # an origin we no longer hold: skipped
    assert n.push_control(b"c1") and n.push_control(b"c2")
    assert not n.push_control(b"c3")  # bounded
    assert n.has_output()
    assert [n.next_packet(db, 0.0) for _ in range(4)] == [b"c1", b"c2", b"data", None]


def test_links_with_output_come_ascending_and_drained_ones_are_forgotten() -> None:
    db = LinkStateDatabase(accept_rate=1, accept_burst=1, max_origins=10)
    table = Neighbours()
    links = {link: neighbour(link, peer) for link, peer in ((7, P), (2, Q), (5, TWIN))}
    for n in links.values():
        table.add(n)
    assert table.with_output() == []  # nothing marked
    for link in (7, 5, 2):  # marked in another order than their ids
        assert links[link].push_control(b"c%d" % link)
        table.mark(links[link])
    links[5].paused = True
    assert [n.link for n in table.with_output()] == [2, 7]  # 5 is paused, still pending
    assert links[2].next_packet(db, 0.0) == b"c2"
    assert links[2].next_packet(db, 0.0) is None
    links[5].paused = False
    assert [n.link for n in table.with_output()] == [5, 7]  # 2 ran dry: unmarked
    for link in (5, 7):
        assert links[link].next_packet(db, 0.0) == b"c%d" % link
    assert table.with_output() == [] and not table.has_output()
    links[2].push_control(b"again")  # queued but never marked: not looked at
    assert table.with_output() == []
