"""The messaging core over in-memory streams: delivery, acks, receipts, retries, expiry."""

from __future__ import annotations

import itertools

import pytest
from tests.services.messaging.pair import StreamNet

from meshnet.errors import LocalError, StateError
from meshnet.ids import MessageId
from meshnet.services.messaging import (
    InboxState,
    MemoryMessageStore,
    MessageExpired,
    MessageRead,
    MessagingConfig,
    OutboxState,
)


def test_send_commits_before_returning_then_delivers_and_acknowledges() -> None:
    net = StreamNet()
    store = MemoryMessageStore()
    alice, bob = net.add(1, store=store), net.add(2)
    message_id = alice.send(bob.local, b"hello", 0.0)
    stored = store.outgoing(message_id)
    assert stored is not None and stored.state is OutboxState.PENDING and stored.body == b"hello"
    assert len(message_id) == 16
    net.deliver(0.0)
    [received] = net.received(bob.local)
    assert (received.id, received.peer, received.body) == (message_id, alice.local, b"hello")
    assert net.delivered(alice.local) == [message_id]
    delivered = store.outgoing(message_id)
    assert delivered is not None and delivered.state is OutboxState.DELIVERED
    assert alice.status().outbox_pending == 0
    [inboxed] = bob.inbox_messages()
    assert inboxed.id == message_id and inboxed.state is InboxState.DELIVERED


def test_many_messages_arrive_once_in_order_through_a_tiny_window() -> None:
    net = StreamNet(window=7)  # every write is cut into 7-byte pieces (flow control)
    alice, bob = net.add(1), net.add(2)
    bodies = [bytes([i]) * (i * 37 % 300) for i in range(40)]
    for body in bodies:
        alice.send(bob.local, body, 0.0)
    for step in range(5000):
        for stream in list(net.streams):
            alice.stream_writable(stream, step * 0.01)
            bob.stream_writable(stream, step * 0.01)
        if not net.deliver(step * 0.01):
            break
    assert [r.body for r in net.received(bob.local)] == bodies
    assert [r.seq for r in net.received(bob.local)] == list(range(40))
    assert alice.status().outbox_pending == 0


def test_unreachable_peer_is_retried_with_backoff_then_delivered_once() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    net.down.add(frozenset((alice.local, bob.local)))
    message_id = alice.send(bob.local, b"later", 0.0)
    attempts: list[float] = []
    now = 0.0
    for _ in range(200):
        timer = alice.get_timer()
        assert timer is not None
        now = max(now, timer)
        if now > 120.0:
            break
        attempts.append(now)
        alice.handle_timer(now)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(gaps) >= 4 and gaps[-1] > 2 * gaps[0]  # backoff grows
    assert dict(alice.status().drops)["stream_refused"] == len(attempts) + 1  # + send's
    net.down.clear()
    net.run(until=now + 400.0, start=now)
    assert [r.id for r in net.received(bob.local)] == [message_id]
    assert net.delivered(alice.local) == [message_id]


def test_session_lost_mid_transfer_resends_and_the_receiver_deduplicates() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    ids = [alice.send(bob.local, f"m{i}".encode(), 0.0) for i in range(5)]
    # the stream carried everything to bob, but every ACK is lost with the session
    for stream, writer, data in list(net.queue):
        net.queue.remove((stream, writer, data))
        entry = net.streams[stream]
        if entry.announced is False:
            entry.announced = True
            bob.stream_opened(stream, writer, entry.service)
        assert data is not None
        bob.stream_data(stream, data, 0.0)
    net.queue.clear()
    net.cut(alice.local, bob.local, 0.1)
    assert alice.status().outbox_pending == 5
    net.run(until=30.0, start=0.2)
    net.collect()
    assert [r.id for r in net.received(bob.local)] == ids  # once each, in order
    assert sorted(net.delivered(alice.local)) == sorted(ids)
    assert dict(bob.status().drops)["duplicate"] == 5


def test_receiver_restart_keeps_deduplication_and_order() -> None:
    net = StreamNet()
    bob_store = MemoryMessageStore()
    alice, bob = net.add(1), net.add(2, store=bob_store)
    first = alice.send(bob.local, b"one", 0.0)
    net.deliver(0.0)
    net.crash(bob.local, 1.0)
    second = alice.send(bob.local, b"two", 1.0)
    bob = net.add(2, store=bob_store)  # the same store: a restart, not a new node
    net.run(until=60.0, start=1.5)
    assert [r.body for r in net.received(bob.local)] == [b"one", b"two"]
    assert [m.id for m in bob.inbox_messages()] == [first, second]


def test_sender_restart_resends_what_was_pending() -> None:
    net = StreamNet()
    alice_store = MemoryMessageStore()
    alice, bob = net.add(1, store=alice_store), net.add(2)
    net.down.add(frozenset((alice.local, bob.local)))
    message_id = alice.send(bob.local, b"survives", 0.0)
    net.crash(alice.local, 0.5)
    net.down.clear()
    alice = net.add(1, store=alice_store)
    assert alice.status().outbox_pending == 1
    net.run(until=10.0, start=1.0)
    assert [r.id for r in net.received(bob.local)] == [message_id]
    stored = alice_store.outgoing(message_id)
    assert stored is not None and stored.state is OutboxState.DELIVERED


def test_expiry_gives_up_and_reports() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    net.offline.add(bob.local)
    message_id = alice.send(bob.local, b"x", 0.0, expires_in=30.0)
    net.run(until=40.0, start=0.0)
    assert [e for e in net.events[alice.local] if isinstance(e, MessageExpired)] == [
        MessageExpired(id=message_id, peer=bob.local)
    ]
    stored = alice.store.outgoing(message_id)
    assert stored is not None and stored.state is OutboxState.EXPIRED
    assert alice.status().outbox_pending == 0


def test_a_cancelled_gap_is_skipped_by_the_floor() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    first = alice.send(bob.local, b"first", 0.0)
    net.deliver(0.0)
    net.down.add(frozenset((alice.local, bob.local)))
    gap = alice.send(bob.local, b"cancel me", 1.0)
    net.cut(alice.local, bob.local, 1.0)
    alice.cancel(gap, 1.0)
    third = alice.send(bob.local, b"third", 1.0)
    net.down.clear()
    net.run(until=30.0, start=1.0)
    assert [r.id for r in net.received(bob.local)] == [first, third]
    with pytest.raises(StateError):
        alice.cancel(gap, 40.0)
    with pytest.raises(LocalError):
        alice.cancel(MessageId(bytes(16)), 40.0)


def test_read_receipt_flows_back_and_is_confirmed() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    message_id = alice.send(bob.local, b"read me", 0.0)
    net.deliver(0.0)
    bob.mark_read(message_id, 5.0)
    net.deliver(5.0)
    assert [e for e in net.events[alice.local] if isinstance(e, MessageRead)] == [
        MessageRead(id=message_id, peer=bob.local)
    ]
    stored = alice.store.outgoing(message_id)
    assert stored is not None and stored.state is OutboxState.READ and stored.read_at == 5.0
    inboxed = bob.store.incoming(message_id)
    assert inboxed is not None and inboxed.read_reported
    with pytest.raises(LocalError):
        bob.mark_read(MessageId(bytes(16)), 6.0)


def test_idle_stream_is_finished_and_a_new_one_opens_for_the_next_message() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    alice.send(bob.local, b"a", 0.0)
    net.deliver(0.0)
    net.run(until=100.0, start=1.0, step=1.0)
    assert alice.status().streams_open == 0 and bob.status().streams_open == 0
    alice.send(bob.local, b"b", 100.0)
    net.deliver(100.0)
    assert [r.body for r in net.received(bob.local)] == [b"a", b"b"]


def test_local_misuse_raises() -> None:
    net = StreamNet()
    alice, bob = net.add(1, config=MessagingConfig(max_body=10)), net.add(2)
    with pytest.raises(LocalError):
        alice.send(alice.local, b"me", 0.0)
    with pytest.raises(LocalError):
        alice.send(bob.local, b"x" * 11, 0.0)
    with pytest.raises(LocalError):
        alice.send(bob.local, b"x", 0.0, expires_in=0.0)
    assert alice.status().outbox_pending == 0
