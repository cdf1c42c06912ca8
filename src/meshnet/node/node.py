"""``Node``: the composition root. Every layer is joined here, and nowhere else.

The node is sans-IO like the cores it joins. Two drivers give it IO, through the same
verbs (DESIGN.md §1-§2):

* from the driver: ``transport_opened``, ``transport_closed``, ``dial_failed``,
  ``receive_datagram``, ``handle_timer``;
* to the driver: ``datagrams_to_send``, ``transport_commands`` (``Dial``,
  ``CloseTransport``), ``get_timer``, ``next_event``;
* from the application: ``connect``, ``disconnect``, ``send_to_neighbour``, ``status``.

A driver's pump after every input: send ``datagrams_to_send()``, then carry out
``transport_commands()``, then drain ``next_event()``, then re-arm one timer at
``get_timer()``.
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import StateError, UnknownPeerError
from meshnet.ids import LinkId, TransportId
from meshnet.link.events import (
    LinkClosed,
    LinkEstablished,
    LinkHandshakeFailed,
    LinkPayloadReceived,
)
from meshnet.link.manager import LinkManager
from meshnet.node.commands import Dial, TransportCommand
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
)
from meshnet.node.peers import PeerTable
from meshnet.node.status import NodeStatus, PeerInfo

__all__ = ["Node"]


class Node:
    """One MeshNet node, without IO.

    Args:
        identity: the node's keys.
        entropy: its randomness (``SystemEntropy`` for real, seeded in the simulator).
        verifier: a signature verifier, which may be shared between nodes.
        config: validated settings.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        entropy: Entropy,
        verifier: SignatureVerifier,
        config: NodeConfig | None = None,
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
        self.peers = PeerTable(entropy=entropy, backoff=self.config.backoff)
        self._dial_of: dict[TransportId, int] = {}
        self._events: deque[NodeEvent] = deque()
        self._commands: list[TransportCommand] = []

    # -- application commands ---------------------------------------------------------

    def connect(self, endpoint: str, now: float, *, expected_peer: NodeId | None = None) -> None:
        """Keep a link to ``endpoint`` (redialled forever); dial it now.

        Args:
            endpoint: the driver's address form, e.g. ``tcp:192.0.2.7:4100``.
            expected_peer: the NodeId it must prove; None learns it (trust on first use).
        """
        self.peers.add(endpoint, expected_peer, now)
        self._start_due_dials(now)

    def disconnect(self, endpoint: str, now: float) -> None:
        """Stop keeping a link to ``endpoint`` and close the link if it is up.

        Raises:
            UnknownPeerError: no such endpoint is configured.
        """
        entry = self.peers.remove(endpoint)
        if entry is None:
            raise UnknownPeerError(f"no configured peer at {endpoint}")
        if entry.expected is not None:
            link = self.links.link_to(entry.expected)
            if link is not None:
                self.links.close(link, now)
                self._pump(now)

    def send_to_neighbour(self, peer: NodeId, payload: bytes, now: float) -> None:
        """Send ``payload`` over the direct link to ``peer``.

        Raises:
            StateError: there is no link to ``peer``.
        """
        link = self.links.link_to(peer)
        if link is None:
            raise StateError(f"no link to {peer.short()}")
        self.links.send(link, payload, now)
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
        if entry is None:
            return
        retry = entry.next_attempt - now if entry.next_attempt is not None else None
        self._events.append(PeerDialFailed(endpoint=entry.endpoint, reason=reason, retry_in=retry))

    def transport_closed(self, transport: TransportId, now: float) -> None:
        self.links.transport_closed(transport, now)
        self._pump(now)
        dial = self._dial_of.pop(transport, None)
        if dial is not None and self.peers.entry_for_dial(dial) is not None:
            self.dial_failed(dial, now, "connection closed before the handshake finished")

    def receive_datagram(self, transport: TransportId, data: bytes, now: float) -> None:
        self.links.receive_datagram(transport, data, now)
        self._pump(now)

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, bytes]]:
        return self.links.datagrams_to_send(now)

    def transport_commands(self) -> list[TransportCommand]:
        commands: list[TransportCommand] = [*self._commands, *self.links.transport_commands()]
        self._commands.clear()
        return commands

    def next_event(self) -> NodeEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [t for t in (self.links.get_timer(), self.peers.get_timer()) if t is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self.links.handle_timer(now)
        self._pump(now)
        self._start_due_dials(now)

    # -- joining the layers ----------------------------------------------------------

    def _start_due_dials(self, now: float) -> None:
        for dial, entry in self.peers.due(now):
            self._commands.append(
                Dial(dial=dial, endpoint=entry.endpoint, expected_peer=entry.expected)
            )

    def _pump(self, now: float) -> None:
        links = self.links
        while (event := links.next_event()) is not None:
            if isinstance(event, LinkPayloadReceived):
                peer = links.peer_of(event.link)
                if peer is not None:
                    self._events.append(
                        NeighbourDataReceived(peer=peer, link=event.link, payload=event.payload)
                    )
            elif isinstance(event, LinkEstablished):
                self._on_established(event, now)
            elif isinstance(event, LinkClosed):
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
                if dial is not None:
                    self.dial_failed(dial, now, event.detail)

    def _on_established(self, event: LinkEstablished, now: float) -> None:
        dial = self._dial_of.pop(event.transport, None)
        first_contact = False
        if dial is not None:
            entry = self.peers.entry_for_dial(dial)
            first_contact = entry is not None and entry.expected is None
            self.peers.dial_succeeded(dial, event.peer, now)
        self.peers.link_up(event.peer, now)
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

    def status(self, now: float) -> NodeStatus:
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
        return NodeStatus(node_id=str(self.node_id), links=self.links.status(now), peers=peers)
