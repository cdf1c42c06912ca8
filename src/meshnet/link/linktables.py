"""``LinkTables``: the link manager's tables, their bookkeeping, and its handshakes.

``LinkManager`` (``link/manager.py``) is built on this class, split by concern: here
the state every part shares (transports, links and the maps between them, the index
map, the timer heap, the queues of frames, events and commands), the bookkeeping that
keeps the tables in step with a connection (``_sync``, ``_forget``), and the handshake
intake: a handshake started on an outbound transport, INIT / RESPONSE / FINISH frames
answered, a completed handshake made a link or made to replace a known peer's old
connection (``_establish``, ``_keep_old``), handshake timers and failures. The manager
itself holds the verbs: transports opened and closed, frames in (the general way and the
fast path), sends, output, time and status.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.deadlines import DeadlineHeap
from meshnet.errors import DecodeError, PeerMismatchError, RemoteError
from meshnet.ids import LinkId, TransportId
from meshnet.link.config import LinkConfig
from meshnet.link.connection import LinkConnection, Outbox
from meshnet.link.events import (
    LinkEstablished,
    LinkEvent,
    LinkHandshakeFailed,
)
from meshnet.link.fragment import Reassembler
from meshnet.link.handshake import LinkHandshake
from meshnet.link.limits import SourceRateLimiter
from meshnet.link.messages import INIT_HEADER, CloseReason
from meshnet.link.sealbuffers import SealBuffers
from meshnet.link.state import LinkState

__all__ = ["CloseTransport", "LinkTables", "TransportState"]


@dataclass(frozen=True, slots=True)
class CloseTransport:
    """A request to the driver: shut this transport (after sending its queued frames)."""

    transport: TransportId
    reason: str


@dataclass(slots=True, eq=False)
class TransportState:
    """What the manager knows of one transport: its handshake, the link it carries."""

    id: TransportId
    endpoint: str
    source: str
    outbound: bool
    datagram: bool
    mtu: int
    expected_peer: NodeId | None
    reassembler: Reassembler | None
    handshake: LinkHandshake | None = None
    link: LinkId | None = None


class LinkTables:
    """The state of a ``LinkManager``, its bookkeeping and its handshake intake.

    Args:
        identity: the node's identity.
        config: link timers and limits.
        entropy: randomness for ephemeral keys and indices.
        verifier: the (shared, caching) signature verifier.
        extension: opaque bytes carried in our handshake payloads.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        config: LinkConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        extension: bytes = b"",
    ) -> None:
        self.identity = identity
        self.config = config
        self._entropy = entropy
        self._verifier = verifier
        self._extension = extension
        self._transports: dict[TransportId, TransportState] = {}
        self._links: dict[LinkId, LinkConnection] = {}
        self._link_transport: dict[LinkId, TransportId] = {}
        self._by_peer: dict[NodeId, LinkId] = {}
        self._by_index: dict[int, LinkId] = {}
        self._reserved: set[int] = set()
        self._link_indices: dict[LinkId, tuple[int, tuple[int, ...]]] = {}
        self._timers: DeadlineHeap[tuple[str, int]] = DeadlineHeap()
        self._limiter = SourceRateLimiter(rate=config.handshake_rate, burst=config.handshake_burst)
        self._outbox: Outbox = []
        self._buffers = SealBuffers()
        self._raw: list[tuple[TransportId, bytes]] = []
        self._events: deque[LinkEvent] = deque()
        self._commands: list[CloseTransport] = []
        self._closing: list[LinkId] = []
        self._drops: dict[str, int] = {}
        self._half_open = 0
        self._next_link = 1
        self._frag_id = 0

    # -- bookkeeping -----------------------------------------------------------------

    def _drop(self, reason: str) -> None:
        self._drops[reason] = self._drops.get(reason, 0) + 1

    def _allocate_index(self) -> int:
        while True:
            index = int.from_bytes(self._entropy.random_bytes(4), "big")
            if index and index not in self._by_index and index not in self._reserved:
                self._reserved.add(index)
                return index

    def _release_handshake(self, transport: TransportState) -> None:
        handshake = transport.handshake
        if handshake is None:
            return
        transport.handshake = None
        self._reserved.discard(handshake.local_index)
        if not handshake.outbound:
            self._half_open -= 1
        self._timers.set(("h", transport.id), None)

    def _sync(self, conn: LinkConnection) -> None:
        """Bring the index map, the timer heap and the link tables up to date."""
        link = conn.link
        if conn.state is LinkState.CLOSED:
            self._forget(conn)
            return
        known = self._link_indices.get(link)
        if known is None or known[0] != conn.indices_version:
            old = known[1] if known else ()
            new = conn.indices()
            for index in old:
                if index not in new and self._by_index.get(index) == link:
                    del self._by_index[index]
            for index in new:
                self._by_index[index] = link
                self._reserved.discard(index)
            self._link_indices[link] = (conn.indices_version, new)
        if conn.timer_moved:  # else the deadline held is still no later than the real one
            conn.timer_moved = False
            self._timers.set(("l", link), conn.get_timer())

    def _forget(self, conn: LinkConnection) -> None:
        link = conn.link
        if self._links.get(link) is not conn:
            return
        del self._links[link]
        if self._by_peer.get(conn.peer) == link:
            del self._by_peer[conn.peer]
        for index in self._link_indices.pop(link, (0, ()))[1]:
            if self._by_index.get(index) == link:
                del self._by_index[index]
        self._timers.set(("l", link), None)
        self._closing.append(link)  # its last frames still need their transport

    # -- handshakes ------------------------------------------------------------------

    def _start_initiator(self, t: TransportState, now: float) -> None:
        handshake = self._new_handshake(t, outbound=True, now=now)
        t.handshake = handshake
        self._raw.append((t.id, handshake.initiate(now)))
        self._timers.set(("h", t.id), handshake.get_timer())

    def _new_handshake(self, t: TransportState, *, outbound: bool, now: float) -> LinkHandshake:
        return LinkHandshake(
            identity=self.identity,
            outbound=outbound,
            local_index=self._allocate_index(),
            expected_peer=t.expected_peer,
            config=self.config,
            entropy=self._entropy,
            verifier=self._verifier,
            extension=self._extension,
            datagram=t.datagram,
            now=now,
        )

    def _handshake_failed(
        self,
        t: TransportState,
        *,
        outbound: bool,
        reason: CloseReason,
        detail: str,
        to_self: bool = False,
    ) -> None:
        """Report a handshake that ended without a link; a stream carrying it is shut."""
        self._events.append(
            LinkHandshakeFailed(
                transport=t.id,
                endpoint=t.endpoint,
                outbound=outbound,
                reason=reason,
                detail=detail,
                to_self=to_self,
            )
        )
        if not t.datagram and t.link is None:
            self._commands.append(CloseTransport(t.id, f"handshake failed: {detail}"))

    def _remote_failure(self, t: TransportState, exc: RemoteError, now: float) -> None:
        self._drop(type(exc).__name__)
        handshake = t.handshake
        if handshake is not None and handshake.failed:
            self._release_handshake(t)
            reason = (
                CloseReason.PEER_MISMATCH
                if isinstance(exc, PeerMismatchError)
                else CloseReason.HANDSHAKE_FAILED
            )
            self._handshake_failed(t, outbound=handshake.outbound, reason=reason, detail=str(exc))
        elif not t.datagram and t.link is None:
            # A stream that speaks garbage before a link exists is not worth keeping.
            self._commands.append(CloseTransport(t.id, f"protocol error: {exc}"))

    def _on_init(self, t: TransportState, data: bytes, now: float) -> None:
        handshake = t.handshake
        if handshake is not None:
            if handshake.is_retransmitted_init(data):
                self._raw.append((t.id, handshake.last_frame()))
                return
            # Both sides dialled over one datagram path: the lower first message stays
            # the initiator; the other side becomes its responder.
            ours = handshake.last_frame()[INIT_HEADER.size :]
            if handshake.outbound and ours < data[INIT_HEADER.size :]:
                self._drop("crossed_init")
                return
            self._release_handshake(t)
        elif t.link is not None and not t.datagram:
            raise DecodeError("handshake init on an established stream")
        if not self._limiter.allow(t.source, now):
            self._drop("rate_limited")
            return
        if self._half_open >= self.config.max_half_open:
            self._drop("half_open_full")
            return
        handshake = self._new_handshake(t, outbound=False, now=now)
        try:
            response = handshake.respond(data, now)
        except RemoteError:
            self._reserved.discard(handshake.local_index)
            raise
        t.handshake = handshake
        self._half_open += 1
        self._raw.append((t.id, response))
        self._timers.set(("h", t.id), handshake.get_timer())

    def _on_response(self, t: TransportState, data: bytes, now: float) -> None:
        handshake = t.handshake
        if handshake is None or not handshake.outbound:
            self._drop("unexpected_response")
            return
        handshake.read_response(data, now)
        self._establish(t, handshake, now)

    def _on_finish(self, t: TransportState, data: bytes, now: float) -> None:
        handshake = t.handshake
        if handshake is None or handshake.outbound:
            link = self._by_index.get(int.from_bytes(data[1:5], "big")) if len(data) >= 5 else None
            if link is None:
                self._drop("unexpected_finish")
                return
            conn = self._links[link]
            conn.reconfirm(now)  # our confirmation was lost; the initiator is still waiting
            self._sync(conn)
            return
        handshake.read_finish(data, now)
        self._establish(t, handshake, now)

    def _establish(self, t: TransportState, handshake: LinkHandshake, now: float) -> None:
        peer = handshake.peer
        self._release_handshake(t)
        if peer == self.identity.node_id:
            # We dialled our own address, or something reflected our handshake back.
            self._drop("link_to_self")
            detail = "the peer proved our own identity (a link to ourselves)"
            self._handshake_failed(
                t,
                outbound=handshake.outbound,
                reason=CloseReason.PEER_MISMATCH,
                detail=detail,
                to_self=True,
            )
            return
        self._reserved.add(handshake.local_index)  # still ours: the connection takes it
        link = self._by_peer.get(peer)
        old = self._links.get(link) if link is not None else None
        if old is not None and self._keep_old(old, outbound=handshake.outbound, now=now):
            self._reserved.discard(handshake.local_index)
            self._drop("duplicate_link")
            if not t.datagram:
                self._commands.append(CloseTransport(t.id, "a link to this peer exists"))
            return
        if old is not None and link is not None:
            old.retire()
            for index in self._link_indices.pop(link, (0, ()))[1]:
                self._by_index.pop(index, None)
            old_transport = self._link_transport.get(link)
            if old_transport is not None and old_transport != t.id:
                stale = self._transports.get(old_transport)
                if stale is not None:
                    stale.link = None
                    if not stale.datagram:
                        self._commands.append(CloseTransport(old_transport, "replaced"))
        else:
            link = LinkId(self._next_link)
            self._next_link += 1
        conn = handshake.build(
            now,
            link=link,
            outbox=self._outbox,
            events=self._events,
            allocate_index=self._allocate_index,
            buffers=self._buffers,
        )
        conn.endpoint = t.endpoint
        if old is None:
            self._events.append(
                LinkEstablished(
                    link=link,
                    peer=peer,
                    peer_record=conn.peer_record,
                    endpoint=t.endpoint,
                    transport=t.id,
                    datagram=t.datagram,
                    outbound=handshake.outbound,
                    extension=conn.peer_extension,
                )
            )
        self._links[link] = conn
        self._by_peer[peer] = link
        self._link_transport[link] = t.id
        t.link = link
        self._sync(conn)

    def _keep_old(self, old: LinkConnection, *, outbound: bool, now: float) -> bool:
        """Decide a race between an existing link and a new handshake with the same peer."""
        crossed = old.outbound != outbound and now - old.created < self.config.handshake_timeout
        if not crossed:
            return False  # a redial or a restart: the newer handshake wins
        me, peer = self.identity.node_id, old.peer
        old_initiator = me if old.outbound else peer
        new_initiator = me if outbound else peer
        return old_initiator < new_initiator

    def _handshake_timer(self, transport: TransportId, now: float) -> None:
        t = self._transports.get(transport)
        handshake = t.handshake if t is not None else None
        if t is None or handshake is None:
            return
        if handshake.timed_out(now):
            self._drop("handshake_timeout")
            self._release_handshake(t)
            self._handshake_failed(
                t,
                outbound=handshake.outbound,
                reason=CloseReason.HANDSHAKE_TIMEOUT,
                detail="no answer to the handshake",
            )
            return
        frame = handshake.handle_timer(now)
        if frame is not None:
            self._raw.append((t.id, frame))
        self._timers.set(("h", t.id), handshake.get_timer())
