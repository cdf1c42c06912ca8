"""``SqliteMessageStore``: the messaging store on disk (stdlib ``sqlite3``).

Durability: the database runs in WAL mode with ``synchronous=FULL``, so every commit
fsyncs the write-ahead log before it returns; each store call that writes is one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``). "``send`` returned" therefore means
"the message is on disk", through a crash of the process or of the machine.

Damage is never silently dropped: at open the file must be a MeshNet message database
of a schema version we know, and ``PRAGMA quick_check`` must answer ``ok``; otherwise
``MessageStoreError`` (a ``LocalError``) names the file, says what is wrong and how to
recover (move the file aside and start again; its messages stay in the moved file).
A new database is created under a temporary name and renamed into place, so an empty
file at the database's path is never ours: it too is reported as damage.

The schema version lives in ``PRAGMA user_version``; the file is created mode 0600
(SQLite gives its ``-wal`` and ``-shm`` files the same mode).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from meshnet.crypto.identity import NodeId
from meshnet.errors import LocalError
from meshnet.ids import MessageId
from meshnet.services.messaging import (
    Conversation,
    InboxState,
    IncomingMessage,
    OutboxState,
    OutgoingMessage,
)

__all__ = ["SCHEMA_VERSION", "MessageStoreError", "SqliteMessageStore"]

SCHEMA_VERSION = 3
_SEND, _RECEIVE = 0, 1

_SCHEMA = """
CREATE TABLE conversations (
    peer BLOB NOT NULL, direction INTEGER NOT NULL, epoch BLOB NOT NULL,
    next_seq INTEGER NOT NULL, PRIMARY KEY (peer, direction)
);
CREATE TABLE outgoing (
    id BLOB PRIMARY KEY, peer BLOB NOT NULL, epoch BLOB NOT NULL, seq INTEGER NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL, body BLOB NOT NULL, state TEXT NOT NULL,
    delivered_at REAL, read_at REAL, settled_at REAL
);
CREATE INDEX outgoing_state ON outgoing (state);
CREATE INDEX outgoing_peer ON outgoing (peer, created, seq);
CREATE TABLE incoming (
    id BLOB PRIMARY KEY, peer BLOB NOT NULL, epoch BLOB NOT NULL, seq INTEGER NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL, body BLOB NOT NULL,
    received_at REAL NOT NULL, state TEXT NOT NULL, delivered_at REAL, read_at REAL,
    read_reported INTEGER NOT NULL
);
CREATE INDEX incoming_held ON incoming (peer, state, seq);
CREATE INDEX incoming_delivered ON incoming (state, delivered_at, seq);
CREATE INDEX incoming_unreported ON incoming (read_reported) WHERE read_at IS NOT NULL;
"""
_MAILBOX_SCHEMA = """
CREATE TABLE mailbox_owners (owner BLOB PRIMARY KEY);
CREATE TABLE mailbox (
    owner BLOB NOT NULL, id BLOB NOT NULL, sealed BLOB NOT NULL, deposited REAL NOT NULL,
    PRIMARY KEY (owner, id)
);
"""
_OWNER_SEEN = """
ALTER TABLE mailbox_owners ADD COLUMN seen REAL NOT NULL DEFAULT 0;
UPDATE mailbox_owners SET seen = CAST(strftime('%s', 'now') AS REAL);
"""
_MIGRATIONS = {1: _MAILBOX_SCHEMA, 2: _OWNER_SEEN}
"""What turns version N into N + 1 (version 1 had no mailbox; version 2 did not record
when a mailbox owner was last heard from, so upgraded owners count as heard from now)."""
_TABLES = {"conversations", "outgoing", "incoming", "mailbox_owners", "mailbox"}
_OUT_COLUMNS = (
    "id, peer, epoch, seq, created, expires, body, state, delivered_at, read_at, settled_at"
)
_IN_COLUMNS = (
    "id, peer, epoch, seq, created, expires, body, received_at, state, delivered_at, "
    "read_at, read_reported"
)


class MessageStoreError(LocalError):
    """The message database cannot be used; the message names the file and the remedy."""


def _damaged(path: Path, what: str) -> MessageStoreError:
    return MessageStoreError(
        f"message database {path} is unusable: {what}. Nothing was changed. To recover, "
        f"stop the node and move the file aside (with any {path.name}-wal and "
        f"{path.name}-shm beside it), e.g. `mv {path} {path}.damaged`; the node then starts "
        "with an empty message store, and the moved file keeps what could still be read."
    )


def _outgoing(row: Any) -> OutgoingMessage:
    return OutgoingMessage(
        id=MessageId(bytes(row[0])),
        peer=NodeId(bytes(row[1])),
        epoch=bytes(row[2]),
        seq=row[3],
        created=row[4],
        expires=row[5],
        body=bytes(row[6]),
        state=OutboxState(row[7]),
        delivered_at=row[8],
        read_at=row[9],
        settled_at=row[10],
    )


def _incoming(row: Any) -> IncomingMessage:
    return IncomingMessage(
        id=MessageId(bytes(row[0])),
        peer=NodeId(bytes(row[1])),
        epoch=bytes(row[2]),
        seq=row[3],
        created=row[4],
        expires=row[5],
        body=bytes(row[6]),
        received_at=row[7],
        state=InboxState(row[8]),
        delivered_at=row[9],
        read_at=row[10],
        read_reported=bool(row[11]),
    )


def _out_values(m: OutgoingMessage) -> tuple[object, ...]:
    return (
        m.id, m.peer.raw, m.epoch, m.seq, m.created, m.expires, m.body, m.state.value,
        m.delivered_at, m.read_at, m.settled_at,
    )  # fmt: skip


def _in_values(m: IncomingMessage) -> tuple[object, ...]:
    return (
        m.id, m.peer.raw, m.epoch, m.seq, m.created, m.expires, m.body, m.received_at,
        m.state.value, m.delivered_at, m.read_at, int(m.read_reported),
    )  # fmt: skip


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        connection.close()
        raise _damaged(path, f"it cannot be put in WAL mode (journal mode {mode})")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


class SqliteMessageStore:
    """A ``MessageStore`` in one SQLite file. Use ``SqliteMessageStore.open(path)``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._batch_depth = 0

    @classmethod
    def open(cls, path: Path) -> SqliteMessageStore:
        """Open the database at ``path``, creating it if there is no file there.

        Raises:
            MessageStoreError: the file is damaged, truncated, not a message database,
                of a newer schema, or cannot be opened; the message says how to recover.
        """
        path = Path(path)
        if not path.exists():
            cls._create(path)
        elif path.stat().st_size == 0:
            raise _damaged(path, "the file is empty (truncated?)")
        try:
            connection = _connect(path)
        except sqlite3.Error as exc:
            raise _damaged(path, str(exc)) from None
        try:
            cls._check(connection, path)
        except (sqlite3.Error, MessageStoreError) as exc:
            connection.close()
            if isinstance(exc, MessageStoreError):
                raise
            raise _damaged(path, str(exc)) from None
        return cls(connection, path)

    @staticmethod
    def _create(path: Path) -> None:
        temporary = path.with_name(path.name + ".creating")
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            connection = _connect(temporary)
            try:
                connection.executescript(
                    f"BEGIN; {_SCHEMA} {' '.join(_MIGRATIONS.values())} "
                    f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                )
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
            os.replace(temporary, path)
        except (OSError, sqlite3.Error) as exc:
            raise MessageStoreError(f"cannot create message database {path}: {exc}") from None

    @staticmethod
    def _check(connection: sqlite3.Connection, path: Path) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if version > SCHEMA_VERSION:
            raise MessageStoreError(
                f"message database {path} has schema version {version}, newer than this "
                f"MeshNet's {SCHEMA_VERSION}: run a newer MeshNet, or move the file aside"
            )
        if version < 1 or not tables >= {"conversations", "outgoing", "incoming"}:
            raise _damaged(path, f"it is not a MeshNet message database (version {version})")
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise _damaged(path, "integrity check failed: " + "; ".join(problems[:3]))
        while version < SCHEMA_VERSION:  # upgrade in place, one version per transaction
            connection.executescript(
                f"BEGIN; {_MIGRATIONS[version]} PRAGMA user_version={version + 1}; COMMIT;"
            )
            version += 1
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if not tables >= _TABLES:
            raise _damaged(path, f"tables are missing: {', '.join(sorted(_TABLES - tables))}")

    def close(self) -> None:
        """Close the database (committed data is already on disk)."""
        self._db.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One commit (one disk sync) for every write inside, at the end.

        Each write inside is a savepoint, undone alone if it fails; the ones that
        succeeded are committed when the batch ends, even when it ends by an exception.
        """
        if self._batch_depth:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise MessageStoreError(f"message database {self.path}: {exc}") from None
        self._batch_depth = 1
        try:
            yield
        finally:
            self._batch_depth = 0
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise MessageStoreError(f"message database {self.path}: {exc}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        if self._batch_depth:
            try:
                db.execute("SAVEPOINT write")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK TO write")
                    db.execute("RELEASE write")
                    raise
                db.execute("RELEASE write")
            except sqlite3.Error as exc:
                raise MessageStoreError(f"message database {self.path}: {exc}") from None
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise MessageStoreError(f"message database {self.path}: {exc}") from None

    # -- MessageStore ----------------------------------------------------------------------

    def _conversation(self, peer: NodeId, direction: int) -> Conversation | None:
        row = self._db.execute(
            "SELECT epoch, next_seq FROM conversations WHERE peer=? AND direction=?",
            (peer.raw, direction),
        ).fetchone()
        if row is None:
            return None
        return Conversation(peer=peer, epoch=bytes(row[0]), next_seq=row[1])

    def _put_conversation(
        self, db: sqlite3.Connection, conversation: Conversation, direction: int
    ) -> None:
        db.execute(
            "INSERT INTO conversations (peer, direction, epoch, next_seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (peer, direction) DO UPDATE SET epoch=excluded.epoch, "
            "next_seq=excluded.next_seq",
            (conversation.peer.raw, direction, conversation.epoch, conversation.next_seq),
        )

    def sender_conversation(self, peer: NodeId) -> Conversation | None:
        return self._conversation(peer, _SEND)

    def receiver_conversation(self, peer: NodeId) -> Conversation | None:
        return self._conversation(peer, _RECEIVE)

    def add_outgoing(self, message: OutgoingMessage, conversation: Conversation) -> None:
        with self._transaction() as db:
            db.execute(f"INSERT INTO outgoing ({_OUT_COLUMNS}) VALUES ({'?, ' * 10}?)",
                       _out_values(message))  # fmt: skip
            self._put_conversation(db, conversation, _SEND)

    def update_outgoing(self, message: OutgoingMessage) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE outgoing SET state=?, delivered_at=?, read_at=?, settled_at=? WHERE id=?",
                (
                    message.state.value,
                    message.delivered_at,
                    message.read_at,
                    message.settled_at,
                    message.id,
                ),
            )

    def outgoing(self, message_id: MessageId) -> OutgoingMessage | None:
        row = self._db.execute(
            f"SELECT {_OUT_COLUMNS} FROM outgoing WHERE id=?", (message_id,)
        ).fetchone()
        return None if row is None else _outgoing(row)

    def pending_outgoing(self) -> list[OutgoingMessage]:
        rows = self._db.execute(
            f"SELECT {_OUT_COLUMNS} FROM outgoing WHERE state=? ORDER BY created, seq, id",
            (OutboxState.PENDING.value,),
        )
        return [_outgoing(row) for row in rows]

    def list_outgoing(self, *, peer: NodeId | None, limit: int) -> list[OutgoingMessage]:
        where, args = ("WHERE peer=?", (peer.raw,)) if peer is not None else ("", ())
        rows = self._db.execute(
            f"SELECT {_OUT_COLUMNS} FROM outgoing {where} "
            "ORDER BY created DESC, seq DESC, id DESC LIMIT ?",
            (*args, max(0, limit)),
        ).fetchall()
        return [_outgoing(row) for row in reversed(rows)]

    def incoming(self, message_id: MessageId) -> IncomingMessage | None:
        row = self._db.execute(
            f"SELECT {_IN_COLUMNS} FROM incoming WHERE id=?", (message_id,)
        ).fetchone()
        return None if row is None else _incoming(row)

    def commit_incoming(
        self, messages: Sequence[IncomingMessage], conversation: Conversation
    ) -> None:
        with self._transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO incoming ({_IN_COLUMNS}) VALUES ({'?, ' * 11}?)",
                [_in_values(m) for m in messages],
            )
            self._put_conversation(db, conversation, _RECEIVE)

    def update_incoming(self, message: IncomingMessage) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE incoming SET state=?, delivered_at=?, read_at=?, read_reported=? "
                "WHERE id=?",
                (
                    message.state.value,
                    message.delivered_at,
                    message.read_at,
                    int(message.read_reported),
                    message.id,
                ),
            )

    def held_incoming(self, peer: NodeId) -> list[IncomingMessage]:
        rows = self._db.execute(
            f"SELECT {_IN_COLUMNS} FROM incoming WHERE peer=? AND state=? ORDER BY seq",
            (peer.raw, InboxState.HELD.value),
        )
        return [_incoming(row) for row in rows]

    def unreported_reads(self) -> list[IncomingMessage]:
        rows = self._db.execute(
            f"SELECT {_IN_COLUMNS} FROM incoming WHERE read_at IS NOT NULL AND read_reported=0"
        )
        return [_incoming(row) for row in rows]

    def list_incoming(
        self, *, peer: NodeId | None, limit: int, unread: bool = False
    ) -> list[IncomingMessage]:
        where, args = ("AND peer=?", (peer.raw,)) if peer is not None else ("", ())
        if unread:
            where += " AND read_at IS NULL"
        rows = self._db.execute(
            f"SELECT {_IN_COLUMNS} FROM incoming WHERE state=? {where} "
            "ORDER BY delivered_at DESC, seq DESC, id DESC LIMIT ?",
            (InboxState.DELIVERED.value, *args, max(0, limit)),
        ).fetchall()
        return [_incoming(row) for row in reversed(rows)]

    # -- mailbox -----------------------------------------------------------------------

    def mailbox_owners(self) -> list[NodeId]:
        rows = self._db.execute("SELECT owner FROM mailbox_owners ORDER BY rowid")
        return [NodeId(bytes(row[0])) for row in rows]

    def add_mailbox_owner(self, owner: NodeId, at: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO mailbox_owners (owner, seen) VALUES (?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET seen = excluded.seen",
                (owner.raw, at),
            )

    def forget_mailbox_owners(self, before: float) -> list[NodeId]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT owner FROM mailbox_owners WHERE seen < ? AND NOT EXISTS"
                " (SELECT 1 FROM mailbox WHERE mailbox.owner = mailbox_owners.owner)"
                " ORDER BY rowid",
                (before,),
            ).fetchall()
            db.executemany("DELETE FROM mailbox_owners WHERE owner = ?", rows)
        return [NodeId(bytes(row[0])) for row in rows]

    def deposit(self, owner: NodeId, message_id: MessageId, sealed: bytes, at: float) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO mailbox (owner, id, sealed, deposited) VALUES (?, ?, ?, ?)",
                (owner.raw, message_id, sealed, at),
            )
            return cursor.rowcount == 1

    def mailbox_items(self, owner: NodeId, limit: int) -> list[tuple[MessageId, bytes]]:
        rows = self._db.execute(
            "SELECT id, sealed FROM mailbox WHERE owner=? ORDER BY rowid LIMIT ?",
            (owner.raw, max(0, limit)),
        )
        return [(MessageId(bytes(row[0])), bytes(row[1])) for row in rows]

    def mailbox_count(self, owner: NodeId) -> int:
        row = self._db.execute("SELECT count(*) FROM mailbox WHERE owner=?", (owner.raw,))
        return int(row.fetchone()[0])

    def release(self, owner: NodeId, ids: Sequence[MessageId]) -> None:
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM mailbox WHERE owner=? AND id=?", [(owner.raw, i) for i in ids]
            )

    def expire_mail(self, before: float) -> int:
        with self._transaction() as db:
            return db.execute("DELETE FROM mailbox WHERE deposited < ?", (before,)).rowcount
