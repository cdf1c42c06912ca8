"""RTT estimation, NewReno and loss detection on hand-set times (RFC 9002)."""

from __future__ import annotations

import pytest

from meshnet.session.acks import MAX_TRACKED_RANGES, AckTracker
from meshnet.session.recovery import (
    PACKET_THRESHOLD,
    LossRecovery,
    NewReno,
    RttEstimator,
    SentPacket,
)

MSS = 1000


def _recovery() -> LossRecovery:
    return LossRecovery(
        initial_rtt=0.5, max_ack_delay=0.025, max_probe_timeout=1.5, max_datagram=MSS
    )


def _send(recovery: LossRecovery, pn: int, at: float, *, eliciting: bool = True) -> SentPacket:
    packet = SentPacket(pn, at, MSS, eliciting, eliciting)
    recovery.on_sent(packet)
    return packet


def test_rtt_first_sample_then_smoothing() -> None:
    rtt = RttEstimator(0.5)
    assert (rtt.smoothed, rtt.rttvar, rtt.has_sample) == (0.5, 0.25, False)
    rtt.update(0.1, 0.0, 0.025)
    assert (rtt.smoothed, rtt.rttvar, rtt.min_rtt) == (0.1, 0.05, 0.1)
    rtt.update(0.2, 0.01, 0.025)  # ack delay subtracted: 0.19
    assert rtt.smoothed == pytest.approx(0.875 * 0.1 + 0.125 * 0.19)
    assert rtt.rttvar == pytest.approx(0.75 * 0.05 + 0.25 * 0.09)
    rtt.update(0.1005, 0.05, 0.025)  # subtracting would go below min_rtt: not subtracted
    assert rtt.latest == 0.1005
    assert rtt.pto(0.025) == pytest.approx(rtt.smoothed + 4 * rtt.rttvar + 0.025)
    rtt.reset()
    assert not rtt.has_sample and rtt.smoothed == 0.5


def test_newreno_slow_start_avoidance_and_loss() -> None:
    cc = NewReno(MSS)
    assert cc.cwnd == 10 * MSS and cc.minimum_window == 2 * MSS
    cc.on_sent(MSS)
    assert cc.can_send(9 * MSS) and not cc.can_send(9 * MSS + 1)
    cc.on_acked(MSS, sent=1.0)
    assert cc.cwnd == 11 * MSS  # slow start: +1 packet per packet acknowledged
    cc.on_congestion(sent=1.0, now=2.0)
    assert cc.cwnd == 5500 and cc.ssthresh == 5500
    cc.on_congestion(sent=1.5, now=2.1)  # sent before the recovery began: no second halving
    assert cc.cwnd == 5500
    cc.on_acked(MSS, sent=1.9)  # sent before recovery: no growth
    assert cc.cwnd == 5500
    cc.on_acked(MSS, sent=2.5)  # congestion avoidance: +MSS*acked/cwnd
    assert cc.cwnd == 5500 + MSS * MSS // 5500
    cc.on_persistent_congestion(3.0)
    assert cc.cwnd == cc.minimum_window
    cc.resize(4000)
    assert cc.cwnd == 8000
    cc.reset()
    assert cc.cwnd == 14720 and cc.ssthresh == float("inf")


def test_ack_ranges_find_only_new_packets_and_give_rtt() -> None:
    recovery = _recovery()
    for pn in range(10):
        _send(recovery, pn, 1.0 + pn * 0.01)
    acked, lost = recovery.on_ack(((5, 9), (0, 3)), 0.0, 1.2)
    assert [p.pn for p in acked] == [5, 6, 7, 8, 9, 0, 1, 2, 3]
    assert [p.pn for p in lost] == [4]  # 3 later packets were acknowledged
    assert recovery.rtt.latest == pytest.approx(1.2 - 1.09)
    again, _ = recovery.on_ack(((0, 9),), 0.0, 1.3)
    assert again == []  # nothing acknowledged twice
    assert recovery.cc.bytes_in_flight == 0
    assert not recovery.eliciting_in_flight


def test_time_threshold_loss_and_its_timer() -> None:
    recovery = _recovery()
    _send(recovery, 0, 0.0)
    _send(recovery, 1, 0.0)
    acked, lost = recovery.on_ack(((1, 1),), 0.0, 0.1)
    assert [p.pn for p in acked] == [1] and lost == []
    assert PACKET_THRESHOLD > 1
    delay = 9 / 8 * 0.1
    timer = recovery.timer()
    assert timer == pytest.approx(delay)
    lost, probe = recovery.on_timeout(timer)  # type: ignore[arg-type]
    assert [p.pn for p in lost] == [0] and not probe
    assert recovery.timer() is None


def test_probe_timeout_backs_off_to_its_cap() -> None:
    recovery = _recovery()
    _send(recovery, 0, 0.0)
    assert recovery.timer() == 1.5  # 0.5 + 4 * 0.25 + 0.025, capped
    recovery.on_ack(((0, 0),), 0.0, 0.1)  # an RTT sample of 0.1
    _send(recovery, 1, 1.0)
    assert recovery.timer() == pytest.approx(1.0 + 0.1 + 4 * 0.05 + 0.025)
    durations = []
    for _ in range(4):
        lost, probe = recovery.on_timeout(2.0)
        assert probe and lost == []
        durations.append(recovery.pto_duration())
    assert durations == pytest.approx([0.65, 1.3, 1.5, 1.5])  # a healed path: within 1.5 s
    assert [p.pn for p in recovery.oldest_unacked(3)] == [1]
    recovery.path_changed()
    assert recovery.pto_count == 0
    assert [p.pn for p in recovery.discard_all()] == [1]
    assert recovery.timer() is None


def test_persistent_congestion_collapses_the_window() -> None:
    recovery = _recovery()
    _send(recovery, 0, 0.0)
    recovery.on_ack(((0, 0),), 0.0, 0.1)  # an RTT sample of 0.1
    for pn in range(1, 6):
        _send(recovery, pn, pn * 1.0)  # an outage: all of these go unanswered
    _send(recovery, 6, 10.0)
    _, lost = recovery.on_ack(((6, 6),), 0.0, 10.1)
    assert [p.pn for p in lost] == [1, 2, 3, 4, 5]
    assert recovery.cc.cwnd == recovery.cc.minimum_window


def test_ack_only_packets_are_not_tracked() -> None:
    recovery = _recovery()
    _send(recovery, 0, 0.0, eliciting=False)
    assert recovery.timer() is None and recovery.cc.bytes_in_flight == 0


def test_ack_tracker_timing_and_ranges() -> None:
    tracker = AckTracker(0.025)
    assert tracker.frame(0.0) is None and not tracker.pending
    tracker.on_packet(0, True, 1.0)
    assert not tracker.ack_due(1.0) and tracker.deadline() == 1.025
    assert tracker.ack_due(1.025)
    tracker.on_packet(1, True, 1.01)  # every second eliciting packet: at once
    assert tracker.ack_due(1.01)
    frame = tracker.frame(1.02)
    assert frame is not None and frame.ranges == ((0, 1),) and frame.delay == 10_000
    assert not tracker.pending
    tracker.on_packet(5, False, 1.1)  # a gap: acknowledge at once even if not eliciting
    assert tracker.ack_due(1.1)
    tracker.on_packet(3, True, 1.2)
    frame = tracker.frame(1.2)
    assert frame is not None and frame.ranges == ((5, 5), (3, 3), (0, 1))
    assert tracker.largest == 5
    tracker.on_ack_acknowledged(3)  # the peer saw everything up to 3
    frame = tracker.frame(1.3)
    assert frame is not None and frame.ranges == ((5, 5),)
    for pn in range(10, 10 + 3 * MAX_TRACKED_RANGES, 2):
        tracker.on_packet(pn, False, 2.0)
    assert len(tracker.received) == MAX_TRACKED_RANGES


def test_large_packets_are_acknowledged_every_eighth() -> None:
    tracker = AckTracker(0.025)
    tracker.on_packet(0, True, 1.0, 1100)
    tracker.on_packet(1, True, 1.0, 1100)
    assert tracker.ack_due(1.0)  # small packets: every second
    tracker.frame(1.0)
    for pn in range(2, 9):
        tracker.on_packet(pn, True, 1.0, 65535)
        assert not tracker.ack_due(1.0)  # large ones: wait for the eighth ...
    tracker.on_packet(9, True, 1.0, 65535)
    assert tracker.ack_due(1.0)
    frame = tracker.frame(1.0)
    assert frame is not None and frame.ranges == ((0, 9),)
    tracker.on_packet(10, True, 2.0, 65535)
    assert not tracker.ack_due(2.0) and tracker.ack_due(2.025)  # ... or the delay
    tracker.on_packet(12, True, 2.0, 65535)
    assert tracker.ack_due(2.0)  # a gap: at once whatever the size


def _large_run(tracker: AckTracker, first: int, count: int, now: float) -> int:
    """``count`` large packets from ``first``; returns the next packet number."""
    for pn in range(first, first + count):
        tracker.on_packet(pn, True, now, 65535)
    return first + count


def test_large_packet_count_climbs_to_sixteen_while_it_is_reached() -> None:
    tracker = AckTracker(0.025)
    pn = 0
    for expected in range(8, 17):
        assert tracker.every_large == expected
        pn = _large_run(tracker, pn, expected - 1, 1.0)
        assert not tracker.ack_due(1.0)
        pn = _large_run(tracker, pn, 1, 1.0)
        assert tracker.ack_due(1.0)
        tracker.frame(1.0)
    assert tracker.every_large == 16  # the most: one ACK per MiB
    pn = _large_run(tracker, pn, 16, 1.0)
    tracker.frame(1.0)
    assert tracker.every_large == 16


def test_large_packet_count_follows_a_window_smaller_than_it() -> None:
    tracker = AckTracker(0.025)
    pn = _large_run(tracker, 0, 4, 1.0)  # a window of four packets, then nothing
    assert not tracker.ack_due(1.0) and tracker.ack_due(1.03)
    tracker.frame(1.03)  # the delay ran out: four was all the sender had
    assert tracker.every_large == 2
    for expected in (2, 3, 4, 4, 4, 4):  # back up to the four that came, then it holds
        assert tracker.every_large == expected
        pn = _large_run(tracker, pn, expected, 2.0)
        assert tracker.ack_due(2.0)
        tracker.frame(2.0)
    assert tracker.every_large == 5  # four ACKs at the cap: it moves up by one


def test_ack_count_unchanged_by_acks_that_ride_or_follow_a_gap() -> None:
    tracker = AckTracker(0.025)
    pn = _large_run(tracker, 0, 3, 1.0)
    tracker.frame(1.0)  # rode on a packet of ours before anything was due
    assert tracker.every_large == 8
    _large_run(tracker, pn + 1, 3, 1.0)  # a gap: due at once
    assert tracker.ack_due(1.0)
    tracker.frame(1.0)
    assert tracker.every_large == 8
    tracker.on_packet(100, True, 2.0, 1100)
    tracker.on_packet(101, True, 2.0, 1100)
    tracker.frame(2.0)  # small packets: every second, the large count untouched
    assert tracker.every_large == 8
