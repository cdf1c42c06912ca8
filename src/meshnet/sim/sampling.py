"""``Sampler``: fast random variates drawn from one seeded entropy stream.

The simulator never touches ``random``. Every purpose that needs randomness (one
direction of one link, one traffic source, a topology builder) gets its own
``SeededEntropy`` fork, labelled by purpose, wrapped in a ``Sampler``. Forks are
independent, so adding a traffic flow does not change the loss pattern of a link.

A ``Sampler`` pulls the stream in 4 KiB blocks and turns 8 bytes into one 53-bit
uniform float, so a per-frame draw costs a ``struct`` unpack rather than a hash call.
"""

from __future__ import annotations

import math
import struct

from meshnet.crypto.entropy import Entropy, SeededEntropy

__all__ = ["Sampler", "root_entropy"]

_BLOCK = 4096
_UNPACK = struct.Struct(">Q").unpack_from
_SCALE = 1.0 / float(1 << 53)


def root_entropy(seed: int) -> SeededEntropy:
    """The root stream of one simulation run; everything else is forked from it."""
    return SeededEntropy(seed, "meshnet-sim")


class Sampler:
    """Uniform, normal, exponential and bounded-integer variates from ``source``.

    Args:
        source: the deterministic stream to draw from (a ``SeededEntropy`` fork).
    """

    __slots__ = ("_block", "_pos", "_source")

    def __init__(self, source: Entropy) -> None:
        self._source = source
        self._block = b""
        self._pos = _BLOCK

    def uniform(self) -> float:
        """A float uniformly distributed in ``[0.0, 1.0)``."""
        pos = self._pos
        if pos >= _BLOCK:
            self._block = self._source.random_bytes(_BLOCK)
            pos = 0
        self._pos = pos + 8
        value: int = _UNPACK(self._block, pos)[0]
        return (value >> 11) * _SCALE

    def chance(self, probability: float) -> bool:
        """True with the given probability (no draw is taken when it is 0 or 1)."""
        if probability <= 0.0:
            return False
        if probability >= 1.0:
            return True
        return self.uniform() < probability

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``; the bias is below ``n / 2**53``."""
        if n <= 0:
            raise ValueError("below() needs a positive bound")
        return min(int(self.uniform() * n), n - 1)

    def normal(self, mean: float, stddev: float) -> float:
        """A normal variate (Box-Muller; one value per call, the pair's twin dropped)."""
        u1 = 1.0 - self.uniform()  # in (0, 1]: log() is finite
        u2 = self.uniform()
        return mean + stddev * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def exponential(self, mean: float) -> float:
        """An exponential variate with the given mean."""
        return -mean * math.log(1.0 - self.uniform())

    def shuffled(self, items: list[int]) -> list[int]:
        """A new list with ``items`` in a random order (Fisher-Yates)."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out
