"""``CipherState`` (spec §5.1) and ``SymmetricState`` (§5.2), with the spec's names.

A ``CipherState`` holds a key ``k`` (or none) and a nonce ``n``; a ``SymmetricState``
holds a ``CipherState`` plus the chaining key ``ck`` and handshake hash ``h``. The
methods follow the spec one for one (``InitializeKey`` is ``initialize_key``,
``MixKeyAndHash`` is ``mix_key_and_hash`` ...), and so does every step inside them.

Errors: a failed ``decrypt_with_ad`` raises ``AuthenticationError`` and leaves ``n``
unchanged (§5.1); a nonce that reached the reserved value 2^64-1 raises
``NonceExhaustedError``. The transport phase normally uses
``meshnet.noise.transport.TransportCipher`` (built from a ``CipherState``), which is
the same cipher arranged for speed and for explicit counters.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from meshnet.errors import AuthenticationError, NonceExhaustedError
from meshnet.noise.functions import AEAD, MAX_NONCE, CipherFunctions, HashFunctions

__all__ = ["CipherState", "SymmetricState"]

_CIPHER_KEY_LEN = 32


class CipherState:
    """A cipher key ``k`` (possibly empty) and a 64-bit nonce ``n`` (§5.1).

    Args:
        cipher: the cipher functions to use.
        k: an initial key, or None for ``empty``.
    """

    __slots__ = ("_aead", "_k", "cipher", "n")

    def __init__(self, cipher: CipherFunctions, k: bytes | None = None) -> None:
        self.cipher = cipher
        """The cipher functions this state encrypts with."""
        self._k: bytes | None = None
        self._aead: AEAD | None = None
        self.n = 0
        """The nonce the next encryption or decryption uses."""
        self.initialize_key(k)

    @property
    def k(self) -> bytes | None:
        """The cipher key, or None while ``empty``. Secret."""
        return self._k

    def initialize_key(self, key: bytes | None) -> None:
        """InitializeKey(key): set ``k = key`` (None is ``empty``) and ``n = 0``."""
        if key is not None and len(key) != _CIPHER_KEY_LEN:
            raise ValueError(f"a Noise cipher key is {_CIPHER_KEY_LEN} bytes")
        self._k = key
        self._aead = None  # built on first use: many handshake keys are never used
        self.n = 0

    def has_key(self) -> bool:
        """HasKey(): whether ``k`` is non-empty."""
        return self._k is not None

    def _cipher_object(self) -> AEAD:
        if self._aead is None:
            assert self._k is not None
            self._aead = self.cipher.aead(self._k)
        return self._aead

    def set_nonce(self, nonce: int) -> None:
        """SetNonce(nonce): set ``n`` (out-of-order transport messages, §11.4)."""
        if not 0 <= nonce <= MAX_NONCE:
            raise ValueError("a Noise nonce is an unsigned 64-bit integer")
        self.n = nonce

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """EncryptWithAd(ad, plaintext): ENCRYPT(k, n++, ad, plaintext), or the plaintext.

        Raises:
            NonceExhaustedError: ``n`` reached the reserved value 2^64-1.
        """
        if self._k is None:
            return plaintext
        if self.n >= MAX_NONCE:
            raise NonceExhaustedError("cipher nonce exhausted; a new handshake is needed")
        ciphertext = self._cipher_object().encrypt(self.cipher.nonce(self.n), plaintext, ad)
        self.n += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """DecryptWithAd(ad, ciphertext): DECRYPT(k, n++, ad, ciphertext), or the input.

        Raises:
            AuthenticationError: the tag does not verify (``n`` is not incremented).
            NonceExhaustedError: ``n`` reached the reserved value 2^64-1.
        """
        if self._k is None:
            return ciphertext
        if self.n >= MAX_NONCE:
            raise NonceExhaustedError("cipher nonce exhausted; a new handshake is needed")
        try:
            plaintext = self._cipher_object().decrypt(self.cipher.nonce(self.n), ciphertext, ad)
        except InvalidTag:
            raise AuthenticationError("AEAD tag did not verify") from None
        self.n += 1
        return plaintext

    def rekey(self) -> None:
        """Rekey(): ``k = REKEY(k)`` (§4.2, §11.3); ``n`` is unchanged. No-op without a key."""
        if self._k is not None:
            n = self.n
            self.initialize_key(self.cipher.rekey(self._k))
            self.n = n

    def __repr__(self) -> str:
        return f"CipherState({self.cipher.name}, has_key={self.has_key()}, n={self.n})"


class SymmetricState:
    """The chaining key ``ck``, the handshake hash ``h`` and a ``CipherState`` (§5.2).

    The constructor is InitializeSymmetric(protocol_name).

    Args:
        protocol_name: the full protocol name as bytes (§8).
        cipher: the cipher functions.
        hash_functions: the hash functions.
    """

    __slots__ = ("_hash", "cipher_state", "ck", "h")

    def __init__(
        self, protocol_name: bytes, *, cipher: CipherFunctions, hash_functions: HashFunctions
    ) -> None:
        self._hash = hash_functions
        self.cipher_state = CipherState(cipher)
        """The handshake's ``CipherState``."""
        self.h = b""
        """The handshake hash ``h`` (HASHLEN bytes)."""
        self.ck = b""
        """The chaining key ``ck`` (HASHLEN bytes). Secret."""
        self.initialize_symmetric(protocol_name)

    def initialize_symmetric(self, protocol_name: bytes) -> None:
        """InitializeSymmetric(protocol_name): ``h`` from the name, ``ck = h``, no key."""
        hashlen = self._hash.HASHLEN
        if len(protocol_name) <= hashlen:
            self.h = protocol_name.ljust(hashlen, b"\x00")
        else:
            self.h = self._hash.hash(protocol_name)
        self.ck = self.h
        self.cipher_state.initialize_key(None)

    def mix_key(self, input_key_material: bytes) -> None:
        """MixKey(ikm): ``ck, temp_k = HKDF(ck, ikm, 2)``; InitializeKey(temp_k[:32])."""
        self.ck, temp_k = self._hash.hkdf(self.ck, input_key_material, 2)
        self.cipher_state.initialize_key(temp_k[:_CIPHER_KEY_LEN])

    def mix_hash(self, data: bytes) -> None:
        """MixHash(data): ``h = HASH(h || data)``."""
        self.h = self._hash.hash(self.h + data)

    def mix_key_and_hash(self, input_key_material: bytes) -> None:
        """MixKeyAndHash(ikm): ``ck, temp_h, temp_k = HKDF(ck, ikm, 3)``; MixHash(temp_h);
        InitializeKey(temp_k[:32]) (§5.2, used for PSKs)."""
        self.ck, temp_h, temp_k = self._hash.hkdf(self.ck, input_key_material, 3)
        self.mix_hash(temp_h)
        self.cipher_state.initialize_key(temp_k[:_CIPHER_KEY_LEN])

    def get_handshake_hash(self) -> bytes:
        """GetHandshakeHash(): ``h``."""
        return self.h

    def has_key(self) -> bool:
        """HasKey() of the inner ``CipherState``."""
        return self.cipher_state.has_key()

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        """EncryptAndHash(plaintext): encrypt with ``ad = h``, then MixHash(ciphertext).

        Raises:
            NonceExhaustedError: the inner nonce is exhausted.
        """
        ciphertext = self.cipher_state.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        """DecryptAndHash(ciphertext): decrypt with ``ad = h``, then MixHash(ciphertext).

        Raises:
            AuthenticationError: the tag does not verify.
        """
        plaintext = self.cipher_state.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        """Split(): ``(c1, c2)`` keyed from ``HKDF(ck, zerolen, 2)``, truncated to 32 bytes.

        ``c1`` encrypts initiator-to-responder transport messages, ``c2`` the other way.
        """
        temp_k1, temp_k2 = self._hash.hkdf(self.ck, b"", 2)
        cipher = self.cipher_state.cipher
        return (
            CipherState(cipher, temp_k1[:_CIPHER_KEY_LEN]),
            CipherState(cipher, temp_k2[:_CIPHER_KEY_LEN]),
        )

    def __repr__(self) -> str:
        return f"SymmetricState({self._hash.name}, {self.cipher_state!r})"
