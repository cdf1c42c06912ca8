"""``Node``: the composition root. Every layer is joined here, and nowhere else.

The node is sans-IO like the cores it joins. Two drivers give it IO, through the same
verbs (DESIGN.md §1-§2). The class is split by concern over three modules:

* node/node.py (here): construction, the application commands (``connect``,
  ``disconnect``, ``send_datagram``, ``open_stream``, ``stream_send``,
  ``stream_close``, ``stream_reset``, ``ping``, ``set_endpoints``), the message commands
  (``send_message``, ``cancel_message``, ``mark_read``, ``use_mailbox``, ``inbox``,
  ``outbox``) and inspection (``link_to``, ``route_to``, ``record_of``, ``status``);
* node/driververbs.py: the driver verbs (``transport_opened``, ``receive_datagram``,
  ``handle_timer``, ``datagrams_to_send``, ``transport_commands``, ``get_timer``,
  ``next_event``, ...) and the hot-path verbs (``send_to_neighbour``, the fast path's
  ``receive_neighbour_data`` and ``send_to_neighbour_now``);
* node/pumps.py: the state all parts share and the pumps that join the layers
  (where link payloads reach the router and routed packets go down to the links).
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import LocalError, UnknownPeerError
from meshnet.ids import LinkId, MessageId, StreamId
from meshnet.link.manager import LinkManager
from meshnet.node.config import NodeConfig
from meshnet.node.driververbs import DriverVerbs
from meshnet.node.peers import PeerTable
from meshnet.node.pumps import NEIGHBOUR_CODE
from meshnet.node.status import NodeStatus, PeerInfo
from meshnet.routing.decoder import AnnouncementDecoder
from meshnet.routing.router import Router
from meshnet.services.messaging import (
    IncomingMessage,
    MemoryMessageStore,
    MessageStore,
    MessagingService,
    OutgoingMessage,
)
from meshnet.session.manager import SessionManager
from meshnet.wire.codes import RoutingPacket

__all__ = ["Node"]


class Node(DriverVerbs):
    """One MeshNet node, without IO.

    Args:
        identity: the node's keys.
        entropy: its randomness (``SystemEntropy`` for real, seeded in the simulator).
        verifier: a signature verifier, which may be shared between nodes.
        config: validated settings.
        message_store: where messages are committed (in memory unless the driver gives
            a durable one, e.g. ``runtime.msgstore.SqliteMessageStore``).
        wall_offset: unix time minus the ``now`` the driver passes (stored message times
            are unix seconds; 0 when ``now`` is unix time or virtual).
        decoder: an announcement decoder, which may be shared between nodes.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        entropy: Entropy,
        verifier: SignatureVerifier,
        config: NodeConfig | None = None,
        message_store: MessageStore | None = None,
        wall_offset: float = 0.0,
        decoder: AnnouncementDecoder | None = None,
    ) -> None:
        self.config = config or NodeConfig()
        self.identity = identity
        self.node_id: NodeId = identity.node_id
        self.links = LinkManager(
            identity=identity,
            config=self.config.link,
            entropy=entropy,
            verifier=verifier,
            extension=self.config.handshake_extension,
        )
        # Large payloads come up as views of the link's reused opening buffer: neighbour
        # data is copied at once (_pump_links); a routed DATA packet is copied by
        # routing.packets.advance at a relay or opened into the sessions' buffer at its
        # destination, within the pump of the frame that brought it (Router.receive_packet).
        self.links.lend_payloads((NEIGHBOUR_CODE, int(RoutingPacket.DATA)))
        self.router = Router(
            identity=identity,
            config=self.config.routing,
            entropy=entropy,
            verifier=verifier,
            decoder=decoder,
        )
        self.sessions = SessionManager(
            identity=identity,
            config=self.config.session,
            entropy=entropy,
            verifier=verifier,
            lookup_record=self.router.record_of,
        )
        self.peers = PeerTable(entropy=entropy, backoff=self.config.backoff)
        self.messaging = MessagingService(
            identity=identity,
            verifier=verifier,
            store=message_store if message_store is not None else MemoryMessageStore(),
            transport=self.sessions,
            entropy=entropy,
            config=self.config.messaging,
            wall_offset=wall_offset,
        )
        self._drops = {}  # the fields are described in NodeCore (node/pumps.py)
        self._now = 0.0
        self._flush_at = None
        self._dial_of = {}
        self._paused_transports = set()
        self._paused_links = {}
        self._events = deque()
        self._commands = []
        self._settled = False
        self._others_at = None
        self._others_known = False
        self._batch_limit = self.config.routing.batch_limit

    # -- application commands ---------------------------------------------------------

    def connect(self, endpoint: str, now: float, *, expected_peer: NodeId | None = None) -> None:
        """Keep a link to ``endpoint`` (redialled forever); dial it now.

        Args:
            endpoint: the driver's address form, e.g. ``tcp:192.0.2.7:4100``.
            expected_peer: the NodeId it must prove; None learns it (trust on first use).

        Raises:
            LocalError: ``expected_peer`` is this node's own id.
        """
        if expected_peer == self.identity.node_id:
            raise LocalError(f"{expected_peer.short()} is this node's own id")
        self.peers.add(endpoint, expected_peer, now)
        self._start_due_dials(now)

    def connect_node(self, node: NodeId, now: float) -> str:
        """Keep a direct link to ``node`` at the first endpoint it announces; dial it now.

        The link must prove ``node``'s identity. Returns the endpoint chosen.

        Raises:
            LocalError: ``node`` is this node.
            UnknownPeerError: ``node`` announced no endpoint we know of.
        """
        if node == self.identity.node_id:
            raise LocalError(f"{node.short()} is this node's own id")
        endpoints = self.router.endpoints_of(node)
        if not endpoints:
            raise UnknownPeerError(f"{node.short()} announced no endpoint to link to")
        self.connect(endpoints[0], now, expected_peer=node)
        return endpoints[0]

    def disconnect(self, endpoint: str, now: float) -> bool:
        """Stop keeping a link to ``endpoint`` and close the link if it is up; True when
        a link was closed.

        Raises:
            UnknownPeerError: no such endpoint is configured.
        """
        entry = self.peers.remove(endpoint)
        if entry is None:
            raise UnknownPeerError(f"no configured peer at {endpoint}")
        link = None if entry.expected is None else self.links.link_to(entry.expected)
        if link is None:
            return False
        self.links.close(link, now)
        self._pump(now)
        return True

    def disconnect_peer(self, peer: NodeId, now: float) -> tuple[tuple[str, ...], bool]:
        """Stop keeping links to ``peer`` and close the direct link to it if one is up.

        Works whoever dialled: a peer that dialled us has its link closed (it may dial
        again; nothing here refuses it). Returns the configured endpoints forgotten and
        whether a link was closed.

        Raises:
            LocalError: ``peer`` is this node.
            UnknownPeerError: ``peer`` is neither configured nor linked.
        """
        if peer == self.identity.node_id:
            raise LocalError(f"{peer.short()} is this node's own id")
        endpoints = tuple(e.endpoint for e in self.peers.entries() if e.expected == peer)
        for endpoint in endpoints:
            self.peers.remove(endpoint)
        link = self.links.link_to(peer)
        if link is not None:
            self.links.close(link, now)
            self._pump(now)
        elif not endpoints:
            raise UnknownPeerError(f"{peer.short()} is neither a configured peer nor linked")
        return endpoints, link is not None

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> None:
        """Send an unreliable, end-to-end encrypted datagram to any node of the mesh.

        The session to ``destination`` opens on demand; the datagram waits (bounded)
        while it does. Delivery is best effort: use a stream for reliability.
        """
        self.sessions.send_datagram(destination, payload, now)
        self._pump(now)

    def open_stream(self, destination: NodeId, now: float, *, service: int = 0) -> StreamId:
        """Open a reliable, ordered, end-to-end encrypted byte stream to ``destination``."""
        stream = self.sessions.open_stream(destination, now, service=service)
        self._pump(now)
        return stream

    def stream_send(self, stream: StreamId, data: bytes, now: float) -> int:
        """Queue bytes on ``stream``; returns how many were accepted (flow control).

        When fewer than ``len(data)`` were taken, wait for ``StreamWritable``.
        """
        accepted = self.sessions.stream_send(stream, data, now)
        self._pump(now)
        return accepted

    def stream_close(self, stream: StreamId, now: float) -> None:
        """Finish ``stream`` after everything queued on it is delivered."""
        self.sessions.stream_close(stream, now)
        self._pump(now)

    def ping(self, destination: NodeId, now: float) -> int:
        """Probe ``destination`` end to end; ``PingAnswered`` with the token follows."""
        token = self.sessions.ping(destination, now)
        self._pump(now)
        return token

    def stream_reset(self, stream: StreamId, now: float, code: int = 0) -> None:
        """Abandon both directions of ``stream`` at once (the peer hears ``StreamReset``)."""
        self.sessions.stream_reset(stream, now, code)
        self._pump(now)

    # -- messages ------------------------------------------------------------------------

    def send_message(
        self, peer: NodeId, body: bytes, now: float, *, expires_in: float | None = None
    ) -> MessageId:
        """Send a message to ``peer``; it is committed to the message store on return.

        It is retried until ``peer`` acknowledges it, it is cancelled or it expires
        (``expires_in`` seconds, default ``config.messaging.expires_in``).

        Raises:
            LocalError: ``peer`` is this node, the body is too large, or ``expires_in``
                is not positive.
        """
        message_id = self.messaging.send(peer, body, now, expires_in=expires_in)
        self._pump(now)
        return message_id

    def cancel_message(self, message_id: MessageId, now: float) -> None:
        """Stop retrying a message that is not delivered yet.

        Raises:
            LocalError: no sent message has this id.
            StateError: it is delivered, cancelled or expired already.
        """
        self.messaging.cancel(message_id, now)
        self._pump(now)

    def mark_read(self, message_id: MessageId, now: float) -> None:
        """Mark a received message read; its sender gets a read receipt.

        Raises:
            LocalError: no received message has this id.
            StateError: it is held (an earlier message of its sender is missing).
        """
        self.messaging.mark_read(message_id, now)
        self._pump(now)

    def use_mailbox(self, mailbox: NodeId | None, now: float) -> None:
        """Name the node that holds our sealed mail while we are offline (None: none).

        Raises:
            LocalError: ``mailbox`` is this node.
        """
        self.messaging.use_mailbox(mailbox, now)
        self._pump(now)

    def inbox(
        self, *, peer: NodeId | None = None, limit: int = 100, unread: bool = False
    ) -> list[IncomingMessage]:
        """The newest ``limit`` messages delivered to us (from ``peer``; not yet marked
        read, if ``unread``), oldest first."""
        return self.messaging.inbox_messages(peer=peer, limit=limit, unread=unread)

    def outbox(self, *, peer: NodeId | None = None, limit: int = 100) -> list[OutgoingMessage]:
        """The newest ``limit`` messages we sent (to ``peer``), any state, oldest first."""
        return self.messaging.outbox(peer=peer, limit=limit)

    def set_endpoints(self, endpoints: list[str], now: float) -> None:
        """Tell the mesh where this node can be reached (carried in announcements)."""
        self.router.set_endpoints(endpoints, now)
        self._pump(now)

    # -- inspection ------------------------------------------------------------------

    def link_to(self, peer: NodeId) -> LinkId | None:
        return self.links.link_to(peer)

    def route_to(self, peer: NodeId) -> tuple[NodeId, ...] | None:
        """The relays and destination a packet to ``peer`` would take now, if any."""
        return self.router.route_to(peer)

    def record_of(self, peer: NodeId) -> IdentityRecord | None:
        return self.router.record_of(peer)

    def status(self, now: float) -> NodeStatus:
        self._settled = self._others_known = False  # in case a layer ages state on reading
        peers = tuple(
            PeerInfo(
                endpoint=e.endpoint,
                expected=str(e.expected) if e.expected is not None else None,
                connected=e.connected_since is not None,
                dialing=e.dialing is not None,
                failures=e.failures,
                next_attempt=e.next_attempt,
                last_error=e.last_error,
            )
            for e in self.peers.entries()
        )
        return NodeStatus(
            node_id=str(self.node_id),
            links=self.links.status(now),
            routing=self.router.status(now),
            sessions=self.sessions.status(now),
            messaging=self.messaging.status(),
            peers=peers,
            drops=tuple(sorted(self._drops.items())),
        )
