"""Entropy providers: determinism of SeededEntropy, ranges and argument checks."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy, SystemEntropy


def _model_stream(seed: bytes, label: str, n: int) -> bytes:
    """SeededEntropy's stream as documented: SHAKE-256 blocks of a derived key."""
    key = hashlib.sha256(b"meshnet-seeded-entropy\0" + seed + b"\0" + label.encode()).digest()
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.shake_256(key + counter.to_bytes(8, "big")).digest(4096)
        counter += 1
    return out[:n]


@settings(max_examples=60)
@given(sizes=st.lists(st.integers(min_value=0, max_value=9000), max_size=8))
def test_seeded_stream_does_not_depend_on_how_it_is_drawn(sizes: list[int]) -> None:
    entropy = SeededEntropy(b"seed", "node-1")
    drawn = b"".join(entropy.random_bytes(n) for n in sizes)
    assert len(drawn) == sum(sizes)
    assert drawn == _model_stream(b"seed", "node-1", sum(sizes))


def test_same_seed_same_bytes_and_labels_separate_streams() -> None:
    assert SeededEntropy(7, "a").random_bytes(64) == SeededEntropy(7, "a").random_bytes(64)
    assert SeededEntropy(7, "a").random_bytes(64) != SeededEntropy(7, "b").random_bytes(64)
    assert SeededEntropy(7, "a").random_bytes(64) != SeededEntropy(8, "a").random_bytes(64)


def test_fork_is_deterministic_and_independent_of_parent_position() -> None:
    parent = SeededEntropy(1, "root")
    first = parent.fork("child").random_bytes(32)
    parent.random_bytes(100)
    assert parent.fork("child").random_bytes(32) == first
    assert parent.fork("other").random_bytes(32) != first
    assert first != SeededEntropy(1, "root").random_bytes(32)


@pytest.mark.parametrize("entropy", [SeededEntropy(3), SystemEntropy()], ids=repr)
def test_negative_count_is_refused(entropy: SeededEntropy | SystemEntropy) -> None:
    entropy.random_bytes(5)  # a non-empty pool must not turn -1 into "all but one byte"
    with pytest.raises(ValueError):
        entropy.random_bytes(-1)


@pytest.mark.parametrize("entropy", [SeededEntropy(3), SystemEntropy()], ids=repr)
def test_sizes_and_ranges(entropy: SeededEntropy | SystemEntropy) -> None:
    assert entropy.random_bytes(0) == b""
    assert len(entropy.random_bytes(33)) == 33
    for _ in range(200):
        value = entropy.random_float()
        assert 0.0 <= value < 1.0
    assert {entropy.random_below(1) for _ in range(20)} == {0}
    seen = {entropy.random_below(5) for _ in range(500)}
    assert seen == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError):
        entropy.random_below(0)


@settings(max_examples=100)
@given(bound=st.integers(min_value=1, max_value=2**80), seed=st.integers(0, 2**32))
def test_random_below_stays_below_any_bound(bound: int, seed: int) -> None:
    entropy = SeededEntropy(seed)
    assert all(0 <= entropy.random_below(bound) < bound for _ in range(5))


def test_random_below_is_roughly_uniform() -> None:
    entropy = SeededEntropy(11)
    counts = [0] * 3
    for _ in range(3000):
        counts[entropy.random_below(3)] += 1
    assert all(900 < c < 1100 for c in counts)


def test_repr_shows_no_seed_material() -> None:
    entropy = SeededEntropy(b"very secret seed", "n1")
    assert "secret" not in repr(entropy)
    assert repr(entropy) == "SeededEntropy(label='n1')"
