"""``MessagingConfig``: the knobs of the messaging service (docs/protocol/messaging.md §7)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from meshnet.errors import ConfigError
from meshnet.services.messaging.messages import MAX_BODY

__all__ = ["MESSAGING_SERVICE", "MessagingConfig"]

MESSAGING_SERVICE = 1
"""The session service number of messaging streams."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingConfig:
    """Durations are in seconds."""

    expires_in: float = 7 * 24 * 3600.0
    """How long an undelivered message is retried unless ``send`` says otherwise."""
    max_body: int = MAX_BODY
    """The largest body ``send`` accepts and a peer may send (at most 64 KiB)."""
    retry_initial: float = 1.0
    """The first wait after a failed attempt to reach a peer; doubles per failure."""
    retry_max: float = 300.0
    """The wait between attempts stops doubling here."""
    ack_timeout: float = 60.0
    """A message written on a stream and not acknowledged this long restarts the stream."""
    stream_idle: float = 30.0
    """Finish our messaging stream to a peer after this long with nothing to send."""
    peer_rate: float = 50.0
    """Messages per second one peer may have accepted by us, sustained ..."""
    peer_burst: int = 500
    """... and in a burst. Beyond it a message is refused (not acknowledged) and counted."""
    max_held: int = 256
    """Out-of-order messages held per sender; beyond it they are refused."""
    mailbox_after: int = 2
    """Deposit pending messages with the recipient's mailbox after this many failed
    attempts to reach the recipient."""
    collect_interval: float = 60.0
    """How often a node with a mailbox asks it for mail."""
    mailbox_owners: int = 64
    """Nodes we hold mail for, at most."""
    mailbox_items: int = 1024
    """Sealed messages we hold per owner, at most."""
    mailbox_max_age: float = 30 * 24 * 3600.0
    """Held mail older than this is deleted: an owner that never collects does not fill
    our disk for ever (its senders keep their own copies until those expire)."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"messaging.{item.name} must be a positive number")
        if self.max_body > MAX_BODY:
            raise ConfigError(f"messaging.max_body must be at most {MAX_BODY}")
        if self.retry_max < self.retry_initial:
            raise ConfigError("messaging.retry_max must be at least retry_initial")
