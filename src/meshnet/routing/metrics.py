"""Link measurements: the estimator fed by link probes, and the metrics it announces.

The link layer reports one sample per probe: a round-trip time, or a loss. The
estimator smooths them (docs/protocol/routing.md §5):

* ``rtt``: EWMA with gain ``rtt_gain`` (1/8, RFC 6298's SRTT); the first sample sets it;
* ``loss``: EWMA of the 0/1 "this probe was lost" indicator with gain ``loss_gain``
  (1/16: about the last 16 probes). A probe is lost if either it or its echo is, so this
  is the round-trip loss ``1 - (1 - loss_fwd) * (1 - loss_rev)`` and ``etx`` below is
  exactly ETX (De Couto et al.): ``1 / ((1 - loss_fwd) * (1 - loss_rev))``.

``LinkMetrics`` is what goes into announcements, quantised to whole milliseconds and
1/255 loss steps, and what every ``PathPolicy`` turns into a cost. ``differs`` is the
hysteresis that decides whether a change is worth announcing.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.routing.messages import MAX_LOSS, MAX_RTT_MS, NeighbourEntry

__all__ = ["MAX_LOSS_RATIO", "RTT_FLOOR", "LinkEstimator", "LinkMetrics"]

MAX_LOSS_RATIO = 0.95
"""Loss ratios above this count as this (ETX at most 20), so costs stay finite."""
RTT_FLOOR = 0.002
"""RTT changes smaller than 2 ms are never significant (LAN jitter)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkMetrics:
    """What is known of one link: smoothed RTT and round-trip probe loss."""

    rtt: float | None
    """Smoothed round-trip time in seconds, or None before the first sample."""
    loss: float
    """Round-trip probe loss ratio, 0.0 to 1.0."""

    @property
    def etx(self) -> float:
        """Expected transmissions for one delivery: ``1 / (1 - loss)``, loss capped at 0.95."""
        return 1.0 / (1.0 - min(max(self.loss, 0.0), MAX_LOSS_RATIO))

    def to_entry(self, prefix: bytes) -> NeighbourEntry:
        """The announcement entry for these metrics (quantised)."""
        rtt_ms = None if self.rtt is None else min(MAX_RTT_MS, max(0, round(self.rtt * 1000)))
        loss = min(MAX_LOSS, max(0, round(self.loss * MAX_LOSS)))
        return NeighbourEntry(prefix=prefix, rtt_ms=rtt_ms, loss=loss)

    @classmethod
    def from_entry(cls, entry: NeighbourEntry) -> LinkMetrics:
        """The metrics an announcement entry carries."""
        rtt = None if entry.rtt_ms is None else entry.rtt_ms / 1000
        return cls(rtt=rtt, loss=entry.loss / MAX_LOSS)

    def quantised(self) -> LinkMetrics:
        """These metrics as a receiver of our announcement sees them."""
        return LinkMetrics.from_entry(self.to_entry(bytes(8)))

    def differs(self, previous: LinkMetrics, threshold: float) -> bool:
        """Whether moving from ``previous`` to these metrics is worth announcing.

        True when one of the two was never measured and the other was, when the RTT
        moved by more than ``threshold`` of its old value (and more than 2 ms), or when
        ETX did.
        """
        if (self.rtt is None) != (previous.rtt is None):
            return True
        if self.rtt is not None and previous.rtt is not None:
            change = abs(self.rtt - previous.rtt)
            if change > RTT_FLOOR and change > threshold * previous.rtt:
                return True
        return abs(self.etx - previous.etx) > threshold * previous.etx


class LinkEstimator:
    """Smooths one link's probe samples into ``LinkMetrics``.

    Args:
        rtt_gain: EWMA gain for RTT samples.
        loss_gain: EWMA gain for the loss indicator.
    """

    __slots__ = ("_loss", "_loss_gain", "_rtt", "_rtt_gain", "samples")

    def __init__(self, *, rtt_gain: float, loss_gain: float) -> None:
        self._rtt_gain = rtt_gain
        self._loss_gain = loss_gain
        self._rtt: float | None = None
        self._loss = 0.0
        self.samples = 0

    def sample(self, rtt: float | None, lost: bool) -> None:
        """Take one probe outcome: a round trip of ``rtt`` seconds, or a loss."""
        if lost:
            self._loss += self._loss_gain * (1.0 - self._loss)
        elif rtt is not None and rtt >= 0:
            self._loss -= self._loss_gain * self._loss
            if self._rtt is None:
                self._rtt = rtt
            else:
                self._rtt += self._rtt_gain * (rtt - self._rtt)
        else:
            return  # neither a time nor a loss: nothing learnt
        self.samples += 1

    @property
    def metrics(self) -> LinkMetrics:
        """The current estimate."""
        return LinkMetrics(rtt=self._rtt, loss=self._loss)
