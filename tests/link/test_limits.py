"""Per-source handshake rate limiting."""

from __future__ import annotations

from meshnet.link.limits import SourceRateLimiter


def test_burst_then_rate() -> None:
    limiter = SourceRateLimiter(rate=2.0, burst=3)
    assert [limiter.allow("a", 0.0) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow("a", 0.5)  # one token back after half a second at 2/s
    assert not limiter.allow("a", 0.5)
    assert limiter.allow("b", 0.5)  # sources are independent


def test_bucket_never_exceeds_burst() -> None:
    limiter = SourceRateLimiter(rate=100.0, burst=2)
    limiter.allow("a", 0.0)
    assert [limiter.allow("a", 1000.0) for _ in range(3)] == [True, True, False]


def test_sources_table_is_bounded() -> None:
    limiter = SourceRateLimiter(rate=1.0, burst=1, max_sources=100)
    for i in range(10_000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter) == 100
