"""The driver's verbs on links to neighbours, and on the node's events.

``LinkVerbs`` is mixed into ``NodeDriver``: keeping links (``connect``,
``connect_node``, ``disconnect``, ``disconnect_peer``), sending to a neighbour
(``send_to_neighbour`` now, ``send`` after waiting for room on its carrier) and hearing
the node's events (``subscribe``, ``listen``). Each verb hands one command to the node
at the event loop's time and pumps, as every driver command does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from meshnet.crypto.identity import NodeId
from meshnet.errors import StateError
from meshnet.ids import TransportId
from meshnet.link.sealbuffers import Payload
from meshnet.node.events import NodeEvent
from meshnet.node.node import Node
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.runtime.knownpeers import KnownPeers
from meshnet.runtime.pump import DriverState
from meshnet.runtime.subscriptions import EventHub, Listener, Overflow, Subscription
from meshnet.runtime.transports import Carrier
from meshnet.wire.framing import Frame

__all__ = ["LinkVerbs"]


class _Driver(Protocol):
    """What the verbs use of the driver."""

    node: Node
    _known: KnownPeers | None
    _state: DriverState
    _hub: EventHub
    _carriers: dict[TransportId, Carrier]
    _by_endpoint: dict[str, TransportId]

    def now(self) -> float: ...
    def _require_running(self) -> None: ...
    def _pump(self, now: float | None = None) -> None: ...
    def _write_now(self, transport: TransportId, frame: Frame) -> None: ...
    def send_to_neighbour(self, peer: NodeId, payload: Payload) -> None: ...
    async def wait_writable(self, peer: NodeId) -> None: ...
    def _carrier_for(self, peer: NodeId) -> Carrier: ...


class LinkVerbs:
    """Links to neighbours, sending to them, the node's events (a mixin of ``NodeDriver``)."""

    def connect(self: _Driver, endpoint: str, *, expected_peer: NodeId | None = None) -> str:
        """Keep a link to ``endpoint`` (redialled with backoff forever); dial it now.

        Args:
            endpoint: ``tcp:HOST:PORT`` or ``udp:HOST:PORT``.
            expected_peer: the NodeId the endpoint must prove; None trusts the first
                identity it shows (``PeerConnected(first_contact=True)``).

        Returns:
            The endpoint in its canonical spelling (how status and events name it).

        Raises:
            ConfigError: the endpoint is malformed.
            LocalError: ``expected_peer`` is this node's own id.
            StateError: the driver is not running.
        """
        self._require_running()
        canonical = str(parse_endpoint(endpoint))
        if expected_peer is None and self._known is not None:
            expected_peer = self._known.expected(canonical)
        self.node.connect(canonical, self.now(), expected_peer=expected_peer)
        self._pump()
        return canonical

    def connect_node(self: _Driver, node: NodeId) -> str:
        """Keep a direct link to ``node`` at an endpoint it announced (redialled forever).

        Returns:
            The endpoint chosen (the first the node announces).

        Raises:
            LocalError: ``node`` is this node.
            UnknownPeerError: ``node`` announced no endpoint we know of.
        """
        self._require_running()
        endpoint = self.node.connect_node(node, self.now())
        self._pump()
        return endpoint

    def disconnect(self: _Driver, endpoint: str) -> bool:
        """Stop keeping a link to ``endpoint`` and close it with a goodbye; True when a
        link was up and is closed.

        Raises:
            ConfigError: the endpoint is malformed.
            UnknownPeerError: no such endpoint is configured.
        """
        self._require_running()
        closed = self.node.disconnect(str(parse_endpoint(endpoint)), self.now())
        self._pump()
        return closed

    def disconnect_peer(self: _Driver, peer: NodeId) -> tuple[tuple[str, ...], bool]:
        """Stop keeping links to ``peer`` and close its link (see ``Node.disconnect_peer``).

        Raises:
            LocalError: ``peer`` is this node.
            UnknownPeerError: ``peer`` is neither configured nor linked.
        """
        self._require_running()
        result = self.node.disconnect_peer(peer, self.now())
        self._pump()
        return result

    def send_to_neighbour(self: _Driver, peer: NodeId, payload: Payload) -> None:
        """Send ``payload`` on the link to ``peer`` now, without waiting for room.

        Prefer ``await send(...)`` for bulk data: this one never waits, so a TCP peer
        that does not read is cut off once its buffer passes the hard cap.

        Raises:
            StateError: there is no link to ``peer`` (or the driver is not running).
            LocalError: the payload is over the link's size limit.
        """
        if self._state is not DriverState.RUNNING:
            self._require_running()
        now = self.now()
        sent = self.node.send_to_neighbour_now(peer, payload, now)
        if sent is None:
            self._pump(now)
            return
        self._write_now(*sent)  # the fast path: nothing else was queued, so it goes now

    async def send(self: _Driver, peer: NodeId, payload: Payload) -> None:
        """Wait until the link to ``peer`` has room, then send ``payload`` on it.

        Raises:
            StateError: there is no link to ``peer`` (before or after waiting).
            LocalError: the payload is over the link's size limit.
        """
        await self.wait_writable(peer)
        self.send_to_neighbour(peer, payload)

    async def wait_writable(self: _Driver, peer: NodeId) -> None:
        """Return when the transport of the link to ``peer`` is below its high-water mark.

        Raises:
            StateError: there is no link to ``peer``.
        """
        await self._carrier_for(peer).wait_writable()

    def _carrier_for(self: _Driver, peer: NodeId) -> Carrier:
        self._require_running()
        link = self.node.link_to(peer)
        conn = self.node.links.connection(link) if link is not None else None
        tid = self._by_endpoint.get(conn.endpoint) if conn is not None else None
        carrier = self._carriers.get(tid) if tid is not None else None
        if carrier is None:
            raise StateError(f"no link to {peer.short()}")
        return carrier

    def subscribe(
        self: _Driver,
        *,
        kinds: Iterable[type[NodeEvent]] | None = None,
        limit: int = 1024,
        overflow: Overflow = Overflow.PAUSE,
    ) -> Subscription:
        """A queue of the node's events from now on (all kinds, or only ``kinds``).

        Args:
            kinds: event classes to receive; None for every event.
            limit: queue size; what happens past it is ``overflow``.
            overflow: PAUSE holds reading back (lossless); DROP drops and counts.
        """
        return self._hub.subscribe(kinds=kinds, limit=limit, overflow=overflow)

    def listen(
        self: _Driver,
        callback: Callable[[NodeEvent], object],
        *,
        kinds: Iterable[type[NodeEvent]] | None = None,
    ) -> Listener:
        """Call ``callback`` with each of the node's events from now on, as they happen.

        The callback runs inside the driver's pump, before subscriptions see the event:
        no queue and no task wake-up. It must not block; it may call the driver's
        commands (``send_to_neighbour`` and the like), whose frames go out in the same
        pump. What it raises is logged and counted (``listener_error``). ``close()`` the
        returned ``Listener`` to stop.
        """
        return self._hub.listen(callback, kinds=kinds)
