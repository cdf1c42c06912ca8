"""Messaging: user messages that are never lost (docs/protocol/messaging.md).

``MessagingService`` is the sans-IO core; ``MessageStore`` the durable store it is
given (``MemoryMessageStore`` here, ``meshnet.runtime.msgstore.SqliteMessageStore``
on disk); ``messages`` the frame codec.
"""

from meshnet.services.messaging.config import MESSAGING_SERVICE, MessagingConfig
from meshnet.services.messaging.events import (
    MessageDelivered,
    MessageExpired,
    MessageRead,
    MessageReceived,
    MessagingEvent,
    MessagingStatus,
)
from meshnet.services.messaging.records import (
    Conversation,
    InboxState,
    IncomingMessage,
    OutboxState,
    OutgoingMessage,
)
from meshnet.services.messaging.service import MessagingService, StreamTransport
from meshnet.services.messaging.store import MemoryMessageStore, MessageStore

__all__ = [
    "MESSAGING_SERVICE",
    "Conversation",
    "InboxState",
    "IncomingMessage",
    "MemoryMessageStore",
    "MessageDelivered",
    "MessageExpired",
    "MessageRead",
    "MessageReceived",
    "MessageStore",
    "MessagingConfig",
    "MessagingEvent",
    "MessagingService",
    "MessagingStatus",
    "OutboxState",
    "OutgoingMessage",
    "StreamTransport",
]
