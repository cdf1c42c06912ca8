"""``Session``: one end-to-end session with one peer: handshake, keys, frames, recovery.

Theory of operation (docs/protocol/session.md)
----------------------------------------------
A session exists as soon as the application wants one (or a peer's INIT arrives); the
handshake, the key epochs (``keys.py``), the streams (``streamset.py``), loss recovery
(``recovery.py``) and acknowledgements (``acks.py``) all hang off it. Its state follows
``state.SESSION_TRANSITIONS`` and changes nowhere else.

Outgoing pipeline (``packets``), one DATA packet at a time, never over ``max_packet``:

1. an ACK frame when one is due (or rides along for free with other frames);
2. if the congestion window allows (or a probe is owed): REKEY fragments, control
   frames (credit, resets, MAX_STREAMS), queued datagrams, then STREAM frames
   round-robin over the streams, retransmissions first; a PING when a packet must
   elicit an acknowledgement but has nothing else;
3. seal under the current epoch with a fresh packet number; remember what it carried.

Incoming pipeline (``receive_data``): open with the epoch the header names (replay
window first), note the packet number for the next ACK, then apply each frame. A packet
that authenticates but breaks a rule (bad frame, beyond credit) closes the session with
``PROTOCOL_ERROR``: the peer holds our keys, so it is buggy or hostile, not noise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import DecodeError, LocalError, RemoteError, StateError
from meshnet.ids import StreamId
from meshnet.session.acks import AckTracker
from meshnet.session.builder import PacketBuilder, PingProbe, datagram_room
from meshnet.session.config import MIN_PACKET, SessionConfig
from meshnet.session.events import (
    DatagramReceived,
    PingAnswered,
    SessionClosed,
    SessionEstablished,
    SessionEvent,
    SessionHandshakeFailed,
)
from meshnet.session.frames import (
    Ack,
    Close,
    CloseReason,
    Datagram,
    Frame,
    MaxData,
    MaxStreamData,
    MaxStreams,
    PathRoom,
    Rekey,
    ResetStream,
    StopSending,
    Stream,
    StreamErrorCode,
    decode_frames,
)
from meshnet.session.handshake import SessionHandshake
from meshnet.session.keys import KeyRing
from meshnet.session.packets import Packet
from meshnet.session.recovery import LossRecovery, SentPacket
from meshnet.session.state import SessionInput, SessionState, Verdict, session_transition
from meshnet.session.status import SessionStatus
from meshnet.session.streams import ReceiveBudget
from meshnet.session.streamset import StreamSet
from meshnet.wire.buffer import Reader

__all__ = ["Session"]

_PROBE_PACKETS = 2
_BURST = 256 * 1024
"""Sealed bytes one ``packets`` call returns at most. A wide congestion window would
otherwise pour megabytes into the routing layer's bounded link queue at once, which
drops what does not fit (a loss the sender made itself); the rest goes out on the
next call, after the driver has written this burst."""
_MAX_QUEUED_PINGS = 64  # application pings waiting for one packet
_CLOSE_REPEAT = 0.5  # in CLOSING, answer the peer's packets with CLOSE at most this often
_I = SessionInput
_S = SessionState
_LIVE_KEYS = (_S.ESTABLISHED, _S.REKEYING)
_NOT_ELICITING = (Ack, Close, PathRoom)  # frames that elicit no acknowledgement (§4)


class Session:
    """The session with one peer (created by ``SessionManager``)."""

    def __init__(
        self,
        *,
        peer: NodeId,
        identity: Identity,
        config: SessionConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        events: deque[SessionEvent],
        lookup_record: Callable[[NodeId], IdentityRecord | None],
        allocate_index: Callable[[], int],
        allocate_handle: Callable[[Session], StreamId],
        release_handle: Callable[[StreamId], None],
        receive_budget: ReceiveBudget | None = None,
        datagram_allowed: Callable[[], bool],
        max_packet: int,
        now: float,
    ) -> None:
        self.peer = peer
        self.state = SessionState.WAITING_RECORD
        self.created = now
        self.initiator = False
        self.app_involved = False  # the application asked for this session or used it
        self.established_reported = False
        self.announce = True  # False for a candidate: the manager reports it on promotion
        self.max_packet = max_packet  # in use now: the base, or more on a stream path
        self.base_max_packet = max_packet
        self.path_room = 0  # what the peer last reported of the path to it (PATH_ROOM)
        self.has_more = False  # the last ``packets`` call stopped at its byte budget
        self.handshake: SessionHandshake | None = None
        self.keys: KeyRing | None = None
        self._identity = identity
        self._config = config
        self._entropy = entropy
        self._verifier = verifier
        self._events = events
        self._lookup = lookup_record
        self._allocate_index = allocate_index
        self._datagram_allowed = datagram_allowed
        self.streams = StreamSet(
            local=identity.node_id,
            peer=peer,
            config=config,
            events=events,
            allocate_handle=lambda: allocate_handle(self),
            release_handle=release_handle,
            budget=receive_budget,
        )
        self.recovery = LossRecovery(
            initial_rtt=config.initial_rtt,
            max_ack_delay=config.max_ack_delay,
            max_probe_timeout=config.max_probe_timeout,
            max_datagram=max_packet,
        )
        self.acks = AckTracker(config.max_ack_delay)
        self.out = PacketBuilder(
            streams=self.streams, acks=self.acks, recovery=self.recovery, now=now
        )
        self._handshake_out: list[bytes] = []
        self._answered_init: tuple[int, bytes] | None = None
        self._response_sent_at = float("-inf")
        self._close_frame: Close | None = None
        self._close_due = False
        self._close_sent_at = float("-inf")
        self.linger_until = 0.0
        self.closed_at = 0.0
        self.record_deadline = now + config.record_timeout
        self.next_lookup = now
        self.last_received = now
        self._last_activity = now
        self.bytes_received = self.packets_received = 0
        self.probes = 0
        self.drops: dict[str, int] = {}

    # -- small helpers -------------------------------------------------------------------

    def drop(self, reason: str) -> None:
        """Count a dropped packet, frame or datagram under ``reason``."""
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _apply(self, inp: SessionInput) -> bool:
        result = session_transition(self.state, inp)
        if result.verdict is not Verdict.ACCEPT:
            return False
        self.state = result.next_state
        return True

    @property
    def last_activity(self) -> float:
        """The last time the application's data moved either way."""
        return max(self._last_activity, self.streams.last_activity)

    # -- handshake -----------------------------------------------------------------------

    def begin(self, now: float) -> None:
        """Start as initiator: look the peer's record up, and send INIT when found."""
        self.initiator = True
        self.app_involved = True
        self._try_lookup(now)

    def _try_lookup(self, now: float) -> None:
        record = self._lookup(self.peer)
        if record is None or record.node_id != self.peer:
            self.next_lookup = now + self._config.record_retry
            return
        try:
            handshake = self._new_handshake(initiator=True, record=record, now=now)
        except (RemoteError, ValueError):
            self.drop("bad_record")  # a record that does not verify: ask again later
            self.next_lookup = now + self._config.record_retry
            return
        if self._apply(_I.RECORD_FOUND):
            self.handshake = handshake
            self._handshake_out = handshake.packets(self.max_packet)

    def restart_initiator(self, now: float) -> None:
        """Our attempt was spoiled (a forged RESPONSE): start a fresh one at once.

        The state stays ``INITIATING``; the deadline starts over with the new attempt.
        """
        record = self._lookup(self.peer)
        if self.state is not _S.INITIATING or record is None or record.node_id != self.peer:
            return
        try:
            handshake = self._new_handshake(initiator=True, record=record, now=now)
        except (RemoteError, ValueError):
            self.drop("bad_record")
            return
        self.handshake = handshake
        self._handshake_out = handshake.packets(self.max_packet)

    def _new_handshake(
        self, *, initiator: bool, record: IdentityRecord | None, now: float
    ) -> SessionHandshake:
        return SessionHandshake(
            identity=self._identity,
            initiator=initiator,
            peer=self.peer,
            peer_record=record,
            config=self._config,
            entropy=self._entropy,
            verifier=self._verifier,
            local_index=self._allocate_index(),
            parameters=self.streams.parameters(),
            now=now,
        )

    def answered(self, sender: int, message: bytes) -> bool:
        """True when ``message`` is the INIT this session already answered."""
        handshake = self.handshake
        if handshake is not None and not handshake.initiator:
            return handshake.remote_index == sender and handshake.init_message == message
        return self._answered_init == (sender, message)

    def answering(self, sender: int) -> bool:
        """True while we wait for the confirmation of our answer to INIT ``sender``."""
        handshake = self.handshake
        return (
            self.state is _S.RESPONDING
            and handshake is not None
            and handshake.remote_index == sender
        )

    def resend_response(self, now: float) -> None:
        """Send our RESPONSE again (the initiator resent its INIT), at most twice per
        ``handshake_retry``: a copied INIT header must not make us a flood amplifier."""
        handshake = self.handshake
        if handshake is None or handshake.initiator or self.state is not _S.RESPONDING:
            return
        if now - self._response_sent_at < self._config.handshake_retry / 2:
            return
        self._response_sent_at = now
        self._handshake_out = handshake.packets(self.max_packet)

    def respond(self, sender: int, message: bytes, inp: SessionInput, now: float) -> None:
        """Answer a peer's INIT (the caller checked ``inp`` is accepted here).

        Raises:
            RemoteError: the INIT fails; the session is left as it was.
        """
        handshake = self._new_handshake(initiator=False, record=None, now=now)
        handshake.respond(sender, message)
        params = handshake.peer_parameters()
        if not self._apply(inp):
            return
        if self.keys is not None:
            self.keys.clear()
        self.handshake = handshake
        self.initiator = False
        self.keys = self._key_ring(handshake, now)
        self.streams.set_peer_parameters(params)
        self._handshake_out = handshake.packets(self.max_packet)
        self._response_sent_at = now

    def _key_ring(self, handshake: SessionHandshake, now: float) -> KeyRing:
        result = handshake.result()
        return KeyRing(
            identity=self._identity,
            peer_record=result.peer_record,
            config=self._config,
            entropy=self._entropy,
            verifier=self._verifier,
            result=result,
            local_index=handshake.local_index,
            remote_index=handshake.remote_index,
            initiator=handshake.initiator,
            now=now,
            allocate_index=self._allocate_index,
        )

    def on_response(self, sender: int, message: bytes, now: float) -> None:
        """Read the RESPONSE to our INIT: the session is established.

        Raises:
            RemoteError: the response fails (the attempt is then spoiled).
        """
        handshake = self.handshake
        if handshake is None or self.state is not _S.INITIATING:
            return
        handshake.read_response(sender, message)
        params = handshake.peer_parameters()
        self.keys = self._key_ring(handshake, now)
        self.streams.set_peer_parameters(params)
        if not handshake.retransmitted:  # the first RTT sample: INIT to RESPONSE
            self.recovery.rtt.update(now - handshake.started, 0.0, 0.0)
        self._apply(_I.RESPONSE_RECEIVED)
        self.handshake = None
        self.out.ping_needed = True  # confirms the keys to the responder at once
        self.last_received = now
        self._established()

    def _established(self) -> None:
        self.established_reported = True
        if self.announce:
            self._events.append(SessionEstablished(self.peer, self.initiator))

    def announce_established(self) -> None:
        """Report the establishment held back while this session was a candidate."""
        self.announce = True
        if self.established_reported:
            self._events.append(SessionEstablished(self.peer, self.initiator))

    # -- commands ------------------------------------------------------------------------

    def send_datagram(self, payload: bytes, now: float) -> None:
        """Queue one datagram (dropping the oldest queued one when the queue is full).

        Raises:
            StateError: the session is closing.
            LocalError: the payload does not fit one packet to this peer.
        """
        session_transition(self.state, _I.SEND_REQUESTED)
        if len(payload) > datagram_room(self.max_packet):
            raise LocalError(
                f"datagram of {len(payload)} bytes over the limit "
                f"{datagram_room(self.max_packet)} towards this peer"
            )
        config = self._config
        dropped = self.out.queue_datagram(
            payload, max_count=config.max_queued_datagrams, max_bytes=config.max_queued_bytes
        )
        if dropped:
            self.drops["datagram_queue_full"] = self.drops.get("datagram_queue_full", 0) + dropped
        self.app_involved = True
        self._last_activity = now

    def ping(self, token: int, now: float) -> None:
        """Probe the peer: ``PingAnswered(token)`` follows its acknowledgement.

        Sent as soon as the session is established (queued while it handshakes); a lost
        probe is sent again, and the answer says how often.

        Raises:
            StateError: the session is closing.
        """
        session_transition(self.state, _I.SEND_REQUESTED)
        if len(self.out.pings) >= _MAX_QUEUED_PINGS:
            raise StateError(f"{_MAX_QUEUED_PINGS} pings to this peer are waiting already")
        self.out.pings.append(PingProbe(token))
        self.app_involved = True
        self._last_activity = now

    def require_open(self) -> None:
        """Raise ``StateError`` unless the application may still use this session."""
        session_transition(self.state, _I.SEND_REQUESTED)

    def close(self, now: float, reason: CloseReason = CloseReason.NORMAL, detail: str = "") -> None:
        """Close locally: say CLOSE (if keys exist) and linger; report ``SessionClosed``."""
        self._end(_I.CLOSE_REQUESTED, reason, detail or reason.name.lower(), now)

    def replace(self, now: float) -> None:
        """A confirmed newer session with the same peer took over."""
        self._end(_I.REPLACED, CloseReason.REPLACED, "replaced by a new handshake", now)

    def _end(
        self,
        inp: SessionInput,
        reason: CloseReason,
        detail: str,
        now: float,
        *,
        by_peer: bool = False,
    ) -> None:
        if not self._apply(inp):
            return
        self.closed_at = now
        dropped = self.out.drop_datagrams()
        self._handshake_out = []
        self.handshake = None
        self.streams.close_all(StreamErrorCode.SESSION_CLOSED)
        self.recovery.discard_all()
        if self.state is _S.CLOSING:
            self._close_frame = Close(reason, detail)
            self._close_due = True
            self.linger_until = now + self._config.close_linger
        elif self.keys is not None:
            self.keys.clear()
        if self.established_reported or (inp is _I.CLOSE_REQUESTED and self.app_involved):
            self._events.append(
                SessionClosed(peer=self.peer, reason=reason, detail=detail, by_peer=by_peer)
            )
        elif self.app_involved:
            self._events.append(
                SessionHandshakeFailed(
                    peer=self.peer, reason=reason, detail=detail, dropped_datagrams=dropped
                )
            )

    def fail(self, inp: SessionInput, reason: CloseReason, detail: str, now: float) -> None:
        """End the session for ``inp`` (a timeout or a violation)."""
        self._end(inp, reason, detail, now)

    def path_changed(self) -> None:
        """Routing moved the peer to another path: restart RTT and window, and go back
        to the base packet size until the peer reports the new path's room."""
        self.recovery.path_changed()
        self.path_room = 0
        self._resize()

    def set_max_packet(self, size: int) -> None:
        """Use a new base packet size budget; drop queued datagrams that no longer fit."""
        self.base_max_packet = size
        self._resize()

    def _on_path_room(self, room: int) -> None:
        """The peer says how large a packet the path to it carries whole (0: not more
        than the base)."""
        if room != self.path_room:
            self.path_room = room
            self._resize()

    def _resize(self) -> None:
        size = self.base_max_packet
        if self.path_room >= MIN_PACKET:
            size = max(size, min(self.path_room, self._config.max_stream_path_packet))
        if size == self.max_packet:
            return
        self.max_packet = size
        self.recovery.cc.resize(size)
        dropped = self.out.drop_datagrams(larger_than=datagram_room(size))
        if dropped:
            self.drops["datagram_too_large"] = self.drops.get("datagram_too_large", 0) + dropped

    # -- packets in ----------------------------------------------------------------------

    def receive_data(
        self,
        packet: bytes | memoryview,
        now: float,
        *,
        room: int = 0,
        into: bytearray | None = None,
    ) -> None:
        """Open and apply one DATA packet addressed to one of our epochs.

        ``room`` is what routing says the path it came over carries whole (reported
        to the peer with our ACKs once the packet authenticates). ``into``: a buffer to
        open the packet into (``KeyRing.open``); nothing of it is kept past this call.

        Raises:
            RemoteError: the packet does not authenticate or is a replay (count it).
        """
        keys = self.keys
        if keys is None:
            self.drop("no_keys")
            return
        plaintext = keys.open(packet, now, into)
        self.out.room_seen = room
        self.bytes_received += len(packet)
        self.packets_received += 1
        self.last_received = now
        was_responding = self.state is _S.RESPONDING
        if not self._apply(_I.PACKET_RECEIVED):
            return
        if self.state is _S.CLOSING:
            self._close_due = now - self._close_sent_at >= _CLOSE_REPEAT
            return
        if was_responding:
            if self.handshake is not None:
                self._answered_init = (self.handshake.remote_index, self.handshake.init_message)
            self.handshake = None
            self._established()
        try:
            reader = Reader(plaintext)
            pn = reader.varint()
            frames = decode_frames(reader)
        except RemoteError as exc:
            self._violation(f"undecodable packet: {exc}", now)
            return
        eliciting = False
        for frame in frames:
            if not isinstance(frame, _NOT_ELICITING):
                eliciting = True
                break
        self.acks.on_packet(pn, eliciting, now, len(packet))
        for frame in frames:
            if self.state not in _LIVE_KEYS:
                return
            try:
                self._on_frame(frame, now)
            except RemoteError as exc:
                self._violation(str(exc), now)
                return
        self._sync_rekey()

    def _violation(self, detail: str, now: float) -> None:
        self.drop("protocol_error")
        self._end(_I.PROTOCOL_VIOLATED, CloseReason.PROTOCOL_ERROR, detail, now)

    def _on_frame(self, frame: Frame, now: float) -> None:
        streams = self.streams
        if isinstance(frame, Stream):
            streams.on_stream(frame, now)
        elif isinstance(frame, Ack):
            self._on_ack(frame, now)
        elif isinstance(frame, Datagram):
            self._last_activity = now
            if self._datagram_allowed():
                self._events.append(DatagramReceived(self.peer, frame.payload))
            else:
                self.drop("datagram_backlog")
        elif isinstance(frame, MaxData):
            streams.on_max_data(frame)
        elif isinstance(frame, MaxStreamData):
            streams.on_max_stream_data(frame)
        elif isinstance(frame, MaxStreams):
            streams.on_max_streams(frame)
        elif isinstance(frame, ResetStream):
            streams.on_reset(frame)
        elif isinstance(frame, StopSending):
            streams.on_stop_sending(frame)
        elif isinstance(frame, PathRoom):
            self._on_path_room(frame.room)
        elif isinstance(frame, Rekey):
            if self.keys is not None:
                self.keys.on_rekey(frame, now)
        elif isinstance(frame, Close):
            try:
                reason = CloseReason(frame.reason)
            except ValueError:
                reason = CloseReason.PROTOCOL_ERROR
            detail = f"peer closed: {frame.text or reason.name.lower()}"
            self._end(_I.CLOSE_RECEIVED, reason, detail, now, by_peer=True)

    def _on_ack(self, frame: Ack, now: float) -> None:
        if frame.largest >= self.out.pn:
            raise DecodeError(f"ACK of packet {frame.largest}, never sent")
        acked, lost = self.recovery.on_ack(frame.ranges, frame.delay / 1_000_000, now)
        streams = self.streams
        for packet in acked:
            for record in packet.frames:
                if isinstance(record, tuple):
                    streams.on_stream_acked(record)
                elif isinstance(record, PingProbe):
                    rtt = max(0.0, now - packet.sent - frame.delay / 1_000_000)
                    self._events.append(
                        PingAnswered(
                            peer=self.peer, token=record.token, rtt=rtt, resent=record.resent
                        )
                    )
                else:
                    streams.on_control_acked(record)  # type: ignore[arg-type]
            if packet.ack_largest is not None:
                self.acks.on_ack_acknowledged(packet.ack_largest)
        self._on_lost(lost)

    def _on_lost(self, lost: list[SentPacket]) -> None:
        streams = self.streams
        for packet in lost:
            for record in packet.frames:
                if isinstance(record, tuple):
                    streams.on_stream_lost(record)
                elif isinstance(record, PingProbe):
                    record.resent += 1
                    self.out.pings.append(record)
                else:
                    streams.on_control_lost(record)  # type: ignore[arg-type]

    def _sync_rekey(self) -> None:
        keys = self.keys
        if keys is None:
            return
        if keys.rekeying:
            self._apply(_I.REKEY_STARTED)
        else:
            self._apply(_I.REKEY_ENDED)

    # -- packets out ---------------------------------------------------------------------

    def packets(self, now: float, budget: int = _BURST) -> list[Packet]:
        """The packets this session may send now (handshake or sealed), at most about
        ``budget`` bytes of sealed ones; ``has_more`` says when the budget cut them."""
        out: list[Packet] = list(self._handshake_out)
        self._handshake_out = []
        keys = self.keys
        if keys is None:
            return out
        if self.state is _S.CLOSING:
            if self._close_due and self._close_frame is not None:
                out.append(self.out.seal_alone(self._close_frame, keys, now))
                self._close_due = False
                self._close_sent_at = now
            return out
        if self.state in _LIVE_KEYS:
            sealed = self.out.build_all(keys, self.max_packet, now, budget)
            self.has_more = self.out.held or self.out.built_bytes >= budget
            out.extend(sealed)
            self._sync_rekey()
        return out

    # -- time ----------------------------------------------------------------------------

    def _idle_deadline(self) -> float:
        config = self._config
        deadline = self.last_received + config.idle_timeout
        if not self.streams.live and not self.out.datagrams:
            deadline = min(deadline, self.last_activity + config.idle_timeout)
        return deadline

    def get_timer(self) -> float | None:
        """The next deadline of this session, or None once closed."""
        state = self.state
        if state is _S.CLOSED:
            return None
        if state is _S.CLOSING:
            return self.linger_until
        if state is _S.WAITING_RECORD:
            return min(self.next_lookup, self.record_deadline)
        handshake = self.handshake
        if state is _S.INITIATING and handshake is not None:
            return handshake.get_timer()
        if state is _S.RESPONDING and handshake is not None:
            return handshake.deadline()
        keys = self.keys
        assert keys is not None
        deadline = min(keys.get_timer(), self._idle_deadline())
        recovery = self.recovery.timer()
        if recovery is not None:
            deadline = min(deadline, recovery)
        ack = self.acks.deadline()
        if ack is not None:
            deadline = min(deadline, ack)
        if self.streams.live and not self.recovery.eliciting_in_flight:
            deadline = min(deadline, self.out.last_eliciting_sent + self._config.keepalive_interval)
        return deadline

    def handle_timer(self, now: float) -> None:
        """Run whatever is due: lookups, retransmissions, timeouts, probes."""
        state = self.state
        if state is _S.CLOSING:
            if now >= self.linger_until and self._apply(_I.LINGER_ENDED) and self.keys:
                self.keys.clear()
        elif state is _S.WAITING_RECORD:
            if now >= self.record_deadline:
                detail = "no identity record for the peer"
                self._end(_I.RECORD_TIMED_OUT, CloseReason.NO_IDENTITY_RECORD, detail, now)
            elif now >= self.next_lookup:
                self._try_lookup(now)
        elif state in (_S.INITIATING, _S.RESPONDING):
            handshake = self.handshake
            if handshake is None or now >= handshake.deadline():
                detail = "no answer to the handshake"
                self._end(_I.HANDSHAKE_TIMED_OUT, CloseReason.HANDSHAKE_TIMEOUT, detail, now)
            elif handshake.retransmit_due(now):
                self._handshake_out = handshake.packets(self.max_packet)
        elif state in _LIVE_KEYS:
            self._established_timers(now)

    def _established_timers(self, now: float) -> None:
        keys = self.keys
        assert keys is not None
        config = self._config
        if now >= self.last_received + config.idle_timeout:
            detail = "nothing heard from the peer"
            self._end(_I.IDLE_TIMED_OUT, CloseReason.IDLE_TIMEOUT, detail, now)
            return
        if now >= self._idle_deadline():
            self._end(_I.IDLE_TIMED_OUT, CloseReason.IDLE_TIMEOUT, "idle", now)
            return
        if keys.expired(now):
            detail = "keys could not be replaced in time"
            self._end(_I.KEYS_EXPIRED, CloseReason.KEYS_EXPIRED, detail, now)
            return
        keys.handle_timer(now)
        self._sync_rekey()
        recovery = self.recovery
        due = recovery.timer()
        if due is not None and now >= due:
            lost, probe = recovery.on_timeout(now)
            self._on_lost(lost)
            if probe:
                self.probes += 1
                self.out.probes = _PROBE_PACKETS
                for packet in recovery.oldest_unacked(1):
                    self._on_lost([packet])  # resend its data in the probe; it stays in flight
        if (
            self.streams.live
            and not recovery.eliciting_in_flight  # in flight: the probe timer watches
            and now >= self.out.last_eliciting_sent + config.keepalive_interval
        ):
            self.out.ping_needed = True

    # -- inspection ----------------------------------------------------------------------

    def on_consumed(self, handle: StreamId, count: int, now: float) -> None:
        """The application took ``count`` bytes of ``handle``: give credit back."""
        rtt = self.recovery.rtt
        grow_within = 2 * rtt.smoothed if rtt.has_sample else 0.0
        self.streams.on_consumed(handle, count, now, grow_within)

    def status(self, now: float) -> SessionStatus:
        """A frozen snapshot of this session."""
        rtt = self.recovery.rtt
        cc = self.recovery.cc
        keys = self.keys
        return SessionStatus(
            peer=str(self.peer),
            state=self.state.value,
            initiator=self.initiator,
            age=now - self.created,
            srtt=rtt.smoothed if rtt.has_sample else None,
            rttvar=rtt.rttvar if rtt.has_sample else None,
            min_rtt=rtt.min_rtt if rtt.has_sample else None,
            cwnd=cc.cwnd,
            bytes_in_flight=cc.bytes_in_flight,
            max_packet=self.max_packet,
            bytes_sent=self.out.bytes_sent,
            bytes_received=self.bytes_received,
            packets_sent=self.out.packets_sent,
            packets_received=self.packets_received,
            retransmits=self.recovery.lost_packets,
            probes=self.probes,
            rekeys=keys.rekeys if keys is not None else 0,
            key_age=now - keys.current.started if keys is not None else None,
            streams=self.streams.live,
            queued_datagrams=len(self.out.datagrams),
            drops=tuple(sorted(self.drops.items())),
        )
