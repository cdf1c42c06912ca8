"""Source-routed packets: the routed header, and the route errors relays send back.

Layout (docs/protocol/routing.md §4)::

    DATA / ROUTE_ERROR   type u8 | hop_limit u8 | next u8 | flags and count u8
                         | source (32) | destination (32) | count x relay prefix (8) | body

``relays`` is the path the source chose, without the two ends; ``next`` is the index of
the relay that is to receive the packet (``count`` when the destination is). Each relay
checks that it is ``relays[next]``, adds one to ``next``, takes one from ``hop_limit``
and passes the packet on: both fields sit at fixed offsets, so forwarding patches two
bytes and never re-encodes. A DATA body is the end-to-end payload, opaque here.

The fourth byte holds the relay count in its low six bits and flags in the top two:
``STREAM_PATH`` (0x80) says every link the packet crossed so far is a stream link
(TCP), which carries a 64 KiB body whole. The source sets it when its first link is
one; a relay clears it when it passes the packet to a datagram link. The destination
thus learns whether the whole path would carry large packets without link-layer
fragmentation (its session tells the source: docs/protocol/session.md §2). Bit 0x40
is reserved (zero).

A ROUTE_ERROR is a routed packet from the relay that could not forward (its source) to
the source of the dropped packet (its destination), over the reversed relay list. Body::

    unreachable prefix (8) | destination of the dropped packet (32)
    | reporter's announcement sequence varint | reason u8 | signature (64)

signed by the reporter over ``ROUTE_ERROR_DOMAIN || reporter || source || unreachable
|| destination || sequence || reason``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import overload

from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import DecodeError
from meshnet.routing.messages import MAX_RELAYS, PREFIX_SIZE, SIGNATURE_SIZE
from meshnet.wire.buffer import Reader, Writer
from meshnet.wire.codes import RoutingPacket
from meshnet.wire.headroom import Headroom, Outgoing

__all__ = [
    "COUNT_OFFSET",
    "HOP_LIMIT_OFFSET",
    "NEXT_OFFSET",
    "STREAM_PATH",
    "ROUTE_ERROR_DOMAIN",
    "RouteError",
    "RouteErrorReason",
    "RoutedHeader",
    "advance",
    "decode_header",
    "decode_routed",
    "encode_header",
    "encode_routed",
    "header_size",
    "with_header",
]

HOP_LIMIT_OFFSET = 1
NEXT_OFFSET = 2
COUNT_OFFSET = 3
STREAM_PATH = 0x80
"""Flag in the count byte: every link crossed so far is a stream link."""
_COUNT_MASK = 0x3F
_RESERVED = 0x40
_FIXED = 4 + 32 + 32
ROUTE_ERROR_DOMAIN = b"meshnet route error v1\x00"
_ROUTED = (RoutingPacket.DATA, RoutingPacket.ROUTE_ERROR)
_KINDS = {int(kind): kind for kind in _ROUTED}
_FIELDS = struct.Struct(">BBBB32s32s")  # the fixed part: a relay reads it in one call
_FIRST = struct.Struct(">BBBB")
_FORWARD_ROOM = 8  # in front of a forwarded packet: the link's inner type


_new_header = object.__new__
_set = object.__setattr__


def header_size(relays: int) -> int:
    """Bytes of a routed header with ``relays`` relays."""
    return _FIXED + relays * PREFIX_SIZE


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedHeader:
    """The header of a DATA or ROUTE_ERROR packet."""

    kind: RoutingPacket
    """DATA or ROUTE_ERROR."""
    hop_limit: int
    """Links the packet may still cross (1-255)."""
    next: int
    """Index into ``relays`` of the relay to receive it; ``len(relays)``: the destination."""
    source: NodeId
    """Who sent the packet."""
    destination: NodeId
    """Who it is for."""
    relays: tuple[bytes, ...]
    """The 8-byte id prefixes of the relays, in path order (at most 32)."""
    stream_path: bool = False
    """Every link crossed so far is a stream link (``STREAM_PATH``)."""

    def __post_init__(self) -> None:
        relays = self.relays
        if self.kind not in _KINDS:
            raise ValueError("a routed header is DATA or ROUTE_ERROR")
        if not 1 <= self.hop_limit <= 255:
            raise ValueError("hop_limit must be 1 to 255")
        if len(relays) > MAX_RELAYS or not 0 <= self.next <= len(relays):
            raise ValueError(f"at most {MAX_RELAYS} relays, and next within them")
        if relays and set(map(len, relays)) != {PREFIX_SIZE}:
            raise ValueError(f"a relay prefix is {PREFIX_SIZE} bytes")

    @property
    def size(self) -> int:
        """Bytes of the encoded header."""
        return header_size(len(self.relays))


@overload
def encode_routed(header: RoutedHeader, body: bytes) -> bytes: ...
@overload
def encode_routed(header: RoutedHeader, body: Outgoing) -> Outgoing: ...
def encode_routed(header: RoutedHeader, body: Outgoing) -> Outgoing:
    """The packet: header then body. A body in a ``Headroom`` gets the header written
    into its room (no copy; the same object comes back); otherwise they are joined once.
    """
    return with_header(encode_header(header), body)


def encode_header(header: RoutedHeader) -> bytes:
    """The routed header alone (a sender reuses it for every packet on a path)."""
    count = len(header.relays) | (STREAM_PATH if header.stream_path else 0)
    first = _FIRST.pack(header.kind, header.hop_limit, header.next, count)
    return b"".join((first, header.source.raw, header.destination.raw, *header.relays))


@overload
def with_header(encoded: bytes, body: bytes) -> bytes: ...
@overload
def with_header(encoded: bytes, body: Outgoing) -> Outgoing: ...
def with_header(encoded: bytes, body: Outgoing) -> Outgoing:
    """An encoded header in front of ``body``: written into a ``Headroom``'s room (no
    copy; the same object comes back), otherwise joined once."""
    if isinstance(body, Headroom):
        if body.prepend(encoded):
            return body
        return b"".join((encoded, body.view()))
    return encoded + body


def decode_routed(data: bytes, *, max_body: int) -> tuple[RoutedHeader, bytes]:
    """Parse a routed packet into its header and body (the loop checks are forward.py's).

    Raises:
        DecodeError: as ``decode_header``.
    """
    header = decode_header(data, max_body=max_body)
    return header, data[header.size :]


def decode_header(data: bytes | memoryview, *, max_body: int) -> RoutedHeader:
    """Parse and check a routed packet's header; the body is ``data[header.size:]``
    (a relay passes the packet on without copying the body out).

    Raises:
        DecodeError: truncated, an unknown type, hop limit 0, ``next`` past the relays,
            more than 32 relays, the reserved flag, or a body over ``max_body``.
    """
    size = len(data)
    kind = data[0] if size else -1
    if kind not in _KINDS:
        raise DecodeError(f"not a routed packet: {kind:#x}" if size else "empty routed packet")
    if size < _FIXED:
        raise DecodeError(f"routed header of {size} bytes, under {_FIXED}")
    _, hop_limit, position, flags, source, destination = _FIELDS.unpack_from(data)
    count = flags & _COUNT_MASK
    if flags & _RESERVED:
        raise DecodeError("reserved flag set in a routed header")
    if hop_limit == 0:
        raise DecodeError("hop limit 0")
    if count > MAX_RELAYS or position > count:
        raise DecodeError(f"relay list of {count} with next {position}")
    end = _FIXED + count * PREFIX_SIZE
    if size < end:
        raise DecodeError(f"routed header of {size} bytes, under {end} for {count} relays")
    if size - end > max_body:
        raise DecodeError(f"body of {size - end} bytes over {max_body}")
    if count == 1:
        relays: tuple[bytes, ...] = (bytes(data[_FIXED:end]),)
    else:
        listed = bytes(data[_FIXED:end])
        relays = tuple(listed[i : i + PREFIX_SIZE] for i in range(0, len(listed), PREFIX_SIZE))
    # All checked above: the header is built without ``__post_init__`` checking it
    # again (this runs for every packet a node receives).
    header = _new_header(RoutedHeader)
    _set(header, "kind", _KINDS[kind])
    _set(header, "hop_limit", hop_limit)
    _set(header, "next", position)
    _set(header, "source", NodeId(source))  # exactly 32 bytes: what from_raw would check
    _set(header, "destination", NodeId(destination))
    _set(header, "relays", relays)
    _set(header, "stream_path", bool(flags & STREAM_PATH))
    return header


def advance(data: bytes | memoryview, *, stream_link: bool = True) -> Headroom:
    """The packet as the next hop must receive it: ``next`` + 1, ``hop_limit`` - 1, and
    ``STREAM_PATH`` cleared unless the link it leaves on is a stream link.

    One copy of the packet (``data`` may be a view of the link's plaintext, which is not
    kept), into a ``Headroom`` with room for the link's inner type in front, so the link
    seals it without joining them.

    The caller has checked that the hop limit is above 1 and ``next`` below the count.
    """
    flags = data[COUNT_OFFSET] if stream_link else data[COUNT_OFFSET] & ~STREAM_PATH & 0xFF
    buffer = bytearray(_FORWARD_ROOM)
    buffer += data  # one copy; ``buffer[room:] = data`` would copy a view twice
    packet = Headroom(buffer, _FORWARD_ROOM)
    buffer[_FORWARD_ROOM + HOP_LIMIT_OFFSET] = data[HOP_LIMIT_OFFSET] - 1
    buffer[_FORWARD_ROOM + NEXT_OFFSET] = data[NEXT_OFFSET] + 1
    buffer[_FORWARD_ROOM + COUNT_OFFSET] = flags
    return packet


class RouteErrorReason(enum.IntEnum):
    """Why a relay could not pass a packet on."""

    NEXT_HOP_GONE = 1
    """The next hop is not (or no longer) a neighbour of the relay."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteError:
    """A relay's signed report that the link from it to ``unreachable`` is gone."""

    reporter: NodeId
    """The relay that could not forward (the ROUTE_ERROR's source)."""
    source: NodeId
    """The source of the dropped packet (the ROUTE_ERROR's destination)."""
    unreachable: bytes
    """The 8-byte prefix of the next hop the reporter could not reach."""
    destination: NodeId
    """The destination of the dropped packet."""
    reporter_sequence: int
    """The reporter's announcement sequence number when it wrote the report."""
    reason: RouteErrorReason
    """Why forwarding failed."""
    signature: bytes
    """The reporter's signature over ``signing_input``."""

    def __post_init__(self) -> None:
        if len(self.unreachable) != PREFIX_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise ValueError("bad unreachable prefix or signature size")
        if not 0 <= self.reporter_sequence < 1 << 63:
            raise ValueError("sequence must fit in 63 bits")

    @staticmethod
    def signing_input(
        *,
        reporter: NodeId,
        source: NodeId,
        unreachable: bytes,
        destination: NodeId,
        reporter_sequence: int,
        reason: RouteErrorReason,
    ) -> bytes:
        """The bytes the reporter signs."""
        w = Writer().raw(ROUTE_ERROR_DOMAIN).raw(reporter.raw).raw(source.raw)
        w.raw(unreachable).raw(destination.raw).varint(reporter_sequence).u8(reason)
        return bytes(w)

    @classmethod
    def create(
        cls,
        identity: Identity,
        *,
        source: NodeId,
        unreachable: bytes,
        destination: NodeId,
        reporter_sequence: int,
        reason: RouteErrorReason,
    ) -> RouteError:
        """A route error reported (and signed) by ``identity``."""
        signed = cls.signing_input(
            reporter=identity.node_id,
            source=source,
            unreachable=unreachable,
            destination=destination,
            reporter_sequence=reporter_sequence,
            reason=reason,
        )
        return cls(
            reporter=identity.node_id,
            source=source,
            unreachable=unreachable,
            destination=destination,
            reporter_sequence=reporter_sequence,
            reason=reason,
            signature=identity.sign(signed),
        )

    def verify(self, verifier: SignatureVerifier) -> bool:
        """Whether the reporter signed this report."""
        signed = self.signing_input(
            reporter=self.reporter,
            source=self.source,
            unreachable=self.unreachable,
            destination=self.destination,
            reporter_sequence=self.reporter_sequence,
            reason=self.reason,
        )
        return verifier.verify(self.reporter, self.signature, signed)

    def encode_body(self) -> bytes:
        """The ROUTE_ERROR body (the header carries reporter and source)."""
        w = Writer().raw(self.unreachable).raw(self.destination.raw)
        w.varint(self.reporter_sequence).u8(self.reason).raw(self.signature)
        return bytes(w)

    @classmethod
    def decode_body(cls, body: bytes, *, reporter: NodeId, source: NodeId) -> RouteError:
        """Parse a ROUTE_ERROR body; the signature is not checked.

        Raises:
            DecodeError: truncated, trailing bytes or an unknown reason.
        """
        r = Reader(body)
        unreachable = r.raw(PREFIX_SIZE)
        destination = NodeId.from_raw(r.raw(32))
        sequence = r.varint()
        try:
            reason = RouteErrorReason(r.u8())
        except ValueError:
            raise DecodeError("unknown route error reason") from None
        signature = r.raw(SIGNATURE_SIZE)
        r.finish()
        return cls(
            reporter=reporter,
            source=source,
            unreachable=unreachable,
            destination=destination,
            reporter_sequence=sequence,
            reason=reason,
            signature=signature,
        )
