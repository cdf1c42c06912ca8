"""The driver's messaging verbs: send, cancel, read receipts, mailbox, inbox and outbox.

``MessageVerbs`` is mixed into ``NodeDriver``. The node commits a message to its store
before ``send_message`` returns; its progress arrives as events (``MessageReceived``,
``MessageDelivered``, ``MessageRead``, ``MessageExpired``) through ``subscribe`` or
``listen``.
"""

from __future__ import annotations

from typing import Protocol

from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId
from meshnet.node.node import Node
from meshnet.services.messaging import IncomingMessage, OutgoingMessage

__all__ = ["MessageVerbs"]


class _Driver(Protocol):
    """What the verbs use of the driver."""

    node: Node

    def now(self) -> float: ...
    def _require_running(self) -> None: ...
    def _pump(self) -> None: ...


class MessageVerbs:
    """Messages with store-and-forward (a mixin of ``NodeDriver``)."""

    def send_message(
        self: _Driver, peer: NodeId, body: bytes, *, expires_in: float | None = None
    ) -> MessageId:
        """Send a message; when this returns it is committed to the node's message store.

        Raises:
            StateError: the driver is not running.
            LocalError: ``peer`` is this node, the body is too large or ``expires_in`` is
                not positive; ``MessageStoreError`` when the database cannot commit.
        """
        self._require_running()
        message_id = self.node.send_message(peer, body, self.now(), expires_in=expires_in)
        self._pump()
        return message_id

    def cancel_message(self: _Driver, message_id: MessageId) -> None:
        """Stop retrying a message not yet delivered.

        Raises:
            LocalError: no sent message has this id. StateError: it is settled already.
        """
        self._require_running()
        self.node.cancel_message(message_id, self.now())
        self._pump()

    def mark_read(self: _Driver, message_id: MessageId) -> None:
        """Mark a received message read; its sender gets a read receipt.

        Raises:
            LocalError: no received message has this id. StateError: it is held.
        """
        self._require_running()
        self.node.mark_read(message_id, self.now())
        self._pump()

    def use_mailbox(self: _Driver, mailbox: NodeId | None) -> None:
        """Name the node that holds this node's sealed mail while it is offline (None: none).

        Raises:
            LocalError: ``mailbox`` is this node. StateError: the driver is not running.
        """
        self._require_running()
        self.node.use_mailbox(mailbox, self.now())
        self._pump()

    def inbox(
        self: _Driver, *, peer: NodeId | None = None, limit: int = 100, unread: bool = False
    ) -> list[IncomingMessage]:
        """The newest ``limit`` messages delivered to this node (only those not marked
        read, if ``unread``), oldest first."""
        return self.node.inbox(peer=peer, limit=limit, unread=unread)

    def outbox(
        self: _Driver, *, peer: NodeId | None = None, limit: int = 100
    ) -> list[OutgoingMessage]:
        """The newest ``limit`` messages this node sent (any state), oldest first."""
        return self.node.outbox(peer=peer, limit=limit)
