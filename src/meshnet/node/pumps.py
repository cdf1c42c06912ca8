"""``NodeCore``: the node's state and the joining of its layers (the pumps).

``Node`` (node/node.py) is built in three layers of one class, split by concern:
this module holds the state every part shares and the code that moves bytes and
events between the layers; ``node/driververbs.py`` the verbs a driver calls
(DESIGN.md §1-§2) and the fast path; ``node/node.py`` the construction, the
application and message commands and the inspection.

How the layers are joined (the only place they meet)::

    link payloads --(first byte: routing code)--> Router.receive_packet   (_on_payload)
                  --(NodePacket.NEIGHBOUR)------> NeighbourDataReceived   (_pump_links)
    LinkEstablished / LinkClosed / LinkMeasured --> Router.link_up / link_down / link_measured
    Router PacketDelivered --> SessionManager.receive_packet      (end-to-end bytes)
    Router RouteChanged   --> SessionManager.path_changed
    SessionManager.packets_to_send --> Router.send --> Router.packets_to_send --> LinkManager.send
    session events of messaging streams --> MessagingService (node/messaging.py)

Routed packets: a link payload whose first byte is a routing code goes to the router
in ``_on_payload``; ``_pump_router`` hands what the router delivers to the sessions and
what it forwards or sends (``Router.packets_to_send``) to the link manager.

The hot path. Most inputs are link frames carrying neighbour payloads and sends to a
neighbour: they touch the link layer only. After a pump that moved everything it
could (the node is *settled*), the router and the sessions have nothing waiting, so
such an input is pumped through the link layer alone (``_pump_links`` reports
whether it fed any other layer; if it did, the full pump runs). For the same reason
``get_timer`` keeps the earliest deadline of every layer but the links and recomputes
it only after an input that reached them (``_others_at`` is invalidated by every
full pump, every event taken from the sessions or messaging, and every command).

Dial bookkeeping lives here too (``dial_failed``, a driver verb, is also what a failed
link handshake of a dial leads to).
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.identity import Identity, NodeId
from meshnet.errors import StateError
from meshnet.ids import LinkId, TransportId
from meshnet.link.events import (
    LinkClosed,
    LinkEstablished,
    LinkHandshakeFailed,
    LinkMeasured,
    LinkPayloadReceived,
)
from meshnet.link.manager import LinkManager
from meshnet.node.commands import Dial, TransportCommand
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
    neighbour_data_received,
)
from meshnet.node.peers import PeerTable
from meshnet.routing.events import DestinationUnreachable, PacketDelivered, RouteChanged
from meshnet.routing.router import Router
from meshnet.services.messaging import MessagingService
from meshnet.session.manager import SessionManager
from meshnet.wire.codes import CODE_SPACES, NodePacket

__all__ = ["NodeCore"]

_ROUTING = next(space for space in CODE_SPACES if space.name == "routing")
NEIGHBOUR_CODE = int(NodePacket.NEIGHBOUR)
_MAX_PUMP_ROUNDS = 64


class NodeCore:
    """The state of a ``Node`` and the pumps between its layers (set up by ``Node``)."""

    config: NodeConfig
    identity: Identity
    node_id: NodeId
    links: LinkManager
    router: Router
    sessions: SessionManager
    peers: PeerTable
    messaging: MessagingService
    _drops: dict[str, int]
    _now: float  # the latest time any input carried
    _flush_at: float | None
    _dial_of: dict[TransportId, int]
    _paused_transports: set[TransportId]  # carriers full (driver said so)
    _paused_links: dict[LinkId, TransportId]  # held links: the carrier that was full
    _events: deque[NodeEvent]
    _commands: list[TransportCommand]
    _settled: bool  # the last pump left nothing waiting in router or sessions
    _others_at: float | None  # earliest deadline of every layer but links
    _others_known: bool
    _batch_limit: int

    # -- dial bookkeeping ------------------------------------------------------------

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
            sent = self._send_session_packets(now)
            if not (router_due or sent):
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

    def _send_session_packets(self, now: float) -> bool:
        """The sessions' packets to the router; True if there were any. A call of its
        own, so nothing here still holds the packets when the next round builds more:
        a session's packet buffers go back to its pool once the link sealed them
        (session/keys.py), instead of one burst being held through the next."""
        packets = self.sessions.packets_to_send(now)
        for destination, packet in packets:
            self.router.send(destination, packet, now)
        return bool(packets)

    def _pump_links(self, now: float) -> bool:
        """Link events up; True when one reached another layer (router, peers)."""
        links, router = self.links, self.router
        touched = False
        while (event := links.next_event()) is not None:
            if isinstance(event, LinkPayloadReceived):
                payload = event.payload
                if payload and payload[0] == NEIGHBOUR_CODE:  # the hot path
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
