"""Base32 text form of keys: round trips, canonical spelling, clear refusals."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.crypto.keys import (
    BASE32_ALPHABET,
    base32_decode,
    base32_encode,
    base32_length,
    constant_time_equal,
)


@given(st.binary(max_size=80))
def test_round_trip_any_length(data: bytes) -> None:
    text = base32_encode(data)
    assert len(text) == base32_length(len(data))
    assert set(text) <= set(BASE32_ALPHABET)
    assert base32_decode(text, len(data)) == data
    assert base32_decode(text.upper(), len(data)) == data


def test_matches_rfc4648_test_vectors() -> None:
    # RFC 4648 §10, lowercased and without padding.
    vectors = {b"f": "my", b"fo": "mzxq", b"foo": "mzxw6", b"foob": "mzxw6yq", b"fooba": "mzxw6ytb"}
    for raw, text in vectors.items():
        assert base32_encode(raw) == text
        assert base32_decode(text, len(raw)) == raw


def test_32_bytes_is_52_characters() -> None:
    assert base32_length(32) == 52
    assert len(base32_encode(bytes(32))) == 52


def test_wrong_length_is_refused() -> None:
    text = base32_encode(bytes(32))
    with pytest.raises(ValueError, match="expected 52"):
        base32_decode(text[:-1], 32)
    with pytest.raises(ValueError, match="expected 52"):
        base32_decode(text + "a", 32)


@pytest.mark.parametrize("bad", ["0", "1", "8", "9", "=", " ", "é", "-"])
def test_characters_outside_the_alphabet_are_named(bad: str) -> None:
    text = base32_encode(bytes(32))
    with pytest.raises(ValueError, match="not base32") as info:
        base32_decode(bad + text[1:], 32)
    assert repr(bad) in str(info.value)


def test_non_canonical_last_character_is_refused() -> None:
    # 32 bytes use 256 of the 260 bits of 52 characters; the last character's low
    # 4 bits must be zero, so "a" (0) is canonical and "b" (1) is not.
    text = base32_encode(bytes(32))
    assert text.endswith("a")
    alias = text[:-1] + "b"
    assert base64.b32decode(alias.upper() + "====") == bytes(32)  # the stdlib accepts it
    with pytest.raises(ValueError, match="canonical"):
        base32_decode(alias, 32)


def test_constant_time_equal() -> None:
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abd")
    assert not constant_time_equal(b"abc", b"ab")
