"""``AckTracker``: which packet numbers arrived, and when to say so (RFC 9000 §13.2).

The receiver of ack-eliciting packets acknowledges them in ACK frames carrying ranges
of packet numbers. It acknowledges at once when a packet arrives out of order (the
sender's loss detection wants to know soon) or every second ack-eliciting packet, and
otherwise within ``max_ack_delay``.

Packets averaging 32 KiB or more (a stream path's 64 KiB packets) are acknowledged
less often, by a count that follows what the sender keeps in flight, with no word from
it (docs/protocol/session.md §7): every eighth at first, one more each time the count
was reached, up to every sixteenth (one ACK per MiB). When the delay runs out first,
the sender had only ``n`` packets to send (its window or its application): the count
drops to ``n / 2`` and may climb back to ``n``, the *cap*, but past it only by one
after ``cap`` ACKs at it, about as fast as a congestion window grows in congestion
avoidance. So a sender whose window holds fewer packets than the count waits
``max_ack_delay`` once, not every round trip.
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
"""Where the count of large packets per ACK starts."""
_MAX_ACK_EVERY_LARGE = 16
"""The most large packets one ACK waits for (1 MiB of 64 KiB packets)."""
_LARGE = 32 * 1024
"""Ack-eliciting packets averaging this many bytes or more are large (a stream path's
64 KiB packets): acknowledge every eighth to sixteenth instead of every second. Each
ACK costs every node of the path a whole packet's fixed work (the relay's pumps,
syscalls and AEADs); at one ACK per MiB they are one packet in seventeen (ACKs still
come within ``max_ack_delay``, and at once after a gap)."""


class AckTracker:
    """Received packet numbers of one session and the acknowledgement timer.

    Args:
        max_ack_delay: the longest an acknowledgement waits, in seconds.
    """

    __slots__ = (
        "_at_cap",
        "_by_count",
        "_bytes",
        "_cap",
        "_deadline",
        "_eliciting",
        "_every_large",
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
        self._by_count = False  # the pending ACK is due because the count was reached
        self._every_large = _ACK_EVERY_LARGE
        self._cap = _MAX_ACK_EVERY_LARGE  # the count climbs past it only slowly
        self._at_cap = 0  # ACKs sent at the cap since it last moved
        self._deadline: float | None = None

    @property
    def every_large(self) -> int:
        """How many large ack-eliciting packets the next ACK waits for at most."""
        return self._every_large

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
        every = self._every_large if self._bytes >= _ACK_EVERY * _LARGE else _ACK_EVERY
        if self._eliciting >= every:
            self._immediate = True
            self._by_count = True
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
        if self._bytes >= _ACK_EVERY * _LARGE:
            if self._by_count:
                self._count_reached()
            elif not self._immediate and self._deadline is not None and now >= self._deadline:
                arrived = self._eliciting  # all the sender had in flight, it seems
                self._cap = max(_ACK_EVERY, arrived)
                self._every_large = max(_ACK_EVERY, arrived // 2)
                self._at_cap = 0
        self._by_count = False
        self._eliciting = 0
        self._bytes = 0
        self._immediate = False
        self._deadline = None
        delay = max(0, int((now - self._largest_at) * 1_000_000))
        return Ack(tuple((start, end - 1) for start, end in ranges), delay)

    def _count_reached(self) -> None:
        """An ACK went out because the count of large packets was reached: wait for one
        more next time, below the cap at once, past it after ``cap`` ACKs at it."""
        if self._every_large < self._cap:
            self._every_large += 1
            return
        self._at_cap += 1
        if self._at_cap >= self._cap and self._cap < _MAX_ACK_EVERY_LARGE:
            self._cap += 1
            self._every_large = self._cap
            self._at_cap = 0

    def on_ack_acknowledged(self, largest: int) -> None:
        """An ACK frame that reported numbers up to ``largest`` reached the peer."""
        self.received.remove_below(largest + 1)
