"""The link layer end to end on explicit time: handshake, data, faults, hostile peers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.link.pair import LinkPair, identity

from meshnet.errors import LocalError, StateError
from meshnet.ids import LinkId, TransportId
from meshnet.link.config import LinkConfig
from meshnet.link.events import (
    LinkClosed,
    LinkEstablished,
    LinkHandshakeFailed,
    LinkMeasured,
    LinkPayloadReceived,
    LinkRekeyed,
)
from meshnet.link.messages import CloseReason, FrameType
from meshnet.wire.headroom import Headroom

T1 = TransportId(1)


def payloads(side) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [bytes(e.payload) for e in side.of(LinkPayloadReceived)]


@pytest.mark.parametrize("datagram", [True, False], ids=["datagram", "stream"])
@pytest.mark.parametrize("hybrid", [True, False], ids=["hybrid", "classic"])
def test_handshake_proves_both_identities(datagram: bool, hybrid: bool) -> None:
    pair = LinkPair(datagram=datagram, config=LinkConfig(hybrid=hybrid))
    (ea,) = pair.a.of(LinkEstablished)
    (eb,) = pair.b.of(LinkEstablished)
    assert ea.peer == pair.b.node_id and ea.outbound
    assert eb.peer == pair.a.node_id and not eb.outbound
    assert ea.peer_record.static_public == pair.b.identity.record.static_public
    assert pair.a.manager.link_to(pair.b.node_id) == ea.link
    kinds = [frame[0] for _, _, frame in pair.wire[:3]]
    if not datagram or not hybrid:  # hybrid messages are fragmented on a 1200-byte MTU
        assert kinds == [
            FrameType.HANDSHAKE_INIT,
            FrameType.HANDSHAKE_RESPONSE,
            FrameType.HANDSHAKE_FINISH,
        ]


@pytest.mark.parametrize("datagram", [True, False], ids=["datagram", "stream"])
def test_payloads_both_ways_in_order(datagram: bool) -> None:
    pair = LinkPair(datagram=datagram)
    la = pair.a.manager.link_to(pair.b.node_id)
    lb = pair.b.manager.link_to(pair.a.node_id)
    assert la is not None and lb is not None
    sent = [bytes([i]) * (i * 37) for i in range(50)]
    for p in sent:
        pair.a.manager.send(la, p, pair.now)
        pair.b.manager.send(lb, p[::-1], pair.now)
    pair.flow()
    assert payloads(pair.b) == sent
    assert payloads(pair.a) == [p[::-1] for p in sent]


def test_a_payload_with_room_arrives_as_the_same_bytes() -> None:
    pair = LinkPair(datagram=False)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    sent = [b"routed packet", bytes(range(256)) * 256]
    roomy = Headroom.allocate(len(sent[0]), room=4)
    roomy.view()[:] = sent[0]
    pair.a.manager.send(la, roomy, pair.now)
    tight = Headroom(bytearray(sent[1]), 0)  # no room: joined, still the same bytes
    pair.a.manager.send(la, tight, pair.now)
    pair.flow()
    assert roomy.room == 3  # the inner type went into the room
    assert payloads(pair.b) == sent


def test_large_payload_is_fragmented_on_datagram_links() -> None:
    pair = LinkPair(datagram=True, mtu=1200)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    big = bytes(range(256)) * 256  # 64 KiB
    pair.a.manager.send(la, big, pair.now)
    frames = pair.take(pair.a)
    assert len(frames) > 50 and all(len(f) <= 1200 for _, f in frames)
    pair.deliver(pair.a, frames)
    assert payloads(pair.b) == [big]


def test_payload_over_limit_is_a_local_error() -> None:
    pair = LinkPair(config=LinkConfig(max_payload=1000))
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    with pytest.raises(LocalError, match="over the link limit"):
        pair.a.manager.send(la, bytes(1001), pair.now)
    with pytest.raises(StateError):
        pair.a.manager.send(LinkId(99), b"x", pair.now)


def test_relayed_bytes_are_ciphertext() -> None:
    pair = LinkPair(datagram=False)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    secret = b"the eagle lands at midnight" * 3
    pair.a.manager.send(la, secret, pair.now)
    pair.flow()
    assert payloads(pair.b) == [secret]
    assert all(b"eagle" not in frame for _, _, frame in pair.wire)


def test_expected_peer_mismatch_is_refused() -> None:
    stranger = identity(99, "mallory")
    pair = LinkPair(expect=stranger.node_id)
    assert not pair.a.of(LinkEstablished)
    (failed,) = pair.a.of(LinkHandshakeFailed)
    assert failed.reason is CloseReason.PEER_MISMATCH
    assert stranger.node_id.short() in failed.detail
    assert pair.a.manager.link_to(pair.b.node_id) is None


def test_expected_peer_match_is_accepted() -> None:
    b = identity(1, "b")
    pair = LinkPair(expect=b.node_id)
    assert pair.a.of(LinkEstablished)


@pytest.mark.parametrize("message", [0, 1, 2])
def test_flipped_handshake_byte_fails_cleanly(message: int) -> None:
    """Flipping any byte of a handshake message ends the handshake; nothing raises."""
    for position in (0, 5, 9, 40, 200, -1):
        pair = LinkPair(datagram=False, connect=False)
        seen = {"n": 0}

        def flip(
            sender: str,
            tid: TransportId,
            frame: bytes,
            position: int = position,
            seen: dict[str, int] = seen,
        ) -> bytes:
            index = seen["n"]
            seen["n"] += 1
            if index != message:
                return frame
            data = bytearray(frame)
            data[position] ^= 0x40
            return bytes(data)

        pair.filter = flip
        pair.open(T1)
        assert not (pair.a.of(LinkEstablished) and pair.b.of(LinkEstablished))
        assert pair.a.manager.status(pair.now).drops or pair.b.manager.status(pair.now).drops


def test_datagram_replays_duplicates_and_bitflips_are_dropped() -> None:
    pair = LinkPair(datagram=True)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    for i in range(5):
        pair.a.manager.send(la, b"m%d" % i, pair.now)
    frames = pair.take(pair.a)
    reordered = [frames[3], frames[0], frames[4], frames[1], frames[2]]
    pair.deliver(pair.a, reordered)
    pair.deliver(pair.a, frames)  # every one again: duplicates
    pair.a.manager.send(la, b"fresh", pair.now)
    ((tid, fresh),) = pair.take(pair.a)
    flipped = bytearray(fresh)
    flipped[-1] ^= 1
    pair.deliver(pair.a, [(tid, bytes(flipped))])
    assert sorted(payloads(pair.b)) == [b"m%d" % i for i in range(5)]
    drops = dict(pair.b.manager.status(pair.now).links[0].drops)
    assert drops["replay"] == 5
    assert drops["authentication"] == 1
    assert pair.b.manager.link_to(pair.a.node_id) is not None  # still up


def test_datagram_counter_behind_window_is_dropped() -> None:
    pair = LinkPair(datagram=True, config=LinkConfig(replay_window=64))
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    pair.a.manager.send(la, b"old", pair.now)
    old = pair.take(pair.a)
    for i in range(100):
        pair.a.manager.send(la, b"new%d" % i, pair.now)
    pair.flow()
    pair.deliver(pair.a, old)
    assert b"old" not in payloads(pair.b)
    assert dict(pair.b.manager.status(pair.now).links[0].drops)["replay"] == 1


def test_stream_authentication_failure_closes_the_link() -> None:
    pair = LinkPair(datagram=False)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    pair.a.manager.send(la, b"hello", pair.now)
    (tid, frame), *_ = pair.take(pair.a)
    bad = bytearray(frame)
    bad[20] ^= 0xFF
    pair.deliver(pair.a, [(tid, bytes(bad))])
    (closed,) = pair.b.of(LinkClosed)
    assert closed.reason is CloseReason.AUTHENTICATION_FAILED
    assert CloseTransport_for(pair.b, tid)


def CloseTransport_for(side, tid: TransportId) -> bool:  # type: ignore[no-untyped-def]
    side.manager.datagrams_to_send(0.0)
    side.drain()
    return any(c.transport == tid for c in side.commands)


def test_stream_out_of_sequence_closes_the_link() -> None:
    pair = LinkPair(datagram=False)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    pair.a.manager.send(la, b"one", pair.now)
    pair.a.manager.send(la, b"two", pair.now)
    _first, second = pair.take(pair.a)
    pair.deliver(pair.a, [second])
    (closed,) = pair.b.of(LinkClosed)
    assert closed.reason is CloseReason.PROTOCOL_ERROR


def test_close_reaches_the_peer_with_its_reason() -> None:
    pair = LinkPair()
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    pair.a.manager.close(la, pair.now, CloseReason.SHUTDOWN)
    pair.flow()
    (mine,) = pair.a.of(LinkClosed)
    (theirs,) = pair.b.of(LinkClosed)
    assert mine.reason is CloseReason.SHUTDOWN and not mine.by_peer
    assert theirs.reason is CloseReason.SHUTDOWN and theirs.by_peer
    assert pair.a.manager.link_to(pair.b.node_id) is None
    assert pair.b.manager.link_to(pair.a.node_id) is None


def test_probes_measure_rtt_and_loss() -> None:
    pair = LinkPair(datagram=True, config=LinkConfig(probe_interval=5.0))
    pair.advance(30)
    status = pair.a.manager.status(pair.now).links[0]
    assert status.srtt is not None and status.srtt >= 0
    assert status.loss == 0.0
    assert any(e.rtt is not None for e in pair.a.of(LinkMeasured))
    # now drop every probe echo: loss samples appear
    pair.filter = lambda s, t, f: None if s == "b" else f
    pair.advance(20)
    assert any(e.lost for e in pair.a.of(LinkMeasured))
    assert pair.a.manager.status(pair.now).links[0].loss > 0.1


def test_silent_peer_times_out() -> None:
    config = LinkConfig(dead_peer_timeout=12.0, keepalive_interval=5.0)
    pair = LinkPair(config=config)
    pair.filter = lambda s, t, f: None  # the wire goes dead both ways
    pair.advance(13)
    assert pair.a.of(LinkClosed)[0].reason is CloseReason.PEER_TIMEOUT
    assert pair.b.of(LinkClosed)[0].reason is CloseReason.PEER_TIMEOUT


def test_idle_link_stays_up_on_keepalives_and_probes() -> None:
    pair = LinkPair()
    pair.advance(100)
    assert not pair.a.of(LinkClosed) and not pair.b.of(LinkClosed)


def test_rekey_after_time_replaces_keys_without_losing_frames() -> None:
    pair = LinkPair(datagram=True)
    la = pair.a.manager.link_to(pair.b.node_id)
    lb = pair.b.manager.link_to(pair.a.node_id)
    assert la is not None and lb is not None
    pair.advance(119)
    assert not pair.a.of(LinkRekeyed)
    # A frame in flight across the switch: sealed before the rekey, delivered after.
    pair.b.manager.send(lb, b"in flight", pair.now)
    held = pair.take(pair.b)
    pair.advance(3)
    assert pair.a.of(LinkRekeyed) and pair.b.of(LinkRekeyed)
    pair.deliver(pair.b, held)
    assert b"in flight" in payloads(pair.a)
    for i in range(10):
        pair.a.manager.send(la, b"after %d" % i, pair.now)
        pair.b.manager.send(lb, b"back %d" % i, pair.now)
    pair.flow()
    after = [p for p in payloads(pair.b) if p.startswith(b"after")]
    back = [p for p in payloads(pair.a) if p.startswith(b"back")]
    assert after == [b"after %d" % i for i in range(10)]
    assert back == [b"back %d" % i for i in range(10)]
    assert pair.a.manager.status(pair.now).links[0].rekeys == 1
    assert pair.a.manager.status(pair.now).links[0].key_age < 5
    assert not pair.a.of(LinkClosed)
    # old keys are erased after the grace period: the held frame no longer opens
    pair.advance(15)
    pair.deliver(pair.b, held)
    assert payloads(pair.a).count(b"in flight") == 1


@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views-of-a-reused-buffer"])
@pytest.mark.parametrize("datagram", [True, False], ids=["datagram", "stream"])
def test_traffic_during_rekey_arrives_complete_and_in_order(datagram: bool, views: bool) -> None:
    # views: every frame (handshake, fragments, rekeys, data) arrives as a view of one
    # buffer that is overwritten after each call, as the TCP driver hands frames over
    pair = LinkPair(datagram=datagram, views=views)
    assert pair.a.of(LinkEstablished) and pair.b.of(LinkEstablished)
    la = pair.a.manager.link_to(pair.b.node_id)
    lb = pair.b.manager.link_to(pair.a.node_id)
    assert la is not None and lb is not None
    pair.advance(118)
    for i in range(200):  # 10 s of traffic both ways, every 50 ms, across both rekeys
        pair.a.manager.send(la, b"a%d" % i, pair.now)
        pair.b.manager.send(lb, b"b%d" % i, pair.now)
        pair.advance(0.05, step=0.05)
    assert pair.a.of(LinkRekeyed) and pair.b.of(LinkRekeyed)
    assert payloads(pair.b) == [b"a%d" % i for i in range(200)]
    assert payloads(pair.a) == [b"b%d" % i for i in range(200)]
    assert not pair.a.of(LinkClosed) and not pair.b.of(LinkClosed)


def test_rekey_after_frame_count() -> None:
    pair = LinkPair(config=LinkConfig(rekey_after_frames=20))
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    for i in range(30):
        pair.a.manager.send(la, b"%d" % i, pair.now)
        pair.flow()
    assert pair.a.of(LinkRekeyed)
    assert payloads(pair.b) == [b"%d" % i for i in range(30)]


def test_rekey_survives_lost_rekey_messages() -> None:
    pair = LinkPair(datagram=True)
    pair.advance(119.5)
    dropped = {"n": 0}

    def drop_two(sender: str, tid: TransportId, frame: bytes) -> bytes | None:
        # drop the first two frames over 1000 bytes (rekey messages): retransmission heals
        if len(frame) > 1000 and dropped["n"] < 2:
            dropped["n"] += 1
            return None
        return frame

    pair.filter = drop_two
    pair.advance(10)
    assert dropped["n"] == 2
    assert pair.a.of(LinkRekeyed) and pair.b.of(LinkRekeyed)


def test_unreplaceable_keys_close_the_link() -> None:
    config = LinkConfig(rekey_after_time=20, reject_after_time=40, handshake_timeout=5)
    pair = LinkPair(config=config)
    # let everything through except rekey messages: the rekey never completes
    pair.filter = lambda s, t, f: None if len(f) > 600 else f
    pair.advance(45)
    assert any(
        e.reason is CloseReason.PROTOCOL_ERROR
        for e in pair.a.of(LinkClosed) + pair.b.of(LinkClosed)
    )


def test_lost_init_is_retransmitted() -> None:
    pair = LinkPair(datagram=False, connect=False)
    lost = {"done": False}

    def lose_first(sender: str, tid: TransportId, frame: bytes) -> bytes | None:
        if not lost["done"]:
            lost["done"] = True
            return None
        return frame

    pair.filter = lose_first
    pair.open(T1)
    assert not pair.a.of(LinkEstablished)
    pair.advance(1.5)
    assert pair.a.of(LinkEstablished) and pair.b.of(LinkEstablished)


def test_lost_response_is_answered_again() -> None:
    pair = LinkPair(datagram=False, connect=False)
    state = {"dropped": False}

    def lose_first_response(sender: str, tid: TransportId, frame: bytes) -> bytes | None:
        if frame[0] == FrameType.HANDSHAKE_RESPONSE and not state["dropped"]:
            state["dropped"] = True
            return None
        return frame

    pair.filter = lose_first_response
    pair.open(T1)
    assert not pair.a.of(LinkEstablished)
    pair.advance(2)
    assert pair.a.of(LinkEstablished) and pair.b.of(LinkEstablished)
    assert pair.b.manager.status(pair.now).handshakes_in_progress == 0


def test_lost_finish_is_retransmitted_until_confirmed() -> None:
    pair = LinkPair(datagram=False, connect=False)
    state = {"dropped": 0}

    def lose_finish(sender: str, tid: TransportId, frame: bytes) -> bytes | None:
        if frame[0] == FrameType.HANDSHAKE_FINISH and state["dropped"] == 0:
            state["dropped"] = 1
            return None
        if frame[0] == FrameType.TRANSPORT and not pair.b.of(LinkEstablished):
            return None  # frames under keys b does not have yet are lost too
        return frame

    pair.filter = lose_finish
    pair.open(T1)
    assert pair.a.of(LinkEstablished) and not pair.b.of(LinkEstablished)
    pair.advance(1.5)
    assert pair.b.of(LinkEstablished)
    finishes = [w for w in pair.wire if w[2][0] == FrameType.HANDSHAKE_FINISH]
    assert len(finishes) == 1
    pair.advance(10)
    assert (
        len([w for w in pair.wire if w[2][0] == FrameType.HANDSHAKE_FINISH]) == 1
    )  # confirmed: no more


def test_handshake_times_out() -> None:
    pair = LinkPair(connect=False, config=LinkConfig(handshake_timeout=4))
    pair.filter = lambda s, t, f: None
    pair.open(T1)
    pair.advance(5)
    (failed,) = pair.a.of(LinkHandshakeFailed)
    assert failed.reason is CloseReason.HANDSHAKE_TIMEOUT
    assert pair.b.manager.status(pair.now).handshakes_in_progress == 0


def test_roaming_moves_the_link_to_the_new_address() -> None:
    pair = LinkPair(datagram=True)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    # a's address changes: b sees its frames arrive on a new transport (address) 2
    pair.b.manager.transport_opened(
        TransportId(2), pair.now, outbound=False, endpoint="mem:a-moved", datagram=True, mtu=1200
    )
    pair.filter = lambda s, t, f: f
    pair.a.manager.send(la, b"from the new place", pair.now)
    frames = pair.take(pair.a)
    for _, frame in frames:
        pair.b.manager.receive_datagram(TransportId(2), frame, pair.now)
    pair.b.drain()
    assert payloads(pair.b) == [b"from the new place"]
    status = pair.b.manager.status(pair.now).links[0]
    assert status.endpoint == "mem:a-moved"
    lb = pair.b.manager.link_to(pair.a.node_id)
    assert lb is not None
    pair.b.manager.send(lb, b"reply", pair.now)
    assert [tid for tid, _ in pair.b.manager.datagrams_to_send(pair.now)] == [TransportId(2)]
    assert len(pair.b.of(LinkEstablished)) == 1  # no new peer seen above


def test_forged_frame_from_new_address_does_not_move_the_link() -> None:
    pair = LinkPair(datagram=True)
    lb = pair.b.manager.link_to(pair.a.node_id)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None and lb is not None
    pair.a.manager.send(la, b"x", pair.now)
    ((_, frame),) = pair.take(pair.a)
    forged = bytearray(frame)
    forged[-3] ^= 1
    pair.b.manager.transport_opened(
        TransportId(7), pair.now, outbound=False, endpoint="mem:evil", datagram=True, mtu=1200
    )
    pair.b.manager.receive_datagram(TransportId(7), bytes(forged), pair.now)
    assert pair.b.manager.status(pair.now).links[0].endpoint != "mem:evil"


def test_redial_replaces_the_old_connection_under_the_same_link() -> None:
    pair = LinkPair(datagram=False)
    (first,) = pair.a.of(LinkEstablished)
    pair.now += 30  # long after: a redial, not a race
    pair.open(TransportId(2))
    assert len(pair.a.of(LinkEstablished)) == 1 and len(pair.b.of(LinkEstablished)) == 1
    assert not pair.a.of(LinkClosed) and not pair.b.of(LinkClosed)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la == first.link
    pair.a.manager.send(la, b"over the new connection", pair.now)
    out = pair.take(pair.a)
    assert [tid for tid, _ in out] == [TransportId(2)]
    pair.deliver(pair.a, out)
    assert payloads(pair.b) == [b"over the new connection"]
    assert any(c.transport == T1 for c in pair.b.commands + pair.a.commands)


def test_crossed_dials_leave_one_link_on_both_sides() -> None:
    pair = LinkPair(datagram=False, connect=False)
    pair.open(TransportId(1), dialer="a")
    pair.open(TransportId(2), dialer="b")
    la = pair.a.manager.link_to(pair.b.node_id)
    lb = pair.b.manager.link_to(pair.a.node_id)
    assert la is not None and lb is not None
    pair.a.manager.send(la, b"ping", pair.now)
    pair.flow()
    pair.b.manager.send(lb, b"pong", pair.now)
    pair.flow()
    assert payloads(pair.b) == [b"ping"] and payloads(pair.a) == [b"pong"]
    assert len(pair.a.of(LinkEstablished)) == 1 and len(pair.b.of(LinkEstablished)) == 1


def test_half_open_handshakes_are_bounded() -> None:
    config = LinkConfig(max_half_open=8, handshake_rate=1000, handshake_burst=1000)
    pair = LinkPair(datagram=False, connect=False, config=config)
    # a sends INITs on 50 transports and never finishes them
    pair.filter = lambda s, t, f: None if s == "b" else f
    for i in range(50):
        pair.open(TransportId(100 + i))
    status = pair.b.manager.status(pair.now)
    assert status.handshakes_in_progress == 8
    assert dict(status.drops)["half_open_full"] == 42
    pair.advance(11)
    assert pair.b.manager.status(pair.now).handshakes_in_progress == 0


def test_handshake_starts_are_rate_limited_per_source() -> None:
    config = LinkConfig(handshake_rate=1.0, handshake_burst=3)
    pair = LinkPair(datagram=False, connect=False, config=config)
    for i in range(10):
        # every transport shares one source address
        pair.b.manager.transport_opened(
            TransportId(200 + i),
            pair.now,
            outbound=False,
            endpoint=f"tcp:192.0.2.9:{5000 + i}",
            datagram=False,
            mtu=1 << 20,
        )
    dialer = LinkPair(datagram=False, connect=False, seed=5)
    inits = []
    for i in range(10):
        dialer.a.manager.transport_opened(
            TransportId(i + 1), 0.0, outbound=True, endpoint="x", datagram=False, mtu=1 << 20
        )
        inits.extend(f for _, f in dialer.a.manager.datagrams_to_send(0.0))
    for i, frame in enumerate(inits):
        pair.b.manager.receive_datagram(TransportId(200 + i), frame, pair.now)
    status = pair.b.manager.status(pair.now)
    assert status.handshakes_in_progress == 3
    assert dict(status.drops)["rate_limited"] == 7


def test_garbage_on_a_stream_before_handshake_closes_only_that_stream() -> None:
    pair = LinkPair(datagram=False)
    pair.b.manager.transport_opened(
        TransportId(9),
        pair.now,
        outbound=False,
        endpoint="tcp:198.51.100.1:1",
        datagram=False,
        mtu=1 << 20,
    )
    pair.b.manager.receive_datagram(TransportId(9), b"GET / HTTP/1.1\r\n\r\n", pair.now)
    pair.b.drain()
    assert any(c.transport == TransportId(9) for c in pair.b.commands)
    assert pair.b.manager.link_to(pair.a.node_id) is not None


@given(st.lists(st.binary(max_size=200), max_size=20), st.booleans())
@settings(max_examples=60, deadline=None)
def test_fuzz_random_frames_never_raise(frames: list[bytes], datagram: bool) -> None:
    pair = LinkPair(datagram=datagram)
    for frame in frames:
        pair.b.manager.receive_datagram(TransportId(1), frame, pair.now)
        pair.b.manager.receive_datagram(
            TransportId(1), bytes([FrameType.TRANSPORT]) + frame, pair.now
        )
        pair.b.manager.receive_datagram(
            TransportId(1), bytes([FrameType.HANDSHAKE_INIT]) + frame, pair.now
        )
    pair.b.drain()
    if datagram:
        assert pair.b.manager.link_to(pair.a.node_id) is not None


def test_status_snapshot_counts_traffic() -> None:
    pair = LinkPair()
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    pair.a.manager.send(la, bytes(500), pair.now)
    pair.flow()
    a_status = pair.a.manager.status(pair.now)
    (link,) = a_status.links
    assert link.peer == str(pair.b.node_id)
    assert link.state == "established" and link.outbound and link.datagram
    assert link.bytes_sent > 500 and link.frames_sent >= 2
    assert a_status.transports == 1


def test_timer_never_spins_on_probe_expiry() -> None:
    """After handle_timer(now), get_timer() is later than now (float-exact deadlines)."""
    pair = LinkPair(datagram=True, connect=False)
    pair.now = 0.013436424411240122  # (t + 3.0) - 3.0 < t in floating point
    pair.open(T1)
    pair.filter = lambda s, t, f: None  # no echoes from now on: probes expire
    for _ in range(200):
        timer = pair.a.manager.get_timer()
        if timer is None:  # the silent peer was declared dead
            break
        pair.now = max(pair.now, timer)
        pair.a.manager.handle_timer(pair.now)
        pair.a.drain()
        pair.a.manager.datagrams_to_send(pair.now)
        after = pair.a.manager.get_timer()
        assert after is None or after > pair.now
    assert pair.a.of(LinkClosed)


def test_a_handshake_with_ourselves_is_refused() -> None:
    """A reflected handshake (or dialling our own address) never becomes a link."""
    me = identity(1, "a")
    pair = LinkPair(datagram=False, b_identity=me)
    assert not pair.a.of(LinkEstablished) and not pair.b.of(LinkEstablished)
    failed = pair.a.of(LinkHandshakeFailed) + pair.b.of(LinkHandshakeFailed)
    assert failed and all("ourselves" in f.detail for f in failed)
    assert pair.a.manager.link_to(me.node_id) is None


@pytest.mark.parametrize("datagram", [True, False], ids=["datagram", "stream"])
def test_deadline_held_is_never_later_than_the_links_and_early_timers_do_nothing(
    datagram: bool,
) -> None:
    pair = LinkPair(datagram=datagram, config=LinkConfig(rekey_after_frames=50))
    link = pair.a.manager.link_to(pair.b.node_id)
    assert link is not None
    for i in range(120):  # data moves deadlines later; the rekey after 50 frames, earlier
        pair.now += 0.01
        pair.a.manager.send(link, bytes([i % 256]) * 40, pair.now)
        pair.flow()
        conn = pair.a.manager.connection(link)
        assert conn is not None
        real = conn.get_timer()
        held = pair.a.manager.get_timer()
        assert real is not None and held is not None and held <= real
    assert conn.counters.rekeys >= 1
    pair.advance(1.0)  # fire what is due (the first probe is due at once)
    deadline = conn.get_timer()
    assert deadline is not None and deadline > pair.now
    # A premature call (before any deadline) sends nothing and changes nothing.
    before = (conn.state, conn.counters.frames_sent, len(pair.a.events), conn.get_timer())
    conn.handle_timer(pair.now)
    assert not pair.a.manager.datagrams_to_send(pair.now)
    after = (conn.state, conn.counters.frames_sent, len(pair.a.events), conn.get_timer())
    assert after == before
    assert len(payloads(pair.b)) == 120


@pytest.mark.parametrize("datagram", [True, False])
def test_receive_payload_hands_back_a_data_frame_and_queues_anything_more(datagram: bool) -> None:
    """``receive_payload`` (the driver's fast path) opens and counts a frame exactly as
    ``receive_datagram`` does; a DATA frame that caused nothing else comes back as
    (link, peer, payload) with no event queued, and one that did not (the manager had
    an event queued already) is queued as a ``LinkPayloadReceived`` after it."""
    pair = LinkPair(datagram=datagram)
    la = pair.a.manager.link_to(pair.b.node_id)
    lb = pair.b.manager.link_to(pair.a.node_id)
    assert la is not None and lb is not None
    receiver = pair.b.manager
    for p in (b"one", b"two", b"three"):
        pair.a.manager.send(la, p, pair.now)
    frames = pair.a.manager.datagrams_to_send(pair.now)
    assert len(frames) == 3
    before = receiver.status(pair.now).links[0].frames_received
    got = receiver.receive_payload(frames[0][0], frames[0][1], pair.now)
    assert got is not None
    link, peer, payload = got
    assert (link, peer, bytes(payload)) == (lb, pair.a.node_id, b"one")
    assert receiver.next_event() is None
    assert receiver.status(pair.now).links[0].frames_received == before + 1
    receiver.receive_datagram(frames[1][0], frames[1][1], pair.now)  # queued: not quiet now
    assert receiver.receive_payload(frames[2][0], frames[2][1], pair.now) is None
    queued = [receiver.next_event(), receiver.next_event(), receiver.next_event()]
    assert all(isinstance(e, LinkPayloadReceived) for e in queued[:2]), queued
    assert [bytes(e.payload) for e in queued[:2]] == [b"two", b"three"]  # type: ignore[union-attr]
    assert queued[2] is None
    assert receiver.status(pair.now).links[0].frames_received == before + 3
    replayed = receiver.receive_payload(frames[2][0], frames[2][1], pair.now)
    assert replayed is None  # a replay: dropped (datagram) or the link closes (stream)
    closed = receiver.next_event()
    assert closed is None if datagram else isinstance(closed, LinkClosed)
