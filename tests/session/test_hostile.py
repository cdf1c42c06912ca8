"""Hostile input: random bytes, mutated packets, replays, rule-breaking peers, and what a
relay in the middle gets to see."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.session.pair import Path, SessionPair, Side

from meshnet.crypto.entropy import SeededEntropy
from meshnet.session.config import SessionConfig
from meshnet.session.events import (
    DatagramReceived,
    SessionClosed,
    StreamDataReceived,
)
from meshnet.session.frames import (
    Ack,
    CloseReason,
    Frame,
    MaxStreams,
    Stream,
    encode_frame,
)
from meshnet.session.packets import PacketType
from meshnet.session.state import SessionState
from meshnet.wire.buffer import Writer

SECRET = b"TOP-SECRET-PLAINTEXT-" * 8


def _established() -> SessionPair:
    pair = SessionPair(seed=31)
    pair.establish()
    return pair


def _drops(side: Side) -> int:
    status = side.manager.status(0.0)
    return sum(n for _, n in status.drops) + sum(n for s in status.sessions for _, n in s.drops)


def _seal(pair: SessionPair, frames: list[Frame], pn: int = 10_000) -> bytes:
    """A packet from a to b, sealed under a's real keys (a buggy or hostile peer)."""
    session = pair.a.manager._sessions[pair.b.node_id]
    assert session.keys is not None
    writer = Writer().varint(pn)
    for frame in frames:
        encode_frame(frame, writer)
    return bytes(session.keys.seal(bytes(writer), pair.now))


def test_random_bytes_are_only_counted_drops() -> None:
    pair = _established()
    entropy = SeededEntropy(7, "fuzz")
    for n in range(3000):
        size = entropy.random_below(1400)
        data = entropy.random_bytes(size)
        if n % 3 == 0 and data:  # make the type byte plausible
            data = bytes([0x40 + n % 3]) + data[1:]
        pair.inject(pair.b, data)
    assert _drops(pair.b) > 0
    assert not pair.b.of(SessionClosed)
    pair.a.manager.send_datagram(pair.b.node_id, b"still fine", pair.now)
    pair.run(1.0)
    assert DatagramReceived(pair.a.node_id, b"still fine") in pair.b.of(DatagramReceived)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_real_packets_are_dropped_not_raised(data: st.DataObject) -> None:
    pair = SessionPair(seed=32)
    pair.establish()
    pair.a.manager.send_datagram(pair.b.node_id, b"payload", pair.now)
    pair.capture = True
    pair.wire.clear()
    pair.run(0.01)
    packets = [p for side, p in pair.wire if side == "a"]
    packet = bytearray(data.draw(st.sampled_from(packets)))
    position = data.draw(st.integers(0, len(packet) - 1))
    packet[position] ^= data.draw(st.integers(1, 255))
    before = len(pair.b.of(DatagramReceived))
    pair.inject(pair.b, bytes(packet))
    assert len(pair.b.of(DatagramReceived)) <= before + 1
    assert not pair.b.of(SessionClosed)


def test_handshake_fragments_from_strangers_are_bounded() -> None:
    pair = _established()
    entropy = SeededEntropy(8, "frag")
    for sender in range(1, 500):
        header = bytes([PacketType.HANDSHAKE_INIT]) + sender.to_bytes(4, "big") + b"\x00\x03"
        pair.inject(pair.b, header + entropy.random_bytes(200))
    assert len(pair.b.manager._assembly) <= pair.b.manager._assembly.max_pending
    assert pair.b.manager.session_state(pair.a.node_id) is SessionState.ESTABLISHED


def test_replayed_packets_are_dropped() -> None:
    pair = _established()
    pair.wire.clear()
    pair.a.manager.send_datagram(pair.b.node_id, b"once", pair.now)
    pair.run(0.5)
    (packet,) = [p for side, p in pair.wire if side == "a" and p[0] == PacketType.DATA][:1]
    for _ in range(3):
        pair.inject(pair.b, packet)
    assert pair.b.of(DatagramReceived).count(DatagramReceived(pair.a.node_id, b"once")) == 1
    assert dict(pair.b.manager.status(pair.now).drops)["replay"] == 3


def test_replayed_handshake_does_not_disturb_the_session() -> None:
    pair = SessionPair(seed=33)
    pair.establish()
    inits = [p for side, p in pair.wire if side == "a" and p[0] == PacketType.HANDSHAKE_INIT]
    for packet in inits:  # an attacker replays a's first INIT later
        pair.inject(pair.b, packet)
    pair.run(30.0)
    assert not pair.b.of(SessionClosed) and not pair.a.of(SessionClosed)
    pair.a.manager.send_datagram(pair.b.node_id, b"after", pair.now)
    pair.run(1.0)
    assert DatagramReceived(pair.a.node_id, b"after") in pair.b.of(DatagramReceived)


def test_relay_sees_only_ciphertext() -> None:
    pair = SessionPair(seed=34)
    pair.a.manager.send_datagram(pair.b.node_id, SECRET, pair.now)  # queued in the handshake
    stream = pair.a.manager.open_stream(pair.b.node_id, pair.now)
    pair.a.write(stream, SECRET * 50, pair.now)
    pair.run(5.0)
    assert DatagramReceived(pair.a.node_id, SECRET) in pair.b.of(DatagramReceived)
    assert bytes(pair.b.received[next(iter(pair.b.received))]) == SECRET * 50
    assert pair.wire
    needles = [SECRET[i : i + 16] for i in range(0, len(SECRET) - 16, 8)]
    for _, packet in pair.wire:
        assert packet[0] in (0x40, 0x41, 0x42)
        for needle in needles:
            assert needle not in packet
    assert all(pair.a.node_id.raw not in p for _, p in pair.wire)  # identities travel sealed


def test_an_ack_for_packets_never_sent_closes_the_session() -> None:
    pair = _established()
    pair.inject(pair.b, _seal(pair, [Ack(((10**6, 10**6),), 0)]))
    (closed,) = pair.b.of(SessionClosed)
    assert closed.reason is CloseReason.PROTOCOL_ERROR and not closed.by_peer
    pair.run(5.0)
    (peer_view,) = pair.a.of(SessionClosed)
    assert peer_view.by_peer and peer_view.reason is CloseReason.PROTOCOL_ERROR


def test_data_beyond_the_credit_closes_the_session() -> None:
    pair = _established()
    window = pair.b.manager.config.stream_receive_window
    frames: list[Frame] = [Stream(0 if pair.a.node_id < pair.b.node_id else 1, window, b"x")]
    pair.inject(pair.b, _seal(pair, frames))
    (closed,) = pair.b.of(SessionClosed)
    assert closed.reason is CloseReason.PROTOCOL_ERROR
    assert not pair.b.of(StreamDataReceived)


def test_streams_beyond_the_stream_credit_close_the_session() -> None:
    pair = _established()
    bit = 0 if pair.a.node_id < pair.b.node_id else 1
    limit = pair.b.manager.config.max_streams
    pair.inject(pair.b, _seal(pair, [Stream(limit << 1 | bit, 0, b"x", service=1)]))
    (closed,) = pair.b.of(SessionClosed)
    assert "credit" in closed.detail


def test_undecodable_frames_in_an_authentic_packet_close_the_session() -> None:
    pair = _established()
    session = pair.a.manager._sessions[pair.b.node_id]
    assert session.keys is not None
    pair.inject(pair.b, bytes(session.keys.seal(b"\x05\x7f", pair.now)))  # pn 5, unknown frame
    (closed,) = pair.b.of(SessionClosed)
    assert closed.reason is CloseReason.PROTOCOL_ERROR


def test_a_peer_raising_its_own_credit_is_harmless() -> None:
    pair = _established()
    pair.inject(pair.b, _seal(pair, [MaxStreams(10**9)]))
    assert not pair.b.of(SessionClosed)


def test_a_forged_response_makes_the_initiator_start_afresh() -> None:
    pair = SessionPair(seed=35, ab=Path(delay=0.5), ba=Path(delay=0.5))
    pair.a.manager.send_datagram(pair.b.node_id, b"through", pair.now)
    pair.flush()
    (init, *_) = [p for side, p in pair.wire if side == "a"]
    index = init[1:5]
    forged = bytes([PacketType.HANDSHAKE_RESPONSE]) + b"\x00\x00\x00\x07" + index + b"\x00\x01"
    pair.inject(pair.a, forged + b"garbage that is no Noise message")
    assert dict(pair.a.manager.status(pair.now).drops)["handshake"] == 1
    assert pair.a.manager.session_state(pair.b.node_id) is SessionState.INITIATING
    pair.flush()
    inits = {p[1:5] for side, p in pair.wire if side == "a" and p[0] == PacketType.HANDSHAKE_INIT}
    assert len(inits) == 2  # a fresh attempt under a new index went out at once
    assert pair.run(10.0, until=lambda: bool(pair.b.of(DatagramReceived)))
    assert pair.b.of(DatagramReceived) == [DatagramReceived(pair.a.node_id, b"through")]


def test_init_floods_are_rate_limited() -> None:
    config = SessionConfig(handshake_rate=5.0, handshake_burst=10)
    pair = SessionPair(seed=36, config=config)
    strangers = [SessionPair(seed=100 + n) for n in range(15)]
    for stranger in strangers:
        stranger.directory[pair.b.node_id] = pair.b.identity.record
        stranger.a.manager.send_datagram(pair.b.node_id, b"x", 0.0)
        for destination, packet in stranger.a.manager.packets_to_send(0.0):
            assert destination == pair.b.node_id
            pair.b.manager.receive_packet(stranger.a.node_id, bytes(packet), 0.0)
    drops = dict(pair.b.manager.status(0.0).drops)
    assert drops["handshake_rate"] == 5
    assert len(pair.b.manager.status(0.0).sessions) == 10
