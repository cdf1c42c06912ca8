"""``SignatureVerifier``: Ed25519 verification by NodeId, behind a bounded LRU cache.

Verifying an Ed25519 signature costs far more than hashing its input, and the mesh sees
the same signed bytes many times: an identity record arrives in every handshake with a
peer, a routing announcement arrives once from each neighbour that floods it. Since
verification is a pure function of (public key, signature, data), its result can be
remembered. One verifier is shared by every component of a node, and by every node of a
simulation (200 nodes verifying the same announcements pay for each once).

The cache key is ``SHA-256(node_id || len(signature) || signature || data)`` (32 bytes),
so memory stays bounded whatever the size of ``data``; both results are cached, so a
replayed forgery costs one hash too. The cache evicts the least recently used entry
beyond ``capacity``. There is no global instance: the node (or simulation) makes one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from meshnet.crypto.nodeid import NodeId
from meshnet.crypto.primitives import ed25519_verify, sha256

__all__ = ["DEFAULT_CACHE_CAPACITY", "SignatureVerifier", "VerifierStatus"]

DEFAULT_CACHE_CAPACITY = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierStatus:
    """A snapshot of a ``SignatureVerifier``'s cache counters."""

    hits: int
    """Verifications answered from the cache."""
    misses: int
    """Verifications that ran Ed25519."""
    entries: int
    """Results held in the cache now."""
    capacity: int
    """The most results the cache holds."""
    valid: int
    """Verifications (cached or not) that succeeded."""
    invalid: int
    """Verifications (cached or not) that failed."""


class SignatureVerifier:
    """Checks Ed25519 signatures made by nodes, remembering recent results.

    Args:
        capacity: how many results to cache; 0 disables the cache.
    """

    __slots__ = ("_cache", "_capacity", "_hits", "_invalid", "_misses", "_valid")

    def __init__(self, capacity: int = DEFAULT_CACHE_CAPACITY) -> None:
        if capacity < 0:
            raise ValueError("cache capacity must be zero or positive")
        self._capacity = capacity
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._valid = 0
        self._invalid = 0

    def verify(self, node_id: NodeId, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is ``node_id``'s Ed25519 signature over ``data``.

        Args:
            node_id: the claimed signer.
            signature: the signature as received (a wrong length is simply invalid).
            data: the signed bytes, domain separation included.

        Returns:
            ``True`` if the signature verifies. Never raises for hostile input.
        """
        key = sha256(node_id.raw, len(signature).to_bytes(4, "big"), signature, data)
        cached = self._cache.get(key)
        if cached is not None:
            self._hits += 1
            self._cache.move_to_end(key)
            result = cached
        else:
            self._misses += 1
            result = ed25519_verify(node_id.raw, signature, data)
            if self._capacity:
                self._cache[key] = result
                if len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        if result:
            self._valid += 1
        else:
            self._invalid += 1
        return result

    def status(self) -> VerifierStatus:
        """The cache counters now."""
        return VerifierStatus(
            hits=self._hits,
            misses=self._misses,
            entries=len(self._cache),
            capacity=self._capacity,
            valid=self._valid,
            invalid=self._invalid,
        )

    def __repr__(self) -> str:
        return f"SignatureVerifier(capacity={self._capacity}, entries={len(self._cache)})"
