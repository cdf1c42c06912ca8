"""``Channel``: our messaging stream to one peer and what waits to go on it.

A node writes messaging frames only on a stream it opened itself (service
``MESSAGING_SERVICE``), one per peer at a time, and reads only from streams the peer
opened. The channel keeps, for its peer: the stream (or None), the bytes
``stream_send`` has not taken yet (flow control), control frames (FLOOR, receipts),
the pending messages not yet written on this stream, the ones written and not yet
acknowledged (with when), and the retry backoff after failures.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId, StreamId
from meshnet.services.messaging.config import MessagingConfig
from meshnet.services.messaging.messages import MAX_IDS, Frame, Receipt
from meshnet.wire.codes import MessagingFrame

__all__ = ["Channel"]


@dataclass(slots=True, eq=False)
class Channel:
    peer: NodeId
    stream: StreamId | None = None
    buffer: bytes = b""
    """Encoded bytes of the current record that ``stream_send`` has not taken yet."""
    control: deque[Frame] = field(default_factory=deque)
    """FLOOR frames waiting, ahead of any message."""
    receipts: dict[MessagingFrame, dict[MessageId, None]] = field(default_factory=dict)
    """ACK / READ / READ_ACK ids to send, by kind."""
    unsent: deque[MessageId] = field(default_factory=deque)
    """Pending messages not written on the current stream yet, in sequence order."""
    written: dict[MessageId, float] = field(default_factory=dict)
    """Messages written on the current stream and not acknowledged: when written."""
    failures: int = 0
    """Consecutive failed attempts (streams reset or never opened); 0 after an ACK."""
    retry_at: float = 0.0
    """No new stream opens before this time (backoff)."""
    last_write: float = 0.0

    def queue_receipt(self, kind: MessagingFrame, message_id: MessageId) -> None:
        self.receipts.setdefault(kind, {})[message_id] = None

    def next_control(self) -> Frame | None:
        """The next control frame: FLOORs, notices, mail first, then receipts (at most
        MAX_IDS ids each)."""
        if self.control:
            return self.control.popleft()
        for kind, waiting in self.receipts.items():
            if waiting:
                ids = tuple(list(waiting)[:MAX_IDS])
                for message_id in ids:
                    del waiting[message_id]
                return Receipt(kind=kind, ids=ids)
        return None

    def has_receipts(self, kind: MessagingFrame) -> bool:
        return bool(self.receipts.get(kind))

    def lost(self, now: float, config: MessagingConfig, entropy: Entropy) -> None:
        """The stream is gone (or never opened): forget it and back off with jitter."""
        self.stream = None
        self.buffer = b""
        self.control.clear()
        self.receipts.clear()  # each is sent again: ACK on the duplicate, READ from the
        # unreported set on the next stream, READ_ACK on the repeated READ
        self.unsent.clear()
        self.written.clear()
        self.failures += 1
        delay = min(config.retry_max, config.retry_initial * 2 ** min(self.failures - 1, 30))
        self.retry_at = now + delay * (0.5 + 0.5 * entropy.random_float())

    def ack_deadline(self, config: MessagingConfig) -> float | None:
        """When the oldest unacknowledged written message times out, if any."""
        for written_at in self.written.values():
            return written_at + config.ack_timeout
        return None
