"""Loss detection, RTT estimation and NewReno congestion control (RFC 9002, aioquic style).

Theory of operation
-------------------
Every packet a session seals gets a packet number, never reused (rekeys included). The
packets that elicit an acknowledgement are remembered in ``sent`` (a dict) and ``_pns``
(their numbers, a sorted list), so an ACK range finds its newly acknowledged packets
by bisection, in time proportional to what it acknowledges, never to what is in flight.

* **RTT** (§5): ``latest_rtt`` from the largest newly acknowledged packet, minus the
  peer's reported ACK delay when that leaves at least ``min_rtt``; ``smoothed_rtt`` and
  ``rttvar`` are the RFC 6298 averages.
* **Loss** (§6.1): a packet is lost when a packet sent at least ``PACKET_THRESHOLD``
  numbers later was acknowledged, or when it was sent ``9/8`` of an RTT before the
  newest acknowledged packet's time; scanning from the oldest stops at the first packet
  that is neither, so the work is amortised O(1) per packet.
* **Probe timeout** (§6.2): with ack-eliciting packets outstanding and no loss timer
  armed, the PTO fires ``srtt + max(4 rttvar, 1 ms) + max_ack_delay`` after the last one
  was sent, doubling per consecutive timeout but capped at ``max_probe_timeout`` so a
  path that heals after an outage is noticed within that long. The caller sends probes.
* **Congestion** (§7, NewReno): slow start, then congestion avoidance; one halving per
  recovery period; collapse to the minimum window after persistent congestion (all
  packets over ``3 * PTO`` lost). ACK-only packets are not in flight.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

__all__ = [
    "GRANULARITY",
    "PACKET_THRESHOLD",
    "LossRecovery",
    "NewReno",
    "RttEstimator",
    "SentPacket",
]

PACKET_THRESHOLD = 3
TIME_THRESHOLD = 9 / 8
GRANULARITY = 0.001
PERSISTENT_CONGESTION_THRESHOLD = 3
_INITIAL_WINDOW_PACKETS = 10
_MINIMUM_WINDOW_PACKETS = 2


@dataclass(slots=True, eq=False)
class SentPacket:
    """What the sender remembers of one packet until it is acknowledged or lost."""

    pn: int
    sent: float
    size: int
    ack_eliciting: bool
    in_flight: bool
    frames: list[object] = field(default_factory=list)
    """What to do when it is acknowledged or lost (stream ranges, control frames)."""
    ack_largest: int | None = None
    """The largest packet number reported by an ACK frame it carried, if any."""


class RttEstimator:
    """Round-trip estimates (RFC 9002 §5)."""

    __slots__ = ("_initial", "has_sample", "latest", "min_rtt", "rttvar", "smoothed")

    def __init__(self, initial_rtt: float) -> None:
        self._initial = initial_rtt
        self.reset()

    def reset(self) -> None:
        """Forget every sample (a new path)."""
        self.has_sample = False
        self.latest = 0.0
        self.min_rtt = float("inf")
        self.smoothed = self._initial
        self.rttvar = self._initial / 2

    def update(self, sample: float, ack_delay: float, max_ack_delay: float) -> None:
        """Take one RTT sample; ``ack_delay`` is the peer's reported delay."""
        sample = max(sample, GRANULARITY / 10)
        self.latest = sample
        if not self.has_sample:
            self.has_sample = True
            self.min_rtt = sample
            self.smoothed = sample
            self.rttvar = sample / 2
            return
        self.min_rtt = min(self.min_rtt, sample)
        ack_delay = min(ack_delay, max_ack_delay)
        adjusted = sample - ack_delay if sample - ack_delay >= self.min_rtt else sample
        self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.smoothed - adjusted)
        self.smoothed = 0.875 * self.smoothed + 0.125 * adjusted

    def pto(self, max_ack_delay: float) -> float:
        """One probe timeout, before backoff."""
        return self.smoothed + max(4 * self.rttvar, GRANULARITY) + max_ack_delay


class NewReno:
    """The NewReno congestion controller of RFC 9002 §7 (window in bytes).

    Args:
        max_datagram: the packet size budget; windows are counted in such packets.
    """

    __slots__ = (
        "_recovery_start",
        "bytes_in_flight",
        "congestion_events",
        "cwnd",
        "max_datagram",
        "ssthresh",
    )

    def __init__(self, max_datagram: int) -> None:
        self.max_datagram = max_datagram
        self.cwnd = self.initial_window
        self.ssthresh = float("inf")
        self.bytes_in_flight = 0
        self.congestion_events = 0
        self._recovery_start = float("-inf")

    @property
    def initial_window(self) -> int:
        """The window of a fresh path, in bytes."""
        return max(_INITIAL_WINDOW_PACKETS * min(self.max_datagram, 1472), 2 * self.max_datagram)

    @property
    def minimum_window(self) -> int:
        """The window never shrinks below this, in bytes."""
        return _MINIMUM_WINDOW_PACKETS * self.max_datagram

    def resize(self, max_datagram: int) -> None:
        """The packet size budget changed: keep the window at least the new minimum."""
        self.max_datagram = max_datagram
        self.cwnd = max(self.cwnd, self.minimum_window)

    def reset(self) -> None:
        """Start over as on a fresh path (slow start from the initial window)."""
        self.cwnd = self.initial_window
        self.ssthresh = float("inf")
        self._recovery_start = float("-inf")

    def can_send(self, size: int) -> bool:
        """True when a packet of ``size`` bytes fits in the window."""
        return self.bytes_in_flight + size <= self.cwnd

    def on_sent(self, size: int) -> None:
        """A packet of ``size`` bytes went into flight."""
        self.bytes_in_flight += size

    def on_acked(self, size: int, sent: float) -> None:
        """A packet sent at ``sent`` was acknowledged: grow the window."""
        self.bytes_in_flight = max(0, self.bytes_in_flight - size)
        if sent <= self._recovery_start:
            return  # acknowledged packets sent before the loss do not grow the window
        if self.cwnd < self.ssthresh:
            self.cwnd += size
        else:
            self.cwnd += self.max_datagram * size // self.cwnd

    def on_discarded(self, size: int) -> None:
        """A packet left flight without an acknowledgement (lost or abandoned)."""
        self.bytes_in_flight = max(0, self.bytes_in_flight - size)

    def on_congestion(self, sent: float, now: float) -> None:
        """A packet sent at ``sent`` was lost: halve the window once per recovery period."""
        if sent <= self._recovery_start:
            return
        self._recovery_start = now
        self.congestion_events += 1
        self.cwnd = max(self.cwnd // 2, self.minimum_window)
        self.ssthresh = self.cwnd

    def on_persistent_congestion(self, now: float) -> None:
        """Everything over several PTOs was lost: back to the minimum window."""
        self._recovery_start = now
        self.cwnd = self.minimum_window


class LossRecovery:
    """Sent packets of one session: acknowledgements, losses and the PTO timer.

    Args:
        initial_rtt: the RTT assumed before the first sample.
        max_ack_delay: the peer's longest acknowledgement delay (ours, by symmetry).
        max_probe_timeout: the cap on the backed-off probe timeout.
        max_datagram: the packet size budget (for the congestion window).
    """

    def __init__(
        self,
        *,
        initial_rtt: float,
        max_ack_delay: float,
        max_probe_timeout: float,
        max_datagram: int,
    ) -> None:
        self.rtt = RttEstimator(initial_rtt)
        self.cc = NewReno(max_datagram)
        self.sent: dict[int, SentPacket] = {}
        self._pns: list[int] = []
        self.largest_acked = -1
        self.loss_time: float | None = None
        self.pto_count = 0
        self.last_eliciting_sent: float | None = None
        self.lost_packets = 0
        self._max_ack_delay = max_ack_delay
        self._max_pto = max_probe_timeout

    # -- sending -------------------------------------------------------------------------

    def on_sent(self, packet: SentPacket) -> None:
        """Remember a sealed packet (ACK-only packets are not tracked)."""
        if packet.ack_eliciting or packet.in_flight:
            self.sent[packet.pn] = packet
            self._pns.append(packet.pn)  # packet numbers only grow: the list stays sorted
        if packet.in_flight:
            self.cc.on_sent(packet.size)
        if packet.ack_eliciting:
            self.last_eliciting_sent = packet.sent

    @property
    def eliciting_in_flight(self) -> bool:
        """True while an ack-eliciting packet is unacknowledged."""
        return bool(self._pns)

    # -- acknowledgements ----------------------------------------------------------------

    def on_ack(
        self, ranges: tuple[tuple[int, int], ...], ack_delay: float, now: float
    ) -> tuple[list[SentPacket], list[SentPacket]]:
        """Apply an ACK frame's ranges (inclusive, highest first).

        Returns:
            ``(acknowledged, lost)`` packets, each removed from the sent set.
        """
        pns, sent = self._pns, self.sent
        acked: list[SentPacket] = []
        for low, high in ranges:
            i = bisect_left(pns, low)
            j = bisect_right(pns, high)
            if i == j:
                continue
            for pn in pns[i:j]:
                acked.append(sent.pop(pn))
            del pns[i:j]
        if not acked:
            return acked, []
        largest = ranges[0][1]
        self.largest_acked = max(self.largest_acked, largest)
        newest = max(acked, key=lambda p: p.pn)
        if newest.pn == largest and any(p.ack_eliciting for p in acked):
            self.rtt.update(now - newest.sent, ack_delay, self._max_ack_delay)
        cc = self.cc
        for packet in acked:
            if packet.in_flight:
                cc.on_acked(packet.size, packet.sent)
        self.pto_count = 0
        return acked, self.detect_lost(now)

    def detect_lost(self, now: float) -> list[SentPacket]:
        """Declare lost what the thresholds say is lost; arm ``loss_time`` for the rest."""
        self.loss_time = None
        pns, sent, largest = self._pns, self.sent, self.largest_acked
        rtt = self.rtt
        delay = max(TIME_THRESHOLD * max(rtt.latest, rtt.smoothed), GRANULARITY)
        lost: list[SentPacket] = []
        count = 0
        for pn in pns:
            if pn > largest:
                break
            packet = sent[pn]
            # the same sum as loss_time below, so a timer firing at loss_time declares it
            if pn <= largest - PACKET_THRESHOLD or packet.sent + delay <= now:
                lost.append(packet)
                count += 1
                continue
            self.loss_time = packet.sent + delay
            break
        if count:
            del pns[:count]
            for packet in lost:
                del sent[packet.pn]
            self._on_lost(lost, now)
        return lost

    def _on_lost(self, lost: list[SentPacket], now: float) -> None:
        self.lost_packets += len(lost)
        cc = self.cc
        for packet in lost:
            if packet.in_flight:
                cc.on_discarded(packet.size)
        eliciting = [p for p in lost if p.ack_eliciting]
        if not eliciting:
            return
        cc.on_congestion(eliciting[-1].sent, now)
        span = eliciting[-1].sent - eliciting[0].sent
        if self.rtt.has_sample and span > self._base_pto() * PERSISTENT_CONGESTION_THRESHOLD:
            cc.on_persistent_congestion(now)

    # -- timers --------------------------------------------------------------------------

    def _base_pto(self) -> float:
        return self.rtt.pto(self._max_ack_delay)

    def pto_duration(self) -> float:
        """The current (backed-off, capped) probe timeout."""
        return min(self._base_pto() * (1 << min(self.pto_count, 16)), self._max_pto)

    def timer(self) -> float | None:
        """When ``on_timeout`` must run, or None."""
        if self.loss_time is not None:
            return self.loss_time
        if not self._pns or self.last_eliciting_sent is None:
            return None
        return self.last_eliciting_sent + self.pto_duration()

    def on_timeout(self, now: float) -> tuple[list[SentPacket], bool]:
        """The loss or probe timer fired.

        Returns:
            ``(lost, probe)``: packets now declared lost, and True when the caller must
            send probe packets (the PTO fired: retransmit the oldest data or PING).
        """
        if self.loss_time is not None:
            return self.detect_lost(now), False
        self.pto_count += 1
        return [], True

    def oldest_unacked(self, count: int) -> list[SentPacket]:
        """Up to ``count`` of the oldest ack-eliciting packets still outstanding."""
        return [self.sent[pn] for pn in self._pns[:count]]

    def path_changed(self) -> None:
        """Forget the path's RTT and window; probe again soon."""
        self.rtt.reset()
        self.cc.reset()
        self.pto_count = 0

    def discard_all(self) -> list[SentPacket]:
        """Forget every outstanding packet (the session is closing)."""
        packets = list(self.sent.values())
        self.sent.clear()
        self._pns.clear()
        self.cc.bytes_in_flight = 0
        self.loss_time = None
        return packets
