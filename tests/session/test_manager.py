"""Sessions end to end through ``SessionPair``: handshakes, datagrams, streams under loss,
outages, rekeys, simultaneous opens, expiry and limits (explicit time, seeded network)."""

from __future__ import annotations

import tracemalloc

import pytest
from tests.session.pair import Path, SessionPair, Side

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError, LocalError, StateError
from meshnet.session.config import MAX_PACKET_LIMIT, SessionConfig
from meshnet.session.events import (
    DatagramReceived,
    SessionClosed,
    SessionEstablished,
    SessionHandshakeFailed,
    StreamOpened,
    StreamReset,
)
from meshnet.session.frames import CloseReason, StreamErrorCode
from meshnet.session.manager import SessionManager
from meshnet.session.state import SessionState
from meshnet.session.streams import ReceiveBudget

MB = bytes(range(256)) * 4096  # 1 MiB, every byte value
MiB = 1 << 20


def _transfer(pair: SessionPair, data: bytes, *, seconds: float = 300.0) -> Side:
    """Send ``data`` from a to b on a new stream and finish it; return b once it has all."""
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now, service=9)
    pair.a.write(stream, data, pair.now)
    assert pair.run(seconds, until=lambda: len(pair.b.finished) == 1), "transfer stalled"
    (received,) = pair.b.received.values()
    assert bytes(received) == data
    (opened,) = pair.b.of(StreamOpened)
    assert (opened.peer, opened.service) == (pair.a.node_id, 9)
    return pair.b


# -- handshakes ----------------------------------------------------------------------------


@pytest.mark.parametrize("initiator", ["a", "b"])
def test_handshake_either_way(initiator: str) -> None:
    pair = SessionPair(seed=2)
    side = pair.a if initiator == "a" else pair.b
    pair.establish(side)
    other = pair.other(side)
    assert side.of(SessionEstablished) == [SessionEstablished(other.node_id, True)]
    assert other.of(SessionEstablished) == [SessionEstablished(side.node_id, False)]
    assert other.of(DatagramReceived) == [DatagramReceived(side.node_id, b"hello")]
    status = side.manager.status(pair.now).sessions[0]
    assert status.peer == str(other.node_id) and status.initiator
    assert status.srtt is not None and status.key_age is not None


def test_handshake_survives_loss_of_its_packets() -> None:
    pair = SessionPair(seed=5, ab=Path(loss=0.3), ba=Path(loss=0.3))
    pair.establish()
    assert pair.a.of(SessionEstablished) and pair.b.of(SessionEstablished)


def test_handshake_messages_are_fragmented_to_the_packet_budget() -> None:
    pair = SessionPair(seed=3)
    pair.establish()
    handshake = [p for _, p in pair.wire if p[0] in (0x40, 0x41)]
    assert len(handshake) >= 4  # hybrid IK messages need two fragments each at 1100 bytes
    assert all(len(p) <= 1100 for _, p in pair.wire)


def test_unknown_identity_record_fails_after_timeout_then_recovers() -> None:
    pair = SessionPair(seed=4, records=False)
    pair.a.manager.send_datagram(pair.b.node_id, b"queued", pair.now)
    assert pair.a.manager.session_state(pair.b.node_id) is SessionState.WAITING_RECORD
    pair.run(9.0)
    assert not pair.wire and not pair.a.of(SessionHandshakeFailed)  # retries the lookup
    pair.run(2.0)
    (failed,) = pair.a.of(SessionHandshakeFailed)
    assert failed.peer == pair.b.node_id
    assert failed.reason is CloseReason.NO_IDENTITY_RECORD and failed.dropped_datagrams == 1
    assert pair.a.manager.session_state(pair.b.node_id) is None
    pair.a.manager.send_datagram(pair.b.node_id, b"again", pair.now)
    pair.run(3.0)
    pair.publish()  # the routing layer learns b's record: the retried lookup finds it
    assert pair.run(5.0, until=lambda: bool(pair.b.of(DatagramReceived)))
    assert pair.b.of(DatagramReceived) == [DatagramReceived(pair.a.node_id, b"again")]


def test_unanswered_handshake_fails_with_backoff() -> None:
    pair = SessionPair(seed=6, ab=Path(down=True))
    pair.a.manager.send_datagram(pair.b.node_id, b"x", pair.now)
    pair.run(25.0)
    (failed,) = pair.a.of(SessionHandshakeFailed)
    assert failed.reason is CloseReason.HANDSHAKE_TIMEOUT
    inits = [p for side, p in pair.wire if side == "a" and p[0] == 0x40 and p[5] == 0]
    assert 5 <= len(inits) <= 9  # 1 s doubling to 4 s over 20 s, not a flood


def test_simultaneous_open_converges_to_one_session() -> None:
    pair = SessionPair(seed=7)
    pair.a.manager.send_datagram(pair.b.node_id, b"from a", pair.now)
    pair.b.manager.send_datagram(pair.a.node_id, b"from b", pair.now)
    pair.run(5.0)
    for side in (pair.a, pair.b):
        other = pair.other(side)
        assert len(side.of(SessionEstablished)) == 1
        assert not side.of(SessionClosed) and not side.of(SessionHandshakeFailed)
        assert side.manager.session_state(other.node_id) is SessionState.ESTABLISHED
        assert len(side.manager.status(pair.now).sessions) == 1
    lower = min(pair.a, pair.b, key=lambda s: s.node_id)
    assert lower.of(SessionEstablished)[0].initiator  # the lower NodeId's attempt won
    assert pair.a.of(DatagramReceived) == [DatagramReceived(pair.b.node_id, b"from b")]
    assert pair.b.of(DatagramReceived) == [DatagramReceived(pair.a.node_id, b"from a")]


# -- datagrams -----------------------------------------------------------------------------


def test_datagrams_both_ways_and_size_limit() -> None:
    pair = SessionPair(seed=8)
    pair.establish()
    limit = pair.a.manager.max_datagram(pair.b.node_id)
    pair.a.manager.send_datagram(pair.b.node_id, b"x" * limit, pair.now)
    pair.b.manager.send_datagram(pair.a.node_id, b"pong", pair.now)
    pair.run(1.0)
    assert DatagramReceived(pair.a.node_id, b"x" * limit) in pair.b.of(DatagramReceived)
    assert pair.a.of(DatagramReceived) == [DatagramReceived(pair.b.node_id, b"pong")]
    with pytest.raises(LocalError):
        pair.a.manager.send_datagram(pair.b.node_id, b"x" * (limit + 1), pair.now)
    with pytest.raises(LocalError):
        pair.a.manager.send_datagram(pair.a.node_id, b"self", pair.now)


def test_what_a_packet_carried_outlives_the_next_packet_opened() -> None:
    """Every DATA packet is opened into one buffer of the manager: nothing delivered
    may be a view of it (the next packet would overwrite it)."""
    pair = SessionPair(seed=9)
    pair.establish()
    pair.b.reading = False  # keep the events untaken while later packets are opened
    sent = [bytes([i]) * 900 for i in range(1, 6)]
    for payload in sent:
        pair.a.manager.send_datagram(pair.b.node_id, payload, pair.now)
        pair.run(0.05)
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.manager.stream_send(stream, b"s" * 3000, pair.now)
    pair.run(0.5)
    pair.b.reading = True
    pair.b.drain(pair.now)
    assert [e.payload for e in pair.b.of(DatagramReceived)][-len(sent) :] == sent
    assert [bytes(data) for data in pair.b.received.values()] == [b"s" * 3000]


def test_queue_while_handshaking_is_bounded() -> None:
    config = SessionConfig(max_queued_datagrams=4)
    pair = SessionPair(seed=9, config=config)
    for n in range(10):
        pair.a.manager.send_datagram(pair.b.node_id, bytes([n]), pair.now)
    pair.run(2.0)
    assert [e.payload for e in pair.b.of(DatagramReceived)] == [bytes([n]) for n in range(6, 10)]
    (status,) = pair.a.manager.status(pair.now).sessions
    assert dict(status.drops)["datagram_queue_full"] == 6


def test_larger_packets_on_a_peer_with_a_bigger_budget() -> None:
    pair = SessionPair(seed=10)
    pair.a.manager.set_max_packet(pair.b.node_id, 60000)
    pair.establish()
    _transfer(pair, MB[:300_000])
    sizes = [len(p) for side, p in pair.wire if side == "a" and p[0] == 0x42]
    assert max(sizes) > 30000 and max(sizes) <= 60000
    with pytest.raises(ConfigError):
        pair.a.manager.set_max_packet(pair.b.node_id, 100)


# -- streams -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "seed"), [(0.0, 11), (0.05, 12), (0.2, 13)], ids=["clean", "5%", "20%"]
)
def test_one_megabyte_stream_under_loss_and_reordering(loss: float, seed: int) -> None:
    path = Path(loss=loss, reorder=0.1, duplicate=0.02, jitter=0.01)
    pair = SessionPair(seed=seed, ab=path, ba=Path(**vars(path)))
    pair.establish()
    _transfer(pair, MB)
    status = pair.a.manager.status(pair.now).sessions[0]
    if loss:
        assert status.retransmits > 0
    assert pair.b.manager.status(pair.now).sessions[0].bytes_received > len(MB)


def test_both_directions_and_several_streams_at_once() -> None:
    pair = SessionPair(seed=14, ab=Path(loss=0.05), ba=Path(loss=0.05))
    pair.establish()
    sent: dict[str, bytes] = {}
    for n, side in enumerate((pair.a, pair.b, pair.a, pair.b)):
        stream = side.manager.open_stream(pair.other(side).node_id, pair.now, service=n)
        data = bytes([n]) * (50_000 + n * 1000)
        side.write(stream, data, pair.now)
        sent[f"{side.name}{n}"] = data
    assert pair.run(60.0, until=lambda: len(pair.a.finished) == 2 and len(pair.b.finished) == 2)
    assert sorted(map(bytes, pair.b.received.values())) == sorted([sent["a0"], sent["a2"]])
    assert sorted(map(bytes, pair.a.received.values())) == sorted([sent["b1"], sent["b3"]])


def test_flow_control_blocks_a_sender_whose_receiver_does_not_read() -> None:
    config = SessionConfig(stream_receive_window=64 * 1024, stream_send_buffer=64 * 1024)
    pair = SessionPair(seed=15, config=config)
    pair.establish()
    pair.b.reading = False
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    pair.run(20.0)
    backlog = pair.b.manager._events  # what b holds and has not handed out
    held = sum(len(getattr(e, "data", b"")) for e in backlog)
    assert held == 64 * 1024  # exactly the window, no more
    status = pair.a.manager.status(pair.now).sessions[0]
    assert status.bytes_in_flight == 0  # blocked, not retransmitting into the void
    assert stream in pair.a.outgoing  # the application could not hand over everything
    pair.b.reading = True
    assert pair.run(60.0, until=lambda: len(pair.b.finished) == 1)
    assert bytes(next(iter(pair.b.received.values()))) == MB
    assert pair.writable_events(pair.a) > 0


def test_stream_survives_a_thirty_second_outage() -> None:
    pair = SessionPair(seed=16)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    assert pair.run(10.0, until=lambda: sum(map(len, pair.b.received.values())) > 300_000)
    for path in pair.paths.values():
        path.down = True  # the relay in the middle fails
    pair.run(30.0)
    assert not pair.b.finished
    for path in pair.paths.values():
        path.down = False
        path.delay = 0.05  # the route heals over another, slower path
    before = sum(map(len, pair.b.received.values()))
    assert pair.run(3.0, until=lambda: sum(map(len, pair.b.received.values())) > before)
    assert pair.run(60.0, until=lambda: len(pair.b.finished) == 1)
    assert bytes(next(iter(pair.b.received.values()))) == MB
    for side in (pair.a, pair.b):
        assert not side.of(SessionClosed)


def test_path_change_hint_and_without_it() -> None:
    pair = SessionPair(seed=17)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    pair.run(0.3)
    pair.paths["a"].delay = pair.paths["b"].delay = 0.15
    pair.a.manager.path_changed(pair.b.node_id, pair.now)
    pair.run(0.5)
    pair.paths["a"].delay = pair.paths["b"].delay = 0.005  # and back, unannounced
    assert pair.run(60.0, until=lambda: len(pair.b.finished) == 1)
    assert bytes(next(iter(pair.b.received.values()))) == MB


def test_stream_reset_reaches_the_peer() -> None:
    pair = SessionPair(seed=18)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now, service=3)
    pair.a.manager.stream_send(stream, b"partial", pair.now)
    pair.run(0.5)
    (opened,) = pair.b.of(StreamOpened)
    pair.a.manager.stream_reset(stream, pair.now, 42)
    pair.run(0.5)
    assert pair.b.of(StreamReset) == [StreamReset(opened.stream, 42)]
    with pytest.raises(StateError):
        pair.a.manager.stream_send(stream, b"more", pair.now)
    with pytest.raises(StateError):
        pair.b.manager.stream_send(opened.stream, b"reply", pair.now)  # peer stopped it
    assert pair.a.manager.status(pair.now).sessions[0].streams == 0
    assert pair.b.manager.status(pair.now).sessions[0].streams == 0


def test_stream_limits_and_stream_credit() -> None:
    config = SessionConfig(max_streams=4)
    pair = SessionPair(seed=19, config=config)
    pair.establish()
    streams = [pair.a.manager.open_stream(pair.b.node_id, pair.now) for _ in range(4)]
    with pytest.raises(StateError):
        pair.a.manager.open_stream(pair.b.node_id, pair.now)
    for n in range(20):  # many streams in turn: closing them returns stream credit
        for stream in streams:
            pair.a.write(stream, b"x", pair.now)
        pair.run(1.0)
        for opened in pair.b.of(StreamOpened)[-4:]:
            pair.b.manager.stream_close(opened.stream, pair.now)
        pair.run(1.0)
        assert len(pair.b.finished) == 4 * (n + 1)
        streams = [pair.a.manager.open_stream(pair.b.node_id, pair.now) for _ in range(4)]
    assert len(pair.b.of(StreamOpened)) == 80


# -- keys ----------------------------------------------------------------------------------


def test_rekey_during_a_transfer_loses_nothing() -> None:
    config = SessionConfig(rekey_after_packets=150, old_keys_grace=1.0)
    path = Path(loss=0.02, reorder=0.1, jitter=0.01)
    pair = SessionPair(seed=20, config=config, ab=path, ba=Path(**vars(path)))
    pair.establish()
    _transfer(pair, MB)
    for side in (pair.a, pair.b):
        assert side.manager.status(pair.now).sessions[0].rekeys >= 3
        assert not side.of(SessionClosed)
    pair.run(5.0)  # the grace period passes: only the current epoch's keys remain
    session = pair.a.manager._sessions[pair.b.node_id]
    assert session.keys is not None and session.keys.previous is None


def test_rekey_on_time_keeps_a_quiet_session() -> None:
    config = SessionConfig(rekey_after_time=5.0, reject_after_time=8.0, keepalive_interval=2.0)
    pair = SessionPair(seed=21, config=config)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)  # open streams: keepalives
    for _ in range(6):
        pair.a.manager.stream_send(stream, b"tick", pair.now)
        pair.run(4.0)
    assert pair.a.manager.status(pair.now).sessions[0].rekeys >= 3
    assert bytes(next(iter(pair.b.received.values()))) == b"tick" * 6
    assert not pair.a.of(SessionClosed)


# -- endings -------------------------------------------------------------------------------


def test_idle_sessions_expire() -> None:
    pair = SessionPair(seed=22)
    pair.establish()
    pair.run(89.0)
    assert pair.a.manager.session_state(pair.b.node_id) is SessionState.ESTABLISHED
    pair.run(10.0)
    for side in (pair.a, pair.b):
        (closed,) = side.of(SessionClosed)
        assert closed.reason is CloseReason.IDLE_TIMEOUT
        assert side.manager.session_state(pair.other(side).node_id) is None
    pair.run(5.0)
    assert pair.a.manager.status(pair.now).sessions == ()
    assert pair.a.manager.get_timer() is None


def test_close_reaches_the_peer_and_streams_are_reset() -> None:
    pair = SessionPair(seed=23)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.manager.stream_send(stream, b"data", pair.now)
    pair.run(0.5)
    pair.a.manager.close_session(pair.b.node_id, pair.now)
    pair.run(5.0)
    expected = SessionClosed(
        peer=pair.b.node_id, reason=CloseReason.NORMAL, detail="normal", by_peer=False
    )
    assert pair.a.of(SessionClosed) == [expected]
    (closed,) = pair.b.of(SessionClosed)
    assert closed.by_peer and closed.reason is CloseReason.NORMAL
    (reset,) = pair.b.of(StreamReset)
    assert reset.code == StreamErrorCode.SESSION_CLOSED
    with pytest.raises(StateError):
        pair.a.manager.stream_send(stream, b"late", pair.now)


def test_a_restarted_peer_gets_a_fresh_session() -> None:
    pair = SessionPair(seed=24)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.manager.stream_send(stream, b"before", pair.now)
    pair.run(0.5)
    pair.b = pair._side("b", pair.b.identity, pair.b.manager.config, pair.entropy)  # restart
    pair.a.manager.stream_send(stream, b"after", pair.now)  # lands on keys b forgot
    pair.run(10.0)
    assert pair.b.of(SessionEstablished)  # b reopened towards a
    reasons = [e.reason for e in pair.a.of(SessionClosed)]
    assert reasons == [CloseReason.REPLACED]
    lifecycle = [e for e in pair.a.events if isinstance(e, SessionClosed | SessionEstablished)]
    assert [type(e) for e in lifecycle] == [SessionEstablished, SessionClosed, SessionEstablished]
    assert pair.a.of(StreamReset) == [StreamReset(stream, StreamErrorCode.SESSION_CLOSED)]
    pair.a.manager.send_datagram(pair.b.node_id, b"new life", pair.now)
    pair.run(1.0)
    assert DatagramReceived(pair.a.node_id, b"new life") in pair.b.of(DatagramReceived)


def test_session_table_is_bounded() -> None:
    config = SessionConfig(max_sessions=2)
    pair = SessionPair(seed=25, config=config)
    strangers = [NodeId(bytes([n]) * 32) for n in (1, 2, 3)]
    for stranger in strangers:
        pair.a.manager.send_datagram(stranger, b"x", pair.now)
    pair.run(1.0)
    states = [pair.a.manager.session_state(s) for s in strangers]
    assert states.count(None) == 1  # the idlest was evicted for the newest
    assert len(pair.a.manager.status(pair.now).sessions) == 2


def test_a_lost_close_is_repeated_while_lingering() -> None:
    pair = SessionPair(seed=26)
    pair.establish()
    pair.paths["a"].down = True
    pair.a.manager.close_session(pair.b.node_id, pair.now)
    pair.flush()  # the CLOSE is lost
    pair.paths["a"].down = False
    pair.run(0.5)
    assert not pair.b.of(SessionClosed)
    pair.b.manager.send_datagram(pair.a.node_id, b"anyone there?", pair.now)
    pair.run(1.0)
    (closed,) = pair.b.of(SessionClosed)
    assert closed.by_peer and closed.reason is CloseReason.NORMAL
    assert DatagramReceived(pair.b.node_id, b"anyone there?") not in pair.a.of(DatagramReceived)


def test_a_smaller_budget_mid_transfer_cuts_retransmissions_too() -> None:
    pair = SessionPair(seed=27, ab=Path(loss=0.1), ba=Path(loss=0.1))
    pair.a.manager.set_max_packet(pair.b.node_id, 20000)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    pair.run(0.2)
    pair.a.manager.send_datagram(pair.b.node_id, b"d" * 5000, pair.now)  # queued, too big soon
    pair.a.manager.set_max_packet(pair.b.node_id, 600)  # the route moved to a narrow path
    pair.wire.clear()
    assert pair.run(120.0, until=lambda: len(pair.b.finished) == 1)
    assert bytes(next(iter(pair.b.received.values()))) == MB
    assert max(len(p) for side, p in pair.wire if side == "a") <= 600
    (status,) = pair.a.manager.status(pair.now).sessions
    assert status.max_packet == 600 and dict(status.drops)["datagram_too_large"] == 1


def test_a_wide_window_goes_out_in_bursts_with_a_timer_for_the_rest() -> None:
    config = SessionConfig(
        max_packet=65000, stream_receive_window=4 * MiB, session_receive_window=8 * MiB
    )
    pair = SessionPair(seed=31, config=config)
    pair.establish()
    session = pair.a.manager._sessions[pair.b.node_id]
    session.recovery.cc.cwnd = 4 * MiB  # a path that took megabytes without a loss
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.manager.stream_send(stream, bytes(3 * MiB), pair.now)
    first = pair.a.manager.packets_to_send(pair.now)
    burst = sum(len(packet) for _, packet in first)
    assert 256 * 1024 <= burst < 256 * 1024 + 65000  # one burst, not the whole window
    assert pair.a.manager.get_timer() == pair.now  # the rest is due at once
    second = pair.a.manager.packets_to_send(pair.now)
    assert sum(len(packet) for _, packet in second) >= 256 * 1024


def _wide_pair(seed: int) -> tuple[SessionPair, int]:
    config = SessionConfig(
        max_packet=65000, stream_receive_window=4 * MiB, session_receive_window=8 * MiB
    )
    pair = SessionPair(seed=seed, config=config)
    pair.establish()
    pair.a.manager._sessions[pair.b.node_id].recovery.cc.cwnd = 4 * MiB
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.manager.stream_send(stream, b"o", pair.now)  # the opening goes out alone
    pair.a.manager.packets_to_send(pair.now)
    return pair, stream


def test_a_part_filled_tail_waits_for_the_next_write() -> None:
    pair, stream = _wide_pair(33)
    manager, piece = pair.a.manager, bytes(range(256)) * 256  # 64 KiB: a packet and a bit
    manager.stream_send(stream, piece, pair.now)
    (full,) = manager.packets_to_send(pair.now)
    assert len(full[1]) > 64_900  # the tail did not follow in a runt
    assert manager.get_timer() == pair.now  # it is due at once if nothing else comes
    sizes = []
    for _ in range(8):
        manager.stream_send(stream, piece, pair.now)
        sizes += [len(packet) for _, packet in manager.packets_to_send(pair.now)]
    assert len(sizes) == 8 and min(sizes) > 64_900  # each write fills one with the last tail
    (tail,) = manager.packets_to_send(pair.now)  # the timer: no write came, it goes out
    assert len(tail[1]) < 10_000
    pair.b.manager.receive_packet(pair.a.node_id, bytes(full[1]), pair.now)
    assert manager.packets_to_send(pair.now) == []  # nothing held back any more


def test_a_tail_is_never_held_with_its_fin_or_behind_other_frames() -> None:
    pair, stream = _wide_pair(34)
    manager, piece = pair.a.manager, bytes(70_000)
    manager.stream_send(stream, piece, pair.now)
    manager.stream_close(stream, pair.now)
    assert len(manager.packets_to_send(pair.now)) == 2  # the FIN rides on the tail at once
    other = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    manager.stream_send(other, piece, pair.now)
    manager.send_datagram(pair.b.node_id, bytes(40_000), pair.now)  # the first takes one
    manager.send_datagram(pair.b.node_id, bytes(40_000), pair.now)  # the second: no holding
    sent = manager.packets_to_send(pair.now)
    assert len(sent) == 2  # a datagram each, the rest of the room stream bytes
    assert manager.get_timer() == pair.now  # only then is the tail (20,000 B) held


def test_packets_delivered_as_views_are_opened_in_place() -> None:
    pair = SessionPair(seed=35, ab=Path(loss=0.05, duplicate=0.05), ba=Path(loss=0.05))
    pair.views = True
    pair.establish()
    _transfer(pair, MB[:200_000])
    assert pair.b.manager.status(pair.now).sessions[0].packets_received > 100


def test_handle_timer_runs_a_changed_session_not_yet_sent() -> None:
    # Deadlines are filed when a session leaves the dirty set; handle_timer files the
    # dirty ones first, so a session never asked for packets still times out.
    pair = SessionPair(seed=36, records=False)
    manager = pair.a.manager
    manager.send_datagram(pair.b.node_id, b"waiting for a record", pair.now)
    assert manager.get_timer() == pair.now  # dirty: the caller should ask for packets
    manager.handle_timer(pair.now + SessionConfig().record_timeout)
    while (event := manager.next_event()) is not None:
        pair.a.events.append(event)
    (failed,) = pair.a.of(SessionHandshakeFailed)
    assert failed.reason is CloseReason.NO_IDENTITY_RECORD


def test_receive_windows_grow_while_the_reader_keeps_up() -> None:
    pair = SessionPair(seed=32, config=SessionConfig(max_packet=65000))
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, bytes(16 * MiB), pair.now)
    assert pair.run(60.0, until=lambda: len(pair.b.finished) == 1)
    streams = pair.b.manager._sessions[pair.a.node_id].streams
    assert streams.recv_window == SessionConfig().max_session_receive_window
    assert sum(map(len, pair.b.received.values())) == 16 * MiB


def test_receive_windows_stay_when_nobody_reads() -> None:
    pair = SessionPair(seed=33, config=SessionConfig(max_packet=65000))
    pair.establish()
    pair.b.reading = False
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, bytes(4 * MiB), pair.now)
    pair.run(20.0)
    held = sum(len(getattr(e, "data", b"")) for e in pair.b.manager._events)
    assert held == SessionConfig().stream_receive_window  # the first window, not grown


def _budget(side: Side, peer: NodeId) -> int:
    return side.manager._sessions[peer].max_packet


def test_a_stream_path_lets_the_sender_use_large_packets() -> None:
    pair = SessionPair(seed=34, ab=Path(room=65535))  # a -> b: every link is TCP
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    assert pair.run(30.0, until=lambda: len(pair.b.finished) == 1)
    assert bytes(next(iter(pair.b.received.values()))) == MB
    assert _budget(pair.a, pair.b.node_id) == 65535  # b reported the room with its ACKs
    assert _budget(pair.b, pair.a.node_id) == 1100  # b -> a is not a stream path
    sizes = [len(packet) for side, packet in pair.wire if side == "a"]
    assert max(sizes) == 65535
    pair.a.manager.path_changed(pair.b.node_id, pair.now)
    assert _budget(pair.a, pair.b.node_id) == 1100  # back to the base until b reports


def test_the_budget_falls_back_when_a_datagram_link_joins_the_path() -> None:
    pair = SessionPair(seed=35, ab=Path(room=65535))
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now, close=False)
    pair.run(2.0)
    assert _budget(pair.a, pair.b.node_id) == 65535
    pair.paths["a"].room = 0  # the route now crosses a UDP link
    pair.a.write(stream, MB, pair.now)
    assert pair.run(30.0, until=lambda: len(pair.b.finished) == 1)
    assert _budget(pair.a, pair.b.node_id) == 1100
    assert bytes(next(iter(pair.b.received.values()))) == MB + MB


def test_no_path_room_is_reported_on_datagram_paths() -> None:
    pair = SessionPair(seed=36)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, MB, pair.now)
    assert pair.run(30.0, until=lambda: len(pair.b.finished) == 1)
    assert pair.b.manager._sessions[pair.a.node_id].out.room_reported == 0
    assert _budget(pair.a, pair.b.node_id) == 1100
    assert max(len(packet) for _, packet in pair.wire) <= 1100


def test_window_growth_comes_from_a_node_wide_budget_given_back_at_the_end() -> None:
    config = SessionConfig(max_packet=65000, max_grown_receive_memory=3 * MiB)
    pair = SessionPair(seed=34, config=config)
    pair.establish()
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, bytes(16 * MiB), pair.now)
    assert pair.run(60.0, until=lambda: len(pair.b.finished) == 1)
    assert sum(map(len, pair.b.received.values())) == 16 * MiB  # slower, still complete
    budget = pair.b.manager.receive_budget
    streams = pair.b.manager._sessions[pair.a.node_id].streams
    assert streams.recv_window <= config.session_receive_window + 3 * MiB
    assert budget.used == streams.recv_window - config.session_receive_window > 0
    pair.b.manager.close_session(pair.a.node_id, pair.now)
    pair.run(30.0)
    assert budget.used == 0  # the ended session gave its growth back


def test_receive_budget_grants_what_is_left_and_takes_back_what_ended() -> None:
    budget = ReceiveBudget(10)
    assert (budget.grant(4), budget.grant(4), budget.grant(4), budget.grant(1)) == (4, 4, 2, 0)
    budget.release(6)
    assert budget.used == 4 and budget.grant(100) == 6
    budget.release(1000)
    assert budget.used == 0


def test_the_receive_buffer_is_made_at_the_first_data_packet() -> None:
    """A manager that never receives end-to-end data (a pure relay; each of 1,000
    in-memory nodes of a benchmark or a simulation) holds no 64 KiB buffer for it."""
    pair = SessionPair(seed=4)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        spare = SessionManager(
            identity=pair.a.identity,
            config=SessionConfig(),
            entropy=SeededEntropy(4, "spare"),
            verifier=pair.verifier,
            lookup_record=pair.directory.get,
        )
        assert tracemalloc.get_traced_memory()[0] - before < MAX_PACKET_LIMIT // 2
        pair.establish()
        established = tracemalloc.get_traced_memory()[0]
        pair.a.manager.send_datagram(pair.b.node_id, b"in a DATA packet", pair.now)
        pair.run(0.05)
        assert tracemalloc.get_traced_memory()[0] - established >= MAX_PACKET_LIMIT
    finally:
        tracemalloc.stop()
    assert [e.payload for e in pair.b.of(DatagramReceived)] == [b"hello", b"in a DATA packet"]
    assert spare.status(pair.now).sessions == ()
