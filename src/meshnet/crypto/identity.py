"""Node identities: ``Identity`` (the secret keys), ``IdentityRecord`` (the public proof).

A node holds two key pairs (DESIGN.md §3, docs/protocol/identity.md):

* an **Ed25519** signing key; its public key *is* the ``NodeId``;
* an **X25519** static key for Noise handshakes (the Noise ``s``).

The ``IdentityRecord`` binds the second to the first: it carries the NodeId, the X25519
public key and a creation time, signed by the Ed25519 key over a domain-separated
encoding. Anyone holding only the NodeId can verify a record, so a handshake that
proves possession of the X25519 key also proves the NodeId.

``Identity.to_bytes``/``from_bytes`` are the key file's contents (identity.md §4):
magic, format version, kind, creation time, both private keys and a SHA-256 integrity
check, so a truncated, corrupted or foreign file is refused with a ``KeyFileError``
that says what is wrong (the runtime adds the file name). Private key bytes never
appear in ``repr``, ``str``, error messages or pickles (identities refuse to pickle).

This module also re-exports ``NodeId``, ``resolve_prefix`` and ``SignatureVerifier`` so
that callers import the identity API from one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.keys import constant_time_equal
from meshnet.crypto.nodeid import NODE_ID_SIZE, NodeId, resolve_prefix
from meshnet.crypto.primitives import (
    ED25519_SEED_SIZE,
    ED25519_SIGNATURE_SIZE,
    SHA256_SIZE,
    X25519_KEY_SIZE,
    Ed25519Signer,
    X25519KeyPair,
    sha256,
)
from meshnet.crypto.verifier import SignatureVerifier
from meshnet.errors import AuthenticationError, DecodeError, KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

__all__ = [
    "IDENTITY_RECORD_SIZE",
    "IDENTITY_RECORD_VERSION",
    "KEY_FILE_MAGIC",
    "KEY_FILE_SIZE",
    "KEY_FILE_VERSION",
    "RECORD_SIGNATURE_DOMAIN",
    "Identity",
    "IdentityRecord",
    "KeyKind",
    "NodeId",
    "SignatureVerifier",
    "resolve_prefix",
]

IDENTITY_RECORD_VERSION = 1
RECORD_SIGNATURE_DOMAIN = b"meshnet identity record v1\x00"
_MAX_CREATED = (1 << 64) - 1
_RECORD_BODY = 1 + NODE_ID_SIZE + X25519_KEY_SIZE + 8
IDENTITY_RECORD_SIZE = _RECORD_BODY + ED25519_SIGNATURE_SIZE
"""Bytes in an encoded record: version, node id, X25519 key, created, signature (137)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityRecord:
    """A node's signed statement "my Noise static key is ``static_public``".

    Encoding (identity.md §2), 137 bytes: ``version (u8 = 1) | node_id (32) |
    static_public (32) | created (u64, unix seconds) | signature (64)``. The signature
    covers ``RECORD_SIGNATURE_DOMAIN || node_id || static_public || created``.
    """

    node_id: NodeId
    """The signer, whose Ed25519 key made ``signature``."""
    static_public: bytes
    """The node's X25519 static public key (32 bytes)."""
    created: int
    """When the identity was generated, in unix seconds."""
    signature: bytes
    """Ed25519 signature (64 bytes) by ``node_id`` over ``signed_data()``."""

    def __post_init__(self) -> None:
        if len(self.static_public) != X25519_KEY_SIZE:
            raise ValueError(f"static_public must be {X25519_KEY_SIZE} bytes")
        if len(self.signature) != ED25519_SIGNATURE_SIZE:
            raise ValueError(f"signature must be {ED25519_SIGNATURE_SIZE} bytes")
        if not 0 <= self.created <= _MAX_CREATED:
            raise ValueError("created must fit in an unsigned 64-bit integer")

    @staticmethod
    def signing_input(node_id: NodeId, static_public: bytes, created: int) -> bytes:
        """The exact bytes the record's signature covers (identity.md §2)."""
        return b"".join(
            (RECORD_SIGNATURE_DOMAIN, node_id.raw, static_public, created.to_bytes(8, "big"))
        )

    def signed_data(self) -> bytes:
        """The bytes this record's signature covers."""
        return self.signing_input(self.node_id, self.static_public, self.created)

    def encode(self) -> bytes:
        """The record's 137-byte wire form."""
        return b"".join(
            (
                IDENTITY_RECORD_VERSION.to_bytes(1, "big"),
                self.node_id.raw,
                self.static_public,
                self.created.to_bytes(8, "big"),
                self.signature,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> IdentityRecord:
        """Parse a record received from a peer. The signature is *not* checked here.

        Raises:
            DecodeError: not exactly 137 bytes, or an unknown record version.
        """
        if len(data) != IDENTITY_RECORD_SIZE:
            raise DecodeError(
                f"identity record must be {IDENTITY_RECORD_SIZE} bytes, got {len(data)}"
            )
        raw = bytes(data)
        if raw[0] != IDENTITY_RECORD_VERSION:
            raise DecodeError(f"unknown identity record version {raw[0]}")
        pos = 1
        node_id = NodeId(raw[pos : pos + NODE_ID_SIZE])
        pos += NODE_ID_SIZE
        static_public = raw[pos : pos + X25519_KEY_SIZE]
        pos += X25519_KEY_SIZE
        created = int.from_bytes(raw[pos : pos + 8], "big")
        pos += 8
        return cls(
            node_id=node_id,
            static_public=static_public,
            created=created,
            signature=raw[pos:],
        )

    def verify(self, verifier: SignatureVerifier) -> None:
        """Check that ``node_id`` signed this record.

        Raises:
            AuthenticationError: the signature does not verify under ``node_id``.
        """
        if not verifier.verify(self.node_id, self.signature, self.signed_data()):
            raise AuthenticationError(
                f"identity record of node {self.node_id.short()} has an invalid signature"
            )


class KeyKind(enum.IntEnum):
    """What a MeshNet key file holds (one byte in its header, identity.md §4)."""

    NODE_IDENTITY = 1


KEY_FILE_MAGIC = b"meshnet\x00"
KEY_FILE_VERSION = 1
_KEY_FILE_CHECK_DOMAIN = b"meshnet key file v1\x00"
_KEY_FILE_HEADER = len(KEY_FILE_MAGIC) + 2
_KEY_FILE_BODY = _KEY_FILE_HEADER + 8 + ED25519_SEED_SIZE + X25519_KEY_SIZE
KEY_FILE_SIZE = _KEY_FILE_BODY + SHA256_SIZE
"""Bytes in a node identity key file (114)."""


def _describe_foreign(data: bytes) -> str:
    """A hint about what a file that is not ours looks like (never echoes its bytes)."""
    if not data:
        return "the file is empty"
    if data.lstrip().startswith(b"-----BEGIN"):
        return "not a MeshNet key file (it looks like a PEM file)"
    if data.lstrip().startswith(b"openssh-key-v1") or data.startswith(b"ssh-"):
        return "not a MeshNet key file (it looks like an SSH key)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not a MeshNet key file (unknown format)"
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return "not a MeshNet key file (it looks like a text file)"
    return "not a MeshNet key file (unknown format)"


def _check_key_file(data: bytes) -> None:
    """Raise ``KeyFileError`` unless ``data`` is a well-formed identity key file."""
    if not data.startswith(KEY_FILE_MAGIC):
        if data and KEY_FILE_MAGIC.startswith(data):
            raise KeyFileError(f"truncated ({len(data)} of {KEY_FILE_SIZE} bytes)")
        raise KeyFileError(_describe_foreign(data))
    if len(data) < _KEY_FILE_HEADER:
        raise KeyFileError(f"truncated ({len(data)} of {KEY_FILE_SIZE} bytes)")
    version, kind = data[len(KEY_FILE_MAGIC)], data[len(KEY_FILE_MAGIC) + 1]
    if version != KEY_FILE_VERSION:
        raise KeyFileError(
            f"key file format version {version} is not supported "
            f"(this MeshNet reads version {KEY_FILE_VERSION})"
        )
    if kind != KeyKind.NODE_IDENTITY:
        raise KeyFileError(f"holds a key of another kind ({kind}), not a node identity")
    if len(data) < KEY_FILE_SIZE:
        raise KeyFileError(f"truncated ({len(data)} of {KEY_FILE_SIZE} bytes)")
    if len(data) > KEY_FILE_SIZE:
        raise KeyFileError(f"corrupted ({len(data)} bytes where {KEY_FILE_SIZE} are expected)")
    check = sha256(_KEY_FILE_CHECK_DOMAIN, data[:_KEY_FILE_BODY])
    if not constant_time_equal(check, data[_KEY_FILE_BODY:]):
        raise KeyFileError("corrupted (integrity check failed)")


class Identity:
    """A node's secret keys: an Ed25519 signing key and an X25519 static key.

    Args:
        signing_seed: the 32-byte Ed25519 private seed; its public key is the NodeId.
        static_private: the 32-byte X25519 private key (Noise ``s``).
        created: when the identity was made, in unix seconds (goes into the record).

    Raises:
        ValueError: a key of the wrong size or ``created`` out of range.
    """

    __slots__ = ("_node_id", "_record", "_signer", "_static")

    def __init__(self, *, signing_seed: bytes, static_private: bytes, created: int) -> None:
        self._signer = Ed25519Signer(signing_seed)
        self._static = X25519KeyPair(static_private)
        self._node_id = NodeId(self._signer.public_key)
        if not 0 <= created <= _MAX_CREATED:
            raise ValueError("created must fit in an unsigned 64-bit integer")
        static_public = self._static.public_key
        signature = self._signer.sign(
            IdentityRecord.signing_input(self._node_id, static_public, created)
        )
        self._record = IdentityRecord(
            node_id=self._node_id,
            static_public=static_public,
            created=created,
            signature=signature,
        )

    @classmethod
    def generate(cls, entropy: Entropy, *, created: int) -> Identity:
        """A new identity with keys drawn from ``entropy`` (seeded entropy: same keys).

        Args:
            entropy: the randomness source; 64 bytes are drawn (Ed25519, then X25519).
            created: the creation time to record, in unix seconds.
        """
        signing_seed = entropy.random_bytes(ED25519_SEED_SIZE)
        static_private = entropy.random_bytes(X25519_KEY_SIZE)
        return cls(signing_seed=signing_seed, static_private=static_private, created=created)

    @property
    def node_id(self) -> NodeId:
        """This node's id (its Ed25519 public key)."""
        return self._node_id

    @property
    def record(self) -> IdentityRecord:
        """The signed record binding the X25519 static key to the NodeId."""
        return self._record

    @property
    def created(self) -> int:
        """When the identity was made, in unix seconds."""
        return self._record.created

    @property
    def static_public(self) -> bytes:
        """The 32-byte X25519 static public key."""
        return self._static.public_key

    def static_private_bytes(self) -> bytes:
        """The 32-byte X25519 static private key, for the Noise ``s``. Secret."""
        return self._static.private_bytes()

    def static_private_key(self) -> X25519PrivateKey:
        """The same key as a ``cryptography`` object, built once (the Noise ``s`` of
        every handshake uses it instead of rebuilding it from the bytes). Secret."""
        return self._static.private_key_object()

    def sign(self, data: bytes) -> bytes:
        """This node's 64-byte Ed25519 signature over ``data``.

        Callers must put a domain-separation prefix of their own in ``data`` (as the
        record does) so a signature made for one purpose cannot be replayed in another.
        """
        return self._signer.sign(data)

    def to_bytes(self) -> bytes:
        """The key file contents (identity.md §4). Secret: write them with mode 0600."""
        body = b"".join(
            (
                KEY_FILE_MAGIC,
                bytes((KEY_FILE_VERSION, KeyKind.NODE_IDENTITY)),
                self.created.to_bytes(8, "big"),
                self._signer.seed(),
                self._static.private_bytes(),
            )
        )
        return body + sha256(_KEY_FILE_CHECK_DOMAIN, body)

    @classmethod
    def from_bytes(cls, data: bytes) -> Identity:
        """Rebuild an identity from ``to_bytes()`` output.

        Raises:
            KeyFileError: the data is empty, of another format or kind, of an unsupported
                version, truncated or corrupted. The message never contains key bytes
                and names no file (the caller adds the path).
        """
        data = bytes(data)
        _check_key_file(data)
        pos = _KEY_FILE_HEADER
        created = int.from_bytes(data[pos : pos + 8], "big")
        pos += 8
        signing_seed = data[pos : pos + ED25519_SEED_SIZE]
        pos += ED25519_SEED_SIZE
        static_private = data[pos : pos + X25519_KEY_SIZE]
        return cls(signing_seed=signing_seed, static_private=static_private, created=created)

    def __repr__(self) -> str:
        return f"Identity(node_id={self._node_id.short()})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("an Identity cannot be pickled; use to_bytes() for a key file")

    def __copy__(self) -> Identity:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Identity:
        return self
