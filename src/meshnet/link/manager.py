"""``LinkManager``: every link of a node, demultiplexed from the transports they ride.

Theory of operation
-------------------
Drivers (runtime sockets, simulated links) know *transports*: a TCP connection, one
remote address on a shared UDP socket, one end of a simulated link. The layers above
know *links*: one authenticated neighbour, named by a ``LinkId`` that outlives any one
transport. The manager joins the two:

1. ``transport_opened(outbound=True)`` starts an initiator handshake on it; an INIT on
   an inbound transport starts a responder handshake, after the source's token bucket
   and the global bound on half-open handshakes allow it.
2. When a handshake completes, the peer's ``NodeId`` decides the ``LinkId``: a new peer
   gets a new link (``LinkEstablished``); a known peer's new handshake *replaces* the
   old connection under the same ``LinkId`` (a redial after a move, or a restart), so the
   layers above never see a new peer. Two handshakes racing in opposite directions
   (both sides dialled) keep the one started by the lower NodeId.
3. TRANSPORT frames are matched to a link by the receiver index in their header, not by
   the address they came from; an authenticated frame from a new address on a datagram
   transport moves the link there (roaming).
4. Frames larger than a datagram transport's MTU are fragmented on the way out and
   reassembled, within bounds, on the way in (``fragment.py``).

Every frame the manager cannot use is counted by reason in ``status().drops``; a peer's
bad bytes never raise out of ``receive_datagram``. Drivers must send what
``datagrams_to_send`` returns before acting on ``transport_commands`` (a CLOSE frame
goes out before its transport is shut).
"""

from __future__ import annotations

from collections.abc import Iterable

from meshnet.crypto.identity import NodeId
from meshnet.errors import DecodeError, LocalError, RemoteError, StateError
from meshnet.ids import LinkId, TransportId
from meshnet.link.connection import LinkConnection
from meshnet.link.events import LinkEvent
from meshnet.link.fragment import Reassembler, split_frame
from meshnet.link.linktables import CloseTransport, LinkTables, TransportState
from meshnet.link.messages import TRANSPORT_HEADER, CloseReason, FrameType
from meshnet.link.sealbuffers import Payload
from meshnet.link.state import LinkState
from meshnet.link.status import LinkManagerStatus
from meshnet.wire.framing import Frame
from meshnet.wire.headroom import Outgoing

__all__ = ["CloseTransport", "LinkManager"]

_TRANSPORT_CODE = int(FrameType.TRANSPORT)


def _source_of(endpoint: str) -> str:
    """The address part of an endpoint such as ``udp:192.0.2.1:4000`` (port dropped)."""
    host, _, port = endpoint.rpartition(":")
    return host if host and port.isdigit() else endpoint


class LinkManager(LinkTables):
    """Links to every neighbour of one node, over any number of transports (the state,
    bookkeeping and handshakes are ``LinkTables``'s, ``link/linktables.py``, and so are
    the constructor's arguments)."""

    # -- the driver's verbs ----------------------------------------------------------

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
    ) -> None:
        """A carrier to a neighbour exists; on an outbound one, start the handshake.

        Raises:
            StateError: the transport id is already open.
        """
        if transport in self._transports:
            raise StateError(f"transport {transport} is already open")
        if mtu < 256:
            raise LocalError(f"transport MTU {mtu} is too small for link frames")
        reassembler = Reassembler(max_frame=self.config.max_payload + 4096) if datagram else None
        t = TransportState(
            id=transport,
            endpoint=endpoint,
            source=_source_of(endpoint),
            outbound=outbound,
            datagram=datagram,
            mtu=mtu,
            expected_peer=expected_peer,
            reassembler=reassembler,
        )
        self._transports[transport] = t
        if outbound:
            self._start_initiator(t, now)

    def link_of_transport(self, transport: TransportId) -> LinkId | None:
        """The link ``transport`` carries now (None: none, or the link moved away)."""
        t = self._transports.get(transport)
        if t is None or t.link is None or self._link_transport.get(t.link) != transport:
            return None
        return t.link

    def transport_closed(self, transport: TransportId, now: float) -> None:
        """The carrier went away: drop its handshake, and close the link riding on it."""
        t = self._transports.pop(transport, None)
        if t is None:
            return
        self._release_handshake(t)
        self._timers.set(("r", transport), None)
        if t.link is not None and self._link_transport.get(t.link) == transport:
            conn = self._links.get(t.link)
            if conn is not None:
                conn.transport_lost()
                self._sync(conn)

    def receive_datagram(
        self, transport: TransportId, data: bytes | memoryview, now: float
    ) -> None:
        """One frame from a transport. Bad frames are counted, never raised.

        ``data`` may be a view of the driver's read buffer, valid only during the call:
        a TRANSPORT frame is decrypted out of it and nothing of it is kept; any other
        frame (handshakes, fragments) is copied first.
        """
        t = self._transports.get(transport)
        if t is None:
            self._drop("unknown_transport")
            return
        try:
            if data and data[0] == _TRANSPORT_CODE:
                self._on_transport(t, data, now)
            else:
                self._receive(t, bytes(data), now)
        except RemoteError as exc:
            self._remote_failure(t, exc, now)

    def _quiet(self) -> bool:
        """Nothing queued: no event, no frame, no command, no link closing."""
        return not (self._events or self._outbox or self._raw or self._commands or self._closing)

    def _synced(self, conn: LinkConnection) -> bool:
        """Whether ``_sync(conn)`` has nothing to do (no deadline moved, same indices)."""
        if conn.timer_moved or conn.state is LinkState.CLOSED:
            return False
        known = self._link_indices.get(conn.link)
        return known is not None and known[0] == conn.indices_version

    def receive_payload(
        self, transport: TransportId, data: bytes | memoryview, now: float
    ) -> tuple[LinkId, NodeId, memoryview] | None:
        """``receive_datagram`` for the hot case: a DATA frame on an established link.

        When the manager had nothing queued and the frame was a DATA frame that caused
        nothing else (no event, no frame or command to send, no deadline or index
        moved), its link, neighbour and payload are returned, no event made: the caller
        hands the payload on at once (it may be lent, ``lend_payloads``). Otherwise
        None, and everything the frame caused is queued as by ``receive_datagram`` (a
        payload as a ``LinkPayloadReceived``). The link opens and counts the frame the
        same way either way (``LinkConnection.receive_data``).
        """
        t = self._transports.get(transport)
        index = int.from_bytes(data[1:5], "big")
        link = self._by_index.get(index) if len(data) >= 5 else None
        if (
            t is None
            or link is None
            or data[0] != _TRANSPORT_CODE
            or len(data) < TRANSPORT_HEADER.size
            or not self._quiet()
        ):
            self.receive_datagram(transport, data, now)  # the general way, counted there
            return None
        conn = self._links[link]
        try:
            opened = self._open_transport(t, conn, index, data, now)
        except RemoteError as exc:
            self._remote_failure(t, exc, now)
            return None
        if type(opened) is not memoryview:
            if not self._synced(conn):
                self._sync(conn)
            return None
        if (  # the frame caused more (``_quiet`` inline; tests/link/test_manager.py pins it)
            self._events
            or self._outbox
            or self._raw
            or self._commands
            or self._closing
            or not self._synced(conn)
        ):
            conn.queue_payload(opened)
            self._sync(conn)
            return None
        return link, conn.peer, opened

    def _receive(self, t: TransportState, data: bytes, now: float) -> None:
        if not data:
            raise DecodeError("empty frame")
        kind = data[0]
        if kind == FrameType.FRAGMENT:
            if t.reassembler is None:
                raise DecodeError("fragment on a stream transport")
            whole = t.reassembler.receive(data, now)
            self._timers.set(("r", t.id), t.reassembler.next_deadline())
            if whole is None:
                return
            data = whole
            kind = data[0] if data else 0
            if kind == FrameType.FRAGMENT:
                raise DecodeError("fragment inside a fragment")
        if kind == FrameType.TRANSPORT:
            self._on_transport(t, data, now)
        elif kind == FrameType.HANDSHAKE_INIT:
            self._on_init(t, data, now)
        elif kind == FrameType.HANDSHAKE_RESPONSE:
            self._on_response(t, data, now)
        elif kind == FrameType.HANDSHAKE_FINISH:
            self._on_finish(t, data, now)
        else:
            raise DecodeError(f"unknown frame type {kind:#x}")

    def _on_transport(self, t: TransportState, data: bytes | memoryview, now: float) -> None:
        if len(data) < TRANSPORT_HEADER.size:
            raise DecodeError("transport frame shorter than its header")
        index = int.from_bytes(data[1:5], "big")
        link = self._by_index.get(index)
        if link is None:
            self._drop("unknown_index")
            return
        conn = self._links[link]
        opened = self._open_transport(t, conn, index, data, now)
        if type(opened) is memoryview:
            conn.queue_payload(opened)
        self._sync(conn)

    def _open_transport(
        self,
        t: TransportState,
        conn: LinkConnection,
        index: int,
        data: bytes | memoryview,
        now: float,
    ) -> memoryview | bool:
        """Open a TRANSPORT frame on its link (``LinkConnection.receive_data``: a DATA
        payload is handed back, for the caller to queue or hand on); an authenticated
        frame from a datagram peer's new address moves the link there (roaming).

        Raises:
            RemoteError: the frame does not open or is not accepted (the caller's handling).
        """
        opened = conn.receive_data(index, data, now)
        if opened is not False and t.datagram and self._link_transport.get(conn.link) != t.id:
            self._move(conn, t)  # roaming: the peer now speaks from here
        return opened

    def _move(self, conn: LinkConnection, t: TransportState) -> None:
        old = self._transports.get(self._link_transport.get(conn.link, t.id))
        if old is not None and old.link == conn.link:
            old.link = None
        self._link_transport[conn.link] = t.id
        t.link = conn.link
        conn.endpoint = t.endpoint

    # -- commands from above ---------------------------------------------------------

    def send(
        self, link: LinkId, payload: Payload | Outgoing, now: float, *, prefix: bytes = b""
    ) -> None:
        """Send ``prefix + payload`` to the neighbour on ``link`` (joined once, when sealed).

        Raises:
            StateError: no such link is open.
            LocalError: the payload is over the link's size limit.
        """
        conn = self._links.get(link)
        if conn is None:
            raise StateError(f"link {link} is not open")
        conn.send_payload(payload, now, prefix=prefix)
        self._sync(conn)

    def send_now(
        self, link: LinkId, payload: Payload | Outgoing, now: float, *, prefix: bytes = b""
    ) -> tuple[TransportId, Frame] | None:
        """``send``, the sealed frame handed back for the caller to write at once.

        Only when nothing else was queued, the send caused nothing else (no event, no
        other frame, no deadline or index moved: a rekey it triggers goes the queued
        way) and the frame fits its transport unfragmented; then the frame is not
        queued and the caller writes it to the returned transport before anything else
        of ours, so frames stay in order. Otherwise None, and the frame is queued as by
        ``send``.

        Raises:
            StateError: no such link is open.
            LocalError: the payload is over the link's size limit.
        """
        conn = self._links.get(link)
        if conn is None or not self._quiet():
            self.send(link, payload, now, prefix=prefix)
            return None
        conn.send_payload(payload, now, prefix=prefix)
        if not self._synced(conn):
            self._sync(conn)
            return None
        outbox = self._outbox
        if len(outbox) != 1 or self._events or self._raw or self._commands or self._closing:
            return None
        tid = self._link_transport.get(link)
        t = self._transports.get(tid) if tid is not None else None
        frame = outbox[0][1]
        if t is None or (t.datagram and len(frame) > t.mtu):
            return None
        outbox.clear()
        return t.id, frame

    def close(self, link: LinkId, now: float, reason: CloseReason = CloseReason.NORMAL) -> None:
        """Close ``link`` with a goodbye to the neighbour; unknown links are ignored."""
        conn = self._links.get(link)
        if conn is not None:
            conn.close(now, reason)
            self._sync(conn)

    def link_to(self, peer: NodeId) -> LinkId | None:
        """The open link to ``peer``, if any."""
        return self._by_peer.get(peer)

    def peer_of(self, link: LinkId) -> NodeId | None:
        conn = self._links.get(link)
        return conn.peer if conn is not None else None

    def connection(self, link: LinkId) -> LinkConnection | None:
        return self._links.get(link)

    # -- output ----------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, Frame]]:
        """Frames to put on transports, in order. A large frame on a stream link is a view
        of a pooled buffer, reused only once nothing refers to it (sealbuffers.py)."""
        out: list[tuple[TransportId, Frame]] = []
        if not (self._raw or self._outbox or self._closing):
            return out
        for raw_tid, frame in self._raw:
            t = self._transports.get(raw_tid)
            if t is not None:
                self._put(out, t, frame)
        self._raw.clear()
        for link, sealed in self._outbox:
            tid = self._link_transport.get(link)
            t = self._transports.get(tid) if tid is not None else None
            if t is None:
                self._drop("no_transport")
            elif t.datagram:
                self._put(out, t, sealed)
            else:
                out.append((t.id, sealed))
        self._outbox.clear()
        for link in self._closing:
            tid = self._link_transport.pop(link, None)
            t = self._transports.get(tid) if tid is not None else None
            if t is not None and t.link == link:
                t.link = None
                if not t.datagram:
                    self._commands.append(CloseTransport(t.id, "link closed"))
        self._closing.clear()
        return out

    def _put(self, out: list[tuple[TransportId, Frame]], t: TransportState, frame: Frame) -> None:
        """Queue ``frame`` for ``t``, fragmented when a datagram transport needs it."""
        if t.datagram and len(frame) > t.mtu:
            self._frag_id += 1
            pieces = split_frame(frame, mtu=t.mtu, frame_id=self._frag_id)
            out.extend((t.id, piece) for piece in pieces)
        else:
            out.append((t.id, frame))

    def lend_payloads(self, codes: Iterable[int]) -> None:
        """Large DATA payloads whose first byte is one of ``codes`` come up as views of
        one reused buffer (``LinkPayloadReceived.payload``), not as their own copies:
        such a view is valid only until the next frame is received, so the caller
        consumes the event at once and copies what it keeps. Other payloads are copies.
        """
        self._buffers.lent = frozenset(codes)

    def transport_commands(self) -> list[CloseTransport]:
        commands, self._commands = self._commands, []
        return commands

    def next_event(self) -> LinkEvent | None:
        return self._events.popleft() if self._events else None

    # -- time ------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return self._timers.earliest()

    def handle_timer(self, now: float) -> None:
        for kind, key in self._timers.pop_due(now):
            if kind == "l":
                conn = self._links.get(LinkId(key))
                if conn is not None:
                    conn.handle_timer(now)
                    self._sync(conn)
            elif kind == "h":
                self._handshake_timer(TransportId(key), now)
            else:
                t = self._transports.get(TransportId(key))
                if t is not None and t.reassembler is not None:
                    t.reassembler.expire(now)
                    self._timers.set(("r", t.id), t.reassembler.next_deadline())

    # -- inspection ------------------------------------------------------------------

    def status(self, now: float) -> LinkManagerStatus:
        links = []
        for link in sorted(self._links):
            conn = self._links[link]
            links.append(conn.status(now))
        return LinkManagerStatus(
            links=tuple(links),
            handshakes_in_progress=sum(1 for t in self._transports.values() if t.handshake),
            transports=len(self._transports),
            drops=tuple(sorted(self._drops.items())),
        )
