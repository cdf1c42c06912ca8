"""TransportCipher: same bytes as CipherState, explicit counters, nonce limits, rekey, clear."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import AuthenticationError, NonceExhaustedError, StateError
from meshnet.noise.functions import CIPHER_FUNCTIONS, MAX_NONCE
from meshnet.noise.symmetric import CipherState
from meshnet.noise.transport import TransportCipher

KEY = bytes(range(32, 64))
CIPHERS = sorted(CIPHER_FUNCTIONS)


@settings(max_examples=50, deadline=None)
@given(
    cipher=st.sampled_from(CIPHERS),
    start=st.integers(min_value=0, max_value=MAX_NONCE - 10),
    messages=st.lists(st.tuples(st.binary(max_size=100), st.binary(max_size=20)), max_size=8),
)
def test_encrypt_matches_cipher_state_byte_for_byte(
    cipher: str, start: int, messages: list[tuple[bytes, bytes]]
) -> None:
    state = CipherState(CIPHER_FUNCTIONS[cipher], KEY)
    state.set_nonce(start)
    transport = TransportCipher.from_cipher_state(state)
    receiver = TransportCipher(cipher, KEY)
    for plaintext, ad in messages:
        counter, ciphertext = transport.encrypt(plaintext, ad)
        assert counter == state.n
        assert ciphertext == state.encrypt_with_ad(ad, plaintext)
        assert receiver.decrypt(counter, ciphertext, ad) == plaintext
    assert transport.next_counter == state.n


@pytest.mark.parametrize("cipher", CIPHERS)
def test_datagrams_decrypt_in_any_order(cipher: str) -> None:
    sender, receiver = TransportCipher(cipher, KEY), TransportCipher(cipher, KEY)
    sealed = [sender.encrypt(b"message %d" % i, b"hdr") for i in range(5)]
    for counter, ciphertext in reversed(sealed):
        assert receiver.decrypt(counter, memoryview(ciphertext), b"hdr") == b"message %d" % counter
    assert receiver.next_counter == 0  # decrypting never moves the send counter


@pytest.mark.parametrize("cipher", CIPHERS)
def test_tampering_raises_authentication_error(cipher: str) -> None:
    sender, receiver = TransportCipher(cipher, KEY), TransportCipher(cipher, KEY)
    counter, ciphertext = sender.encrypt(b"payload", b"hdr")
    flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    for args in (
        (counter, flipped, b"hdr"),
        (counter + 1, ciphertext, b"hdr"),
        (counter, ciphertext, b"other"),
        (counter, ciphertext[:10], b"hdr"),
        (counter, b"", b"hdr"),
    ):
        with pytest.raises(AuthenticationError):
            receiver.decrypt(*args)
    assert receiver.decrypt(counter, ciphertext, b"hdr") == b"payload"


def test_counters_no_sender_could_use_are_refused() -> None:
    receiver = TransportCipher("ChaChaPoly", KEY)
    for counter in (-1, MAX_NONCE, MAX_NONCE + 1, 1 << 80):
        with pytest.raises(AuthenticationError, match="cannot have been used"):
            receiver.decrypt(counter, bytes(32))


def test_nonce_exhaustion_refuses_the_reserved_counter() -> None:
    sender = TransportCipher("AESGCM", KEY, counter=MAX_NONCE - 2)
    assert sender.encrypt(b"a")[0] == MAX_NONCE - 2
    last, ciphertext = sender.encrypt(b"b")
    assert last == MAX_NONCE - 1
    assert TransportCipher("AESGCM", KEY).decrypt(last, ciphertext) == b"b"
    with pytest.raises(NonceExhaustedError):
        sender.encrypt(b"c")
    assert sender.next_counter == MAX_NONCE  # unchanged: no nonce reused or wrapped
    with pytest.raises(NonceExhaustedError):
        sender.encrypt(b"c")
    with pytest.raises(ValueError):
        TransportCipher("AESGCM", KEY, counter=MAX_NONCE + 1)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_rekey_matches_the_spec_and_keeps_the_counter(cipher: str) -> None:
    sender, receiver = TransportCipher(cipher, KEY), TransportCipher(cipher, KEY)
    state = CipherState(CIPHER_FUNCTIONS[cipher], KEY)
    old = sender.encrypt(b"before")
    state.encrypt_with_ad(b"", b"before")
    for party in (sender, receiver):
        party.rekey()
    state.rekey()
    counter, ciphertext = sender.encrypt(b"after")
    assert counter == 1
    assert ciphertext == state.encrypt_with_ad(b"", b"after")
    assert receiver.decrypt(counter, ciphertext) == b"after"
    with pytest.raises(AuthenticationError):
        receiver.decrypt(*old)  # the old key is gone


def test_clear_drops_the_key_for_good() -> None:
    cipher = TransportCipher("ChaChaPoly", KEY)
    counter, ciphertext = cipher.encrypt(b"x")
    cipher.clear()
    cipher.clear()
    assert cipher.cleared
    assert "cleared" in repr(cipher)
    with pytest.raises(StateError):
        cipher.encrypt(b"y")
    with pytest.raises(StateError):
        cipher.decrypt(counter, ciphertext)
    with pytest.raises(StateError):
        cipher.rekey()


def test_construction_checks() -> None:
    with pytest.raises(StateError):
        TransportCipher.from_cipher_state(CipherState(CIPHER_FUNCTIONS["ChaChaPoly"]))
    with pytest.raises(ValueError, match="32 bytes"):
        TransportCipher("ChaChaPoly", b"short")
    cipher = TransportCipher("AESGCM", KEY, counter=7)
    assert cipher.cipher_name == "AESGCM"
    assert cipher.next_counter == 7
    assert repr(cipher) == "TransportCipher(AESGCM, next_counter=7)"


@settings(max_examples=50, deadline=None)
@given(
    cipher=st.sampled_from(CIPHERS),
    messages=st.lists(st.tuples(st.binary(max_size=200), st.binary(max_size=20)), max_size=6),
    header=st.integers(min_value=0, max_value=12),
)
def test_into_buffers_give_the_same_bytes_as_encrypt_and_decrypt(
    cipher: str, messages: list[tuple[bytes, bytes]], header: int
) -> None:
    """Sealing into a slice after a header gives encrypt's bytes; opening gives decrypt's."""
    by_value, into = TransportCipher(cipher, KEY), TransportCipher(cipher, KEY)
    receiver = TransportCipher(cipher, KEY)
    for plaintext, ad in messages:
        frame = bytearray(b"\xee" * header + bytes(len(plaintext) + 16))
        counter = into.encrypt_into(plaintext, memoryview(frame)[header:], ad)
        assert (counter, bytes(frame[header:])) == by_value.encrypt(plaintext, ad)
        assert frame[:header] == b"\xee" * header  # the header room is left alone
        opened = bytearray(len(plaintext))
        receiver.decrypt_into(counter, memoryview(frame)[header:], opened, ad)
        assert opened == plaintext
    assert into.next_counter == by_value.next_counter == len(messages)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_failed_decrypt_into_leaves_no_plaintext_behind(cipher: str) -> None:
    sender, receiver = TransportCipher(cipher, KEY), TransportCipher(cipher, KEY)
    counter, ciphertext = sender.encrypt(b"secret words", b"hdr")
    flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    out = bytearray(b"\xaa" * 12)
    with pytest.raises(AuthenticationError, match="failed authentication"):
        receiver.decrypt_into(counter, flipped, out, b"hdr")
    assert out == bytes(12)  # the AEAD wrote unauthenticated plaintext; it is wiped
    with pytest.raises(AuthenticationError, match="shorter than its tag"):
        receiver.decrypt_into(counter, ciphertext[:15], bytearray(0), b"hdr")
    with pytest.raises(AuthenticationError, match="cannot have been used"):
        receiver.decrypt_into(MAX_NONCE, ciphertext, out, b"hdr")
    receiver.decrypt_into(counter, ciphertext, out, b"hdr")
    assert out == b"secret words"


def test_into_buffers_of_the_wrong_size_are_refused_without_using_a_counter() -> None:
    sender, receiver = TransportCipher("ChaChaPoly", KEY), TransportCipher("ChaChaPoly", KEY)
    for size in (0, 20, 22):
        with pytest.raises(ValueError, match="must be 21 bytes"):
            sender.encrypt_into(b"hello", bytearray(size))
    assert sender.next_counter == 0
    with pytest.raises(TypeError):
        sender.encrypt_into(b"hello", bytes(21))  # type: ignore[arg-type]
    counter, ciphertext = sender.encrypt(b"hello")
    with pytest.raises(ValueError, match="must be 5 bytes"):
        receiver.decrypt_into(counter, ciphertext, bytearray(6))
    sender.clear()
    with pytest.raises(StateError):
        sender.encrypt_into(b"hello", bytearray(21))
    with pytest.raises(StateError):
        sender.decrypt_into(0, ciphertext, bytearray(5))
