"""``ReplayWindow``: the sliding-window replay filter for datagram transport counters.

Noise spec §11.4: a receiver that decrypts with counters taken from the wire "must
track the received n values for which decryption was successful and reject any
message which repeats such a value". This is the WireGuard / RFC 6479 scheme: remember
the highest accepted counter and a bitmap of the ``size`` counters at and below it.
A counter is new if it is above the highest, or within the window and its bit is clear;
anything further behind is refused as too old. The bitmap is one Python integer, so
the window is exact (no block granularity) and sliding it is one shift.

Use, per received datagram::

    if not window.check(counter):        # cheap: drop duplicates and stale counters
        drop()
    plaintext = cipher.decrypt(counter, ciphertext, header)   # may raise AuthenticationError
    window.accept(counter)               # only after the tag verified

Only authenticated counters move the window, so forged datagrams cannot push it
forward and make genuine ones look old.
"""

from __future__ import annotations

from meshnet.errors import ReplayError

__all__ = ["DEFAULT_REPLAY_WINDOW", "ReplayWindow"]

DEFAULT_REPLAY_WINDOW = 2048
"""Counters remembered below the highest one (WireGuard's window is 2048 - 64)."""
_COUNTER_LIMIT = (1 << 64) - 1  # 2^64-1 is reserved by §5.1 and never sent


class ReplayWindow:
    """Accepts each counter at most once, within ``size`` of the highest accepted.

    Args:
        size: how many counters at and below the highest accepted one are tracked; a
            counter ``size`` or more behind the highest is refused as too old.

    Raises:
        ValueError: ``size`` is not positive.
    """

    __slots__ = ("_bitmap", "_highest", "_mask", "size")

    def __init__(self, size: int = DEFAULT_REPLAY_WINDOW) -> None:
        if size <= 0:
            raise ValueError("a replay window holds at least one counter")
        self.size = size
        """The window width in counters."""
        self._mask = (1 << size) - 1
        self._highest = -1  # nothing accepted yet
        self._bitmap = 0  # bit i set: counter (highest - i) was accepted

    @property
    def highest(self) -> int | None:
        """The highest accepted counter, or None before the first."""
        return self._highest if self._highest >= 0 else None

    def check(self, counter: int) -> bool:
        """Whether ``counter`` may be new: call before decrypting. Changes nothing.

        Returns:
            False for a counter already accepted, ``size`` or more behind the highest,
            negative, or 2^64-1 and above; True otherwise.
        """
        if counter > self._highest:
            return counter < _COUNTER_LIMIT
        offset = self._highest - counter
        if offset >= self.size or counter < 0:
            return False
        return not (self._bitmap >> offset) & 1

    def accept(self, counter: int) -> None:
        """Record ``counter`` as received: call after its message authenticated.

        Raises:
            ReplayError: ``check(counter)`` is False (a replay, or too old).
        """
        if not self.check(counter):
            raise ReplayError(f"counter {counter} was already received or is too old")
        shift = counter - self._highest
        if shift > 0:
            self._bitmap = ((self._bitmap << shift) | 1) & self._mask if shift < self.size else 1
            self._highest = counter
        else:
            self._bitmap |= 1 << -shift

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self.size}, highest={self.highest})"
