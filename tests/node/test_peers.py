"""The redial policy: backoff with jitter, one attempt in flight, forever, TOFU."""

from __future__ import annotations

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.node.peers import Backoff, PeerTable

EP = "tcp:192.0.2.1:4100"


def node_id(label: str):  # type: ignore[no-untyped-def]
    return Identity.generate(SeededEntropy(7, label), created=0).node_id


def table() -> PeerTable:
    return PeerTable(
        entropy=SeededEntropy(3), backoff=Backoff(base=1.0, max_delay=60.0, stable_after=30.0)
    )


def test_added_peer_is_dialled_at_once_and_only_once() -> None:
    t = table()
    t.add(EP, None, now=0.0)
    ((dial, entry),) = t.due(0.0)
    assert entry.endpoint == EP and entry.dialing == dial
    assert t.due(100.0) == []  # in flight: no second attempt piles up


def test_failures_back_off_exponentially_with_jitter_and_never_give_up() -> None:
    t = table()
    t.add(EP, None, now=0.0)
    now = 0.0
    delays = []
    for _ in range(40):
        ((dial, _),) = t.due(now)
        t.dial_failed(dial, now, "refused")
        nxt = t.get_timer()
        assert nxt is not None
        delays.append(nxt - now)
        assert t.due(nxt - 1e-9) == []
        now = nxt
    for failures, delay in enumerate(delays[:6], start=1):
        cap = min(60.0, 2.0**failures)
        assert cap / 2 <= delay <= cap
    assert all(30.0 <= d <= 60.0 for d in delays[10:])  # capped, still trying
    assert len(set(delays[10:])) > 5  # jittered, not synchronised


def test_first_contact_records_the_identity() -> None:
    t = table()
    t.add(EP, None, now=0.0)
    ((dial, _),) = t.due(0.0)
    peer = node_id("b")
    entry = t.dial_succeeded(dial, peer, now=1.0)
    assert entry is not None and entry.expected == peer
    assert t.find(peer) is entry


def test_lost_link_is_redialled_and_stable_links_reset_the_backoff() -> None:
    t = table()
    peer = node_id("b")
    t.add(EP, peer, now=0.0)
    ((dial, _),) = t.due(0.0)
    for _ in range(5):
        t.dial_failed(dial, 0.0, "x")
        ((dial, _),) = t.due(1e9)
    t.dial_succeeded(dial, peer, now=1000.0)
    t.link_lost(peer, now=1100.0)  # up for 100 s: stable, so the count restarts
    entry = t.entries()[0]
    assert entry.failures == 1
    assert entry.next_attempt is not None and 1100.0 <= entry.next_attempt <= 1101.0


def test_inbound_link_from_the_peer_suppresses_dialling() -> None:
    t = table()
    peer = node_id("b")
    t.add(EP, peer, now=0.0)
    t.link_up(peer, now=0.0)
    assert t.due(10.0) == []


def test_removed_peer_is_forgotten() -> None:
    t = table()
    t.add(EP, None, now=0.0)
    assert t.remove(EP) is not None
    assert t.due(10.0) == [] and t.entries() == []
    assert t.remove(EP) is None


def test_an_endpoint_that_proves_our_own_identity_is_not_dialled_again() -> None:
    t = table()
    t.add(EP, None, now=0.0)
    ((dial, _),) = t.due(0.0)
    entry = t.reached_self(dial, "the peer proved our own identity")
    assert entry is not None and entry.own_address and entry.dialing is None
    assert t.get_timer() is None and t.due(1e9) == []  # never again, no timer left
    assert t.reached_self(dial, "again") is None  # the dial is settled
    t.add(EP, None, now=2e9)  # the user configures it anew: it is dialled again
    ((_, again),) = t.due(2e9)
    assert again is entry and not entry.own_address and entry.failures == 0
