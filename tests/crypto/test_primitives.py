"""Ed25519 and X25519 wrappers: known-answer tests, refusals, secrets kept out of reprs."""

from __future__ import annotations

import pickle

import pytest

from meshnet.crypto.primitives import (
    Ed25519Signer,
    X25519KeyPair,
    ed25519_verify,
    sha256,
)

# RFC 8032 §7.1, TEST 2 (one-byte message).
RFC8032_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC8032_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC8032_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)

# RFC 7748 §6.1 (Alice and Bob).
ALICE_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIVATE = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def test_ed25519_rfc8032_vector() -> None:
    signer = Ed25519Signer(RFC8032_SEED)
    assert signer.public_key == RFC8032_PUBLIC
    assert signer.sign(b"\x72") == RFC8032_SIGNATURE
    assert ed25519_verify(RFC8032_PUBLIC, RFC8032_SIGNATURE, b"\x72")


def test_ed25519_verify_rejects_tampering_and_malformed_input() -> None:
    assert not ed25519_verify(RFC8032_PUBLIC, RFC8032_SIGNATURE, b"\x73")
    flipped = bytes([RFC8032_SIGNATURE[0] ^ 1]) + RFC8032_SIGNATURE[1:]
    assert not ed25519_verify(RFC8032_PUBLIC, flipped, b"\x72")
    assert not ed25519_verify(RFC8032_PUBLIC, RFC8032_SIGNATURE[:-1], b"\x72")
    assert not ed25519_verify(RFC8032_PUBLIC[:-1], RFC8032_SIGNATURE, b"\x72")
    assert not ed25519_verify(b"\xff" * 32, RFC8032_SIGNATURE, b"\x72")
    assert not ed25519_verify(RFC8032_PUBLIC, b"\xff" * 64, b"\x72")


def test_x25519_rfc7748_vector() -> None:
    alice = X25519KeyPair(ALICE_PRIVATE)
    bob = X25519KeyPair(BOB_PRIVATE)
    assert alice.public_key == ALICE_PUBLIC
    assert bob.public_key == BOB_PUBLIC
    assert alice.exchange(BOB_PUBLIC) == SHARED
    assert bob.exchange(ALICE_PUBLIC) == SHARED
    assert alice.private_bytes() == ALICE_PRIVATE


def test_x25519_refuses_bad_peer_keys() -> None:
    alice = X25519KeyPair(ALICE_PRIVATE)
    with pytest.raises(ValueError):
        alice.exchange(BOB_PUBLIC[:31])
    with pytest.raises(ValueError):
        alice.exchange(bytes(32))  # low-order point: all-zero shared secret


@pytest.mark.parametrize("size", [0, 31, 33])
def test_wrong_key_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Ed25519Signer(bytes(size))
    with pytest.raises(ValueError, match="32 bytes"):
        X25519KeyPair(bytes(size))


def test_private_keys_stay_out_of_repr_and_pickle() -> None:
    for key in (Ed25519Signer(RFC8032_SEED), X25519KeyPair(ALICE_PRIVATE)):
        assert "secret" in repr(key)
        assert RFC8032_SEED.hex() not in repr(key)
        assert ALICE_PRIVATE.hex() not in repr(key)
        with pytest.raises(TypeError, match="pickle"):
            pickle.dumps(key)


def test_sha256_concatenates_parts() -> None:
    assert sha256(b"ab", b"c") == sha256(b"abc")
    assert sha256(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
