"""What the messaging store keeps: outgoing and incoming messages, conversation states.

Records are frozen; a change of state is a new record written back through the store
(``dataclasses.replace``). Every time in a record is unix seconds (wall-clock time as
the node's driver gives it), so stored deadlines mean the same after a restart.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId

__all__ = ["Conversation", "IncomingMessage", "InboxState", "OutboxState", "OutgoingMessage"]


class OutboxState(enum.StrEnum):
    """Where an outgoing message stands."""

    PENDING = "pending"
    """Accepted by ``send``; retried until acknowledged, cancelled or expired."""
    DELIVERED = "delivered"
    """The receiver committed it to its inbox and said so (the delivered receipt)."""
    READ = "read"
    """The receiving user marked it read (the read receipt)."""
    CANCELLED = "cancelled"
    """The user cancelled it before it was delivered."""
    EXPIRED = "expired"
    """It was not delivered before its expiry time."""


class InboxState(enum.StrEnum):
    """Where an incoming message stands."""

    HELD = "held"
    """Stored and acknowledged, but waiting for an earlier message of its conversation."""
    DELIVERED = "delivered"
    """Handed to the application (once, in order)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    id: MessageId
    """Random 16 bytes, unique per sender."""
    peer: NodeId
    """The recipient."""
    epoch: bytes
    """The sender conversation's epoch (8 bytes) when the message was sent."""
    seq: int
    """Its place in the conversation."""
    created: float
    expires: float
    body: bytes
    state: OutboxState = OutboxState.PENDING
    delivered_at: float | None = None
    read_at: float | None = None
    settled_at: float | None = None
    """When it was cancelled or expired."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingMessage:
    id: MessageId
    peer: NodeId
    """The authenticated sender (the session's peer, never a field of a frame)."""
    epoch: bytes
    seq: int
    created: float
    """The sender's creation time (its clock)."""
    expires: float
    body: bytes
    received_at: float
    state: InboxState
    delivered_at: float | None = None
    read_at: float | None = None
    read_reported: bool = False
    """The sender has stored our read receipt (READ_ACK)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """One direction of the messages between this node and ``peer``.

    For the sending side ``next_seq`` is the next number to hand out; for the receiving
    side it is the next number to deliver (everything below is delivered or skipped).
    """

    peer: NodeId
    epoch: bytes
    next_seq: int
