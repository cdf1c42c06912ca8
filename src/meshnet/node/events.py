"""The events a ``Node`` reports to its driver, the API and the simulator.

Peer events come from the link layer, translated by the node; end-to-end events are
the session layer's own (``DatagramReceived``, ``StreamDataReceived`` ...), passed up
unchanged, ``DestinationUnreachable`` comes from routing, and the ``Message*`` events
from the messaging service.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.ids import LinkId
from meshnet.routing.events import DestinationUnreachable
from meshnet.services.messaging import (
    MessageDelivered,
    MessageExpired,
    MessageRead,
    MessageReceived,
)
from meshnet.session.events import (
    DatagramReceived,
    PingAnswered,
    SessionClosed,
    SessionEstablished,
    SessionHandshakeFailed,
    StreamDataReceived,
    StreamFinished,
    StreamOpened,
    StreamReset,
    StreamWritable,
)

__all__ = [
    "neighbour_data_received",
    "DatagramReceived",
    "DestinationUnreachable",
    "MessageDelivered",
    "MessageExpired",
    "MessageRead",
    "MessageReceived",
    "NeighbourDataReceived",
    "NodeEvent",
    "PeerConnected",
    "PeerDialFailed",
    "PeerDisconnected",
    "PingAnswered",
    "SessionClosed",
    "SessionEstablished",
    "SessionHandshakeFailed",
    "StreamDataReceived",
    "StreamFinished",
    "StreamOpened",
    "StreamReset",
    "StreamWritable",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerConnected:
    peer: NodeId
    """The neighbour's proven identity."""
    link: LinkId
    """The link to it."""
    endpoint: str
    """Where it was reached."""
    outbound: bool
    """True when we dialled."""
    first_contact: bool
    """True when the identity was learned on this connection (trust on first use)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDisconnected:
    peer: NodeId
    """The neighbour whose link closed."""
    link: LinkId
    """The link that closed."""
    reason: str
    """Why, in words (``peer_timeout``, ``transport_lost``, ``normal`` ...)."""
    by_peer: bool
    """True when the neighbour said goodbye."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDialFailed:
    endpoint: str
    """The endpoint we tried."""
    reason: str
    """What went wrong (refused, timed out, the wrong identity ...)."""
    retry_in: float | None
    """Seconds until the next attempt; None when none follows (the endpoint is not
    configured, or it proved to be this node's own address)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighbourDataReceived:
    peer: NodeId
    """The neighbour that sent the payload."""
    link: LinkId
    """The link it came on."""
    payload: bytes
    """The bytes it sent."""


_new = object.__new__
_set_peer = vars(NeighbourDataReceived)["peer"].__set__
_set_link = vars(NeighbourDataReceived)["link"].__set__
_set_payload = vars(NeighbourDataReceived)["payload"].__set__


def neighbour_data_received(peer: NodeId, link: LinkId, payload: bytes) -> NeighbourDataReceived:
    """``NeighbourDataReceived(peer=..., link=..., payload=...)`` at half the cost.

    Built once per neighbour frame: this fills the frozen event's slots through their
    descriptors instead of the dataclass ``__init__``'s ``object.__setattr__`` by name.
    """
    event = _new(NeighbourDataReceived)
    _set_peer(event, peer)
    _set_link(event, link)
    _set_payload(event, payload)
    return event


NodeEvent = (
    PeerConnected
    | PeerDisconnected
    | PeerDialFailed
    | NeighbourDataReceived
    | DestinationUnreachable
    | DatagramReceived
    | SessionEstablished
    | SessionClosed
    | SessionHandshakeFailed
    | StreamOpened
    | StreamDataReceived
    | StreamWritable
    | StreamFinished
    | StreamReset
    | PingAnswered
    | MessageReceived
    | MessageDelivered
    | MessageRead
    | MessageExpired
)
