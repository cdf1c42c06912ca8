"""Hop-by-hop routing messages: signed announcements and database summaries.

Both travel one link at a time (docs/protocol/routing.md §2-§3)::

    ANNOUNCE  type u8 | age u16 | body | signature (64)
      body    identity record (137) | sequence varint | lifetime u16
              | neighbour count u8 (<= 64) | count x (node id prefix (8) | rtt_ms u16 | loss u8)
              | endpoint count u8 (<= 8)  | count x blob (1-128 bytes of UTF-8)
    SUMMARY   type u8 | low (32) | high (32) | count u8 (<= 32)
              | count x (origin (32) | sequence varint)

The origin is the identity record's node id; the signature is the origin's Ed25519
signature over ``ANNOUNCE_DOMAIN || body``. ``age`` (seconds since the origin made the
announcement) sits outside the signature: every holder advances it before passing the
announcement on, so an announcement learnt late still expires on time. Neighbours are
named by the first 8 bytes of their node id, sorted ascending, with their measured
round-trip time (milliseconds; 0xFFFF when not yet measured) and probe loss ratio
(1/255 units). Every field has one encoding, so decoding then encoding gives back the
same bytes, which is what lets a relay verify a signature over the re-encoded body.

A SUMMARY lists every origin the sender holds in ``[low, high]`` with its sequence
number; a neighbour pushes back what the list lacks or holds older (§3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshnet.crypto.identity import (
    IDENTITY_RECORD_SIZE,
    Identity,
    IdentityRecord,
    NodeId,
    SignatureVerifier,
)
from meshnet.errors import DecodeError
from meshnet.wire.buffer import MAX_VARINT, Reader, Writer, varint_size
from meshnet.wire.codes import RoutingPacket

__all__ = [
    "ANNOUNCE_DOMAIN",
    "MAX_ANNOUNCEMENT",
    "MAX_ENDPOINTS",
    "MAX_ENDPOINT_LENGTH",
    "MAX_LIFETIME",
    "MAX_LOSS",
    "MAX_NEIGHBOURS",
    "MAX_RELAYS",
    "MAX_RTT_MS",
    "MAX_SUMMARY",
    "MAX_SUMMARY_ENTRIES",
    "PREFIX_SIZE",
    "SIGNATURE_SIZE",
    "UNMEASURED_RTT",
    "Announcement",
    "NeighbourEntry",
    "Summary",
    "check_endpoint",
    "decode_announcement",
    "decode_summary",
    "encode_summary",
    "prefix_of",
]

PREFIX_SIZE = 8
"""Bytes of a node id that name a neighbour or a relay (64 bits; routing.md §4)."""
SIGNATURE_SIZE = 64
MAX_NEIGHBOURS = 64
MAX_ENDPOINTS = 8
MAX_ENDPOINT_LENGTH = 128
MAX_LIFETIME = 0xFFFF
MAX_RTT_MS = 0xFFFE
UNMEASURED_RTT = 0xFFFF
MAX_LOSS = 0xFF
MAX_RELAYS = 32
"""Most relays the wire format of a routed packet allows."""
MAX_SUMMARY_ENTRIES = 32
ANNOUNCE_DOMAIN = b"meshnet routing announcement v1\x00"

_HEADER = 3  # type u8 | age u16
_NEIGHBOUR = PREFIX_SIZE + 3
MAX_ANNOUNCEMENT = (
    _HEADER
    + IDENTITY_RECORD_SIZE
    + varint_size(MAX_VARINT)
    + 2
    + 1
    + MAX_NEIGHBOURS * _NEIGHBOUR
    + 1
    + MAX_ENDPOINTS * (varint_size(MAX_ENDPOINT_LENGTH) + MAX_ENDPOINT_LENGTH)
    + SIGNATURE_SIZE
)
"""The largest well-formed ANNOUNCE (1961 bytes); anything longer is refused unread."""
MAX_SUMMARY = 1 + 64 + 1 + MAX_SUMMARY_ENTRIES * (32 + varint_size(MAX_VARINT))
_ID_MIN = bytes(32)
_ID_MAX = b"\xff" * 32


def prefix_of(node: NodeId) -> bytes:
    """The 8-byte prefix that names ``node`` in announcements and relay lists."""
    return node.raw[:PREFIX_SIZE]


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighbourEntry:
    """One neighbour in an announcement, with the origin's measurements of the link."""

    prefix: bytes
    """The first 8 bytes of the neighbour's node id."""
    rtt_ms: int | None
    """Smoothed round-trip time in milliseconds (0-65534), or None if not yet measured."""
    loss: int
    """Round-trip probe loss ratio in 1/255 units (0-255)."""

    def __post_init__(self) -> None:
        if len(self.prefix) != PREFIX_SIZE:
            raise ValueError(f"a neighbour prefix is {PREFIX_SIZE} bytes")
        if self.rtt_ms is not None and not 0 <= self.rtt_ms <= MAX_RTT_MS:
            raise ValueError(f"rtt_ms must be 0 to {MAX_RTT_MS}")
        if not 0 <= self.loss <= MAX_LOSS:
            raise ValueError(f"loss must be 0 to {MAX_LOSS}")


def check_endpoint(endpoint: str) -> bytes:
    """``endpoint`` as UTF-8, or ``ValueError`` if it is empty, too long or not printable."""
    encoded = endpoint.encode("utf-8")
    if not 1 <= len(encoded) <= MAX_ENDPOINT_LENGTH or not endpoint.isprintable():
        raise ValueError(f"an endpoint is 1 to {MAX_ENDPOINT_LENGTH} bytes of printable UTF-8")
    return encoded


def _encode_body(
    record: IdentityRecord,
    sequence: int,
    lifetime: int,
    neighbours: tuple[NeighbourEntry, ...],
    endpoints: tuple[str, ...],
) -> bytes:
    w = Writer().raw(record.encode()).varint(sequence).u16(lifetime).u8(len(neighbours))
    for entry in neighbours:
        w.raw(entry.prefix)
        w.u16(UNMEASURED_RTT if entry.rtt_ms is None else entry.rtt_ms)
        w.u8(entry.loss)
    w.u8(len(endpoints))
    for endpoint in endpoints:
        w.blob(endpoint.encode("utf-8"))
    return bytes(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement:
    """An origin's signed statement of its links and endpoints (routing.md §2).

    Build one with ``Announcement.create`` (signs) or ``decode_announcement`` (does not
    verify; call ``verify``). The constructor raises ``ValueError`` on fields no encoder
    could produce: a programming error, never a peer's.
    """

    record: IdentityRecord
    """The origin's identity record; ``record.node_id`` is the origin."""
    sequence: int
    """The origin's sequence number; a higher one replaces a lower one."""
    lifetime: int
    """Seconds the announcement is valid after the origin made it (1-65535)."""
    neighbours: tuple[NeighbourEntry, ...]
    """The origin's links, sorted by prefix, at most 64."""
    endpoints: tuple[str, ...]
    """Where the origin can be reached (driver address forms), at most 8."""
    signature: bytes
    """The origin's signature over ``ANNOUNCE_DOMAIN || body``."""
    body: bytes = field(init=False, repr=False, compare=False)
    """The signed bytes (derived from the fields above)."""
    tail: bytes = field(init=False, repr=False, compare=False)
    """``body + signature``: the packet after its header (derived, kept once per object
    so that every database holding a shared decoded announcement shares these bytes)."""
    prefixes: frozenset[bytes] = field(init=False, repr=False, compare=False)
    """The neighbour prefixes it lists (derived, shared like ``tail``)."""
    own_prefix: bytes = field(init=False, repr=False, compare=False)
    """The origin's own prefix, what its neighbours list (derived, shared like ``tail``)."""

    def __post_init__(self) -> None:
        if not 0 <= self.sequence < 1 << 63:
            raise ValueError("sequence must fit in 63 bits")
        if not 1 <= self.lifetime <= MAX_LIFETIME:
            raise ValueError(f"lifetime must be 1 to {MAX_LIFETIME} seconds")
        if len(self.neighbours) > MAX_NEIGHBOURS:
            raise ValueError(f"at most {MAX_NEIGHBOURS} neighbours")
        prefixes = [entry.prefix for entry in self.neighbours]
        own_prefix = prefix_of(self.origin)
        if prefixes != sorted(set(prefixes)) or own_prefix in prefixes:
            raise ValueError("neighbour prefixes must be distinct, sorted and not the origin's")
        if len(self.endpoints) > MAX_ENDPOINTS or len(set(self.endpoints)) != len(self.endpoints):
            raise ValueError(f"at most {MAX_ENDPOINTS} distinct endpoints")
        for endpoint in self.endpoints:
            check_endpoint(endpoint)
        if len(self.signature) != SIGNATURE_SIZE:
            raise ValueError(f"a signature is {SIGNATURE_SIZE} bytes")
        body = _encode_body(
            self.record, self.sequence, self.lifetime, self.neighbours, self.endpoints
        )
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "tail", body + self.signature)
        object.__setattr__(self, "prefixes", frozenset(prefixes))
        object.__setattr__(self, "own_prefix", own_prefix)

    @property
    def origin(self) -> NodeId:
        """The node that made and signed the announcement."""
        return self.record.node_id

    @classmethod
    def create(
        cls,
        identity: Identity,
        *,
        sequence: int,
        lifetime: int,
        neighbours: tuple[NeighbourEntry, ...],
        endpoints: tuple[str, ...],
    ) -> Announcement:
        """Our own announcement, signed with ``identity``.

        Raises:
            ValueError: a field out of range (see the class docstring).
        """
        body = _encode_body(identity.record, sequence, lifetime, neighbours, endpoints)
        return cls(
            record=identity.record,
            sequence=sequence,
            lifetime=lifetime,
            neighbours=neighbours,
            endpoints=endpoints,
            signature=identity.sign(ANNOUNCE_DOMAIN + body),
        )

    def verify(self, verifier: SignatureVerifier) -> bool:
        """Whether the record and the announcement are both signed by the origin."""
        record = self.record
        return verifier.verify(
            record.node_id, record.signature, record.signed_data()
        ) and verifier.verify(record.node_id, self.signature, ANNOUNCE_DOMAIN + self.body)

    def encode(self, age: int) -> bytes:
        """The ANNOUNCE packet, with ``age`` (seconds, capped at 65535) in its header."""
        header = bytes((RoutingPacket.ANNOUNCE,)) + min(max(age, 0), 0xFFFF).to_bytes(2, "big")
        return header + self.body + self.signature


def decode_announcement(data: bytes) -> tuple[Announcement, int]:
    """Parse an ANNOUNCE packet into the announcement and its age. Signatures are not checked.

    Raises:
        DecodeError: over ``MAX_ANNOUNCEMENT``, truncated, trailing bytes, a count or a
            length over its limit, unsorted or duplicate neighbours, a neighbour that is
            the origin, or an endpoint that is not printable UTF-8.
    """
    if len(data) > MAX_ANNOUNCEMENT:
        raise DecodeError(f"announcement of {len(data)} bytes over {MAX_ANNOUNCEMENT}")
    r = Reader(data)
    if r.u8() != RoutingPacket.ANNOUNCE:
        raise DecodeError("not an announcement")
    age = r.u16()
    record = IdentityRecord.decode(r.raw(IDENTITY_RECORD_SIZE))
    sequence = r.varint()
    lifetime = r.u16()
    count = r.u8()
    if count > MAX_NEIGHBOURS:
        raise DecodeError(f"{count} neighbours over {MAX_NEIGHBOURS}")
    neighbours = []
    for _ in range(count):
        prefix = r.raw(PREFIX_SIZE)
        rtt: int | None = r.u16()
        if rtt == UNMEASURED_RTT:
            rtt = None
        neighbours.append(NeighbourEntry(prefix=prefix, rtt_ms=rtt, loss=r.u8()))
    count = r.u8()
    if count > MAX_ENDPOINTS:
        raise DecodeError(f"{count} endpoints over {MAX_ENDPOINTS}")
    endpoints = []
    for _ in range(count):
        try:
            endpoints.append(r.blob(MAX_ENDPOINT_LENGTH).decode("utf-8"))
        except UnicodeDecodeError:
            raise DecodeError("endpoint is not UTF-8") from None
    signature = r.raw(SIGNATURE_SIZE)
    r.finish()
    try:
        announcement = Announcement(
            record=record,
            sequence=sequence,
            lifetime=lifetime,
            neighbours=tuple(neighbours),
            endpoints=tuple(endpoints),
            signature=signature,
        )
    except ValueError as exc:
        raise DecodeError(f"malformed announcement: {exc}") from None
    return announcement, age


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Every origin the sender holds in ``[low, high]``, with its sequence number."""

    low: bytes
    """The first node id (32 bytes) of the range covered, inclusive."""
    high: bytes
    """The last node id (32 bytes) of the range covered, inclusive."""
    entries: tuple[tuple[NodeId, int], ...]
    """(origin, sequence) pairs, strictly ascending by origin, all within the range."""

    def __post_init__(self) -> None:
        if len(self.low) != 32 or len(self.high) != 32 or self.low > self.high:
            raise ValueError("a summary range is two 32-byte ids, low <= high")
        if len(self.entries) > MAX_SUMMARY_ENTRIES:
            raise ValueError(f"at most {MAX_SUMMARY_ENTRIES} entries per summary")
        previous = None
        for origin, sequence in self.entries:
            if not self.low <= origin.raw <= self.high or (
                previous is not None and origin <= previous
            ):
                raise ValueError("summary entries must ascend strictly within the range")
            if not 0 <= sequence < 1 << 63:
                raise ValueError("sequence must fit in 63 bits")
            previous = origin

    def covers(self, node: NodeId) -> bool:
        """Whether ``node`` lies in the summary's range."""
        return self.low <= node.raw <= self.high

    @staticmethod
    def chunk(entries: list[tuple[NodeId, int]]) -> list[Summary]:
        """Summaries covering the whole id space for ``entries`` (sorted by origin)."""
        chunks: list[Summary] = []
        low = _ID_MIN
        for start in range(0, max(len(entries), 1), MAX_SUMMARY_ENTRIES):
            part = entries[start : start + MAX_SUMMARY_ENTRIES]
            following = start + MAX_SUMMARY_ENTRIES
            if following < len(entries):
                high = (int.from_bytes(entries[following][0].raw, "big") - 1).to_bytes(32, "big")
            else:
                high = _ID_MAX
            chunks.append(Summary(low=low, high=high, entries=tuple(part)))
            low = (int.from_bytes(high, "big") + 1).to_bytes(33, "big")[-32:]
        return chunks


def encode_summary(summary: Summary) -> bytes:
    """The SUMMARY packet."""
    w = Writer().u8(RoutingPacket.SUMMARY).raw(summary.low).raw(summary.high)
    w.u8(len(summary.entries))
    for origin, sequence in summary.entries:
        w.raw(origin.raw).varint(sequence)
    return bytes(w)


def decode_summary(data: bytes) -> Summary:
    """Parse a SUMMARY packet.

    Raises:
        DecodeError: truncated, trailing bytes, too many entries, a bad range, or
            entries out of order or out of range.
    """
    if len(data) > MAX_SUMMARY:
        raise DecodeError(f"summary of {len(data)} bytes over {MAX_SUMMARY}")
    r = Reader(data)
    if r.u8() != RoutingPacket.SUMMARY:
        raise DecodeError("not a summary")
    low, high = r.raw(32), r.raw(32)
    count = r.u8()
    if count > MAX_SUMMARY_ENTRIES:
        raise DecodeError(f"{count} summary entries over {MAX_SUMMARY_ENTRIES}")
    entries = [(NodeId.from_raw(r.raw(32)), r.varint()) for _ in range(count)]
    r.finish()
    try:
        return Summary(low=low, high=high, entries=tuple(entries))
    except ValueError as exc:
        raise DecodeError(f"malformed summary: {exc}") from None
