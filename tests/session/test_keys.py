"""Key epochs inside a session: rekey collisions, rekeys across an outage, erasure, expiry."""

from __future__ import annotations

from tests.session.pair import SessionPair, Side

from meshnet.session.config import SessionConfig
from meshnet.session.events import DatagramReceived, SessionClosed
from meshnet.session.frames import CloseReason
from meshnet.session.keys import _SPARES, KeyRing
from meshnet.session.state import SessionState

MB = bytes(range(256)) * 4096


def _keys(pair: SessionPair, side: Side) -> KeyRing:
    keys = side.manager._sessions[pair.other(side).node_id].keys
    assert keys is not None
    return keys


def _ping(pair: SessionPair, payload: bytes) -> None:
    pair.a.manager.send_datagram(pair.b.node_id, payload, pair.now)
    pair.run(1.0)
    assert DatagramReceived(pair.a.node_id, payload) in pair.b.of(DatagramReceived)


def test_both_sides_rekeying_at_once_converge_on_the_lower_nodes_attempt() -> None:
    pair = SessionPair(seed=41)
    pair.establish()
    lower, higher = sorted((pair.a, pair.b), key=lambda s: s.node_id)
    _keys(pair, lower).start_rekey(pair.now)
    _keys(pair, higher).start_rekey(pair.now)
    for side in (pair.a, pair.b):
        session = side.manager._sessions[pair.other(side).node_id]
        session._sync_rekey()
        assert session.state is SessionState.REKEYING
    pair.run(3.0)
    for side in (pair.a, pair.b):
        keys = _keys(pair, side)
        assert keys.rekeys == 1 and not keys.rekeying
        assert side.manager.session_state(pair.other(side).node_id) is SessionState.ESTABLISHED
    # both use the epoch the lower node's REKEY 1 created: its index is the lower's
    assert _keys(pair, lower).current.remote_index == _keys(pair, higher).current.local_index
    _ping(pair, b"after the collision")


def test_old_keys_are_erased_after_the_grace_period() -> None:
    pair = SessionPair(seed=42, config=SessionConfig(old_keys_grace=2.0))
    pair.establish()
    first = _keys(pair, pair.a).current
    _keys(pair, pair.a).start_rekey(pair.now)
    pair.a.manager.send_datagram(pair.b.node_id, b"kick", pair.now)
    pair.run(1.0)
    keys = _keys(pair, pair.a)
    assert keys.rekeys == 1 and keys.previous is first
    assert first.send.cleared and not first.receive.cleared  # receive-only for the grace
    pair.run(3.0)
    assert keys.previous is None and first.receive.cleared
    other = _keys(pair, pair.b)
    assert other.previous is None and other.rekeys == 1
    _ping(pair, b"new keys")


def test_a_rekey_straddling_an_outage_completes_after_it() -> None:
    config = SessionConfig(rekey_after_time=10.0, reject_after_time=60.0, old_keys_grace=2.0)
    pair = SessionPair(seed=43, config=config)
    pair.establish()
    pair.run(9.6)
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    pair.run(0.2)
    for path in pair.paths.values():
        path.down = True  # a's rekey falls due at 10 s, in the middle of the outage
    pair.run(25.0)
    assert _keys(pair, pair.a).rekeys == 0 and not pair.b.finished
    for path in pair.paths.values():
        path.down = False
    assert pair.run(60.0, until=lambda: len(pair.b.finished) == 1)
    assert bytes(next(iter(pair.b.received.values()))) == MB
    pair.run(10.0)
    assert _keys(pair, pair.a).rekeys >= 1 and _keys(pair, pair.b).rekeys >= 1
    assert not pair.a.of(SessionClosed) and not pair.b.of(SessionClosed)
    _ping(pair, b"after the outage")


def test_keys_that_cannot_be_replaced_expire() -> None:
    quiet = {"keepalive_interval": 2.0, "idle_timeout": 30.0}
    pair = SessionPair(
        seed=44,
        a_config=SessionConfig(rekey_after_time=5.0, reject_after_time=8.0, **quiet),
        b_config=SessionConfig(rekey_after_time=50.0, reject_after_time=80.0, **quiet),
    )
    pair.establish()
    _keys(pair, pair.b).on_rekey = lambda frame, now: None  # type: ignore[method-assign]
    pair.a.manager.open_stream(pair.b.node_id, pair.now)  # keepalives hold the session
    pair.run(12.0)
    closed = pair.a.of(SessionClosed)
    assert [c.reason for c in closed] == [CloseReason.KEYS_EXPIRED]
    (peer_view,) = pair.b.of(SessionClosed)
    assert peer_view.by_peer and peer_view.reason is CloseReason.KEYS_EXPIRED


def test_large_packets_reuse_a_buffer_only_once_nothing_holds_it() -> None:
    # a 64 KiB packet is sealed into a buffer of the session's small pool, never into
    # one that a packet still queued below (or any view of it) refers to
    pair = SessionPair(seed=43)
    pair.establish()
    sender, receiver = _keys(pair, pair.a), _keys(pair, pair.b)
    plain = [bytes([i]) * 60_000 for i in range(_SPARES + 2)]
    held = [sender.seal(data, pair.now) for data in plain[: _SPARES + 1]]  # the last: fresh
    assert len({id(packet.buffer) for packet in held}) == _SPARES + 1
    kept = [bytes(packet.view()) for packet in held]
    view = held[0].view()  # a view alone keeps a buffer taken too
    freed = id(held[1].buffer)
    del held[:2]  # what the link does once it sealed a packet
    last = sender.seal(plain[-1], pair.now)
    assert id(last.buffer) == freed
    assert bytes(view) == kept[0] and [bytes(p.view()) for p in held] == kept[2:]
    for data, expected in ((kept[0], plain[0]), (bytes(last.view()), plain[-1])):
        assert bytes(receiver.open(data, pair.now)) == expected
