"""Events the messaging service reports (past tense) and its ``status()`` snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId

__all__ = [
    "MessageDelivered",
    "MessageExpired",
    "MessageRead",
    "MessageReceived",
    "MessagingEvent",
    "MessagingStatus",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """A message for the application: reported once, in order per sender."""

    id: MessageId
    peer: NodeId
    """The authenticated sender."""
    seq: int
    created: float
    """The sender's creation time, unix seconds."""
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDelivered:
    """The receiver stored a message we sent (the delivered receipt)."""

    id: MessageId
    peer: NodeId


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRead:
    """The receiving user marked a message we sent as read."""

    id: MessageId
    peer: NodeId


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageExpired:
    """A message we sent reached its expiry time undelivered; it is no longer retried."""

    id: MessageId
    peer: NodeId


MessagingEvent = MessageReceived | MessageDelivered | MessageRead | MessageExpired


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingStatus:
    outbox_pending: int
    """Messages accepted and not yet delivered, cancelled or expired."""
    inbox_held: int
    """Received messages waiting for an earlier one of their conversation."""
    peers_sending: int
    """Peers we hold undelivered messages for."""
    streams_open: int
    """Messaging streams open now (ours and the peers')."""
    mailbox: str | None
    """The node that holds our mail while we are away, if we named one."""
    mailbox_owners: int
    """Nodes we hold sealed mail for."""
    mailbox_held: int
    """Sealed messages we hold for them."""
    drops: tuple[tuple[str, int], ...]
    """Frames and messages refused, by reason."""
