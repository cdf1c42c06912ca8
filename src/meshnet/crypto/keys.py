"""Text encodings of keys: lowercase unpadded base32, and constant-time comparison.

MeshNet shows public keys (a ``NodeId`` above all) in RFC 4648 base32 with the
lowercase alphabet ``a-z2-7`` and no ``=`` padding: 32 bytes become 52 characters. The
alphabet has no ``0``/``1``/``8``/``9`` and reads well aloud. Decoding accepts either
case, and it is *canonical*: the unused low bits of the last character must be zero, so
every byte string has exactly one text form and two spellings never name the same key.
"""

from __future__ import annotations

import base64
import hmac

__all__ = [
    "BASE32_ALPHABET",
    "base32_decode",
    "base32_encode",
    "base32_length",
    "constant_time_equal",
]

BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_ALPHABET_SET = frozenset(BASE32_ALPHABET)


def base32_length(nbytes: int) -> int:
    """How many characters ``base32_encode`` gives for ``nbytes`` bytes."""
    return (nbytes * 8 + 4) // 5


def base32_encode(data: bytes) -> str:
    """Lowercase, unpadded base32 of ``data``."""
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def base32_decode(text: str, nbytes: int) -> bytes:
    """Decode lowercase or uppercase unpadded base32 text of exactly ``nbytes`` bytes.

    Args:
        text: the base32 text, without padding or surrounding spaces.
        nbytes: the number of bytes the text must encode.

    Returns:
        The decoded bytes.

    Raises:
        ValueError: wrong length, a character outside the alphabet, or non-zero unused
            bits in the last character (a non-canonical spelling). The message says which.
    """
    lowered = text.lower()
    expected = base32_length(nbytes)
    if len(lowered) != expected:
        raise ValueError(f"expected {expected} base32 characters, got {len(lowered)}")
    bad = sorted({c for c in lowered if c not in _ALPHABET_SET})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        raise ValueError(f"not base32 (letters a-z and digits 2-7 only): found {shown}")
    # Alphabet and length are checked, so b32decode cannot fail here.
    raw = base64.b32decode(lowered.upper() + "=" * (-len(lowered) % 8))
    if len(raw) != nbytes or base32_encode(raw) != lowered:
        raise ValueError("not a canonical base32 spelling (last character has stray bits)")
    return raw


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time independent of where they differ."""
    return hmac.compare_digest(a, b)
