"""Hostile peers: malformed and oversized frames, floods, forged senders and receipts."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services.messaging.pair import Port, StreamNet

from meshnet.ids import MessageId, StreamId
from meshnet.services.messaging import MESSAGING_SERVICE, MessagingConfig, MessagingService
from meshnet.services.messaging.messages import MessageFrame, Receipt, encode_record
from meshnet.wire.codes import MessagingFrame


def frame(seq: int, body: bytes = b"x", epoch: bytes = b"E" * 8, fill: int = 0) -> bytes:
    message_id = MessageId(seq.to_bytes(8, "big") + fill.to_bytes(8, "big"))
    return encode_record(
        MessageFrame(id=message_id, epoch=epoch, seq=seq, created=1.0, expires=2.0, body=body)
    )


def open_raw(net: StreamNet, writer: MessagingService, reader: MessagingService) -> StreamId:
    """A stream ``writer``'s node opens by hand, to write whatever bytes it likes."""
    stream = Port(net, writer.local).open_stream(reader.local, 0.0, service=MESSAGING_SERVICE)
    net.streams[stream].announced = True
    assert reader.stream_opened(stream, writer.local, MESSAGING_SERVICE)
    return stream


def test_malformed_records_are_counted_and_the_stream_keeps_working() -> None:
    net = StreamNet()
    mallory, bob = net.add(3), net.add(2)
    stream = open_raw(net, mallory, bob)
    garbage = [b"\x00", b"\x7f\x01", b"\x60\x01", b"\x61\x00", b"\x64" + b"E" * 8 + b"\x80"]
    for record in garbage:
        bob.stream_data(stream, len(record).to_bytes(4, "big") + record, 0.0)
    bob.stream_data(stream, frame(0, b"valid"), 0.0)
    net.collect()
    assert dict(bob.status().drops)["malformed"] == len(garbage)
    assert [r.body for r in net.received(bob.local)] == [b"valid"]
    assert [r.peer for r in net.received(bob.local)] == [mallory.local]


def test_an_oversized_record_resets_that_stream_only() -> None:
    net = StreamNet()
    alice, mallory, bob = net.add(1), net.add(3), net.add(2)
    stream = open_raw(net, mallory, bob)
    bob.stream_data(stream, (1 << 31).to_bytes(4, "big") + b"\x60", 0.0)
    assert dict(bob.status().drops)["oversize_record"] == 1
    assert net.resets == [(mallory.local, stream)]
    bob.stream_data(stream, frame(0), 0.0)  # late bytes on the dead stream are refused
    assert dict(bob.status().drops)["unexpected_data"] == 1
    alice.send(bob.local, b"unaffected", 0.0)
    net.deliver(0.0)
    assert [r.body for r in net.received(bob.local)] == [b"unaffected"]


def test_a_flood_from_one_peer_is_refused_beyond_its_quota_and_others_are_served() -> None:
    config = MessagingConfig(peer_rate=10.0, peer_burst=50)
    net = StreamNet()
    alice, mallory = net.add(1), net.add(3)
    bob = net.add(2, config=config)
    stream = open_raw(net, mallory, bob)
    for seq in range(2000):
        bob.stream_data(stream, frame(seq), 0.0)
    alice.send(bob.local, b"from alice", 0.0)
    net.deliver(0.0)
    from_mallory = [r for r in net.received(bob.local) if r.peer == mallory.local]
    assert len(from_mallory) == 50
    assert dict(bob.status().drops)["quota"] == 1950
    assert [r.body for r in net.received(bob.local) if r.peer == alice.local] == [b"from alice"]


def test_out_of_order_messages_are_held_within_a_bound() -> None:
    net = StreamNet()
    mallory, bob = net.add(3), net.add(2, config=MessagingConfig(max_held=10))
    stream = open_raw(net, mallory, bob)
    for seq in range(1, 40):  # seq 0 never comes: everything else waits, up to the bound
        bob.stream_data(stream, frame(seq), 0.0)
    assert bob.status().inbox_held == 10
    assert dict(bob.status().drops)["held_quota"] == 29
    bob.stream_data(stream, frame(1, fill=1), 0.0)  # another id under a held number
    assert dict(bob.status().drops)["seq_conflict"] == 1
    bob.stream_data(stream, frame(0), 0.0)
    net.collect()
    assert [r.seq for r in net.received(bob.local)] == list(range(11))


def test_sender_ids_cannot_be_forged() -> None:
    """Why forging is impossible by construction: a frame has no sender field at all.

    The sender of everything read from a messaging stream is the peer that opened the
    stream, which the session layer proved with its Noise IK handshake (its static key
    is bound to its NodeId by the signed identity record). So mallory can put any bytes
    in a frame, and the message is still filed, delivered and acknowledged as mallory's.
    """
    assert {f.name for f in dataclasses.fields(MessageFrame)} == {
        "id",
        "epoch",
        "seq",
        "created",
        "expires",
        "body",
    }
    net = StreamNet()
    alice, mallory, bob = net.add(1), net.add(3), net.add(2)
    message_id = alice.send(bob.local, b"from alice", 0.0)
    net.deliver(0.0)
    stream = open_raw(net, mallory, bob)
    # mallory replays alice's message id and numbering: refused, never credited to alice
    copied = net.received(bob.local)[0]
    forged = MessageFrame(
        id=copied.id, epoch=b"E" * 8, seq=copied.seq, created=1.0, expires=2.0, body=b"fake"
    )
    bob.stream_data(stream, encode_record(forged), 0.0)
    bob.stream_data(stream, frame(0, b"mine"), 0.0)
    net.collect()
    assert [(r.peer, r.body) for r in net.received(bob.local)] == [
        (alice.local, b"from alice"),
        (mallory.local, b"mine"),
    ]
    assert dict(bob.status().drops)["foreign_id"] == 1
    # mallory acknowledges or reads, for bob, a message alice sent to carol: ignored
    carol = net.add(4)
    net.offline.add(carol.local)
    pending = alice.send(carol.local, b"for carol", 1.0)
    to_alice = open_raw(net, mallory, alice)
    for kind in (MessagingFrame.ACK, MessagingFrame.READ):
        alice.stream_data(to_alice, encode_record(Receipt(kind=kind, ids=(pending,))), 1.0)
    assert dict(alice.status().drops) == {"foreign_ack": 1, "foreign_read": 1} | {
        k: v for k, v in alice.status().drops if k == "stream_refused"
    }
    assert alice.status().outbox_pending == 1
    assert net.delivered(alice.local) == [message_id]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_on_a_messaging_stream_are_counted_never_raised(chunks: list[bytes]) -> None:
    net = StreamNet()
    mallory, bob = net.add(3), net.add(2)
    stream = open_raw(net, mallory, bob)
    for chunk in chunks:
        bob.stream_data(stream, chunk, 0.0)
    net.deliver(0.0)
    alice = net.add(1)
    alice.send(bob.local, b"still served", 0.0)
    net.deliver(0.0)
    assert [r.body for r in net.received(bob.local) if r.peer == alice.local] == [b"still served"]
