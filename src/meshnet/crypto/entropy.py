"""Sources of randomness handed to cores: the ``Entropy`` protocol and two providers.

Cores never call ``os.urandom`` or ``random``; they are given an ``Entropy`` object.
``SystemEntropy`` reads the operating system's CSPRNG (the real node). ``SeededEntropy``
is a deterministic stream derived from a seed (the simulator and tests), so the same
seed replays the same run. ``SeededEntropy`` expands its seed with SHAKE-256 from
``hashlib``; it is a reproducible source, never a cryptographic one, and the runtime
never uses it.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from typing import Protocol

__all__ = ["Entropy", "SeededEntropy", "SystemEntropy"]

_FLOAT_BITS = 53


class Entropy(Protocol):
    """What a core may ask of its randomness source."""

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""

    def random_float(self) -> float:
        """Return a float uniformly distributed in ``[0.0, 1.0)``."""

    def random_below(self, n: int) -> int:
        """Return an integer uniformly distributed in ``[0, n)``; ``n`` must be positive."""


class _EntropyBase(ABC):
    """Derives floats and bounded integers from ``random_bytes`` without bias."""

    @abstractmethod
    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""

    def random_float(self) -> float:
        value = int.from_bytes(self.random_bytes(8), "big") >> (64 - _FLOAT_BITS)
        return value / float(1 << _FLOAT_BITS)

    def random_below(self, n: int) -> int:
        if n <= 0:
            raise ValueError("random_below needs a positive bound")
        bits = n.bit_length()
        nbytes = (bits + 7) // 8
        while True:  # rejection sampling: uniform, expected < 2 draws
            value = int.from_bytes(self.random_bytes(nbytes), "big") >> (nbytes * 8 - bits)
            if value < n:
                return value


class SystemEntropy(_EntropyBase):
    """The operating system's CSPRNG."""

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def __repr__(self) -> str:
        return "SystemEntropy()"


class SeededEntropy(_EntropyBase):
    """A deterministic stream for the simulator and tests: same seed, same bytes.

    Args:
        seed: any integer or byte string; equal seeds give equal streams.
        label: separates independent streams drawn from one seed (one per node, say).
    """

    _BLOCK = 4096

    def __init__(self, seed: int | bytes, label: str = "") -> None:
        seed_bytes = seed if isinstance(seed, bytes) else str(seed).encode()
        self._key = hashlib.sha256(
            b"meshnet-seeded-entropy\0" + seed_bytes + b"\0" + label.encode()
        ).digest()
        self._counter = 0
        self._pool = b""
        self._offset = 0  # bytes of the pool already handed out (no copy per draw)
        self._label = label

    def fork(self, label: str) -> SeededEntropy:
        """An independent deterministic stream derived from this one's seed and ``label``."""
        return SeededEntropy(self._key, f"{self._label}/{label}")

    def random_bytes(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("random_bytes needs a count of zero or more")
        offset = self._offset
        left = len(self._pool) - offset
        if left < n:
            blocks = -(-(n - left) // self._BLOCK)
            self._pool = self._pool[offset:] + b"".join(self._next_block() for _ in range(blocks))
            offset = 0
        self._offset = offset + n
        return self._pool[offset : offset + n]

    def _next_block(self) -> bytes:
        block = hashlib.shake_256(self._key + self._counter.to_bytes(8, "big")).digest(self._BLOCK)
        self._counter += 1
        return block

    def __repr__(self) -> str:
        return f"SeededEntropy(label={self._label!r})"
