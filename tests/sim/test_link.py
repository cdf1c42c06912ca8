"""One link direction: delay, jitter, loss, queueing, MTU and faults, on fixed seeds.

Statistical checks draw thousands of frames from a fixed seed, so they are
deterministic; the bounds are generous (several standard errors) so that they test the
model, not the particular stream.
"""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import ConfigError
from meshnet.sim.link import DropReason, LinkDirection
from meshnet.sim.profile import GilbertElliott, JitterModel, LinkProfile
from meshnet.sim.sampling import Sampler

N = 20_000


def direction(profile: LinkProfile, label: str = "d") -> LinkDirection:
    return LinkDirection(profile, Sampler(SeededEntropy(7, label)))


def sparse_delays(d: LinkDirection, count: int = N, size: int = 100) -> list[float]:
    """Frames one second apart (no queueing, no FIFO clamp): the pure delay samples."""
    delays = []
    for i in range(count):
        now = float(i)
        for arrival, _ in d.transmit(bytes(size), now):
            delays.append(arrival - now)
    return delays


def test_fixed_latency_and_serialization() -> None:
    d = direction(LinkProfile(latency=0.05, bandwidth=1_000_000))
    [(arrival, data)] = d.transmit(bytes(1000), 1.0)
    assert arrival == pytest.approx(1.0 + 0.008 + 0.05)
    assert data == bytes(1000)


def test_uniform_jitter_is_bounded_and_centred() -> None:
    delays = sparse_delays(direction(LinkProfile(latency=0.1, jitter=0.02)))
    assert min(delays) >= 0.08 - 1e-12
    assert max(delays) <= 0.12 + 1e-12
    assert statistics.fmean(delays) == pytest.approx(0.1, abs=0.001)
    # uniform on [0.08, 0.12]: standard deviation 0.04 / sqrt(12)
    assert statistics.pstdev(delays) == pytest.approx(0.04 / math.sqrt(12), rel=0.05)


def test_normal_jitter_moments() -> None:
    profile = LinkProfile(latency=0.1, jitter=0.01, jitter_model=JitterModel.NORMAL)
    delays = sparse_delays(direction(profile))
    assert statistics.fmean(delays) == pytest.approx(0.1, abs=0.0005)
    assert statistics.pstdev(delays) == pytest.approx(0.01, rel=0.05)


def test_exponential_jitter_mean_and_floor() -> None:
    profile = LinkProfile(latency=0.05, jitter=0.02, jitter_model=JitterModel.EXPONENTIAL)
    delays = sparse_delays(direction(profile))
    assert min(delays) >= 0.05
    assert statistics.fmean(delays) == pytest.approx(0.07, rel=0.05)
    assert profile.mean_delay == pytest.approx(0.07)


def test_jitter_never_reorders_without_the_fault() -> None:
    d = direction(LinkProfile(latency=0.1, jitter=0.05))
    arrivals = [a for i in range(5000) for a, _ in d.transmit(bytes(50), i * 0.001)]
    assert arrivals == sorted(arrivals)


def test_reorder_fault_lets_frames_overtake() -> None:
    d = direction(LinkProfile(latency=0.01, reorder=0.2, reorder_delay=0.05))
    arrivals = [(a, i) for i in range(N) for a, _ in d.transmit(bytes(20), i * 0.001)]
    order = [i for _, i in sorted(arrivals)]
    overtaken = sum(1 for x, y in itertools.pairwise(order) if x > y)
    assert d.stats.reordered == pytest.approx(0.2 * N, rel=0.05)
    assert overtaken > 0.1 * N


def test_independent_loss_rate() -> None:
    d = direction(LinkProfile(loss=0.1))
    delivered = sum(len(d.transmit(b"x", float(i))) for i in range(N))
    assert (N - delivered) / N == pytest.approx(0.1, abs=0.01)
    assert d.stats.dropped(DropReason.LOSS) == N - delivered


def test_gilbert_elliott_rate_and_burst_length() -> None:
    chain = GilbertElliott(to_bad=0.01, to_good=0.2, loss_bad=1.0)
    d = direction(LinkProfile(burst_loss=chain))
    lost = [not d.transmit(b"x", float(i)) for i in range(50_000)]
    assert sum(lost) / len(lost) == pytest.approx(chain.mean_loss, rel=0.15)
    bursts, run = [], 0
    for flag in lost:
        if flag:
            run += 1
        elif run:
            bursts.append(run)
            run = 0
    assert statistics.fmean(bursts) == pytest.approx(chain.mean_burst, rel=0.15)
    # bursty: far longer runs than independent loss at the same rate would give
    assert statistics.fmean(bursts) > 3.0


def test_bandwidth_queue_tail_drops_under_congestion() -> None:
    profile = LinkProfile(latency=0.0, bandwidth=1_000_000, queue_bytes=10_000, mtu=1000)
    d = direction(profile)
    arrivals = [a for _ in range(100) for a, _ in d.transmit(bytes(1000), 0.0)]
    assert len(arrivals) == 10
    assert d.stats.dropped(DropReason.QUEUE) == 90
    assert arrivals == pytest.approx([0.008 * (k + 1) for k in range(10)])
    # the queue drains at the line rate: after 40 ms, five frames fit again
    assert d.queued_bytes(0.04) == pytest.approx(5000)
    more = [a for _ in range(10) for a, _ in d.transmit(bytes(1000), 0.04)]
    assert len(more) == 5


def test_mtu_drops_are_counted() -> None:
    d = direction(LinkProfile(mtu=500))
    assert d.transmit(bytes(501), 0.0) == []
    assert len(d.transmit(bytes(500), 0.0)) == 1
    assert d.stats.dropped(DropReason.MTU) == 1
    assert d.stats.frames_sent == 1
    assert d.stats.frames_offered == 2


def test_duplication_rate() -> None:
    d = direction(LinkProfile(duplicate=0.05))
    copies = [len(d.transmit(b"abc", float(i))) for i in range(N)]
    assert copies.count(2) / N == pytest.approx(0.05, abs=0.006)
    assert d.stats.duplicated == copies.count(2)


def test_corruption_flips_exactly_one_bit() -> None:
    d = direction(LinkProfile(corrupt=1.0))
    original = bytes(range(64))
    for i in range(200):
        [(_, data)] = d.transmit(original, float(i))
        flipped = sum(bin(x ^ y).count("1") for x, y in zip(original, data, strict=True))
        assert flipped == 1


def test_same_label_same_stream_and_different_labels_differ() -> None:
    profile = LinkProfile(latency=0.1, jitter=0.05, loss=0.3)

    def run(label: str) -> list[list[tuple[float, bytes]]]:
        d = direction(profile, label)
        return [d.transmit(b"frame", float(i)) for i in range(500)]

    assert run("a") == run("a")
    assert run("a") != run("b")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"loss": 1.5}, "loss"),
        ({"latency": -1.0}, "latency"),
        ({"bandwidth": 0}, "bandwidth"),
        ({"mtu": 0}, "mtu"),
        ({"queue_bytes": 10, "mtu": 100}, "queue_bytes"),
        ({"down": ((5.0, 2.0),)}, "down"),
        ({"down": ((1.0, 5.0), (4.0, 6.0))}, "down"),
    ],
)
def test_bad_profile_values_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        LinkProfile(**changes)  # type: ignore[arg-type]


def test_gilbert_elliott_validation() -> None:
    with pytest.raises(ConfigError, match="to_bad"):
        GilbertElliott(to_bad=2.0, to_good=0.1)
    with pytest.raises(ConfigError):
        GilbertElliott(to_bad=0.0, to_good=0.0)
