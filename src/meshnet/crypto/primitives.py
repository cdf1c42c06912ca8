"""Thin wrappers over ``cryptography`` for the primitives identities use: Ed25519, X25519.

Nothing here implements cryptography; every function delegates to the ``cryptography``
package (OpenSSL underneath) or to ``hashlib``. The wrappers exist so that the rest of
MeshNet handles keys as raw ``bytes`` of fixed, checked sizes and never imports
``cryptography`` directly, and so that a malformed key or signature from a peer turns
into ``False`` (a failed verification) rather than an exception from a C library.

Sizes: an Ed25519 private key is its 32-byte seed (RFC 8032 §5.1.5), a public key is
32 bytes and a signature 64 bytes. X25519 private and public keys are 32 bytes each
(RFC 7748 §5); the private key is stored as given and clamped by the library when used.
"""

from __future__ import annotations

import hashlib
from typing import NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

__all__ = [
    "ED25519_PUBLIC_SIZE",
    "ED25519_SEED_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "SHA256_SIZE",
    "X25519_KEY_SIZE",
    "Ed25519Signer",
    "X25519KeyPair",
    "ed25519_verify",
    "sha256",
]

ED25519_SEED_SIZE = 32
ED25519_PUBLIC_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
X25519_KEY_SIZE = 32
SHA256_SIZE = 32


def sha256(*parts: bytes) -> bytes:
    """SHA-256 of the concatenation of ``parts``."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def _check_size(name: str, value: bytes, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        got = len(value) if isinstance(value, bytes) else type(value).__name__
        raise ValueError(f"{name} must be {size} bytes, got {got}")


def ed25519_verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data`` under ``public_key``.

    Args:
        public_key: the 32-byte Ed25519 public key.
        signature: the signature as received; any length (a wrong length is ``False``).
        data: the signed bytes.

    Returns:
        ``True`` only if the signature verifies; malformed keys or signatures give ``False``.
    """
    if len(public_key) != ED25519_PUBLIC_SIZE or len(signature) != ED25519_SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


class Ed25519Signer:
    """An Ed25519 private key: signs data and knows its public key.

    Args:
        seed: the 32-byte private seed (RFC 8032 §5.1.5).
    """

    __slots__ = ("_key", "_public", "_seed")

    def __init__(self, seed: bytes) -> None:
        _check_size("Ed25519 seed", seed, ED25519_SEED_SIZE)
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key().public_bytes_raw()

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self._public

    def seed(self) -> bytes:
        """The 32-byte private seed. Secret: only for key files."""
        return self._seed

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data`` (deterministic, RFC 8032)."""
        return self._key.sign(data)

    def __repr__(self) -> str:
        return "Ed25519Signer(<secret>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("private keys cannot be pickled")


class X25519KeyPair:
    """An X25519 key pair for Diffie-Hellman (the Noise static key ``s``).

    Args:
        private_key: the 32-byte X25519 private key.
    """

    __slots__ = ("_key", "_private", "_public")

    def __init__(self, private_key: bytes) -> None:
        _check_size("X25519 private key", private_key, X25519_KEY_SIZE)
        self._private = private_key
        self._key = X25519PrivateKey.from_private_bytes(private_key)
        self._public = self._key.public_key().public_bytes_raw()

    @property
    def public_key(self) -> bytes:
        """The 32-byte X25519 public key."""
        return self._public

    def private_bytes(self) -> bytes:
        """The 32-byte private key. Secret: for Noise and key files only."""
        return self._private

    def private_key_object(self) -> X25519PrivateKey:
        """The ``cryptography`` key object, built once. Secret: for the Noise layer,
        whose DH calls ``cryptography`` itself; rebuilding it from the bytes for every
        handshake costs a scalar multiplication (the public key) each time."""
        return self._key

    def exchange(self, peer_public: bytes) -> bytes:
        """The 32-byte X25519 shared secret with ``peer_public``.

        Raises:
            ValueError: ``peer_public`` is not 32 bytes, or the result is all zeros (a
                low-order peer key, RFC 7748 §6.1).
        """
        _check_size("X25519 public key", peer_public, X25519_KEY_SIZE)
        return self._key.exchange(X25519PublicKey.from_public_bytes(peer_public))

    def __repr__(self) -> str:
        return "X25519KeyPair(<secret>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("private keys cannot be pickled")
