"""``DriverVerbs``: the verbs a driver calls on a ``Node``, and the fast path.

DESIGN.md §1-§2's verbs:

* from the driver: ``transport_opened``, ``transport_closed``, ``transport_writable``,
  ``dial_failed`` (in node/pumps.py), ``receive_datagram``, ``handle_timer``;
* to the driver: ``datagrams_to_send``, ``transport_commands`` (``Dial``,
  ``CloseTransport``), ``get_timer``, ``next_event``.

A driver's pump after every input: send ``datagrams_to_send()``, then carry out
``transport_commands()``, then drain ``next_event()``, then re-arm one timer at
``get_timer()``.

The hot-path verbs are here too: ``send_to_neighbour`` and, for the fast path
(docs/protocol/link.md §7), ``receive_neighbour_data`` and ``send_to_neighbour_now``.
For a settled node, ``receive_neighbour_data`` returns a frame's ``NeighbourDataReceived``
instead of queueing it, and ``send_to_neighbour_now`` returns the sealed frame to write
instead of queueing it, each only when nothing else was queued and nothing else came of
the input (the link manager's ``receive_payload``/``send_now`` decide); otherwise they
queue as ``receive_datagram``/``send_to_neighbour`` do and the driver pumps. At a relay,
``receive_neighbour_data`` also returns a routed packet's frame sealed for the next link
when the router passes it on at once (``Router.forward_now``: its next hop's queue was
empty) and ``send_now`` sealed it alone.
"""

from __future__ import annotations

from meshnet.crypto.identity import NodeId
from meshnet.errors import StateError
from meshnet.ids import TransportId
from meshnet.link.sealbuffers import Payload
from meshnet.node.commands import TransportCommand
from meshnet.node.events import NeighbourDataReceived, NodeEvent, neighbour_data_received
from meshnet.node.messaging import to_messaging
from meshnet.node.pumps import NEIGHBOUR_CODE, NodeCore
from meshnet.wire.codes import RoutingPacket
from meshnet.wire.framing import Frame

__all__ = ["DriverVerbs"]

_NEIGHBOUR = bytes([NEIGHBOUR_CODE])
_ROUTED_DATA = int(RoutingPacket.DATA)


class DriverVerbs(NodeCore):
    """What a driver (runtime or simulator) calls on a ``Node``."""

    # -- the hot path: sends to a neighbour --------------------------------------------

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
    ) -> NeighbourDataReceived | tuple[TransportId, Frame] | None:
        """``receive_datagram``, a neighbour payload or a relayed frame returned instead
        of queued.

        Returns:
            The frame's ``NeighbourDataReceived``, when the node was settled, nothing
            was queued and the frame caused nothing else (``LinkManager.receive_payload``):
            the driver hands it on at once, as if taken from ``next_event``. Or, at a
            relay, the routed packet it carried sealed for the next link, when the router
            passed it on at once (``Router.forward_now``) and the link sealed it with
            nothing else to do (``LinkManager.send_now``): the driver writes it at once.
            Otherwise None: whatever the frame caused is queued as by
            ``receive_datagram``, and the driver pumps.
        """
        if not self._settled or self._flush_at is not None or self._events:
            self.receive_datagram(transport, data, now)
            return None
        got = self.links.receive_payload(transport, data, now)
        if got is None:
            self._pump_link_input(now)
            return None
        link, peer, payload = got
        self._now = max(self._now, now)
        if payload and payload[0] == NEIGHBOUR_CODE:  # the only event made for the frame
            return neighbour_data_received(peer, link, bytes(payload[1:]))
        if payload and payload[0] == _ROUTED_DATA:  # a relay's hot path
            hop = self.router.forward_now(link, payload, now)
            if hop is not None:
                try:
                    sent = self.links.send_now(hop[0], hop[1], now)
                except StateError:
                    sent = None
                    self._drop("link_gone")
                if sent is not None:
                    return sent
        else:
            self._on_payload(link, payload, now)  # the router's: the general path
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
