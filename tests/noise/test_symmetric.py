"""CipherState and SymmetricState against the spec's definitions, step by step."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import AuthenticationError, NonceExhaustedError
from meshnet.noise.functions import (
    CIPHER_FUNCTIONS,
    HASH_FUNCTIONS,
    MAX_NONCE,
    AESGCMFunctions,
    ChaChaPolyFunctions,
)
from meshnet.noise.symmetric import CipherState, SymmetricState

KEY = bytes(range(32))
CHACHA = ChaChaPolyFunctions()
AES = AESGCMFunctions()


def test_nonce_encodings_follow_section_12() -> None:
    assert CHACHA.nonce(1) == b"\x00" * 4 + struct.pack("<Q", 1)
    assert AES.nonce(1) == b"\x00" * 4 + struct.pack(">Q", 1)
    n = 0x0102030405060708
    assert CHACHA.nonce(n) == bytes(4) + bytes(range(8, 0, -1))
    assert AES.nonce(n) == bytes(4) + bytes(range(1, 9))


def test_encrypt_with_ad_is_the_raw_aead_with_the_encoded_nonce() -> None:
    for cipher, raw, order in ((CHACHA, ChaCha20Poly1305(KEY), "<"), (AES, AESGCM(KEY), ">")):
        state = CipherState(cipher, KEY)
        state.set_nonce(7)
        nonce = b"\x00" * 4 + struct.pack(f"{order}Q", 7)
        assert state.encrypt_with_ad(b"ad", b"hello") == raw.encrypt(nonce, b"hello", b"ad")
        assert state.n == 8


def test_without_a_key_data_passes_through() -> None:
    state = CipherState(CHACHA)
    assert not state.has_key()
    assert state.encrypt_with_ad(b"ad", b"plain") == b"plain"
    assert state.decrypt_with_ad(b"ad", b"plain") == b"plain"
    assert state.n == 0


def test_failed_decryption_leaves_n_unchanged() -> None:
    sender, receiver = CipherState(CHACHA, KEY), CipherState(CHACHA, KEY)
    ciphertext = sender.encrypt_with_ad(b"", b"payload")
    with pytest.raises(AuthenticationError):
        receiver.decrypt_with_ad(b"other ad", ciphertext)
    assert receiver.n == 0
    assert receiver.decrypt_with_ad(b"", ciphertext) == b"payload"
    assert receiver.n == 1


def test_nonce_2_64_minus_1_is_reserved() -> None:
    state = CipherState(CHACHA, KEY)
    state.set_nonce(MAX_NONCE - 1)
    ciphertext = state.encrypt_with_ad(b"", b"last")
    assert state.n == MAX_NONCE
    with pytest.raises(NonceExhaustedError):
        state.encrypt_with_ad(b"", b"one too many")
    with pytest.raises(NonceExhaustedError):
        state.decrypt_with_ad(b"", ciphertext)
    with pytest.raises(ValueError):
        state.set_nonce(MAX_NONCE + 1)


@pytest.mark.parametrize("cipher", [CHACHA, AES])
def test_rekey_is_the_default_rekey_of_section_4_2(cipher: ChaChaPolyFunctions) -> None:
    raw = cipher.aead(KEY)
    expected = raw.encrypt(cipher.nonce(MAX_NONCE), bytes(32), b"")[:32]
    state = CipherState(cipher, KEY)
    state.set_nonce(5)
    state.rekey()
    assert state.k == expected
    assert state.n == 5  # §11.3: rekey does not reset n
    empty = CipherState(cipher)
    empty.rekey()
    assert not empty.has_key()


def test_initialize_symmetric_pads_or_hashes_the_name() -> None:
    blake2s = HASH_FUNCTIONS["BLAKE2s"]
    short = SymmetricState(b"Noise_NN", cipher=CHACHA, hash_functions=blake2s)
    assert short.h == b"Noise_NN" + bytes(24)
    assert short.ck == short.h
    long_name = b"Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    hashed = SymmetricState(long_name, cipher=CHACHA, hash_functions=blake2s)
    assert hashed.h == blake2s.hash(long_name)
    assert not hashed.has_key()


@pytest.mark.parametrize(
    ("name", "algorithm"), [("SHA256", hashes.SHA256()), ("SHA512", hashes.SHA512())]
)
@settings(max_examples=25, deadline=None)
@given(ck=st.binary(min_size=64, max_size=64), ikm=st.sampled_from([b"", bytes(32), bytes(56)]))
def test_hkdf_is_rfc_5869_with_ck_as_salt(
    name: str, algorithm: hashes.HashAlgorithm, ck: bytes, ikm: bytes
) -> None:
    functions = HASH_FUNCTIONS[name]
    ck = ck[: functions.HASHLEN]
    length = functions.HASHLEN
    reference = HKDF(algorithm=algorithm, length=3 * length, salt=ck, info=b"").derive(ikm)
    assert b"".join(functions.hkdf(ck, ikm, 3)) == reference
    assert b"".join(functions.hkdf(ck, ikm, 2)) == reference[: 2 * length]
    with pytest.raises(ValueError):
        functions.hkdf(ck, ikm, 4)


def test_mix_key_and_split_truncate_64_byte_outputs() -> None:
    sha512 = HASH_FUNCTIONS["SHA512"]
    state = SymmetricState(
        b"Noise_NN_25519_ChaChaPoly_SHA512", cipher=CHACHA, hash_functions=sha512
    )
    ck = state.ck
    state.mix_key(bytes(32))
    new_ck, temp_k = sha512.hkdf(ck, bytes(32), 2)
    assert state.ck == new_ck and state.cipher_state.k == temp_k[:32]
    c1, c2 = state.split()
    k1, k2 = sha512.hkdf(state.ck, b"", 2)
    assert (c1.k, c2.k) == (k1[:32], k2[:32])
    assert c1.n == c2.n == 0


def test_mix_key_and_hash_mixes_temp_h_into_h() -> None:
    sha256 = HASH_FUNCTIONS["SHA256"]
    state = SymmetricState(b"Noise_NNpsk0", cipher=AES, hash_functions=sha256)
    ck, h = state.ck, state.h
    state.mix_key_and_hash(b"\x01" * 32)
    new_ck, temp_h, temp_k = sha256.hkdf(ck, b"\x01" * 32, 3)
    assert state.ck == new_ck
    assert state.h == sha256.hash(h + temp_h)
    assert state.cipher_state.k == temp_k


@settings(max_examples=50, deadline=None)
@given(
    cipher=st.sampled_from(sorted(CIPHER_FUNCTIONS)),
    hash_name=st.sampled_from(sorted(HASH_FUNCTIONS)),
    ikm=st.binary(min_size=32, max_size=32),
    payloads=st.lists(st.binary(max_size=64), max_size=4),
)
def test_encrypt_and_hash_round_trips_and_keeps_h_in_step(
    cipher: str, hash_name: str, ikm: bytes, payloads: list[bytes]
) -> None:
    a, b = (
        SymmetricState(
            b"x", cipher=CIPHER_FUNCTIONS[cipher], hash_functions=HASH_FUNCTIONS[hash_name]
        )
        for _ in range(2)
    )
    for state in (a, b):
        state.mix_hash(b"prologue")
        state.mix_key(ikm)
    for payload in payloads:
        assert b.decrypt_and_hash(a.encrypt_and_hash(payload)) == payload
        assert a.get_handshake_hash() == b.get_handshake_hash()
