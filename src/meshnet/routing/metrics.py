"""Link measurements: the estimator fed by link probes, and the metrics it announces.

The link layer reports one sample per probe: a round-trip time, or a loss. The
estimator smooths them (docs/protocol/routing.md §5):

* ``rtt``: EWMA with gain ``rtt_gain`` (1/8, RFC 6298's SRTT), warm-started: the n-th
  sample has gain ``max(rtt_gain, 1/n)``, so the first ``1/rtt_gain`` samples are
  simply averaged (a link's first probes go out while the mesh starts and floods;
  seeded by the first sample alone, the EWMA took minutes to forget them);
* ``rtt_var``: the smoothed mean deviation of the samples from ``rtt`` (RFC 6298's
  RTTVAR, but with gain 1/16, warm-started like ``rtt`` from 0);
* ``jitter``: ``rtt_var`` followed at once when it falls but only slowly (gain 1/64)
  when it rises (it starts at the second sample's): the link's usual jitter, which a
  shift of delay (that inflates ``rtt_var`` while ``rtt`` catches up) or a burst of
  queueing (a flood of announcements or of rekeys) barely moves;
* ``loss``: EWMA of the 0/1 "this probe was lost" indicator with gain ``loss_gain``
  (1/16: about the last 16 probes). A probe is lost if either it or its echo is, so this
  is the round-trip loss ``1 - (1 - loss_fwd) * (1 - loss_rev)`` and ``etx`` below is
  exactly ETX (De Couto et al.): ``1 / ((1 - loss_fwd) * (1 - loss_rev))``.

``LinkMetrics`` is what goes into announcements, quantised to whole milliseconds and
1/255 loss steps, and what every ``PathPolicy`` turns into a cost. ``differs`` is the
hysteresis that decides whether a change is worth announcing. A change of RTT must
pass three bars: ``RTT_FLOOR`` (5 ms), ``threshold`` of the announced value, and
``JITTER_FACTOR`` (4) times the link's ``jitter``: a shift smaller than about three
standard deviations of the delay every packet on the link sees anyway is not worth a
flood of the whole mesh. Delay on a real link drifts with the traffic it carries; in a
200-node simulated mesh with 2 ms of jitter per direction, the plain 20% rule made
about one node in three re-announce every minute, and each such flood's queues moved
the next RTT samples (docs/benchmarks.md, simulator section).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshnet.routing.messages import MAX_LOSS, MAX_RTT_MS, NeighbourEntry

__all__ = ["JITTER_FACTOR", "MAX_LOSS_RATIO", "RTT_FLOOR", "LinkEstimator", "LinkMetrics"]

MAX_LOSS_RATIO = 0.95
"""Loss ratios above this count as this (ETX at most 20), so costs stay finite."""
RTT_FLOOR = 0.005
"""RTT changes of 5 ms or less are never significant. Babel's RTT metric (RFC 9616)
does not tell apart RTTs below its ``rtt-min`` of 10 ms at all; with 2 ms, the passing
queueing of a few frames on a 2 Mbit/s link (5 ms each for a 1,200-byte fragment) made
about 400 cost announcements in ``scenarios/rgg200.toml``'s ten minutes, 92 with 5 ms."""
JITTER_FACTOR = 4.0
"""RTT changes within this many ``jitter`` of the announced value are noise, not news."""
JITTER_RISE_GAIN = 1 / 64
"""How fast ``jitter`` follows a rising ``rtt_var`` (it follows a falling one at once)."""
RTTVAR_GAIN = 0.0625
"""Gain of the mean-deviation estimate (RFC 6298 uses 1/4; a slower one gives a steady
measure of the link's jitter, which sets the hysteresis)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkMetrics:
    """What is known of one link: smoothed RTT and round-trip probe loss."""

    rtt: float | None
    """Smoothed round-trip time in seconds, or None before the first sample."""
    loss: float
    """Round-trip probe loss ratio, 0.0 to 1.0."""
    jitter: float = field(default=0.0, compare=False)
    """How much the link's RTT samples usually scatter, in seconds (see the estimator).
    Local only: never announced, not part of equality; it sets the hysteresis of
    ``differs``."""

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
        """These metrics as a receiver of our announcement sees them (``jitter`` kept)."""
        entry = self.to_entry(bytes(8))
        rtt = None if entry.rtt_ms is None else entry.rtt_ms / 1000
        return LinkMetrics(rtt=rtt, loss=entry.loss / MAX_LOSS, jitter=self.jitter)

    def differs(self, previous: LinkMetrics, threshold: float) -> bool:
        """Whether moving from ``previous`` to these metrics is worth announcing.

        True when one of the two was never measured and the other was, when the RTT
        moved by more than ``threshold`` of its old value, more than 5 ms and more than
        ``JITTER_FACTOR`` times the link's ``jitter``, or when ETX
        moved by more than ``threshold``.
        """
        if (self.rtt is None) != (previous.rtt is None):
            return True
        if self.rtt is not None and previous.rtt is not None:
            change = abs(self.rtt - previous.rtt)
            if (
                change > RTT_FLOOR
                and change > threshold * previous.rtt
                and change > JITTER_FACTOR * self.jitter
            ):
                return True
        return abs(self.etx - previous.etx) > threshold * previous.etx


class LinkEstimator:
    """Smooths one link's probe samples into ``LinkMetrics``.

    Args:
        rtt_gain: EWMA gain for RTT samples.
        loss_gain: EWMA gain for the loss indicator.
    """

    __slots__ = (
        "_jitter",
        "_loss",
        "_loss_gain",
        "_rtt",
        "_rtt_gain",
        "_rtt_samples",
        "_rtt_var",
        "samples",
    )

    def __init__(self, *, rtt_gain: float, loss_gain: float) -> None:
        self._rtt_gain = rtt_gain
        self._loss_gain = loss_gain
        self._rtt: float | None = None
        self._rtt_var = 0.0
        self._jitter = 0.0
        self._rtt_samples = 0
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
                self._rtt_var = 0.0  # unknown: the second sample (gain 1/2) starts it
                self._rtt_samples = 1
            else:
                self._rtt_samples += 1
                warm = 1.0 / self._rtt_samples
                self._rtt_var += max(RTTVAR_GAIN, warm) * (abs(rtt - self._rtt) - self._rtt_var)
                self._rtt += max(self._rtt_gain, warm) * (rtt - self._rtt)
                var = self._rtt_var
                if var < self._jitter or self._rtt_samples == 2:
                    self._jitter = var
                else:
                    self._jitter += JITTER_RISE_GAIN * (var - self._jitter)
        else:
            return  # neither a time nor a loss: nothing learnt
        self.samples += 1

    @property
    def metrics(self) -> LinkMetrics:
        """The current estimate."""
        return LinkMetrics(rtt=self._rtt, loss=self._loss, jitter=self._jitter)

    @property
    def rtt_var(self) -> float:
        """The smoothed mean deviation of the RTT samples from ``rtt``."""
        return self._rtt_var
