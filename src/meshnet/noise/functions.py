"""The crypto function sets of the Noise spec §4 and §12, and the KEM functions of Noise HFS §3.

A Noise protocol is a handshake pattern plus one set each of DH, cipher and hash
functions (and, for ``hfs`` patterns, KEM functions). Each set here is a small object
named as in the protocol name (``"25519"``, ``"ChaChaPoly"``, ``"BLAKE2s"``,
``"MLKEM768"``) whose methods carry the spec's names:

* DH (§4.1): ``generate_keypair``, ``dh``, ``DHLEN`` -- ``25519`` and ``448`` (§12.1-2);
* cipher (§4.2): ``encrypt``, ``decrypt``, ``rekey`` -- ``ChaChaPoly`` and ``AESGCM``
  (§12.3-4), with their nonce encodings: 32 zero bits, then ``n`` as a 64-bit
  little-endian (ChaChaPoly) or big-endian (AESGCM) integer;
* hash (§4.3): ``hash``, ``hmac_hash``, ``hkdf``, ``HASHLEN``, ``BLOCKLEN`` --
  ``SHA256``, ``SHA512``, ``BLAKE2s``, ``BLAKE2b`` (§12.5-8);
* KEM (HFS §3): ``generate_kem_keypair``, ``generate_kem_ciphertext``, ``kem`` --
  ``MLKEM768`` (FIPS 203).

Every primitive comes from ``cryptography`` or ``hashlib``/``hmac``; nothing here
implements one. Randomness comes from the ``Entropy`` the caller passes, except that
ML-KEM encapsulation draws its message from ``cryptography``'s own CSPRNG (its API
takes no randomness), so hybrid handshake bytes are not reproducible from a seed.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import mlkem, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from meshnet.crypto.entropy import Entropy
from meshnet.errors import AuthenticationError, HandshakeError

__all__ = [
    "CIPHER_FUNCTIONS",
    "DH_FUNCTIONS",
    "HASH_FUNCTIONS",
    "KEM_FUNCTIONS",
    "MAX_NONCE",
    "TAG_LEN",
    "AEAD",
    "Data",
    "AESGCMFunctions",
    "BLAKE2bFunctions",
    "BLAKE2sFunctions",
    "ChaChaPolyFunctions",
    "CipherFunctions",
    "DHFunctions",
    "HashFunctions",
    "KEMFunctions",
    "KeyPair",
    "MLKEM768Functions",
    "SHA256Functions",
    "SHA512Functions",
    "X448Functions",
    "X25519Functions",
]

TAG_LEN = 16
"""Bytes an AEAD adds to every ciphertext (§4.2)."""
MAX_NONCE = (1 << 64) - 1
"""The reserved nonce value 2^64-1 (§5.1): never used to encrypt a message."""
_CIPHER_KEY_LEN = 32
_ZEROS32 = bytes(32)


@dataclass(frozen=True, slots=True, eq=False)
class KeyPair:
    """A DH or KEM key pair: public bytes, private bytes and the primitive's key object.

    ``private`` is the DH private key (32 or 56 bytes) or the 64-byte ML-KEM seed; it
    never appears in ``repr``. ``handle`` is the ``cryptography`` object, kept so that
    each DH or decapsulation does not rebuild it.
    """

    public: bytes
    """The public key as sent on the wire (``DHLEN`` or ``KEMPUBLICKEYLEN`` bytes)."""
    private: bytes = field(repr=False)
    """The private key bytes. Secret."""
    handle: object = field(repr=False)
    """The ``cryptography`` private key object behind this pair."""


# -- DH functions (§4.1, §12.1-2) -------------------------------------------------------


class DHFunctions(ABC):
    """``GENERATE_KEYPAIR()``, ``DH()`` and ``DHLEN`` for one curve."""

    name: str
    """The DH name section of a protocol name, e.g. ``"25519"``."""
    DHLEN: int
    """Bytes in a public key and in a DH output."""

    def generate_keypair(self, entropy: Entropy) -> KeyPair:
        """GENERATE_KEYPAIR(): a new key pair whose private key is drawn from ``entropy``."""
        return self.keypair(entropy.random_bytes(self.DHLEN))

    @abstractmethod
    def keypair(self, private: bytes) -> KeyPair:
        """The key pair for a given private key (fixed keys: test vectors, identities).

        Raises:
            ValueError: ``private`` is not ``DHLEN`` bytes.
        """

    @abstractmethod
    def dh(self, key_pair: KeyPair, public_key: bytes) -> bytes:
        """DH(key_pair, public_key): the shared secret, ``DHLEN`` bytes.

        Raises:
            HandshakeError: ``public_key`` is invalid (an all-zero output is signalled
                as an error, which §12.1 permits).
        """


class X25519Functions(DHFunctions):
    """The ``25519`` DH functions (§12.1): X25519 from RFC 7748."""

    name = "25519"
    DHLEN = 32

    def keypair(self, private: bytes) -> KeyPair:
        if len(private) != self.DHLEN:
            raise ValueError(f"an X25519 private key is {self.DHLEN} bytes")
        key = x25519.X25519PrivateKey.from_private_bytes(private)
        return KeyPair(public=key.public_key().public_bytes_raw(), private=private, handle=key)

    def dh(self, key_pair: KeyPair, public_key: bytes) -> bytes:
        key = cast(x25519.X25519PrivateKey, key_pair.handle)
        try:
            return key.exchange(x25519.X25519PublicKey.from_public_bytes(public_key))
        except ValueError as exc:
            raise HandshakeError(f"invalid X25519 public key: {exc}") from None


class X448Functions(DHFunctions):
    """The ``448`` DH functions (§12.2): X448 from RFC 7748."""

    name = "448"
    DHLEN = 56

    def keypair(self, private: bytes) -> KeyPair:
        if len(private) != self.DHLEN:
            raise ValueError(f"an X448 private key is {self.DHLEN} bytes")
        key = x448.X448PrivateKey.from_private_bytes(private)
        return KeyPair(public=key.public_key().public_bytes_raw(), private=private, handle=key)

    def dh(self, key_pair: KeyPair, public_key: bytes) -> bytes:
        key = cast(x448.X448PrivateKey, key_pair.handle)
        try:
            return key.exchange(x448.X448PublicKey.from_public_bytes(public_key))
        except ValueError as exc:
            raise HandshakeError(f"invalid X448 public key: {exc}") from None


# -- cipher functions (§4.2, §12.3-4) ---------------------------------------------------


Data = bytes | bytearray | memoryview
"""Bytes-like message data an AEAD accepts without copying."""


class AEAD(Protocol):
    """What ``cryptography``'s ``ChaCha20Poly1305`` and ``AESGCM`` objects offer."""

    def encrypt(self, nonce: bytes, data: Data, associated_data: Data | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: Data, associated_data: Data | None) -> bytes: ...

    def encrypt_into(
        self, nonce: bytes, data: Data, associated_data: Data | None, buf: bytearray | memoryview
    ) -> int: ...

    def decrypt_into(
        self, nonce: bytes, data: Data, associated_data: Data | None, buf: bytearray | memoryview
    ) -> int: ...


class CipherFunctions(ABC):
    """``ENCRYPT()``, ``DECRYPT()`` and ``REKEY()`` for one AEAD, plus its nonce encoding."""

    name: str
    """The cipher name section of a protocol name, e.g. ``"ChaChaPoly"``."""
    nonce: Callable[[int], bytes]
    """The 12-byte AEAD nonce for the 64-bit Noise nonce ``n`` (§12.3-4)."""

    @abstractmethod
    def aead(self, k: bytes) -> AEAD:
        """A reusable AEAD object for key ``k`` (one per key: building it costs)."""

    def encrypt(self, k: bytes, n: int, ad: bytes, plaintext: bytes) -> bytes:
        """ENCRYPT(k, n, ad, plaintext): the ciphertext with its 16-byte tag appended."""
        return self.aead(k).encrypt(self.nonce(n), plaintext, ad)

    def decrypt(self, k: bytes, n: int, ad: bytes, ciphertext: bytes) -> bytes:
        """DECRYPT(k, n, ad, ciphertext): the plaintext.

        Raises:
            AuthenticationError: the tag does not verify.
        """
        try:
            return self.aead(k).decrypt(self.nonce(n), ciphertext, ad)
        except InvalidTag:
            raise AuthenticationError("AEAD tag did not verify") from None

    def rekey(self, k: bytes) -> bytes:
        """REKEY(k): the first 32 bytes of ENCRYPT(k, maxnonce, zerolen, zeros) (§4.2)."""
        return self.encrypt(k, MAX_NONCE, b"", _ZEROS32)[:_CIPHER_KEY_LEN]


def _check_key(k: bytes) -> None:
    if len(k) != _CIPHER_KEY_LEN:
        raise ValueError(f"a Noise cipher key is {_CIPHER_KEY_LEN} bytes")


class ChaChaPolyFunctions(CipherFunctions):
    """The ``ChaChaPoly`` cipher functions (§12.3): AEAD_CHACHA20_POLY1305, RFC 7539."""

    name = "ChaChaPoly"
    nonce = struct.Struct("<4xQ").pack

    def aead(self, k: bytes) -> AEAD:
        _check_key(k)
        return ChaCha20Poly1305(k)


class AESGCMFunctions(CipherFunctions):
    """The ``AESGCM`` cipher functions (§12.4): AES-256-GCM with a 128-bit tag."""

    name = "AESGCM"
    nonce = struct.Struct(">4xQ").pack

    def aead(self, k: bytes) -> AEAD:
        _check_key(k)
        return AESGCM(k)


# -- hash functions (§4.3, §12.5-8) -----------------------------------------------------


class HashFunctions:
    """``HASH()``, ``HMAC-HASH()``, ``HKDF()``, ``HASHLEN`` and ``BLOCKLEN`` for one hash.

    HMAC is the standard library's RFC 2104 HMAC over the ``hashlib`` constructor, whose
    ``block_size`` is the spec's ``BLOCKLEN``.
    """

    __slots__ = ("BLOCKLEN", "HASHLEN", "_new", "name")

    # ``new`` is a hashlib constructor: OpenSSL functions for SHA-2, classes for BLAKE2,
    # which share no nominal type in typeshed; hence ``Any`` for its product.
    def __init__(self, name: str, new: Callable[..., Any]) -> None:
        self.name = name
        """The hash name section of a protocol name, e.g. ``"BLAKE2s"``."""
        self._new = new
        probe = new()
        self.HASHLEN: int = probe.digest_size
        """Bytes in a hash output: 32 or 64."""
        self.BLOCKLEN: int = probe.block_size
        """The hash's internal block size, HMAC's ``B``."""

    def hash(self, data: bytes) -> bytes:
        """HASH(data)."""
        digest: bytes = self._new(data).digest()
        return digest

    def hmac_hash(self, key: bytes, data: bytes) -> bytes:
        """HMAC-HASH(key, data), RFC 2104."""
        return hmac.digest(key, data, self._new)

    def hkdf(self, chaining_key: bytes, input_key_material: bytes, num_outputs: int) -> list[bytes]:
        """HKDF(chaining_key, input_key_material, num_outputs) with 2 or 3 outputs (§4.3)."""
        temp_key = self.hmac_hash(chaining_key, input_key_material)
        output1 = self.hmac_hash(temp_key, b"\x01")
        output2 = self.hmac_hash(temp_key, output1 + b"\x02")
        if num_outputs == 2:
            return [output1, output2]
        if num_outputs != 3:
            raise ValueError("HKDF yields two or three outputs")
        return [output1, output2, self.hmac_hash(temp_key, output2 + b"\x03")]

    def __repr__(self) -> str:
        return f"HashFunctions({self.name!r})"


class SHA256Functions(HashFunctions):
    """The ``SHA256`` hash functions (§12.5): HASHLEN 32, BLOCKLEN 64."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("SHA256", hashlib.sha256)


class SHA512Functions(HashFunctions):
    """The ``SHA512`` hash functions (§12.6): HASHLEN 64, BLOCKLEN 128."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("SHA512", hashlib.sha512)


class BLAKE2sFunctions(HashFunctions):
    """The ``BLAKE2s`` hash functions (§12.7): digest length 32, BLOCKLEN 64."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("BLAKE2s", hashlib.blake2s)


class BLAKE2bFunctions(HashFunctions):
    """The ``BLAKE2b`` hash functions (§12.8): digest length 64, BLOCKLEN 128."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("BLAKE2b", hashlib.blake2b)


# -- KEM functions (Noise HFS §3) -------------------------------------------------------


class KEMFunctions(ABC):
    """``GENERATE_KEM_KEYPAIR()``, ``GENERATE_KEM_CIPHERTEXT()``, ``KEM()`` and sizes."""

    name: str
    """The KEM name that follows ``+`` in the DH section, e.g. ``"MLKEM768"``."""
    KEMPUBLICKEYLEN: int
    """Bytes in a KEM public key."""
    KEMCIPHERTEXTLEN: int
    """Bytes in a KEM ciphertext."""
    KEMOUTPUTLEN: int
    """Bytes in a KEM output (the shared secret)."""

    @abstractmethod
    def generate_kem_keypair(self, entropy: Entropy) -> KeyPair:
        """GENERATE_KEM_KEYPAIR(): a new KEM key pair derived from ``entropy``."""

    @abstractmethod
    def generate_kem_ciphertext(self, public_key: bytes) -> tuple[bytes, bytes]:
        """GENERATE_KEM_CIPHERTEXT(public_key): ``(ciphertext, kem_output)``.

        Raises:
            HandshakeError: ``public_key`` is not a valid encoding.
        """

    @abstractmethod
    def kem(self, key_pair: KeyPair, ciphertext: bytes) -> bytes:
        """KEM(key_pair, ciphertext): the ``kem_output`` the sender derived.

        Raises:
            HandshakeError: ``ciphertext`` cannot be decapsulated.
        """


class MLKEM768Functions(KEMFunctions):
    """ML-KEM-768 (FIPS 203) from ``cryptography``; the private key is the 64-byte seed."""

    name = "MLKEM768"
    KEMPUBLICKEYLEN = 1184
    KEMCIPHERTEXTLEN = 1088
    KEMOUTPUTLEN = 32
    SEED_LEN = 64

    def generate_kem_keypair(self, entropy: Entropy) -> KeyPair:
        seed = entropy.random_bytes(self.SEED_LEN)
        key = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
        return KeyPair(public=key.public_key().public_bytes_raw(), private=seed, handle=key)

    def generate_kem_ciphertext(self, public_key: bytes) -> tuple[bytes, bytes]:
        try:
            peer = mlkem.MLKEM768PublicKey.from_public_bytes(public_key)
        except ValueError as exc:
            raise HandshakeError(f"invalid ML-KEM-768 public key: {exc}") from None
        shared_secret, ciphertext = peer.encapsulate()
        return ciphertext, shared_secret

    def kem(self, key_pair: KeyPair, ciphertext: bytes) -> bytes:
        key = cast(mlkem.MLKEM768PrivateKey, key_pair.handle)
        try:
            return key.decapsulate(ciphertext)
        except ValueError as exc:
            raise HandshakeError(f"invalid ML-KEM-768 ciphertext: {exc}") from None


DH_FUNCTIONS: dict[str, DHFunctions] = {f.name: f for f in (X25519Functions(), X448Functions())}
"""DH function sets by protocol-name section."""
CIPHER_FUNCTIONS: dict[str, CipherFunctions] = {
    f.name: f for f in (ChaChaPolyFunctions(), AESGCMFunctions())
}
"""Cipher function sets by protocol-name section."""
HASH_FUNCTIONS: dict[str, HashFunctions] = {
    f.name: f
    for f in (SHA256Functions(), SHA512Functions(), BLAKE2sFunctions(), BLAKE2bFunctions())
}
"""Hash function sets by protocol-name section."""
KEM_FUNCTIONS: dict[str, KEMFunctions] = {f.name: f for f in (MLKEM768Functions(),)}
"""KEM function sets by the name after ``+`` in the DH section."""
