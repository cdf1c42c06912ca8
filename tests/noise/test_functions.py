"""The function sets: sizes, spec ENCRYPT/DECRYPT, invalid peer keys become HandshakeError."""

from __future__ import annotations

import pytest

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import AuthenticationError, HandshakeError
from meshnet.noise.functions import (
    CIPHER_FUNCTIONS,
    DH_FUNCTIONS,
    HASH_FUNCTIONS,
    KEM_FUNCTIONS,
    MLKEM768Functions,
)

KEY = bytes(range(32))


def test_registries_are_named_as_in_protocol_names() -> None:
    assert sorted(DH_FUNCTIONS) == ["25519", "448"]
    assert sorted(CIPHER_FUNCTIONS) == ["AESGCM", "ChaChaPoly"]
    assert sorted(HASH_FUNCTIONS) == ["BLAKE2b", "BLAKE2s", "SHA256", "SHA512"]
    assert sorted(KEM_FUNCTIONS) == ["MLKEM768"]
    assert [DH_FUNCTIONS[n].DHLEN for n in ("25519", "448")] == [32, 56]
    assert {n: (f.HASHLEN, f.BLOCKLEN) for n, f in HASH_FUNCTIONS.items()} == {
        "SHA256": (32, 64),
        "SHA512": (64, 128),
        "BLAKE2s": (32, 64),
        "BLAKE2b": (64, 128),
    }


@pytest.mark.parametrize("name", sorted(DH_FUNCTIONS))
def test_dh_agrees_and_is_deterministic_from_entropy(name: str) -> None:
    dh = DH_FUNCTIONS[name]
    a = dh.generate_keypair(SeededEntropy(1, "a"))
    b = dh.generate_keypair(SeededEntropy(1, "b"))
    assert dh.dh(a, b.public) == dh.dh(b, a.public)
    assert len(a.public) == dh.DHLEN
    assert dh.generate_keypair(SeededEntropy(1, "a")).public == a.public
    assert dh.keypair(a.private).public == a.public
    assert "private" not in repr(a)
    with pytest.raises(ValueError):
        dh.keypair(b"short")


@pytest.mark.parametrize("name", sorted(DH_FUNCTIONS))
def test_low_order_public_keys_are_handshake_errors(name: str) -> None:
    dh = DH_FUNCTIONS[name]
    ours = dh.generate_keypair(SeededEntropy(2))
    with pytest.raises(HandshakeError, match="invalid"):
        dh.dh(ours, bytes(dh.DHLEN))  # the identity point: an all-zero output


@pytest.mark.parametrize("name", sorted(CIPHER_FUNCTIONS))
def test_spec_encrypt_decrypt(name: str) -> None:
    cipher = CIPHER_FUNCTIONS[name]
    ciphertext = cipher.encrypt(KEY, 9, b"ad", b"plaintext")
    assert len(ciphertext) == len(b"plaintext") + 16
    assert cipher.decrypt(KEY, 9, b"ad", ciphertext) == b"plaintext"
    for k, n, ad in ((bytes(32), 9, b"ad"), (KEY, 10, b"ad"), (KEY, 9, b"da")):
        with pytest.raises(AuthenticationError):
            cipher.decrypt(k, n, ad, ciphertext)
    with pytest.raises(ValueError):
        cipher.aead(b"short key")


def test_mlkem768_round_trip_and_sizes() -> None:
    kem = MLKEM768Functions()
    pair = kem.generate_kem_keypair(SeededEntropy(3))
    assert len(pair.public) == kem.KEMPUBLICKEYLEN == 1184
    assert kem.generate_kem_keypair(SeededEntropy(3)).public == pair.public
    ciphertext, output = kem.generate_kem_ciphertext(pair.public)
    assert len(ciphertext) == kem.KEMCIPHERTEXTLEN == 1088
    assert len(output) == kem.KEMOUTPUTLEN == 32
    assert kem.kem(pair, ciphertext) == output


def test_mlkem768_hostile_inputs_are_handshake_errors() -> None:
    kem = MLKEM768Functions()
    pair = kem.generate_kem_keypair(SeededEntropy(4))
    with pytest.raises(HandshakeError, match="public key"):
        kem.generate_kem_ciphertext(b"\xff" * kem.KEMPUBLICKEYLEN)  # coefficients >= q
    with pytest.raises(HandshakeError, match="public key"):
        kem.generate_kem_ciphertext(b"short")
    with pytest.raises(HandshakeError, match="ciphertext"):
        kem.kem(pair, b"short")
    # A well-sized but wrong ciphertext decapsulates to an unrelated secret (implicit
    # rejection, FIPS 203): the handshake then fails on the next tag.
    ciphertext, output = kem.generate_kem_ciphertext(pair.public)
    assert kem.kem(pair, bytes(len(ciphertext))) != output
