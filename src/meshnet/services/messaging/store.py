"""``MessageStore``: where the messaging core keeps what must survive a crash.

The core calls the store synchronously, and a call that writes is one atomic commit:
when it returns, the change is durable (for ``SqliteMessageStore`` in
``meshnet.runtime.msgstore``: on disk). The store is injected like ``Entropy``, so the
core itself opens no file. ``MemoryMessageStore`` keeps everything in dictionaries:
tests and the simulator use it, and a simulated node that crashes and restarts with
the same object behaves like a real one that reopens its database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId
from meshnet.services.messaging.records import (
    Conversation,
    InboxState,
    IncomingMessage,
    OutboxState,
    OutgoingMessage,
)

__all__ = ["MemoryMessageStore", "MessageStore", "inbox_order", "outbox_order"]


class MessageStore(Protocol):
    """The operations the messaging core needs; each write is one commit."""

    def batch(self) -> AbstractContextManager[None]:
        """Group the writes made inside into one durable commit at the end.

        Each write stays atomic on its own; a write that fails inside a batch is undone
        alone and the others are still committed when the batch ends. Whatever the
        core makes visible outside (acknowledgements, events) must leave only after
        the batch ends, which holds when one synchronous core call opens and closes it.
        """

    def sender_conversation(self, peer: NodeId) -> Conversation | None:
        """Our sending conversation with ``peer``, if we ever sent to it."""

    def receiver_conversation(self, peer: NodeId) -> Conversation | None:
        """Our receiving conversation with ``peer``, if it ever sent to us."""

    def add_outgoing(self, message: OutgoingMessage, conversation: Conversation) -> None:
        """Commit a new outgoing message together with its sender conversation."""

    def update_outgoing(self, message: OutgoingMessage) -> None:
        """Commit a new state of an outgoing message already stored (same id)."""

    def outgoing(self, message_id: MessageId) -> OutgoingMessage | None:
        """An outgoing message by id."""

    def pending_outgoing(self) -> list[OutgoingMessage]:
        """Every outgoing message still ``PENDING`` (what a restart retries)."""

    def list_outgoing(self, *, peer: NodeId | None, limit: int) -> list[OutgoingMessage]:
        """The newest ``limit`` outgoing messages (to ``peer`` only, if given), oldest first."""

    def incoming(self, message_id: MessageId) -> IncomingMessage | None:
        """An incoming message by id (the de-duplication check)."""

    def commit_incoming(
        self, messages: Sequence[IncomingMessage], conversation: Conversation
    ) -> None:
        """Commit new or changed incoming messages and the receiver conversation at once."""

    def update_incoming(self, message: IncomingMessage) -> None:
        """Commit a new state of an incoming message already stored (same id)."""

    def held_incoming(self, peer: NodeId) -> list[IncomingMessage]:
        """Messages from ``peer`` that are ``HELD``, by sequence number."""

    def unreported_reads(self) -> list[IncomingMessage]:
        """Messages marked read whose read receipt the sender has not confirmed."""

    def list_incoming(
        self, *, peer: NodeId | None, limit: int, unread: bool = False
    ) -> list[IncomingMessage]:
        """The newest ``limit`` delivered messages (from ``peer`` only, if given; only
        those not marked read, if ``unread``), in the order they were delivered."""

    # -- the mailbox we keep for others (sealed: we cannot read it) ----------------------

    def mailbox_owners(self) -> list[NodeId]:
        """The nodes we hold mail for."""

    def add_mailbox_owner(self, owner: NodeId, at: float) -> None:
        """Commit that we hold mail for ``owner``, last heard from at ``at`` (wall clock)."""

    def forget_mailbox_owners(self, before: float) -> list[NodeId]:
        """Commit forgetting the owners last heard from before ``before`` for whom we hold
        no mail; which ones, in the order they were added."""

    def deposit(self, owner: NodeId, message_id: MessageId, sealed: bytes, at: float) -> bool:
        """Commit sealed mail for ``owner``; False when that id is held already."""

    def mailbox_items(self, owner: NodeId, limit: int) -> list[tuple[MessageId, bytes]]:
        """Up to ``limit`` of ``owner``'s held mail, oldest first."""

    def mailbox_count(self, owner: NodeId) -> int:
        """How much mail we hold for ``owner``."""

    def release(self, owner: NodeId, ids: Sequence[MessageId]) -> None:
        """Commit that ``owner`` has the mail ``ids``: forget it."""

    def expire_mail(self, before: float) -> int:
        """Commit deleting the mail deposited before ``before`` (wall clock); how much."""


def outbox_order(message: OutgoingMessage) -> tuple[float, int, bytes]:
    """The order of ``list_outgoing``: creation time, then sequence number."""
    return (message.created, message.seq, message.id)


def inbox_order(message: IncomingMessage) -> tuple[float, int, bytes]:
    """The order of ``list_incoming``: delivery time, then sequence number."""
    return (message.delivered_at or 0.0, message.seq, message.id)


class MemoryMessageStore:
    """A ``MessageStore`` in memory: every commit is immediate and atomic."""

    def __init__(self) -> None:
        self._senders: dict[NodeId, Conversation] = {}
        self._receivers: dict[NodeId, Conversation] = {}
        self._outgoing: dict[MessageId, OutgoingMessage] = {}
        self._incoming: dict[MessageId, IncomingMessage] = {}
        self._owners: dict[NodeId, dict[MessageId, tuple[bytes, float]]] = {}
        self._owner_seen: dict[NodeId, float] = {}
        self.commits = 0
        """How many commits were made (tests count them)."""

    def batch(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def sender_conversation(self, peer: NodeId) -> Conversation | None:
        return self._senders.get(peer)

    def receiver_conversation(self, peer: NodeId) -> Conversation | None:
        return self._receivers.get(peer)

    def add_outgoing(self, message: OutgoingMessage, conversation: Conversation) -> None:
        self._outgoing[message.id] = message
        self._senders[conversation.peer] = conversation
        self.commits += 1

    def update_outgoing(self, message: OutgoingMessage) -> None:
        if message.id in self._outgoing:
            self._outgoing[message.id] = message
            self.commits += 1

    def outgoing(self, message_id: MessageId) -> OutgoingMessage | None:
        return self._outgoing.get(message_id)

    def pending_outgoing(self) -> list[OutgoingMessage]:
        pending = [m for m in self._outgoing.values() if m.state is OutboxState.PENDING]
        return sorted(pending, key=outbox_order)

    def list_outgoing(self, *, peer: NodeId | None, limit: int) -> list[OutgoingMessage]:
        chosen = [m for m in self._outgoing.values() if peer is None or m.peer == peer]
        return sorted(chosen, key=outbox_order)[-limit:] if limit > 0 else []

    def incoming(self, message_id: MessageId) -> IncomingMessage | None:
        return self._incoming.get(message_id)

    def commit_incoming(
        self, messages: Sequence[IncomingMessage], conversation: Conversation
    ) -> None:
        for message in messages:
            self._incoming[message.id] = message
        self._receivers[conversation.peer] = conversation
        self.commits += 1

    def update_incoming(self, message: IncomingMessage) -> None:
        if message.id in self._incoming:
            self._incoming[message.id] = message
            self.commits += 1

    def held_incoming(self, peer: NodeId) -> list[IncomingMessage]:
        held = [m for m in self._incoming.values() if m.peer == peer and m.state is InboxState.HELD]
        return sorted(held, key=lambda m: m.seq)

    def unreported_reads(self) -> list[IncomingMessage]:
        return [m for m in self._incoming.values() if m.read_at is not None and not m.read_reported]

    def list_incoming(
        self, *, peer: NodeId | None, limit: int, unread: bool = False
    ) -> list[IncomingMessage]:
        chosen = [
            m
            for m in self._incoming.values()
            if m.state is InboxState.DELIVERED
            and (peer is None or m.peer == peer)
            and not (unread and m.read_at is not None)
        ]
        return sorted(chosen, key=inbox_order)[-limit:] if limit > 0 else []

    def mailbox_owners(self) -> list[NodeId]:
        return list(self._owners)

    def add_mailbox_owner(self, owner: NodeId, at: float) -> None:
        self._owners.setdefault(owner, {})
        self._owner_seen[owner] = at
        self.commits += 1

    def forget_mailbox_owners(self, before: float) -> list[NodeId]:
        gone = [
            owner
            for owner, held in self._owners.items()
            if not held and self._owner_seen.get(owner, before) < before
        ]
        for owner in gone:
            del self._owners[owner]
            self._owner_seen.pop(owner, None)
        if gone:
            self.commits += 1
        return gone

    def deposit(self, owner: NodeId, message_id: MessageId, sealed: bytes, at: float) -> bool:
        held = self._owners.setdefault(owner, {})
        if message_id in held:
            return False
        held[message_id] = (sealed, at)
        self.commits += 1
        return True

    def mailbox_items(self, owner: NodeId, limit: int) -> list[tuple[MessageId, bytes]]:
        held = list(self._owners.get(owner, {}).items())[: max(0, limit)]
        return [(message_id, sealed) for message_id, (sealed, _) in held]

    def mailbox_count(self, owner: NodeId) -> int:
        return len(self._owners.get(owner, {}))

    def release(self, owner: NodeId, ids: Sequence[MessageId]) -> None:
        held = self._owners.get(owner)
        if held is not None:
            for message_id in ids:
                held.pop(message_id, None)
            self.commits += 1

    def expire_mail(self, before: float) -> int:
        expired = 0
        for held in self._owners.values():
            old = [message_id for message_id, (_, at) in held.items() if at < before]
            for message_id in old:
                del held[message_id]
            expired += len(old)
        if expired:
            self.commits += 1
        return expired
