"""Sealed messages: what a mailbox holds for its owner without being able to read it.

A sealed message (docs/protocol/messaging.md §8) is composed from ``cryptography``
primitives only, the ECIES way (no primitive is written here)::

    sealed    = ephemeral_public (32) | ChaCha20-Poly1305(key, nonce = 0, aad = recipient
                NodeId, plaintext)
    plaintext = sender NodeId (32) | Ed25519 signature (64) | MESSAGE record
    key       = HKDF-SHA256(ikm = X25519(ephemeral, recipient static key),
                            salt = ephemeral_public | recipient static key,
                            info = "meshnet sealed message v1")
    signature = Ed25519_sender(SEAL_DOMAIN | recipient NodeId | sender NodeId | record)

The recipient's X25519 static key comes from its signed identity record, so only the
recipient can open the seal; the key is fresh per message (a fresh ephemeral), so a
zero nonce is never reused under one key. The signature, checked against the sender's
NodeId (its Ed25519 key), proves who wrote the message and for whom: a mailbox cannot
forge, alter or redirect mail, only withhold it.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId
from meshnet.crypto.primitives import X25519_KEY_SIZE, X25519KeyPair, ed25519_verify
from meshnet.errors import AuthenticationError, DecodeError
from meshnet.services.messaging.messages import (
    MAX_SEALED,
    SEAL_OVERHEAD,
    MessageFrame,
    decode_frame,
    encode_message,
)

__all__ = ["SEAL_DOMAIN", "open_sealed", "seal"]

SEAL_DOMAIN = b"meshnet sealed message v1\x00"
_INFO = b"meshnet sealed message v1"
_NONCE = bytes(12)
_SIGNATURE = 64


def _key(shared: bytes, ephemeral_public: bytes, recipient_static: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_static, info=_INFO
    )
    return hkdf.derive(shared)


def _signed(recipient: NodeId, sender: NodeId, record: bytes) -> bytes:
    return SEAL_DOMAIN + recipient.raw + sender.raw + record


def seal(
    message: MessageFrame, *, sender: Identity, recipient: IdentityRecord, entropy: Entropy
) -> bytes:
    """``message`` sealed to ``recipient`` and signed by ``sender``.

    Raises:
        ValueError: the recipient's static key is a low-order point (a bad record).
    """
    record = encode_message(message)
    signature = sender.sign(_signed(recipient.node_id, sender.node_id, record))
    ephemeral = X25519KeyPair(entropy.random_bytes(X25519_KEY_SIZE))
    shared = ephemeral.exchange(recipient.static_public)
    key = _key(shared, ephemeral.public_key, recipient.static_public)
    plaintext = sender.node_id.raw + signature + record
    ciphertext = ChaCha20Poly1305(key).encrypt(_NONCE, plaintext, recipient.node_id.raw)
    return ephemeral.public_key + ciphertext


def open_sealed(sealed: bytes, *, recipient: Identity) -> tuple[NodeId, MessageFrame]:
    """The sender and the message inside ``sealed``, which must be for ``recipient``.

    Raises:
        AuthenticationError: not sealed to us, altered, or the signature is not the
            sender's.
        DecodeError: too short or too long, or the message inside does not parse.
    """
    if not SEAL_OVERHEAD < len(sealed) <= MAX_SEALED:
        raise DecodeError(f"a sealed message of {len(sealed)} bytes")
    ephemeral_public, ciphertext = sealed[:X25519_KEY_SIZE], sealed[X25519_KEY_SIZE:]
    own = X25519KeyPair(recipient.static_private_bytes())
    try:
        shared = own.exchange(ephemeral_public)
    except ValueError:
        raise AuthenticationError("sealed with a low-order ephemeral key") from None
    key = _key(shared, ephemeral_public, own.public_key)
    try:
        plaintext = ChaCha20Poly1305(key).decrypt(_NONCE, ciphertext, recipient.node_id.raw)
    except InvalidTag:
        raise AuthenticationError("the seal does not open: not for us, or altered") from None
    sender = NodeId.from_raw(plaintext[:32])
    signature = plaintext[32 : 32 + _SIGNATURE]
    record = plaintext[32 + _SIGNATURE :]
    if not ed25519_verify(sender.raw, signature, _signed(recipient.node_id, sender, record)):
        raise AuthenticationError("the sealed message is not signed by its sender")
    frame = decode_frame(record)
    if not isinstance(frame, MessageFrame):
        raise DecodeError("a sealed record that is not a MESSAGE")
    return sender, frame
