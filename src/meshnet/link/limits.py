"""Per-source token buckets that bound how fast anyone may start handshakes with us.

A handshake costs the responder real work (an ML-KEM encapsulation, X25519 operations
and a signature), so each source address gets a token bucket: ``rate`` starts per second
with bursts of ``burst``. The table of sources is bounded (least recently used first out),
so a flood of spoofed source addresses cannot grow memory without bound.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SourceRateLimiter"]


class SourceRateLimiter:
    """Token buckets keyed by source, bounded in number.

    Args:
        rate: tokens added per second.
        burst: bucket size.
        max_sources: how many sources are remembered at once.
    """

    def __init__(self, *, rate: float, burst: int, max_sources: int = 4096) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max = max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, source: str, now: float) -> bool:
        """Take one token for ``source``; False when its bucket is empty."""
        tokens, stamp = self._buckets.pop(source, (self._burst, now))
        tokens = min(self._burst, tokens + (now - stamp) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[source] = (tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)
