"""SignatureVerifier: correct answers, cache hits and misses, bounded LRU eviction."""

from __future__ import annotations

import pytest

from meshnet.crypto.nodeid import NodeId
from meshnet.crypto.primitives import Ed25519Signer
from meshnet.crypto.verifier import SignatureVerifier


def _signer(n: int) -> tuple[Ed25519Signer, NodeId]:
    signer = Ed25519Signer(bytes([n]) * 32)
    return signer, NodeId(signer.public_key)


def test_verifies_and_rejects() -> None:
    signer, node = _signer(1)
    _, other = _signer(2)
    verifier = SignatureVerifier()
    signature = signer.sign(b"hello")
    assert verifier.verify(node, signature, b"hello")
    assert not verifier.verify(node, signature, b"hellO")
    assert not verifier.verify(other, signature, b"hello")
    assert not verifier.verify(node, signature[:63], b"hello")
    assert not verifier.verify(node, b"", b"hello")
    status = verifier.status()
    assert (status.valid, status.invalid) == (1, 4)


def test_repeated_verification_hits_the_cache_with_the_same_answer() -> None:
    signer, node = _signer(1)
    verifier = SignatureVerifier(capacity=8)
    good = signer.sign(b"m")
    bad = bytes(64)
    for _ in range(3):
        assert verifier.verify(node, good, b"m")
        assert not verifier.verify(node, bad, b"m")
    status = verifier.status()
    assert (status.misses, status.hits, status.entries) == (2, 4, 2)
    assert (status.valid, status.invalid) == (3, 3)


def test_cache_key_separates_signature_and_data_boundaries() -> None:
    # (sig, data) pairs whose concatenation is equal must not share a cache entry.
    signer, node = _signer(3)
    verifier = SignatureVerifier()
    signature = signer.sign(b"xy")
    assert verifier.verify(node, signature, b"xy")
    assert not verifier.verify(node, signature + b"x", b"y")
    assert verifier.status().misses == 2


def test_lru_eviction_keeps_recently_used_entries() -> None:
    signer, node = _signer(4)
    verifier = SignatureVerifier(capacity=2)
    sigs = {m: signer.sign(m) for m in (b"a", b"b", b"c")}
    verifier.verify(node, sigs[b"a"], b"a")
    verifier.verify(node, sigs[b"b"], b"b")
    verifier.verify(node, sigs[b"a"], b"a")  # a is now most recent
    verifier.verify(node, sigs[b"c"], b"c")  # evicts b
    assert verifier.status().entries == 2
    before = verifier.status().misses
    assert verifier.verify(node, sigs[b"a"], b"a")
    assert verifier.status().misses == before
    assert verifier.verify(node, sigs[b"b"], b"b")
    assert verifier.status().misses == before + 1


def test_capacity_zero_disables_the_cache() -> None:
    signer, node = _signer(5)
    verifier = SignatureVerifier(capacity=0)
    signature = signer.sign(b"z")
    assert verifier.verify(node, signature, b"z")
    assert verifier.verify(node, signature, b"z")
    status = verifier.status()
    assert (status.hits, status.misses, status.entries, status.capacity) == (0, 2, 0, 0)


def test_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError):
        SignatureVerifier(capacity=-1)


def test_instances_share_nothing() -> None:
    signer, node = _signer(6)
    first, second = SignatureVerifier(), SignatureVerifier()
    first.verify(node, signer.sign(b"q"), b"q")
    assert second.status().misses == 0
    assert "entries=0" in repr(second)
