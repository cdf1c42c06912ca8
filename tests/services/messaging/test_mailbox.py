"""Store-and-forward through a mailbox node that cannot read what it holds."""

from __future__ import annotations

from tests.services.messaging.pair import StreamNet
from tests.services.messaging.test_hostile import open_raw

from meshnet.ids import MessageId
from meshnet.services.messaging import MemoryMessageStore, MessagingConfig, OutboxState
from meshnet.services.messaging.messages import Deposit, Mail, encode_record
from meshnet.services.messaging.service import MessagingService


def mailbox_world() -> tuple[StreamNet, MessagingService, MessagingService, MessagingService]:
    """alice writes to bob, whose mailbox is carol; alice has heard where bob's mail goes."""
    net = StreamNet()
    stores = [MemoryMessageStore() for _ in range(3)]
    alice, bob, carol = (net.add(i + 1, store=stores[i]) for i in range(3))
    bob.use_mailbox(carol.local, 0.0)
    net.deliver(0.0)
    assert carol.mailboxes.owners == {bob.local}
    bob.send(alice.local, b"my mail goes to carol", 0.0)  # bob's stream tells alice
    net.deliver(0.0)
    return net, alice, bob, carol


def test_mail_waits_sealed_at_the_mailbox_while_both_ends_are_offline() -> None:
    net, alice, bob, carol = mailbox_world()
    bob_store = bob.store
    alice_store = alice.store
    net.crash(bob.local, 1.0)
    ids = [alice.send(bob.local, f"while you were out {i}".encode(), 1.0) for i in range(3)]
    now = net.run(until=20.0, start=1.0)
    assert carol.status().mailbox_held == 3
    held = carol.store.mailbox_items(bob.local, 10)
    assert [i for i, _ in held] == ids
    assert all(b"while you were out" not in sealed for _, sealed in held)  # unreadable
    net.crash(alice.local, now)  # the sender goes away too: only the mailbox can help
    bob = net.add(2, store=bob_store)
    bob.use_mailbox(carol.local, now)
    net.run(until=now + 10.0, start=now)
    assert [r.body for r in net.received(bob.local)] == [
        f"while you were out {i}".encode() for i in range(3)
    ]
    assert all(r.peer == alice.local for r in net.received(bob.local))
    assert carol.status().mailbox_held == 0  # released once bob stored them
    alice = net.add(1, store=alice_store)  # alice comes back: retries, bob de-duplicates
    net.run(until=now + 40.0, start=now + 10.0)
    assert [m.state for m in alice.outbox(peer=bob.local)] == [OutboxState.DELIVERED] * 3
    assert len(net.received(bob.local)) == 3
    assert dict(bob.status().drops)["duplicate"] == 3


def test_the_mailbox_refuses_strangers_and_keeps_within_its_quota() -> None:
    net = StreamNet()
    alice, bob = net.add(1), net.add(2)
    carol = net.add(3, config=MessagingConfig(mailbox_items=2, mailbox_owners=1))
    stream = open_raw(net, alice, carol)
    deposit = Deposit(recipient=bob.local, id=MessageId(bytes(16)), sealed=b"s" * 200)
    carol.stream_data(stream, encode_record(deposit), 0.0)
    assert dict(carol.status().drops)["mailbox_not_owner"] == 1
    bob.use_mailbox(carol.local, 0.0)
    alice.use_mailbox(carol.local, 0.0)  # a second owner: over mailbox_owners
    net.deliver(0.0)
    assert carol.mailboxes.owners == {bob.local}
    assert dict(carol.status().drops)["mailbox_owners"] == 1
    for i in range(4):
        item = Deposit(recipient=bob.local, id=MessageId(bytes([i]) * 16), sealed=b"s" * 200)
        carol.stream_data(stream, encode_record(item), 0.0)
    assert carol.status().mailbox_held == 2
    assert dict(carol.status().drops)["mailbox_full"] == 2


def test_forged_or_foreign_mail_is_refused_and_released() -> None:
    net = StreamNet()
    alice, bob, carol = net.add(1), net.add(2), net.add(3)
    bob.use_mailbox(carol.local, 0.0)
    net.deliver(0.0)
    to_bob = open_raw(net, carol, bob)
    garbage = Mail(id=MessageId(bytes(16)), sealed=b"\x01" * 300)
    bob.stream_data(to_bob, encode_record(garbage), 0.0)
    assert dict(bob.status().drops)["bad_seal"] == 1
    from_alice = open_raw(net, alice, bob)  # mail from a node that is not bob's mailbox
    bob.stream_data(from_alice, encode_record(garbage), 0.0)
    assert dict(bob.status().drops)["unexpected_mail"] == 1
    assert net.received(bob.local) == []


def test_held_mail_is_deleted_after_the_maximum_age_even_if_never_collected() -> None:
    net = StreamNet()
    store = MemoryMessageStore()
    config = MessagingConfig(mailbox_max_age=100.0)
    alice, bob = net.add(1), net.add(2)
    carol = net.add(3, config=config, store=store)
    assert carol.get_timer() is None  # holding nothing: no age checks
    bob.use_mailbox(carol.local, 0.0)
    net.deliver(0.0)
    net.crash(bob.local, 0.0)  # bob never comes back to collect
    stream = open_raw(net, alice, carol)

    def deposit(i: int, now: float) -> None:
        item = Deposit(recipient=bob.local, id=MessageId(bytes([i]) * 16), sealed=b"s" * 200)
        carol.stream_data(stream, encode_record(item), now)

    deposit(0, 0.0)
    deposit(1, 0.0)
    deposit(2, 60.0)
    assert carol.status().mailbox_held == 3
    net.run(until=130.0, start=0.0)
    assert [i for i, _ in store.mailbox_items(bob.local, 10)] == [MessageId(bytes([2]) * 16)]
    assert dict(carol.status().drops)["mailbox_expired"] == 2
    net.run(until=200.0, start=130.0)
    assert carol.status().mailbox_held == 0
    drops = dict(carol.status().drops)
    assert (drops["mailbox_expired"], drops["mailbox_owner_expired"]) == (3, 1)
    assert carol.mailboxes.owners == set()  # bob was not heard from for 100 s: place freed
    deposit(3, 200.0)
    assert dict(carol.status().drops)["mailbox_not_owner"] == 1
    bob = net.add(2)  # bob is back for a moment and names carol again
    bob.use_mailbox(carol.local, 200.0)
    net.deliver(200.0)
    net.crash(bob.local, 200.0)
    deposit(4, 200.0)
    net.crash(carol.local, 200.0)
    carol = net.add(3, config=config, store=store)  # restarted: checks at its first timer
    assert carol.mailboxes.owners == {bob.local}
    assert carol.get_timer() == 0.0
    net.run(until=401.0, start=400.0)
    assert carol.status().mailbox_held == 0
    drops = dict(carol.status().drops)
    assert (drops["mailbox_expired"], drops["mailbox_owner_expired"]) == (1, 1)
    assert carol.get_timer() is None  # nothing held, nobody to hold for: no age checks


def test_an_owner_that_keeps_collecting_keeps_its_place_and_a_gone_one_frees_it() -> None:
    net = StreamNet()
    config = MessagingConfig(mailbox_max_age=100.0, mailbox_owners=1, collect_interval=30.0)
    alice, bob = net.add(1), net.add(2)
    carol = net.add(3, config=config)
    bob.use_mailbox(carol.local, 0.0)
    net.deliver(0.0)
    alice.use_mailbox(carol.local, 0.0)  # no place left
    net.deliver(0.0)
    assert carol.mailboxes.owners == {bob.local}
    net.run(until=500.0, start=0.0)  # bob collects every 30 s: heard from all along
    assert carol.mailboxes.owners == {bob.local}
    assert "mailbox_owner_expired" not in dict(carol.status().drops)
    net.crash(bob.local, 500.0)
    net.run(until=700.0, start=500.0)
    # bob is forgotten 100 s after he was last heard from; alice, who still asks each
    # time she opens a stream to carol, gets the freed place.
    assert carol.mailboxes.owners == {alice.local}
    assert dict(carol.status().drops)["mailbox_owner_expired"] == 1
