"""Events the link layer reports upwards (past tense: something happened)."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.identity import IdentityRecord, NodeId
from meshnet.ids import LinkId, TransportId
from meshnet.link.messages import CloseReason

__all__ = [
    "LinkClosed",
    "LinkEstablished",
    "LinkEvent",
    "LinkHandshakeFailed",
    "LinkMeasured",
    "LinkPayloadReceived",
    "LinkRekeyed",
    "payload_received",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkEstablished:
    link: LinkId
    """The node-local handle of the link."""
    peer: NodeId
    """The neighbour's identity, proven by the handshake."""
    peer_record: IdentityRecord
    """The neighbour's signed identity record (carries its X25519 static key)."""
    endpoint: str
    """Where the neighbour was reached, as the driver names it."""
    transport: TransportId
    """The transport the handshake completed on."""
    datagram: bool
    """That transport is a datagram carrier (UDP, radio), not a stream (TCP)."""
    outbound: bool
    """True when we started the handshake."""
    extension: bytes
    """Opaque bytes the neighbour put in its handshake payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkPayloadReceived:
    link: LinkId
    """The link the payload arrived on."""
    peer: NodeId
    """The neighbour on that link."""
    payload: memoryview
    """The bytes the neighbour's layers above sent: a view into the opened frame, not a
    copy (``bytes(payload)`` keeps them)."""


_new = object.__new__
_set_link = vars(LinkPayloadReceived)["link"].__set__
_set_peer = vars(LinkPayloadReceived)["peer"].__set__
_set_payload = vars(LinkPayloadReceived)["payload"].__set__


def payload_received(link: LinkId, peer: NodeId, payload: memoryview) -> LinkPayloadReceived:
    """``LinkPayloadReceived(link=link, peer=peer, payload=payload)``, built at half the cost.

    One is built for every frame a link opens; a frozen dataclass's ``__init__`` sets
    each field through ``object.__setattr__`` by name, while this fills the slots
    through their descriptors (0.24 against 0.52 µs). The event is the same frozen one.
    """
    event = _new(LinkPayloadReceived)
    _set_link(event, link)
    _set_peer(event, peer)
    _set_payload(event, payload)
    return event


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkMeasured:
    link: LinkId
    """The measured link."""
    rtt: float | None
    """A round-trip sample in seconds, or None when the probe was lost."""
    lost: bool
    """True when a probe went unanswered (datagram links only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRekeyed:
    link: LinkId
    """The link whose keys were replaced by a fresh handshake."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkClosed:
    link: LinkId
    """The link that closed; its id is not reused."""
    peer: NodeId | None
    """The neighbour, if the handshake had proven it."""
    reason: CloseReason
    """Why it closed."""
    detail: str
    """A human-readable explanation."""
    by_peer: bool
    """True when the neighbour closed it (a CLOSE frame)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkHandshakeFailed:
    transport: TransportId
    """The transport the handshake ran on."""
    endpoint: str
    """Where the peer was (to be) reached."""
    outbound: bool
    """True when we started the handshake (a dial that failed)."""
    reason: CloseReason
    """HANDSHAKE_TIMEOUT, HANDSHAKE_FAILED or PEER_MISMATCH."""
    detail: str
    """A human-readable explanation, e.g. which identity the peer proved instead."""
    to_self: bool = False
    """The peer proved our own identity: the endpoint reaches this very node."""


LinkEvent = (
    LinkEstablished
    | LinkPayloadReceived
    | LinkMeasured
    | LinkRekeyed
    | LinkClosed
    | LinkHandshakeFailed
)
