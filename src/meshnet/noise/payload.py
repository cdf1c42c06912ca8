"""The identity payload of MeshNet handshakes: its codec and what its signature covers.

docs/protocol/noise.md §3. A side sends this payload once, in the first handshake
message in which its static key is known to the peer and the payload is encrypted::

    version       u8       PAYLOAD_VERSION (1)
    capabilities  varint   feature bits of the sender (opaque to this layer)
    record        blob     the sender's IdentityRecord (137 bytes, identity.md §2)
    signature     64 bytes Ed25519 by record.node_id over signing_input(role, h)
    extension     blob     opaque application bytes (e.g. link parameters), <= 1024

``signing_input(role, h)`` is ``b"meshnet-handshake-v1" || role || h`` where ``role``
is the sender's role byte and ``h`` the Noise handshake hash just before this payload
is encrypted: the signature binds the node's Ed25519 identity to this one transcript
(both ephemerals, the static keys, the KEM exchange and the prologue), so it cannot be
replayed into another handshake or reflected to the other role.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshnet.crypto.identity import IDENTITY_RECORD_SIZE, IdentityRecord
from meshnet.errors import DecodeError
from meshnet.wire.buffer import MAX_VARINT, Reader, Writer

__all__ = [
    "HANDSHAKE_SIGNATURE_DOMAIN",
    "MAX_EXTENSION",
    "PAYLOAD_VERSION",
    "SIGNATURE_SIZE",
    "HandshakePayload",
    "Role",
    "signing_input",
]

PAYLOAD_VERSION = 1
"""The payload format version this code writes and accepts."""
HANDSHAKE_SIGNATURE_DOMAIN = b"meshnet-handshake-v1"
"""Prefix of every handshake signature's input (domain separation)."""
MAX_EXTENSION = 1024
"""The most extension bytes a payload may carry."""
SIGNATURE_SIZE = 64
"""Bytes in an Ed25519 signature."""


class Role(enum.IntEnum):
    """The sender's role byte in the signature input."""

    INITIATOR = 0x49  # "I"
    RESPONDER = 0x52  # "R"


def signing_input(role: Role, handshake_hash: bytes) -> bytes:
    """The bytes a handshake signature covers: domain || role || h."""
    return HANDSHAKE_SIGNATURE_DOMAIN + bytes((role,)) + handshake_hash


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakePayload:
    """One side's identity proof inside a handshake message."""

    version: int
    """Payload format version (``PAYLOAD_VERSION``)."""
    capabilities: int
    """Feature bits the sender supports (a varint on the wire)."""
    record: IdentityRecord
    """The sender's identity record (not yet verified when decoded)."""
    signature: bytes
    """The sender's Ed25519 signature over ``signing_input(role, h)``."""
    extension: bytes
    """Opaque application bytes, at most ``MAX_EXTENSION``."""

    def encode(self) -> bytes:
        """The payload's wire form.

        Raises:
            ValueError: a field is out of range (a caller's mistake).
        """
        if len(self.signature) != SIGNATURE_SIZE:
            raise ValueError(f"a signature is {SIGNATURE_SIZE} bytes")
        if len(self.extension) > MAX_EXTENSION:
            raise ValueError(f"an extension is at most {MAX_EXTENSION} bytes")
        return bytes(
            Writer()
            .u8(self.version)
            .varint(self.capabilities)
            .blob(self.record.encode())
            .raw(self.signature)
            .blob(self.extension)
        )

    @classmethod
    def decode(cls, data: bytes) -> HandshakePayload:
        """Parse a payload received from a peer; nothing is verified here.

        Raises:
            DecodeError: truncated, over a size limit, trailing bytes, or a malformed
                record.
        """
        reader = Reader(data)
        version = reader.u8()
        capabilities = reader.varint(MAX_VARINT)
        record = IdentityRecord.decode(reader.blob(IDENTITY_RECORD_SIZE))
        signature = reader.raw(SIGNATURE_SIZE)
        extension = reader.blob(MAX_EXTENSION)
        reader.finish()
        if version != PAYLOAD_VERSION:
            raise DecodeError(f"handshake payload version {version} is not supported")
        return cls(
            version=version,
            capabilities=capabilities,
            record=record,
            signature=signature,
            extension=extension,
        )
