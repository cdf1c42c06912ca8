"""``AckTracker``: which packet numbers arrived, and when to say so (RFC 9000 §13.2).

The receiver of ack-eliciting packets acknowledges them in ACK frames carrying ranges
of packet numbers. It acknowledges at once when a packet arrives out of order (the
sender's loss detection wants to know soon) or every second ack-eliciting packet (every
eighth when they average 32 KiB or more), and otherwise within ``max_ack_delay``.
Every number up to the largest an ACK frame reported is forgotten once that frame was
itself acknowledged (the peer has seen it; §13.2.4), so ACK frames stay short even on a
lossy path, and never more than ``MAX_TRACKED_RANGES`` are kept, so the state is
bounded whatever the peer does.
"""

from __future__ import annotations

from meshnet.session.frames import Ack
from meshnet.session.rangeset import RangeSet

__all__ = ["ACK_RANGES_PER_FRAME", "MAX_TRACKED_RANGES", "AckTracker"]

ACK_RANGES_PER_FRAME = 32
"""Ranges one ACK frame reports (the highest ones)."""
MAX_TRACKED_RANGES = 64
"""Ranges remembered at most."""
_ACK_EVERY = 2
_ACK_EVERY_LARGE = 8
_LARGE = 32 * 1024
"""Ack-eliciting packets averaging this many bytes or more are large (a stream path's
64 KiB packets): acknowledge every eighth instead of every second. Each ACK costs
every node of the path a whole packet's fixed work (the relay's pumps, syscalls and
AEADs); at one ACK per 512 KiB they are one packet in nine instead of one in five
(ACKs still come within ``max_ack_delay``, and at once after a gap)."""


class AckTracker:
    """Received packet numbers of one session and the acknowledgement timer.

    Args:
        max_ack_delay: the longest an acknowledgement waits, in seconds.
    """

    __slots__ = (
        "_bytes",
        "_deadline",
        "_eliciting",
        "_immediate",
        "_largest_at",
        "_max_delay",
        "received",
    )

    def __init__(self, max_ack_delay: float) -> None:
        self.received = RangeSet()
        self._max_delay = max_ack_delay
        self._largest_at = 0.0
        self._eliciting = 0
        self._bytes = 0  # of the ack-eliciting packets not yet acknowledged
        self._immediate = False
        self._deadline: float | None = None

    @property
    def largest(self) -> int | None:
        """The highest packet number received, or None."""
        last = self.received.last()
        return last[1] - 1 if last is not None else None

    def on_packet(self, pn: int, ack_eliciting: bool, now: float, size: int = 0) -> None:
        """Record an authenticated packet ``pn`` of ``size`` bytes."""
        received = self.received
        last = received.last()
        if last is None or pn >= last[1]:
            if last is not None and pn > last[1]:
                self._immediate = True  # a gap: a packet was lost or reordered
            self._largest_at = now
        elif ack_eliciting:
            self._immediate = True  # arrived out of order
        received.add(pn, pn + 1)
        received.drop_lowest(MAX_TRACKED_RANGES)
        if not ack_eliciting:
            return
        self._eliciting += 1
        self._bytes += size
        every = _ACK_EVERY_LARGE if self._bytes >= _ACK_EVERY * _LARGE else _ACK_EVERY
        if self._eliciting >= every:
            self._immediate = True
        elif self._deadline is None:
            self._deadline = now + self._max_delay

    def ack_due(self, now: float) -> bool:
        """True when an ACK frame must go out now."""
        if self._immediate:
            return True
        return self._deadline is not None and now >= self._deadline

    @property
    def pending(self) -> bool:
        """True when something arrived that no ACK frame has reported yet."""
        return self._immediate or self._deadline is not None

    def deadline(self) -> float | None:
        """When the delayed acknowledgement is due, if one is pending."""
        return self._deadline

    def frame(self, now: float) -> Ack | None:
        """An ACK frame for what arrived (None before the first packet); resets the timer."""
        ranges = self.received.descending(ACK_RANGES_PER_FRAME)
        if not ranges:
            return None
        self._eliciting = 0
        self._bytes = 0
        self._immediate = False
        self._deadline = None
        delay = max(0, int((now - self._largest_at) * 1_000_000))
        return Ack(tuple((start, end - 1) for start, end in ranges), delay)

    def on_ack_acknowledged(self, largest: int) -> None:
        """An ACK frame that reported numbers up to ``largest`` reached the peer."""
        self.received.remove_below(largest + 1)
