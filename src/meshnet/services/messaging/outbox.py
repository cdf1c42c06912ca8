"""``Outbox``: the sending half of messaging: pending messages and their conversations.

A message is *pending* from the commit in ``create`` until ``settle`` (delivered,
cancelled or expired); pending messages are kept in memory too, per peer in sequence
order, with their expiry deadlines (in the driver's ``now`` time). ``floor`` is the
lowest pending sequence number to a peer, or its next one: every number below it is
settled. Which stream carries what is the service's business, not the outbox's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import NodeId
from meshnet.deadlines import DeadlineHeap
from meshnet.errors import LocalError, StateError
from meshnet.ids import MessageId
from meshnet.services.messaging.config import MessagingConfig
from meshnet.services.messaging.messages import EPOCH_SIZE, MESSAGE_ID_SIZE, Floor, MessageFrame
from meshnet.services.messaging.records import Conversation, OutboxState, OutgoingMessage
from meshnet.services.messaging.store import MessageStore

__all__ = ["Outbox"]


class Outbox:
    """Pending outgoing messages over a ``MessageStore``.

    Args:
        store: where messages and sender conversations are committed.
        config: body limit and default lifetime.
        entropy: message ids and conversation epochs.
        wall_offset: unix time minus ``now``.
    """

    def __init__(
        self, *, store: MessageStore, config: MessagingConfig, entropy: Entropy, wall_offset: float
    ) -> None:
        self._store = store
        self._config = config
        self._entropy = entropy
        self._wall_offset = wall_offset
        self.pending: dict[MessageId, OutgoingMessage] = {}
        self._by_peer: dict[NodeId, dict[MessageId, None]] = {}  # in sequence order
        self._senders: dict[NodeId, Conversation] = {}
        self._expiry: DeadlineHeap[MessageId] = DeadlineHeap()
        self.deposited: set[MessageId] = set()
        """Pending messages a mailbox has confirmed holding (not deposited again)."""
        for message in store.pending_outgoing():
            self._track(message)

    def _track(self, message: OutgoingMessage) -> None:
        self.pending[message.id] = message
        self._by_peer.setdefault(message.peer, {})[message.id] = None
        self._expiry.set(message.id, message.expires - self._wall_offset)

    def peers(self) -> list[NodeId]:
        """Peers we have pending messages for."""
        return list(self._by_peer)

    def pending_to(self, peer: NodeId) -> Iterable[MessageId]:
        """Ids of the messages pending for ``peer``, in sequence order."""
        return self._by_peer.get(peer, {})

    def has_pending(self, peer: NodeId) -> bool:
        return bool(self._by_peer.get(peer))

    def _sender(self, peer: NodeId) -> Conversation:
        conversation = self._senders.get(peer) or self._store.sender_conversation(peer)
        if conversation is None:
            epoch = self._entropy.random_bytes(EPOCH_SIZE)
            conversation = Conversation(peer=peer, epoch=epoch, next_seq=0)
        self._senders[peer] = conversation
        return conversation

    def floor(self, peer: NodeId) -> Floor:
        conversation = self._sender(peer)
        pending = self._by_peer.get(peer)
        floor = conversation.next_seq
        if pending:
            floor = self.pending[next(iter(pending))].seq
        return Floor(epoch=conversation.epoch, floor=floor)

    def frame(self, message_id: MessageId) -> MessageFrame:
        """The MESSAGE frame of a pending message."""
        message = self.pending[message_id]
        return MessageFrame(
            id=message.id,
            epoch=message.epoch,
            seq=message.seq,
            created=message.created,
            expires=message.expires,
            body=message.body,
        )

    def create(
        self, peer: NodeId, body: bytes, wall: float, expires_in: float | None
    ) -> OutgoingMessage:
        """Number a new message for ``peer`` and commit it with its conversation.

        Raises:
            LocalError: the body is over ``max_body`` or ``expires_in`` is not positive.
        """
        if len(body) > self._config.max_body:
            raise LocalError(f"a message body is at most {self._config.max_body} bytes")
        lifetime = self._config.expires_in if expires_in is None else expires_in
        if not lifetime > 0:
            raise LocalError("expires_in must be a positive number of seconds")
        conversation = self._sender(peer)
        message = OutgoingMessage(
            id=MessageId(self._entropy.random_bytes(MESSAGE_ID_SIZE)),
            peer=peer,
            epoch=conversation.epoch,
            seq=conversation.next_seq,
            created=wall,
            expires=wall + lifetime,
            body=bytes(body),
        )
        conversation = replace(conversation, next_seq=conversation.next_seq + 1)
        self._store.add_outgoing(message, conversation)
        self._senders[peer] = conversation
        self._track(message)
        return message

    def check_cancel(self, message_id: MessageId) -> None:
        """Raise unless ``message_id`` is pending (LocalError: unknown; StateError: settled)."""
        if message_id in self.pending:
            return
        stored = self._store.outgoing(message_id)
        if stored is None:
            raise LocalError(f"no sent message has id {message_id.hex()}")
        raise StateError(f"message {message_id.hex()} is {stored.state.value} already")

    def settle(self, message_id: MessageId, state: OutboxState, wall: float) -> OutgoingMessage:
        """Commit a pending message's end: delivered, cancelled or expired."""
        message = self.pending.pop(message_id)
        if state is OutboxState.DELIVERED:
            message = replace(message, state=state, delivered_at=wall)
        else:
            message = replace(message, state=state, settled_at=wall)
        self._store.update_outgoing(message)
        waiting = self._by_peer[message.peer]
        del waiting[message_id]
        if not waiting:
            del self._by_peer[message.peer]
        self._expiry.set(message_id, None)
        self.deposited.discard(message_id)
        return message

    def mark_read(self, peer: NodeId, message_id: MessageId, wall: float) -> bool:
        """A READ receipt from ``peer``: True when it changed a delivered message to read."""
        message = self._store.outgoing(message_id)
        if message is None or message.peer != peer or message.state is not OutboxState.DELIVERED:
            return False
        self._store.update_outgoing(replace(message, state=OutboxState.READ, read_at=wall))
        return True

    def expiry_timer(self) -> float | None:
        return self._expiry.earliest()

    def expired(self, now: float) -> list[MessageId]:
        """Pending messages whose expiry time has come."""
        return [m for m in self._expiry.pop_due(now) if m in self.pending]
