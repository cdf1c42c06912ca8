"""``Node``: the composition root. Every layer is joined here, and nowhere else.

The node is sans-IO like the cores it joins. Two drivers give it IO, through the same
verbs (DESIGN.md §1-§2):

* from the driver: ``transport_opened``, ``transport_closed``, ``dial_failed``,
  ``receive_datagram``, ``handle_timer``;
* to the driver: ``datagrams_to_send``, ``transport_commands`` (``Dial``,
  ``CloseTransport``), ``get_timer``, ``next_event``;
* from the application: ``connect``, ``disconnect``, ``send_datagram``,
  ``open_stream``, ``stream_send``, ``stream_close``, ``stream_reset``, ``ping``,
  ``send_to_neighbour``, ``status``; messages: ``send_message``, ``cancel_message``,
  ``mark_read``, ``inbox``, ``outbox``.

How the layers are joined (the only place they meet)::

    link payloads --(first byte: routing code)--> Router.receive_packet
                  --(NodePacket.NEIGHBOUR)------> NeighbourDataReceived
    LinkEstablished / LinkClosed / LinkMeasured --> Router.link_up / link_down / link_measured
    Router PacketDelivered --> SessionManager.receive_packet      (end-to-end bytes)
    Router RouteChanged   --> SessionManager.path_changed
    SessionManager.packets_to_send --> Router.send --> Router.packets_to_send --> LinkManager.send
    session events of messaging streams --> MessagingService (node/messaging.py)

A driver's pump after every input: send ``datagrams_to_send()``, then carry out
``transport_commands()``, then drain ``next_event()``, then re-arm one timer at
``get_timer()``.

The hot path. Most inputs are link frames carrying neighbour payloads and sends to a
neighbour: they touch the link layer only. After a pump that moved everything it
could (the node is *settled*), the router and the sessions have nothing waiting, so
such an input is pumped through the link layer alone (``_pump_links`` reports
whether it fed any other layer; if it did, the full pump runs). For the same reason
``get_timer`` keeps the earliest deadline of every layer but the links and recomputes
it only after an input that reached them (``_others_at`` is invalidated by every
full pump, every event taken from the sessions or messaging, and every command).

The fast path (docs/protocol/link.md §7, beside DESIGN.md §1.2's verbs): for a settled
node, ``receive_neighbour_data`` returns a frame's ``NeighbourDataReceived`` instead of
queueing it, and ``send_to_neighbour_now`` returns the sealed frame to write instead of
queueing it, each only when nothing else was queued and nothing else came of the input
(the link manager's ``receive_payload``/``send_now`` decide); otherwise they queue as
``receive_datagram``/``send_to_neighbour`` do and the driver pumps.
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import LocalError, StateError, UnknownPeerError
from meshnet.ids import LinkId, MessageId, StreamId, TransportId
from meshnet.link.events import (
    LinkClosed,
    LinkEstablished,
    LinkHandshakeFailed,
    LinkMeasured,
    LinkPayloadReceived,
)
from meshnet.link.manager import LinkManager
from meshnet.link.sealbuffers import Payload
from meshnet.node.commands import Dial, TransportCommand
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
    neighbour_data_received,
)
from meshnet.node.messaging import to_messaging
from meshnet.node.peers import PeerTable
from meshnet.node.status import NodeStatus, PeerInfo
from meshnet.routing.decoder import AnnouncementDecoder
from meshnet.routing.events import DestinationUnreachable, PacketDelivered, RouteChanged
from meshnet.routing.router import Router
from meshnet.services.messaging import (
    IncomingMessage,
    MemoryMessageStore,
    MessageStore,
    MessagingService,
    OutgoingMessage,
)
from meshnet.session.manager import SessionManager
from meshnet.wire.codes import CODE_SPACES, NodePacket
from meshnet.wire.framing import Frame

__all__ = ["Node"]

_ROUTING = next(space for space in CODE_SPACES if space.name == "routing")
_NEIGHBOUR_CODE = int(NodePacket.NEIGHBOUR)
_NEIGHBOUR = bytes([_NEIGHBOUR_CODE])
_MAX_PUMP_ROUNDS = 64


class Node:
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
        self.links.lend_payloads((_NEIGHBOUR_CODE,))  # copied at once (_pump_links)
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
        self._drops: dict[str, int] = {}
        self._now = 0.0  # the latest time any input carried
        self._flush_at: float | None = None
        self._dial_of: dict[TransportId, int] = {}
        self._paused_transports: set[TransportId] = set()  # carriers full (driver said so)
        self._paused_links: dict[LinkId, TransportId] = {}  # held links: the carrier that was full
        self._events: deque[NodeEvent] = deque()
        self._commands: list[TransportCommand] = []
        self._settled = False  # the last pump left nothing waiting in router or sessions
        self._others_at: float | None = None  # earliest deadline of every layer but links
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

    def send_to_neighbour(self, peer: NodeId, payload: Payload, now: float) -> None:
        """Send ``payload`` over the direct link to ``peer``.

        Raises:
            StateError: there is no link to ``peer``.
        """
        link = self.links.link_to(peer)
        if link is None:
            raise StateError(f"no link to {peer.short()}")
        self.links.send(link, payload, now, prefix=_NEIGHBOUR)
        self._pump_link_input(now)

    def send_to_neighbour_now(
        self, peer: NodeId, payload: Payload, now: float
    ) -> tuple[TransportId, Frame] | None:
        """``send_to_neighbour``, the sealed frame returned for the driver to write now.

        Returns:
            The transport and frame, when the node was settled and nothing else was
            queued or came of the send (``LinkManager.send_now``); the driver writes it
            before pumping again. Otherwise None: the frame is queued as by
            ``send_to_neighbour`` and the driver pumps.

        Raises:
            StateError: there is no link to ``peer``.
        """
        if not self._settled or self._flush_at is not None or self._events:
            self.send_to_neighbour(peer, payload, now)
            return None
        link = self.links.link_to(peer)
        if link is None:
            raise StateError(f"no link to {peer.short()}")
        sent = self.links.send_now(link, payload, now, prefix=_NEIGHBOUR)
        if sent is None:
            self._pump_link_input(now)
        else:
            self._now = max(self._now, now)
        return sent

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

    # -- driver verbs ----------------------------------------------------------------

    def transport_opened(
        self,
        transport: TransportId,
        now: float,
        *,
        outbound: bool,
        endpoint: str,
        datagram: bool,
        mtu: int,
        expected_peer: NodeId | None = None,
        dial: int | None = None,
    ) -> None:
        """A carrier exists; ``dial`` ties it to the ``Dial`` command that asked for it."""
        if dial is not None:
            entry = self.peers.entry_for_dial(dial)
            if entry is not None and expected_peer is None:
                expected_peer = entry.expected
            self._dial_of[transport] = dial
        self.links.transport_opened(
            transport,
            now,
            outbound=outbound,
            endpoint=endpoint,
            datagram=datagram,
            mtu=mtu,
            expected_peer=expected_peer,
        )
        self._pump(now)

    def dial_failed(self, dial: int, now: float, reason: str) -> None:
        """The driver could not open the carrier a ``Dial`` asked for."""
        entry = self.peers.entry_for_dial(dial)
        self.peers.dial_failed(dial, now, reason)
        self._others_known = False
        if entry is None:
            return
        retry = entry.next_attempt - now if entry.next_attempt is not None else None
        self._events.append(PeerDialFailed(endpoint=entry.endpoint, reason=reason, retry_in=retry))

    def _reached_self(self, dial: int, detail: str) -> None:
        """A configured endpoint is this node's own: reported once, never dialled again."""
        entry = self.peers.reached_self(dial, f"{detail}; not dialled again")
        self._others_known = False
        if entry is not None:
            self._events.append(
                PeerDialFailed(endpoint=entry.endpoint, reason=entry.last_error, retry_in=None)
            )

    def transport_writable(self, transport: TransportId, writable: bool, now: float) -> None:
        """The driver's carrier for ``transport`` filled up (False) or drained (True).

        While it is full the router holds that link's packets in its bounded queues
        (and drops beyond them, counted) instead of handing them to the carrier.
        """
        if writable:
            self._paused_transports.discard(transport)
            changed = self._resume_links_of(transport)
        else:
            self._paused_transports.add(transport)
            link = self.links.link_of_transport(transport)
            changed = link is not None
            if link is not None:
                self._paused_links[link] = transport
                self.router.set_link_paused(link, True)
        if changed:
            self._pump(now)

    def _resume_links_of(self, transport: TransportId) -> bool:
        """Release the links held for ``transport``, even if they moved to another
        carrier since (TCP roaming); True when there were any."""
        held = [link for link, t in self._paused_links.items() if t == transport]
        for link in held:
            del self._paused_links[link]
            self.router.set_link_paused(link, False)
        return bool(held)

    def transport_closed(self, transport: TransportId, now: float) -> None:
        self._paused_transports.discard(transport)
        self._resume_links_of(transport)
        self.links.transport_closed(transport, now)
        self._pump(now)
        dial = self._dial_of.pop(transport, None)
        if dial is not None and self.peers.entry_for_dial(dial) is not None:
            self.dial_failed(dial, now, "connection closed before the handshake finished")

    def receive_datagram(
        self, transport: TransportId, data: bytes | memoryview, now: float
    ) -> None:
        self.links.receive_datagram(transport, data, now)
        self._pump_link_input(now)

    def receive_neighbour_data(
        self, transport: TransportId, data: bytes | memoryview, now: float
    ) -> NeighbourDataReceived | None:
        """``receive_datagram``, a neighbour payload returned instead of queued.

        Returns:
            The frame's ``NeighbourDataReceived``, when the node was settled, nothing
            was queued and the frame caused nothing else (``LinkManager.receive_payload``):
            the driver hands it on at once, as if taken from ``next_event``.
            Otherwise None: whatever the frame caused is queued as by
            ``receive_datagram``, and the driver pumps.
        """
        if not self._settled or self._flush_at is not None or self._events:
            self.receive_datagram(transport, data, now)
            return None
        event = self.links.receive_payload(transport, data, now)
        if event is None:
            self._pump_link_input(now)
            return None
        self._now = max(self._now, now)
        payload = event.payload
        if payload and payload[0] == _NEIGHBOUR_CODE:
            return neighbour_data_received(event.peer, event.link, bytes(payload[1:]))
        self._on_payload(event.link, payload, now)  # the router's: the general path
        self._pump(now)
        return None

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, Frame]]:
        return self.links.datagrams_to_send(now)

    def transport_commands(self) -> list[TransportCommand]:
        from_links: list[TransportCommand] = self.links.transport_commands()  # type: ignore[assignment]
        if not self._commands:
            return from_links  # a fresh list, the caller's to keep
        commands: list[TransportCommand] = [*self._commands, *from_links]
        self._commands.clear()
        return commands

    def next_event(self) -> NodeEvent | None:
        """The next event: the node's own first, then the session layer's.

        Session events are handed out only when asked for, never copied into a queue
        of ours: taking a ``StreamDataReceived`` is what returns flow-control credit to
        the sender, so a slow reader slows the sender instead of growing memory. The
        credit updates it causes go out at the next ``get_timer()`` deadline (now).
        """
        if self._events:
            return self._events.popleft()
        while True:
            mine = self.messaging.next_event()
            if mine is not None:
                self._others_known = False
                return mine
            event = self.sessions.next_event()
            if event is None:
                return None
            self._others_known = False  # taking it may change timers (and the flush)
            self._flush_at = self._now  # credit or acks to send: ask for a timer now
            if not to_messaging(self.messaging, event, self._now):
                return event

    def get_timer(self) -> float | None:
        if not self._others_known:
            self._others_at = self._earliest_of_others()
            self._others_known = True
        links, others = self.links.get_timer(), self._others_at
        if links is None or (others is not None and others < links):
            return others
        return links

    def _earliest_of_others(self) -> float | None:
        earliest = self._flush_at
        for deadline in (
            self.router.get_timer(),
            self.sessions.get_timer(),
            self.peers.get_timer(),
            self.messaging.get_timer(),
        ):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def handle_timer(self, now: float) -> None:
        self.links.handle_timer(now)
        self.router.handle_timer(now)
        self.sessions.handle_timer(now)
        self.messaging.handle_timer(now)
        self._pump(now)
        self._start_due_dials(now)

    # -- joining the layers ----------------------------------------------------------

    def _start_due_dials(self, now: float) -> None:
        self._others_known = False
        for dial, entry in self.peers.due(now):
            self._commands.append(
                Dial(dial=dial, endpoint=entry.endpoint, expected_peer=entry.expected)
            )

    def _drop(self, reason: str) -> None:
        self._drops[reason] = self._drops.get(reason, 0) + 1

    def _pump_link_input(self, now: float) -> None:
        """``_pump`` after an input to the link layer alone (a frame, a neighbour send)."""
        if self._settled and self._flush_at is None:
            self._now = max(self._now, now)
            if not self._pump_links(now):
                return  # only the link layer moved (the hot path: see the module docstring)
        self._pump(now)

    def _pump(self, now: float) -> None:
        """Move bytes and events between the layers until none is left to move."""
        self._now = max(self._now, now)
        self._settled = False
        self._others_known = False
        self._flush_at = None
        router_due = True  # the router may have events or packets waiting
        for _ in range(_MAX_PUMP_ROUNDS):
            router_due |= self._pump_links(now)
            packets = self.sessions.packets_to_send(now)
            for destination, packet in packets:
                self.router.send(destination, packet, now)
            if not (router_due or packets):
                # The router got no input since its last pass drained it (a packet
                # delivered to the sessions, which sent nothing back): the sink's
                # common case, so its router pass runs once per packet, not twice.
                self._settled = True
                return
            fed, backlog = self._pump_router(now)
            router_due = backlog
            if not fed:
                # Nothing reached the sessions, so nothing new waits anywhere (but a
                # router batch cut short: its timer, set to now, sends the rest).
                self._settled = not backlog
                return

    def _pump_links(self, now: float) -> bool:
        """Link events up; True when one reached another layer (router, peers)."""
        links, router = self.links, self.router
        touched = False
        while (event := links.next_event()) is not None:
            if isinstance(event, LinkPayloadReceived):
                payload = event.payload
                if payload and payload[0] == _NEIGHBOUR_CODE:  # the hot path
                    self._events.append(
                        neighbour_data_received(event.peer, event.link, bytes(payload[1:]))
                    )
                else:
                    touched = True
                    self._on_payload(event.link, payload, now)
                continue
            touched = True
            if isinstance(event, LinkMeasured):
                router.link_measured(event.link, event.rtt, event.lost, now)
            elif isinstance(event, LinkEstablished):
                self._on_established(event, now)
            elif isinstance(event, LinkClosed):
                router.link_down(event.link, now)
                if event.peer is not None:
                    self.peers.link_lost(event.peer, now)
                    self._events.append(
                        PeerDisconnected(
                            peer=event.peer,
                            link=event.link,
                            reason=event.reason.name.lower(),
                            by_peer=event.by_peer,
                        )
                    )
            elif isinstance(event, LinkHandshakeFailed):
                dial = self._dial_of.pop(event.transport, None)
                if dial is not None and event.to_self:
                    self._reached_self(dial, event.detail)
                elif dial is not None:
                    self.dial_failed(dial, now, event.detail)
        return touched

    def _on_payload(self, link: LinkId, payload: memoryview, now: float) -> None:
        """A link payload for the router (neighbour payloads take the hot path)."""
        kind = payload[0] if payload else -1
        if kind in _ROUTING:
            self.router.receive_packet(link, payload, now)  # a view: no copy of 64 KiB
        else:
            self._drop("unknown_link_payload")

    def _pump_router(self, now: float) -> tuple[bool, bool]:
        """Routing events up, routed packets down.

        Returns:
            Whether the sessions were fed, and whether the router's batch was full
            (more may wait).
        """
        router, sessions = self.router, self.sessions
        fed = False
        while (event := router.next_event()) is not None:
            if isinstance(event, PacketDelivered):
                sessions.receive_packet(event.source, event.payload, now, room=event.room)
                fed = True
            elif isinstance(event, RouteChanged):
                sessions.path_changed(event.destination, now)
                fed = True
            elif isinstance(event, DestinationUnreachable):
                self._events.append(event)
        packets = router.packets_to_send(now)
        for link, packet in packets:
            try:
                self.links.send(link, packet, now)
            except StateError:
                self._drop("link_gone")
        return fed, len(packets) >= self._batch_limit

    def _on_established(self, event: LinkEstablished, now: float) -> None:
        dial = self._dial_of.pop(event.transport, None)
        first_contact = False
        if dial is not None:
            entry = self.peers.entry_for_dial(dial)
            first_contact = entry is not None and entry.expected is None
            self.peers.dial_succeeded(dial, event.peer, now)
        self.peers.link_up(event.peer, now)
        self.router.link_up(
            event.link, event.peer, now, record=event.peer_record, stream=not event.datagram
        )
        if event.transport in self._paused_transports:
            self._paused_links[event.link] = event.transport
            self.router.set_link_paused(event.link, True)
        self._events.append(
            PeerConnected(
                peer=event.peer,
                link=event.link,
                endpoint=event.endpoint,
                outbound=event.outbound,
                first_contact=first_contact,
            )
        )

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
