"""``SqliteMessageStore``: the same behaviour as the memory store, crash safety, damage."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests.runtime.support import VERIFIER, identity, run
from tests.services.messaging.pair import StreamNet

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.ids import MessageId
from meshnet.node.events import MessageDelivered, MessageRead, MessageReceived, PeerConnected
from meshnet.node.node import Node
from meshnet.runtime import msgstore
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.msgstore import MessageStoreError, SqliteMessageStore
from meshnet.services.messaging import (
    Conversation,
    InboxState,
    IncomingMessage,
    MemoryMessageStore,
    OutboxState,
    OutgoingMessage,
)

ROOT = Path(__file__).resolve().parents[2]
PEER = Identity.generate(SeededEntropy(7, "peer"), created=0).node_id
OTHER = Identity.generate(SeededEntropy(7, "other"), created=0).node_id


def outgoing(i: int, **changes: object) -> OutgoingMessage:
    message = OutgoingMessage(
        id=MessageId(i.to_bytes(16, "big")),
        peer=PEER,
        epoch=b"E" * 8,
        seq=i,
        created=100.0 + i,
        expires=1e9,
        body=f"body {i}".encode(),
    )
    return replace(message, **changes)  # type: ignore[arg-type]


def incoming(i: int, state: InboxState = InboxState.DELIVERED) -> IncomingMessage:
    return IncomingMessage(
        id=MessageId((1000 + i).to_bytes(16, "big")),
        peer=PEER,
        epoch=b"F" * 8,
        seq=i,
        created=50.0,
        expires=1e9,
        body=bytes([i]) * 100,
        received_at=60.0 + i,
        state=state,
        delivered_at=70.0 + i if state is InboxState.DELIVERED else None,
    )


def exercise(store: SqliteMessageStore | MemoryMessageStore) -> list[object]:
    """The same calls on any store; what it answered."""
    answers: list[object] = []
    for i in range(5):
        store.add_outgoing(outgoing(i), Conversation(peer=PEER, epoch=b"E" * 8, next_seq=i + 1))
    store.update_outgoing(outgoing(1, state=OutboxState.DELIVERED, delivered_at=200.0))
    store.update_outgoing(outgoing(2, state=OutboxState.CANCELLED, settled_at=201.0))
    answers += [store.sender_conversation(PEER), store.receiver_conversation(PEER)]
    answers += [store.pending_outgoing(), store.list_outgoing(peer=PEER, limit=3)]
    answers += [store.list_outgoing(peer=None, limit=0), store.outgoing(outgoing(1).id)]
    store.commit_incoming(
        [incoming(0), incoming(2, InboxState.HELD), incoming(3, InboxState.HELD)],
        Conversation(peer=PEER, epoch=b"F" * 8, next_seq=1),
    )
    answers += [store.held_incoming(PEER), store.list_incoming(peer=PEER, limit=10)]
    store.commit_incoming([incoming(1)], Conversation(peer=PEER, epoch=b"F" * 8, next_seq=4))
    store.update_incoming(replace(incoming(1), read_at=90.0))
    answers += [store.unreported_reads(), store.incoming(incoming(1).id)]
    answers += [store.list_incoming(peer=None, limit=2), store.receiver_conversation(PEER)]
    answers += [store.list_incoming(peer=PEER, limit=10, unread=True)]
    answers += [store.list_incoming(peer=None, limit=1, unread=True)]
    store.add_mailbox_owner(PEER, 1.0)
    store.add_mailbox_owner(PEER, 3.0)
    store.add_mailbox_owner(OTHER, 2.0)
    answers += [store.mailbox_owners(), store.mailbox_count(PEER)]
    answers += [store.forget_mailbox_owners(2.0), store.forget_mailbox_owners(3.0)]
    answers += [store.mailbox_owners()]
    for i in range(4):
        answers.append(store.deposit(PEER, MessageId(bytes([i]) * 16), b"sealed %d" % i, 5.0))
    answers.append(store.deposit(PEER, MessageId(bytes([1]) * 16), b"again", 6.0))
    store.release(PEER, [MessageId(bytes([0]) * 16), MessageId(bytes([2]) * 16)])
    answers += [store.mailbox_items(PEER, 10), store.mailbox_count(PEER)]
    store.deposit(PEER, MessageId(bytes([7]) * 16), b"newer", 9.0)
    answers += [store.expire_mail(5.0), store.expire_mail(6.0), store.mailbox_items(PEER, 10)]
    answers += [store.forget_mailbox_owners(100.0)]  # mail is still held for PEER
    store.release(PEER, [MessageId(bytes([7]) * 16)])
    answers += [store.forget_mailbox_owners(100.0), store.mailbox_owners()]
    return answers


def test_sqlite_answers_exactly_like_the_memory_store(tmp_path: Path) -> None:
    sqlite = SqliteMessageStore.open(tmp_path / "messages.db")
    try:
        assert exercise(sqlite) == exercise(MemoryMessageStore())
    finally:
        sqlite.close()


def test_the_file_is_private_wal_and_fully_synchronous(tmp_path: Path) -> None:
    path = tmp_path / "messages.db"
    SqliteMessageStore.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = SqliteMessageStore.open(path)
    try:
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()


CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from tests.runtime.test_msgstore import PEER, outgoing
    from meshnet.runtime.msgstore import SqliteMessageStore
    from meshnet.services.messaging import Conversation
    store = SqliteMessageStore.open(Path(sys.argv[1]))
    for i in range(50):
        conversation = Conversation(peer=PEER, epoch=b"E" * 8, next_seq=i + 1)
        store.add_outgoing(outgoing(i), conversation)
    os._exit(9)  # like kill -9: no close, no checkpoint, the WAL holds the commits
    """
)


def test_every_commit_survives_a_crash_of_the_process(tmp_path: Path) -> None:
    path = tmp_path / "messages.db"
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 9
    assert Path(f"{path}-wal").stat().st_size > 0  # the commits are in the log only
    store = SqliteMessageStore.open(path)
    try:
        assert [m.seq for m in store.pending_outgoing()] == list(range(50))
        conversation = store.sender_conversation(PEER)
        assert conversation is not None and conversation.next_seq == 50
    finally:
        store.close()


def test_messaging_over_sqlite_keeps_exactly_once_across_a_restart(tmp_path: Path) -> None:
    net = StreamNet()
    bob_store = SqliteMessageStore.open(tmp_path / "bob.db")
    alice, bob = net.add(1), net.add(2, store=bob_store)
    first = alice.send(bob.local, b"one", 0.0)
    net.deliver(0.0)
    net.crash(bob.local, 1.0)
    bob_store.close()
    second = alice.send(bob.local, b"two", 1.0)
    bob_store = SqliteMessageStore.open(tmp_path / "bob.db")
    try:
        bob = net.add(2, store=bob_store)
        net.run(until=30.0, start=1.5)
        assert [r.body for r in net.received(bob.local)] == [b"one", b"two"]
        assert [m.id for m in bob.inbox_messages()] == [first, second]
    finally:
        bob_store.close()


def damage_message(path: Path) -> str:
    with pytest.raises(MessageStoreError) as caught:
        SqliteMessageStore.open(path)
    text = str(caught.value)
    assert str(path) in text and "move the file aside" in text
    return text


def filled(tmp_path: Path) -> Path:
    path = tmp_path / "messages.db"
    store = SqliteMessageStore.open(path)
    for i in range(200):
        conversation = Conversation(peer=PEER, epoch=b"E" * 8, next_seq=i + 1)
        store.add_outgoing(outgoing(i, body=bytes([i % 251]) * 3000), conversation)
    store.close()
    return path


def test_a_truncated_file_is_refused_with_a_way_to_recover(tmp_path: Path) -> None:
    path = filled(tmp_path)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 2)
    damage_message(path)
    path.write_bytes(b"")
    assert "empty" in damage_message(path)


def test_a_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = filled(tmp_path)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, 3 * page):  # scribble over many pages
        data[offset + 8 : offset + 40] = b"\xa5" * 32
    path.write_bytes(bytes(data))
    damage_message(path)
    path.write_bytes(b"this is not a database at all" * 100)
    damage_message(path)


def test_a_foreign_or_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE something (x)")
    assert "not a MeshNet message database" in damage_message(path)
    newer = tmp_path / "newer.db"
    SqliteMessageStore.open(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(MessageStoreError, match="newer"):
        SqliteMessageStore.open(newer)


def test_driver_messages_over_loopback_tcp_with_sqlite_on_both_ends(tmp_path: Path) -> None:
    async def node_with_store(label: str) -> tuple[NodeDriver, SqliteMessageStore]:
        store = SqliteMessageStore.open(tmp_path / f"{label}.db")
        node = Node(
            identity=identity(11, label),
            entropy=SeededEntropy(11, f"node:{label}"),
            verifier=VERIFIER,
            message_store=store,
            wall_offset=time.time() - time.monotonic(),
        )
        driver = NodeDriver(node)
        await driver.start(["tcp:127.0.0.1:0"])
        return driver, store

    async def main() -> None:
        (a, a_store), (b, b_store) = await node_with_store("a"), await node_with_store("b")
        try:
            events_a = a.subscribe(kinds=[PeerConnected, MessageDelivered, MessageRead])
            events_b = b.subscribe(kinds=[MessageReceived])
            a.connect(b.listening[0], expected_peer=b.node.node_id)
            await asyncio.wait_for(events_a.wait_for(PeerConnected), 30.0)
            message_id = a.send_message(b.node.node_id, b"over real sockets")
            assert a_store.outgoing(message_id) is not None  # committed when send returned
            received = await asyncio.wait_for(events_b.wait_for(MessageReceived), 30.0)
            assert (received.id, received.body) == (message_id, b"over real sockets")
            await asyncio.wait_for(events_a.wait_for(MessageDelivered), 30.0)
            b.mark_read(message_id)
            await asyncio.wait_for(events_a.wait_for(MessageRead), 30.0)
            [sent] = a.outbox()
            assert sent.state is OutboxState.READ and abs(sent.created - time.time()) < 60
            assert [m.id for m in b.inbox(peer=a.node.node_id)] == [message_id]
        finally:
            await a.stop()
            await b.stop()
            a_store.close()
            b_store.close()

    run(main())


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(msgstore._SCHEMA)
        db.execute("PRAGMA user_version=1")
        db.execute("INSERT INTO conversations VALUES (?, 0, ?, 7)", (PEER.raw, b"E" * 8))
    db.close()
    store = SqliteMessageStore.open(path)
    try:
        conversation = store.sender_conversation(PEER)
        assert conversation is not None and conversation.next_seq == 7
        assert store.deposit(PEER, MessageId(bytes(16)), b"sealed", 1.0)
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == msgstore.SCHEMA_VERSION
        store.add_mailbox_owner(PEER, 5.0)
        assert store.mailbox_owners() == [PEER]
    finally:
        store.close()


def test_a_version_2_database_keeps_its_mailbox_owners_as_heard_from_now(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(msgstore._SCHEMA + msgstore._MAILBOX_SCHEMA)
        db.execute("PRAGMA user_version=2")
        db.execute("INSERT INTO mailbox_owners (owner) VALUES (?)", (PEER.raw,))
    db.close()
    store = SqliteMessageStore.open(path)
    try:
        assert store.mailbox_owners() == [PEER]
        assert store.forget_mailbox_owners(time.time() - 3600) == []  # not a stale owner
        assert store.forget_mailbox_owners(time.time() + 3600) == [PEER]
    finally:
        store.close()


def count_outgoing(path: Path) -> int:
    """What another connection sees committed (WAL readers see the last commit)."""
    reader = sqlite3.connect(path)
    try:
        return int(reader.execute("SELECT COUNT(*) FROM outgoing").fetchone()[0])
    finally:
        reader.close()


def test_a_batch_is_one_commit_at_its_end_and_answers_like_single_writes(tmp_path: Path) -> None:
    path = tmp_path / "messages.db"
    store = SqliteMessageStore.open(path)
    try:
        with store.batch():
            with store.batch():  # nested batches join the outer one
                store.add_outgoing(outgoing(0), Conversation(peer=PEER, epoch=b"E" * 8, next_seq=1))
            store.add_outgoing(outgoing(1), Conversation(peer=PEER, epoch=b"E" * 8, next_seq=2))
            assert count_outgoing(path) == 0  # nothing is committed inside the batch
            assert len(store.pending_outgoing()) == 2  # but the batch sees its own writes
        assert count_outgoing(path) == 2
        memory = MemoryMessageStore()
        other = SqliteMessageStore.open(tmp_path / "other.db")
        with other.batch():
            batched = exercise(other)
        assert batched == exercise(memory)
        other.close()
    finally:
        store.close()


def test_a_failed_write_in_a_batch_is_undone_alone_and_the_rest_is_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "messages.db"
    store = SqliteMessageStore.open(path)
    conversation = Conversation(peer=PEER, epoch=b"E" * 8, next_seq=1)
    try:
        with pytest.raises(MessageStoreError), store.batch():
            store.add_outgoing(outgoing(0), conversation)
            # the same id again: the INSERT fails, the conversation update with it
            store.add_outgoing(outgoing(0), replace(conversation, next_seq=99))
        assert count_outgoing(path) == 1
        assert store.sender_conversation(PEER) == conversation
        with store.batch():  # the store is usable afterwards
            store.add_outgoing(outgoing(1), replace(conversation, next_seq=2))
        assert count_outgoing(path) == 2
    finally:
        store.close()


def test_unread_listing_finds_an_old_unread_message_behind_many_read_ones(
    tmp_path: Path,
) -> None:
    store = SqliteMessageStore.open(tmp_path / "messages.db")
    conversation = Conversation(peer=PEER, epoch=b"F" * 8, next_seq=1)
    try:
        store.commit_incoming([incoming(0)], conversation)  # the oldest, never read
        with store.batch():
            for i in range(1, 1500):
                read = replace(
                    incoming(0),
                    id=MessageId((100_000 + i).to_bytes(16, "big")),
                    seq=i,
                    delivered_at=100.0 + i,
                    read_at=200.0 + i,
                )
                store.commit_incoming([read], replace(conversation, next_seq=i + 1))
        unread = store.list_incoming(peer=None, limit=10, unread=True)
        assert [m.id for m in unread] == [incoming(0).id]
        assert len(store.list_incoming(peer=PEER, limit=2000)) == 1500
    finally:
        store.close()
