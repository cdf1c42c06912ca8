"""``TransportCipher``: one direction of a Noise transport phase, built for speed.

After ``Split()`` each direction of a link or session gets a ``TransportCipher``: the
spec's ``CipherState`` with the counter made explicit, because datagrams arrive out of
order (spec §11.4: the sender sends ``n`` beside the message and the receiver
decrypts with that ``n``, keeping a replay window, ``noise/replay.py``).

Per message the work is one AEAD call on one ``cryptography`` object kept for the
key, one ``struct`` pack for the nonce and two integer checks. The nonce is the
cipher's own encoding (ChaChaPoly: 4 zero bytes + little-endian counter; AESGCM: 4 zero
bytes + big-endian counter), so a ``TransportCipher`` is byte-for-byte a ``CipherState``.

Rules:

* ``encrypt`` uses ``next_counter`` and increments it; it refuses the reserved value
  2^64-1 (§5.1) with ``NonceExhaustedError``, so a counter never repeats or wraps.
* ``decrypt`` takes the counter from the wire; a bad tag, or a counter no sender could
  have used (negative, or 2^64-1 and above), raises ``AuthenticationError``.
* ``encrypt_into`` / ``decrypt_into`` do the same into a caller's buffer (exactly the
  output's size, e.g. a slice of a frame buffer after its header), so a 64 KiB frame is
  sealed or opened without allocating and zero-filling a fresh 64 KiB object. A failed
  ``decrypt_into`` zeroes the buffer: unauthenticated plaintext never stays behind.
* ``rekey`` is §4.2 REKEY (counter unchanged, §11.3); ``clear`` drops the key for good
  (after rotation), after which every call raises ``StateError``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from meshnet.errors import AuthenticationError, NonceExhaustedError, StateError
from meshnet.noise.functions import (
    AEAD,
    CIPHER_FUNCTIONS,
    MAX_NONCE,
    TAG_LEN,
    CipherFunctions,
    Data,
)
from meshnet.noise.symmetric import CipherState

__all__ = ["Buffer", "TransportCipher"]

Buffer = bytearray | memoryview
"""A writable buffer ``encrypt_into`` / ``decrypt_into`` fill."""


class TransportCipher:
    """Encrypts or decrypts one direction of transport messages with explicit counters.

    Args:
        cipher: the cipher functions, or their name (``"ChaChaPoly"``, ``"AESGCM"``).
        key: the 32-byte key from ``Split()``. Secret.
        counter: the first counter ``encrypt`` uses.

    Raises:
        ValueError: the key is not 32 bytes or the counter is out of range.
    """

    __slots__ = ("_aead", "_cipher", "_key", "_nonce", "_sent")

    def __init__(self, cipher: CipherFunctions | str, key: bytes, *, counter: int = 0) -> None:
        self._cipher = CIPHER_FUNCTIONS[cipher] if isinstance(cipher, str) else cipher
        if not 0 <= counter <= MAX_NONCE:
            raise ValueError("a counter is an unsigned 64-bit integer")
        self._key: bytes | None = key
        self._aead: AEAD | None = self._cipher.aead(key)
        self._nonce = self._cipher.nonce
        self._sent = counter

    @classmethod
    def from_cipher_state(cls, state: CipherState) -> TransportCipher:
        """The transport cipher continuing a ``CipherState`` (same key, same ``n``).

        Raises:
            StateError: the cipher state has no key.
        """
        if state.k is None:
            raise StateError("a CipherState without a key cannot carry transport messages")
        return cls(state.cipher, state.k, counter=state.n)

    @property
    def cipher_name(self) -> str:
        """The cipher's protocol-name section, e.g. ``"ChaChaPoly"``."""
        return self._cipher.name

    @property
    def next_counter(self) -> int:
        """The counter the next ``encrypt`` will use."""
        return self._sent

    @property
    def cleared(self) -> bool:
        """True once ``clear()`` dropped the key."""
        return self._aead is None

    def _sealing(self) -> tuple[AEAD, int]:
        """The AEAD and the counter the next seal uses, or why there is none."""
        aead = self._aead
        if aead is None:
            raise StateError("this transport cipher's key was cleared")
        counter = self._sent
        if counter >= MAX_NONCE:
            raise NonceExhaustedError("transport counter exhausted; a new handshake is needed")
        return aead, counter

    def _opening(self, counter: int) -> AEAD:
        """The AEAD to open a message sealed under ``counter``, or why there is none."""
        aead = self._aead
        if aead is None:
            raise StateError("this transport cipher's key was cleared")
        if not 0 <= counter < MAX_NONCE:
            raise AuthenticationError(f"counter {counter} cannot have been used by a sender")
        return aead

    def encrypt(self, plaintext: Data, ad: bytes = b"") -> tuple[int, bytes]:
        """Seal ``plaintext`` under the next counter.

        Args:
            plaintext: the message.
            ad: associated data (e.g. the frame header) authenticated but not encrypted.

        Returns:
            ``(counter, ciphertext)``: the counter used (send it with the frame) and the
            ciphertext with its 16-byte tag.

        Raises:
            NonceExhaustedError: the counter reached 2^64-1; a new handshake is needed.
            StateError: the key was cleared.
        """
        aead, counter = self._sealing()
        ciphertext = aead.encrypt(self._nonce(counter), plaintext, ad)
        self._sent = counter + 1
        return counter, ciphertext

    def encrypt_into(self, plaintext: Data, out: Buffer, ad: bytes = b"") -> int:
        """Seal ``plaintext`` under the next counter into ``out``; return the counter.

        Args:
            plaintext: the message; it must not overlap ``out``.
            out: a writable buffer of exactly ``len(plaintext) + 16`` bytes (the
                ciphertext and its tag), e.g. ``memoryview(frame)[header:]``.
            ad: associated data authenticated but not encrypted.

        Raises:
            ValueError: ``out`` is not exactly ``len(plaintext) + 16`` bytes.
            NonceExhaustedError: the counter reached 2^64-1; a new handshake is needed.
            StateError: the key was cleared.
        """
        aead, counter = self._sealing()
        if len(out) != len(plaintext) + TAG_LEN:
            raise ValueError(
                f"the output buffer must be {len(plaintext) + TAG_LEN} bytes, not {len(out)}"
            )
        aead.encrypt_into(self._nonce(counter), plaintext, ad, out)
        self._sent = counter + 1
        return counter

    def decrypt_into(self, counter: int, ciphertext: Data, out: Buffer, ad: bytes = b"") -> None:
        """Open a message sealed under ``counter`` into ``out``.

        The same checks as ``decrypt``. On failure ``out`` is zeroed, so no
        unauthenticated plaintext is left in it.

        Args:
            counter: the counter from the wire.
            ciphertext: the ciphertext with its tag; it must not overlap ``out``.
            out: a writable buffer of exactly ``len(ciphertext) - 16`` bytes.
            ad: the associated data the sender authenticated.

        Raises:
            ValueError: ``out`` is not exactly ``len(ciphertext) - 16`` bytes.
            AuthenticationError: the tag does not verify, the ciphertext is shorter than
                a tag, or ``counter`` is outside ``[0, 2^64-2]``.
            StateError: the key was cleared.
        """
        aead = self._opening(counter)
        size = len(ciphertext) - TAG_LEN
        if size < 0:
            raise AuthenticationError("transport message shorter than its tag")
        if len(out) != size:
            raise ValueError(f"the output buffer must be {size} bytes, not {len(out)}")
        try:
            aead.decrypt_into(self._nonce(counter), ciphertext, ad, out)
        except InvalidTag:
            memoryview(out).cast("B")[:] = bytes(size)
            raise AuthenticationError("transport message failed authentication") from None

    def decrypt(self, counter: int, ciphertext: Data, ad: bytes = b"") -> bytes:
        """Open a message sealed under ``counter``.

        Check the counter against a ``ReplayWindow`` (datagrams) or the expected next
        counter (streams) first: this method does not track what it has seen.

        Raises:
            AuthenticationError: the tag does not verify, or ``counter`` is outside
                ``[0, 2^64-2]``.
            StateError: the key was cleared.
        """
        aead = self._opening(counter)
        try:
            return aead.decrypt(self._nonce(counter), ciphertext, ad)
        except InvalidTag:
            raise AuthenticationError("transport message failed authentication") from None

    def rekey(self) -> None:
        """Rekey(): replace the key with REKEY(key) (§4.2); the counter carries on.

        Both directions' owners must rekey at the same message boundary.

        Raises:
            StateError: the key was cleared.
        """
        if self._key is None:
            raise StateError("this transport cipher's key was cleared")
        self._key = self._cipher.rekey(self._key)
        self._aead = self._cipher.aead(self._key)

    def clear(self) -> None:
        """Drop the key and the AEAD object; every later call raises ``StateError``.

        Python cannot overwrite immutable ``bytes`` in place: this removes this
        object's references so the key is freed with its last one. Idempotent.
        """
        self._key = None
        self._aead = None

    def __repr__(self) -> str:
        state = "cleared" if self._aead is None else f"next_counter={self._sent}"
        return f"TransportCipher({self._cipher.name}, {state})"
