"""Session packets: what a session hands the routing layer, and the handshake parameters.

Every routed end-to-end payload is one of three packets (docs/protocol/session.md §2);
integers are big-endian::

    HANDSHAKE_INIT      type | sender index (u32) | fragment (u8) | count (u8) | chunk
    HANDSHAKE_RESPONSE  type | sender index (u32) | receiver index (u32) |
                        fragment (u8) | count (u8) | chunk
    DATA                type | receiver index (u32) | counter (u64) | AEAD ciphertext

The chunks of the handshake packets rebuild one Noise IK message (``fragments.py``).
An *index* names one key epoch of the receiving side (WireGuard's index); the DATA
header is the AEAD's associated data, and its plaintext is a packet number followed by
frames (``frames.py``). Nothing else travels in the clear: a relay sees these headers
and ciphertext only.

``TransportParameters`` ride in the handshake payload's extension (and so are
encrypted and signed): the sender's initial flow-control credit and stream limit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshnet.errors import DecodeError
from meshnet.session.fragments import split_message
from meshnet.wire.buffer import Reader, Writer
from meshnet.wire.codes import SessionPacket
from meshnet.wire.headroom import Outgoing

__all__ = [
    "DATA_HEADER",
    "DATA_OVERHEAD",
    "INIT_HEADER",
    "PARAMETERS_VERSION",
    "RESPONSE_HEADER",
    "TAG_SIZE",
    "HandshakeFragment",
    "Packet",
    "PacketType",
    "TransportParameters",
    "encode_init",
    "encode_response",
    "parse_handshake",
]

PacketType = SessionPacket

Packet = Outgoing
"""What a session hands the routing layer: handshake packets as ``bytes``, DATA packets
sealed into a ``Headroom`` (room in front for the routed header: no copy below)."""

INIT_HEADER = struct.Struct(">BIBB")
RESPONSE_HEADER = struct.Struct(">BIIBB")
DATA_HEADER = struct.Struct(">BIQ")
TAG_SIZE = 16
DATA_OVERHEAD = DATA_HEADER.size + TAG_SIZE
"""Bytes of a DATA packet that are not plaintext."""
PARAMETERS_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeFragment:
    """One parsed INIT or RESPONSE packet."""

    kind: PacketType
    sender: int
    """The sender's index for the epoch this handshake creates."""
    receiver: int
    """The index of our handshake this answers (RESPONSE), else 0."""
    fragment: int
    count: int
    chunk: bytes


def encode_init(sender: int, message: bytes, max_packet: int) -> list[bytes]:
    """The INIT packets carrying Noise message 1, each at most ``max_packet`` bytes."""
    chunks = split_message(message, max_packet - INIT_HEADER.size)
    count = len(chunks)
    return [
        INIT_HEADER.pack(PacketType.HANDSHAKE_INIT, sender, i, count) + chunk
        for i, chunk in enumerate(chunks)
    ]


def encode_response(sender: int, receiver: int, message: bytes, max_packet: int) -> list[bytes]:
    """The RESPONSE packets carrying Noise message 2, each at most ``max_packet`` bytes."""
    chunks = split_message(message, max_packet - RESPONSE_HEADER.size)
    count = len(chunks)
    return [
        RESPONSE_HEADER.pack(PacketType.HANDSHAKE_RESPONSE, sender, receiver, i, count) + chunk
        for i, chunk in enumerate(chunks)
    ]


def parse_handshake(packet: bytes) -> HandshakeFragment:
    """Parse an INIT or RESPONSE packet (the type byte is checked by the caller).

    Raises:
        DecodeError: shorter than its header, or a fragment index out of range.
    """
    if packet[0] == PacketType.HANDSHAKE_INIT:
        if len(packet) < INIT_HEADER.size:
            raise DecodeError("INIT shorter than its header")
        _, sender, fragment, count = INIT_HEADER.unpack_from(packet)
        receiver, chunk = 0, packet[INIT_HEADER.size :]
        kind = PacketType.HANDSHAKE_INIT
    else:
        if len(packet) < RESPONSE_HEADER.size:
            raise DecodeError("RESPONSE shorter than its header")
        _, sender, receiver, fragment, count = RESPONSE_HEADER.unpack_from(packet)
        chunk = packet[RESPONSE_HEADER.size :]
        kind = PacketType.HANDSHAKE_RESPONSE
    if not 0 <= fragment < count:
        raise DecodeError(f"handshake fragment {fragment} of {count}")
    if sender == 0:
        raise DecodeError("index 0 is never used")
    return HandshakeFragment(
        kind=kind, sender=sender, receiver=receiver, fragment=fragment, count=count, chunk=chunk
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportParameters:
    """What one side allows the other from the start (sent in the handshake extension)."""

    max_data: int
    """Session-wide stream bytes the peer may send before a MAX_DATA."""
    max_stream_data: int
    """Bytes per stream the peer may send before a MAX_STREAM_DATA."""
    max_streams: int
    """Streams the peer may open before a MAX_STREAMS."""

    def encode(self) -> bytes:
        """The extension bytes carried in the handshake payload."""
        writer = Writer().u8(PARAMETERS_VERSION)
        writer.varint(self.max_data).varint(self.max_stream_data).varint(self.max_streams)
        return bytes(writer)

    @classmethod
    def decode(cls, data: bytes) -> TransportParameters:
        """Parse the peer's parameters; bytes after the known fields are ignored (later
        versions append).

        Raises:
            DecodeError: truncated, or an unknown version.
        """
        reader = Reader(data)
        version = reader.u8()
        if version != PARAMETERS_VERSION:
            raise DecodeError(f"unknown transport parameters version {version}")
        limit = (1 << 62) - 1
        return cls(
            max_data=reader.varint(limit),
            max_stream_data=reader.varint(limit),
            max_streams=reader.varint(1 << 32),
        )
