"""The API's response shapes.

The response shapes (``IdentityView``, ``StatusView`` ...) are frozen dataclasses; the
server encodes them with ``shapes.encode`` and the OpenAPI document describes them with
``shapes.Schemas``, both from the same type hints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId
from meshnet.link.status import LinkStatus
from meshnet.node.status import PeerInfo
from meshnet.routing.status import NeighbourLinkInfo, RoutingCounters
from meshnet.services.messaging import MessagingStatus, OutboxState
from meshnet.session.status import SessionStatus

__all__ = [
    "ConnectResult",
    "Counters",
    "DisconnectResult",
    "DropsView",
    "IdentityView",
    "JSONValue",
    "LinksView",
    "MessageChanged",
    "PeerLinkView",
    "PeerView",
    "PeersView",
    "ReceivedMessageView",
    "ReceivedMessagesView",
    "RouteView",
    "RoutesView",
    "SentMessageView",
    "SentMessagesView",
    "SessionsView",
    "StatusView",
]

JSONValue = Any
Counters = tuple[tuple[str, int], ...]
"""Counts by name; JSON: an object of integers."""


# -- response shapes (encoded by ``shapes.encode``; their JSON Schema by ``Schemas``) --


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityView:
    """This node's identity."""

    node_id: NodeId
    short: str
    """The short prefix people see."""
    mesh_address: str
    """The node's mesh IPv6 address."""
    static_public: str
    """The X25519 static key of its identity record, in hex."""
    created: int
    """When the identity was made, unix seconds."""
    version: str
    """The daemon's MeshNet version."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DropsView:
    """Things dropped, by layer and reason."""

    node: Counters
    link: Counters
    routing: Counters
    session: Counters


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusView:
    """The daemon at a glance."""

    node_id: NodeId
    short: str
    version: str
    listening: tuple[str, ...]
    """Endpoints the daemon listens on, with the ports actually bound."""
    links: int
    """Links up now."""
    handshakes_in_progress: int
    configured_peers: int
    known_nodes: int
    """Nodes in the link-state database, ourselves excluded."""
    routes_in_use: int
    pending_packets: int
    sessions: int
    tcp_connections: int
    udp_peers: int
    dials_in_progress: int
    buffered_bytes: int
    reading_paused: bool
    counters: Counters
    """The driver's counters (refused, dropped and closed things, by reason)."""
    drops: DropsView
    messaging: MessagingStatus
    """Outbox and inbox counts, mailbox, refused messaging frames."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerLinkView:
    """The direct link to a neighbour."""

    link: int
    endpoint: str
    outbound: bool
    age: float
    srtt: float | None
    loss: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerView:
    """A node we know: a neighbour, a configured peer, or a node seen in the mesh."""

    node_id: NodeId | None
    """None for a configured endpoint whose identity is not learned yet."""
    short: str | None
    petname: str | None
    linked: bool
    """True when a direct link to it is up."""
    link: PeerLinkView | None
    configured: tuple[PeerInfo, ...]
    """The endpoints we keep a link to for it."""
    known: bool
    """True when it is in the link-state database."""
    announced_endpoints: tuple[str, ...]
    route: tuple[NodeId, ...] | None
    """Relays then the node, as a packet would go now; None: unreachable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeersView:
    peers: tuple[PeerView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectResult:
    endpoint: str
    """The endpoint in its canonical spelling (kept linked, redialled with backoff)."""
    expected_peer: NodeId | None
    """The node it must prove to be; None: trust on first use."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectResult:
    disconnected: tuple[str, ...]
    """The endpoints no longer kept linked."""
    link_closed: bool
    """A link to the peer was up and is closed. A peer that dialled us may dial again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinksView:
    links: tuple[LinkStatus, ...]
    handshakes_in_progress: int
    transports: int
    drops: Counters


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteView:
    """How a packet to one known node would go now."""

    destination: NodeId
    petname: str | None
    path: tuple[NodeId, ...] | None
    """Relays then the destination; None while there is no path."""
    hops: int | None
    in_use: bool
    """True when we sent to it recently (the router keeps its path)."""
    cost: int | None
    age: float | None
    """Seconds since the path in use was chosen."""
    idle: float | None
    """Seconds since we last sent to it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutesView:
    policy: str
    routes: tuple[RouteView, ...]
    neighbours: tuple[NeighbourLinkInfo, ...]
    pending_packets: int
    suspended_links: int
    counters: RoutingCounters


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionsView:
    sessions: tuple[SessionStatus, ...]
    drops: Counters


@dataclass(frozen=True, slots=True, kw_only=True)
class SentMessageView:
    """A message this node sent (its outbox), in any state."""

    id: MessageId
    peer: NodeId
    """The recipient."""
    petname: str | None
    seq: int
    """Its place in the conversation with the recipient."""
    created: float
    """When ``send`` accepted it, unix seconds."""
    expires: float
    """When it is given up if still undelivered, unix seconds."""
    state: OutboxState
    delivered_at: float | None
    read_at: float | None
    settled_at: float | None
    """When it was cancelled or expired."""
    text: str | None
    """The body as text, when it is UTF-8."""
    body_base64: str
    size: int
    """The body's size in bytes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedMessageView:
    """A message delivered to this node (its inbox)."""

    id: MessageId
    peer: NodeId
    """The authenticated sender."""
    petname: str | None
    seq: int
    created: float
    """The sender's creation time, unix seconds (its clock)."""
    received_at: float
    delivered_at: float | None
    read_at: float | None
    read: bool
    text: str | None
    body_base64: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SentMessagesView:
    messages: tuple[SentMessageView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedMessagesView:
    messages: tuple[ReceivedMessageView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageChanged:
    id: MessageId
    state: str
    """What the message is now: ``read`` (marked read) or ``cancelled``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PingSampleView:
    rtt: float | None
    """Seconds to the acknowledgement, less the peer's ack delay; None: no answer."""
    resent: int
    """How often the probe was lost and sent again before it was answered."""
    error: str
    """Why there is no answer (empty when there is one)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PingView:
    """End-to-end pings to one node, one after another."""

    peer: NodeId
    petname: str | None
    sent: int
    answered: int
    samples: tuple[PingSampleView, ...]
    median: float | None
    """Median round trip of the answered pings, seconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceHopView:
    node_id: NodeId
    petname: str | None
    rtt: float | None
    """Round trip to this node through the hops before it, seconds; None: no answer."""
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceView:
    """Every node on the route to ``destination`` pinged at once, in path order."""

    destination: NodeId
    hops: tuple[TraceHopView, ...]
