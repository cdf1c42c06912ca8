"""``SessionManager``: every end-to-end session of a node, keyed by peer NodeId.

Theory of operation
-------------------
The routing layer below is an unreliable datagram service between NodeIds: it may
lose, duplicate, reorder and reroute packets at any time. The manager is the session
layer's one face to it and to the node (``node.Node`` wires it up):

1. *On demand*: ``send_datagram`` and ``open_stream`` create the session if needed
   (``WAITING_RECORD``, then ``INITIATING`` once ``lookup_record`` knows the peer's
   identity record); data waits in bounded queues until the keys exist.
2. *Demultiplexing*: INIT and RESPONSE fragments are reassembled per (source, kind,
   sender index); DATA packets go to the session of their source whose epochs hold
   the header's index: the live session, a *candidate* (a responder session for a
   peer that already has an established one, i.e. a restarted peer: it replaces the
   old one once its first packet confirms it) or a *closing* one (it answers CLOSE).
3. *Simultaneous opens*: the transition table decides (``INIT_FROM_LOWER`` /
   ``INIT_FROM_HIGHER``): the lower NodeId's handshake wins, both sides converge.
4. *A peer that forgot us*: a DATA packet from a peer with no session here (we
   restarted) makes us open a fresh session to it, at most once per
   ``handshake_timeout``, unless we closed that session ourselves recently.
5. *Limits*: at most ``max_sessions`` sessions; a new one evicts an unconfirmed
   responder first, then (for local demand only) the idlest session.

Every packet the manager cannot use is counted by reason (``status().drops``); a peer's
bad bytes never raise out of ``receive_packet``. Stream data is credited back to the
peer when the application *takes* the ``StreamDataReceived`` event from ``next_event``.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.deadlines import DeadlineHeap
from meshnet.errors import ConfigError, LocalError, RemoteError, StateError
from meshnet.ids import StreamId
from meshnet.session.builder import datagram_room
from meshnet.session.config import MAX_PACKET_LIMIT, MIN_PACKET, SessionConfig
from meshnet.session.events import (
    DatagramReceived,
    SessionEvent,
    StreamDataReceived,
)
from meshnet.session.fragments import Reassembler
from meshnet.session.frames import CloseReason
from meshnet.session.packets import DATA_OVERHEAD, Packet, PacketType, parse_handshake
from meshnet.session.session import Session
from meshnet.session.state import SessionInput, SessionState, Verdict, session_transition
from meshnet.session.status import SessionManagerStatus, SessionStatus
from meshnet.session.streams import ReceiveBudget

__all__ = ["SessionManager"]

_HANDSHAKING = (SessionState.WAITING_RECORD, SessionState.INITIATING, SessionState.RESPONDING)
_ESTABLISHED = (SessionState.ESTABLISHED, SessionState.REKEYING)
_MAX_REMEMBERED = 4096  # peers remembered for the restart rule (recently closed / probed)
_RECEIVED_DATAGRAM_BACKLOG = 1024


class SessionManager:
    """Sessions to every peer of one node (sans-IO).

    Args:
        identity: the node's identity.
        config: session timers, limits and windows.
        entropy: randomness for handshakes and indices.
        verifier: the (shared, caching) signature verifier.
        lookup_record: the identity record of a NodeId (from routing announcements),
            or None when unknown yet; asked again every ``record_retry`` seconds.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        config: SessionConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        lookup_record: Callable[[NodeId], IdentityRecord | None],
    ) -> None:
        self.identity = identity
        self.config = config
        self._entropy = entropy
        self._verifier = verifier
        self._lookup = lookup_record
        self._sessions: dict[NodeId, Session] = {}
        self._candidates: dict[NodeId, Session] = {}
        self._closing: dict[NodeId, Session] = {}
        self._streams: dict[StreamId, Session] = {}
        self._events: deque[SessionEvent] = deque()
        self._timers: DeadlineHeap[Session] = DeadlineHeap()
        self._dirty: dict[Session, None] = {}
        self.receive_budget = ReceiveBudget(config.max_grown_receive_memory)
        """Node-wide allowance for receive-window growth (``SessionConfig``)."""
        self._sent_at = 0.0  # the time of the last packets_to_send (the latest we know)
        self._max_packet: dict[NodeId, int] = {}
        self._assembly: Reassembler[tuple[NodeId, int, int]] = Reassembler(
            max_pending=64, timeout=config.handshake_timeout
        )
        self._recent: OrderedDict[NodeId, float] = OrderedDict()  # closed or probed: when
        self._drops: dict[str, int] = {}
        # every DATA packet is opened here; made at the first one, so a node that never
        # receives end-to-end data (a pure relay, or each of 1,000 in-memory nodes of a
        # benchmark or simulation) does not hold 64 KiB of touched memory for nothing
        self._plaintext: bytearray | None = None
        self._next_stream = 0
        self._ping_tokens = 0
        self._datagram_backlog = 0
        self._tokens = float(config.handshake_burst)
        self._tokens_at = 0.0

    # -- helpers -------------------------------------------------------------------------

    def _drop(self, reason: str) -> None:
        self._drops[reason] = self._drops.get(reason, 0) + 1

    def _allocate_index(self) -> int:
        return int.from_bytes(self._entropy.random_bytes(4), "big") or 1

    def _allocate_handle(self, session: Session) -> StreamId:
        self._next_stream += 1
        handle = StreamId(self._next_stream)
        self._streams[handle] = session
        return handle

    def _release_handle(self, handle: StreamId) -> None:
        self._streams.pop(handle, None)

    def _handshake_allowed(self, now: float) -> bool:
        """Take a token from the responder handshake bucket (rate and burst in config)."""
        config = self.config
        elapsed = max(0.0, now - self._tokens_at)
        self._tokens = min(config.handshake_burst, self._tokens + elapsed * config.handshake_rate)
        self._tokens_at = now
        if self._tokens < 1.0:
            self._drop("handshake_rate")
            return False
        self._tokens -= 1.0
        return True

    def _datagram_allowed(self) -> bool:
        if self._datagram_backlog >= _RECEIVED_DATAGRAM_BACKLOG:
            return False
        self._datagram_backlog += 1
        return True

    def _new_session(self, peer: NodeId, now: float) -> Session:
        return Session(
            peer=peer,
            identity=self.identity,
            config=self.config,
            entropy=self._entropy,
            verifier=self._verifier,
            events=self._events,
            lookup_record=self._lookup,
            allocate_index=self._allocate_index,
            allocate_handle=self._allocate_handle,
            release_handle=self._release_handle,
            receive_budget=self.receive_budget,
            datagram_allowed=self._datagram_allowed,
            max_packet=self._max_packet.get(peer, self.config.max_packet),
            now=now,
        )

    def _touch(self, session: Session) -> None:
        """After any change to ``session``: file it, re-arm its timer, mark it to send."""
        peer = session.peer
        state = session.state
        if state is SessionState.CLOSED:
            self._forget(session)
            return
        if state is SessionState.CLOSING and self._sessions.get(peer) is session:
            del self._sessions[peer]
            self._remember(peer, session.linger_until)
            old = self._closing.get(peer)
            if old is not None and old is not session:
                self._forget(old)
            self._closing[peer] = session
        # Its timer is re-armed when it leaves ``_dirty`` (packets_to_send, or first
        # thing in handle_timer): one ``Session.get_timer`` per pump, not per change.
        self._dirty[session] = None

    def _forget(self, session: Session) -> None:
        peer = session.peer
        for table in (self._sessions, self._candidates, self._closing):
            if table.get(peer) is session:
                del table[peer]
        self._timers.set(session, None)
        self._dirty.pop(session, None)
        session.streams.release_budget()
        if session.established_reported:
            self._remember(peer, session.closed_at)

    def _remember(self, peer: NodeId, when: float) -> None:
        recent = self._recent
        recent[peer] = max(when, recent.pop(peer, when))
        while len(recent) > _MAX_REMEMBERED:
            recent.popitem(last=False)

    def _make_room(self, now: float, *, local: bool) -> bool:
        """Keep under ``max_sessions``; True when there is room for one more."""
        if len(self._sessions) + len(self._candidates) < self.config.max_sessions:
            return True
        for table in (self._candidates, self._sessions):
            for session in table.values():
                if session.state is SessionState.RESPONDING and not session.app_involved:
                    reason = CloseReason.OVERLOADED
                    session.fail(SessionInput.CLOSE_REQUESTED, reason, "evicted", now)
                    self._touch(session)
                    return True
        if not local or not self._sessions:
            return False
        idlest = min(self._sessions.values(), key=lambda s: s.last_activity)
        idlest.close(now, CloseReason.OVERLOADED, "too many sessions")
        self._touch(idlest)
        return True

    def _session_for(self, peer: NodeId, now: float) -> Session:
        """The live session to ``peer``, opening one on demand."""
        session = self._sessions.get(peer)
        if session is not None:
            return session
        if peer == self.identity.node_id:
            raise LocalError("a node cannot open a session to itself")
        if not self._make_room(now, local=True):
            raise StateError("the session table is full")
        session = self._new_session(peer, now)
        self._sessions[peer] = session
        session.begin(now)
        self._touch(session)
        return session

    # -- commands ------------------------------------------------------------------------

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> None:
        """Send one unreliable datagram, opening the session if needed.

        While the session handshakes, datagrams wait in a bounded queue (the oldest is
        dropped when it is full).

        Raises:
            LocalError: the payload is larger than one packet to this peer allows
                (``max_datagram(destination)``), or the destination is this node.
        """
        session = self._session_for(destination, now)
        session.send_datagram(payload, now)
        self._touch(session)

    def ping(self, destination: NodeId, now: float) -> int:
        """Probe ``destination`` end to end, opening the session if needed.

        Returns:
            A token; ``PingAnswered`` with it carries the round-trip time once the
            peer acknowledges the probe. There is no answer if the session fails
            (``SessionHandshakeFailed`` or ``SessionClosed`` says why).

        Raises:
            StateError: too many pings to this peer are waiting.
            LocalError: the destination is this node.
        """
        session = self._session_for(destination, now)
        self._ping_tokens += 1
        session.ping(self._ping_tokens, now)
        self._touch(session)
        return self._ping_tokens

    def max_datagram(self, destination: NodeId) -> int:
        """The largest datagram payload ``send_datagram`` accepts for ``destination``."""
        return datagram_room(self._max_packet.get(destination, self.config.max_packet))

    def open_stream(self, destination: NodeId, now: float, *, service: int = 0) -> StreamId:
        """Open a reliable stream to ``destination``'s ``service``, opening the session.

        Raises:
            StateError: ``max_streams`` of our streams to this peer are open already.
            LocalError: the destination is this node, or ``service`` is negative.
        """
        if service < 0:
            raise LocalError("a service number is not negative")
        session = self._session_for(destination, now)
        session.require_open()
        session.app_involved = True
        handle = session.streams.open(service, now)
        self._touch(session)
        return handle

    def _stream_session(self, stream: StreamId) -> Session:
        session = self._streams.get(stream)
        if session is None:
            raise StateError(f"stream {stream} is closed or unknown")
        return session

    def stream_send(self, stream: StreamId, data: bytes, now: float) -> int:
        """Queue bytes on a stream; return how many were accepted.

        Fewer than ``len(data)`` means the send buffer is full: a ``StreamWritable``
        event says when to try again.

        Raises:
            StateError: the stream is unknown, finished or reset.
        """
        session = self._stream_session(stream)
        taken = session.streams.write(stream, data, now)
        self._touch(session)
        return taken

    def stream_close(self, stream: StreamId, now: float) -> None:
        """Finish our direction: the peer gets ``StreamFinished`` after all the data.

        Raises:
            StateError: the stream is unknown or was reset.
        """
        session = self._stream_session(stream)
        session.streams.finish(stream)
        self._touch(session)

    def stream_reset(self, stream: StreamId, now: float, error_code: int = 0) -> None:
        """Abandon both directions of a stream at once (RESET_STREAM and STOP_SENDING).

        Raises:
            StateError: the stream is unknown.
            LocalError: ``error_code`` is negative.
        """
        if error_code < 0:
            raise LocalError("an error code is not negative")
        session = self._stream_session(stream)
        session.streams.reset(stream, error_code)
        self._touch(session)

    def close_session(self, peer: NodeId, now: float) -> None:
        """Close the session to ``peer`` (CLOSE to the peer; no-op when there is none)."""
        session = self._sessions.get(peer)
        if session is not None:
            session.close(now)
            self._touch(session)
        candidate = self._candidates.get(peer)
        if candidate is not None:
            self._forget(candidate)

    def set_max_packet(self, peer: NodeId, size: int) -> None:
        """Set the packet size budget towards ``peer`` (the path MTU minus routing).

        Raises:
            ConfigError: ``size`` is outside ``[MIN_PACKET, MAX_PACKET_LIMIT]``.
        """
        if not MIN_PACKET <= size <= MAX_PACKET_LIMIT:
            raise ConfigError(f"max_packet must be between {MIN_PACKET} and {MAX_PACKET_LIMIT}")
        self._max_packet[peer] = size
        for table in (self._sessions, self._candidates):
            session = table.get(peer)
            if session is not None:
                session.set_max_packet(size)
                self._touch(session)

    def path_changed(self, peer: NodeId, now: float) -> None:
        """Routing moved ``peer`` to another path: start RTT and window over."""
        session = self._sessions.get(peer)
        if session is not None:
            session.path_changed()
            self._touch(session)

    # -- bytes from below ----------------------------------------------------------------

    def receive_packet(
        self, source: NodeId, data: bytes | memoryview, now: float, *, room: int = 0
    ) -> None:
        """Take one packet the routing layer delivered from ``source``. Never raises
        for bad bytes: they are counted in ``status().drops``.

        ``room`` is the largest packet the path it came over carries whole when every
        link of it is a stream link, else 0 (``PacketDelivered.room``); the session
        reports it to the peer, which may then send larger packets.
        """
        if len(data) < 1:
            self._drop("empty")
            return
        if len(data) > MAX_PACKET_LIMIT + 64:
            self._drop("oversize")
            return
        kind = data[0]
        try:
            if kind == PacketType.DATA:
                self._on_data(source, data, now, room)  # opened from the view, no copy
            elif kind in (PacketType.HANDSHAKE_INIT, PacketType.HANDSHAKE_RESPONSE):
                self._on_handshake(source, bytes(data), now)
            else:
                self._drop("unknown_type")
        except RemoteError as exc:
            self._drop(type(exc).__name__.removesuffix("Error").lower() or "remote")

    def _on_data(self, source: NodeId, data: bytes | memoryview, now: float, room: int) -> None:
        if len(data) < DATA_OVERHEAD:
            self._drop("short")
            return
        index = int.from_bytes(data[1:5], "big")
        target: Session | None = None
        for table in (self._sessions, self._candidates, self._closing):
            session = table.get(source)
            keys = session.keys if session is not None else None
            if keys is not None and index in keys.indices():
                target = session
                break
        if target is None:
            self._drop("unknown_session")
            self._maybe_reopen(source, now)
            return
        try:
            into = self._plaintext
            if into is None:
                into = self._plaintext = bytearray(MAX_PACKET_LIMIT)
            target.receive_data(data, now, room=room, into=into)
        finally:
            self._touch(target)
        if target is self._candidates.get(source) and target.state in _ESTABLISHED:
            self._promote(target, now)

    def _promote(self, candidate: Session, now: float) -> None:
        peer = candidate.peer
        del self._candidates[peer]
        old = self._sessions.get(peer)
        if old is not None:
            old.replace(now)
            self._touch(old)
        self._sessions[peer] = candidate
        candidate.announce_established()  # after the old session's SessionClosed
        self._touch(candidate)

    def _maybe_reopen(self, source: NodeId, now: float) -> None:
        """A peer sends on keys we do not know: we restarted; open a fresh session."""
        if source in self._sessions or source == self.identity.node_id:
            return
        seen = self._recent.get(source)
        if seen is not None and now < seen + max(self.config.idle_timeout, 1.0):
            return
        if self._lookup(source) is None or not self._make_room(now, local=False):
            return
        self._remember(source, now)
        session = self._new_session(source, now)
        self._sessions[source] = session
        session.begin(now)
        session.app_involved = False
        self._touch(session)

    def _on_handshake(self, source: NodeId, data: bytes, now: float) -> None:
        fragment = parse_handshake(data)
        if fragment.kind is PacketType.HANDSHAKE_INIT:
            for table in (self._sessions, self._candidates):
                session = table.get(source)
                if session is not None and session.answering(fragment.sender):
                    session.resend_response(now)  # any piece of a resent INIT will do
                    self._touch(session)
                    return
        key = (source, int(fragment.kind), fragment.sender)
        message = self._assembly.add(key, fragment.fragment, fragment.count, fragment.chunk, now)
        if message is None:
            return
        if fragment.kind is PacketType.HANDSHAKE_INIT:
            self._on_init(source, fragment.sender, message, now)
        else:
            self._on_response(source, fragment.sender, fragment.receiver, message, now)

    def _on_init(self, source: NodeId, sender: int, message: bytes, now: float) -> None:
        if source == self.identity.node_id:
            self._drop("init_from_self")
            return
        inp = (
            SessionInput.INIT_FROM_LOWER
            if source < self.identity.node_id
            else SessionInput.INIT_FROM_HIGHER
        )
        session = self._sessions.get(source)
        candidate = self._candidates.get(source)
        for answered in (session, candidate):
            if answered is not None and answered.answered(sender, message):
                answered.resend_response(now)  # a resent INIT: answer it again
                self._touch(answered)
                return
        if session is not None and session_transition(session.state, inp).verdict is not (
            Verdict.ACCEPT
        ):
            self._drop("init_collision")  # our own attempt wins the tie
            return
        if not self._handshake_allowed(now):
            return
        if session is not None and session.state in _HANDSHAKING:
            session.respond(sender, message, inp, now)
            self._touch(session)
            return
        if session is None and not self._make_room(now, local=False):
            self._drop("session_limit")
            return
        fresh = self._new_session(source, now)
        fresh.announce = session is None
        fresh.respond(sender, message, inp, now)  # raises before filing: no trace
        if session is None:
            self._sessions[source] = fresh
        else:  # established: a candidate that replaces it once confirmed
            if candidate is not None:
                self._forget(candidate)
            self._candidates[source] = fresh
        self._touch(fresh)

    def _on_response(
        self, source: NodeId, sender: int, receiver: int, message: bytes, now: float
    ) -> None:
        session = self._sessions.get(source)
        handshake = session.handshake if session is not None else None
        if (
            session is None
            or handshake is None
            or session.state is not SessionState.INITIATING
            or receiver != handshake.local_index
        ):
            self._drop("stale_response")
            return
        try:
            session.on_response(sender, message, now)
        except RemoteError:
            session.restart_initiator(now)  # the Noise state is spoiled: try afresh
            raise
        finally:
            self._touch(session)

    # -- bytes going down, events going up -----------------------------------------------

    def packets_to_send(self, now: float) -> list[tuple[NodeId, Packet]]:
        """Every packet to hand to the routing layer now, each at most the peer's
        packet size budget (DATA packets in a ``Headroom``: the router writes its header
        in front without copying the packet)."""
        out: list[tuple[NodeId, Packet]] = []
        dirty = self._dirty
        self._dirty = {}
        self._sent_at = now
        for session in dirty:
            peer = session.peer
            for packet in session.packets(now):
                out.append((peer, packet))
            if session.state is SessionState.CLOSED:
                self._forget(session)
            else:
                self._timers.set(session, session.get_timer())
                if session.has_more:
                    self._dirty[session] = None  # a burst's worth went out: more next call
        return out

    def next_event(self) -> SessionEvent | None:
        """The next event, or None. Taking a ``StreamDataReceived`` gives the peer
        credit to send as many more bytes on that stream."""
        if not self._events:
            return None
        event = self._events.popleft()
        if isinstance(event, StreamDataReceived):
            session = self._streams.get(event.stream)
            if session is not None:
                session.on_consumed(event.stream, len(event.data), self._sent_at)
                self._touch(session)
        elif isinstance(event, DatagramReceived):
            self._datagram_backlog -= 1
        return event

    # -- time ----------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The earliest time ``handle_timer`` must run, or None (now while a session
        has packets that did not fit the last ``packets_to_send`` call's burst)."""
        if self._dirty:
            return self._sent_at
        return self._timers.earliest()

    def handle_timer(self, now: float) -> None:
        """Run every session timer that is due."""
        timers = self._timers
        for session in self._dirty:  # changed since their deadline was filed
            timers.set(session, session.get_timer())
        for session in timers.pop_due(now):
            session.handle_timer(now)
            self._touch(session)

    # -- inspection ----------------------------------------------------------------------

    def session_state(self, peer: NodeId) -> SessionState | None:
        """The state of the live session to ``peer``, or None."""
        session = self._sessions.get(peer)
        return session.state if session is not None else None

    def status(self, now: float) -> SessionManagerStatus:
        """A snapshot of every session (live, candidate and closing)."""
        sessions: list[SessionStatus] = []
        for table in (self._sessions, self._candidates, self._closing):
            sessions.extend(session.status(now) for session in table.values())
        return SessionManagerStatus(
            sessions=tuple(sessions), drops=tuple(sorted(self._drops.items()))
        )
