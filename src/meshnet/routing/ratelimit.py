"""``TokenBucket``: the rate limit behind per-origin and per-link bounds in routing.

``rate`` tokens a second, at most ``burst`` saved up; a bucket starts full. ``ready_at``
says when the next token will be there, so a caller can set a timer instead of polling.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]

_EPSILON = 1e-9  # so that a timer set for ready_at() finds the token despite rounding


class TokenBucket:
    """One token bucket on explicit time.

    Args:
        rate: tokens added per second (positive).
        burst: most tokens held (at least 1).
        now: the time the bucket is made (it starts full).
    """

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, *, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now

    def available(self, now: float) -> bool:
        """Whether a token is there now (none is taken)."""
        self._refill(now)
        return self._tokens >= 1.0

    def take(self, now: float) -> bool:
        """Take one token; False (and nothing taken) when the bucket is empty."""
        if not self.available(now):
            return False
        self._tokens -= 1.0
        return True

    def ready_at(self, now: float) -> float:
        """The earliest time at which a token will be there."""
        self._refill(now)
        if self._tokens >= 1.0:
            return now
        return now + (1.0 - self._tokens) / self._rate + _EPSILON
