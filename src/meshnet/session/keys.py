"""``KeyRing``: a session's key epochs: sealing, opening, replay windows and rekeys.

Theory of operation (mirrors ``link/connection.py``; docs/protocol/session.md §5)
------------------------------------------------------------------------------------
A session holds up to three key epochs, each named by the index the peer puts in its
DATA packets: the *current* epoch (we send with it), the *previous* one (receive only,
until ``old_keys_grace`` after the peer has moved on) and, while the peer's rekey runs,
a *pending* one (receive only). Each epoch has its own ``ReplayWindow``.

A rekey is a fresh hybrid IK handshake (the peer must prove the same NodeId) carried in
REKEY frames under the current keys, so an observer sees no handshake at all::

    A (rekey initiator)                          B
    REKEY 1 (a_idx, msg1 fragments)   ---->      read msg1, write msg2; the new epoch is
                                                 *pending*: B receives on it, still
                                   <----         sends on the old one
                                                 REKEY 2 (b_idx, a_idx, msg2 fragments)
    read msg2: A switches at once and
    sends a PING on the new keys        ---->    first packet on the pending epoch:
                                                 B switches

Neither side ever sends on keys the other cannot yet open. A keeps its old receive keys
until the first packet on the new keys arrives (B has switched) plus the grace period;
B keeps them for the grace period after switching: packets in flight are not lost, and
a rekey that straddles an outage still completes when the path comes back (B never
abandons a pending epoch; A abandons an attempt with no answer after
``handshake_timeout`` and tries again later). When both sides start at once, the lower
NodeId's attempt wins. The outer handshake's initiator rekeys at ``rekey_after_time``,
the responder five seconds later, which makes such collisions rare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import AuthenticationError, RemoteError, ReplayError, StateError
from meshnet.noise.authenticated import AuthenticatedHandshake, HandshakeResult
from meshnet.noise.replay import ReplayWindow
from meshnet.noise.transport import TransportCipher
from meshnet.session.config import SessionConfig
from meshnet.session.fragments import Reassembler, split_message
from meshnet.session.frames import Rekey
from meshnet.session.packets import DATA_HEADER, TAG_SIZE, PacketType
from meshnet.wire.bufferpool import BufferPool
from meshnet.wire.headroom import PACKET_ROOM, Headroom

__all__ = ["REKEY_CHUNK", "REKEY_PROLOGUE", "Epoch", "KeyRing"]

REKEY_PROLOGUE = b"meshnet-session-rekey-v1"
REKEY_CHUNK = 400
"""Bytes of a rekey handshake message per REKEY frame (fits the smallest packet)."""
_RESPONDER_REKEY_OFFSET = 5.0
_HEADER = DATA_HEADER.size
_REUSED_MIN = 4096  # packets at least this large are sealed into a reused buffer
_SPARES = 4  # reused packet buffers per session, at most: a 256 KiB burst (made as needed)
_DATA = PacketType.DATA


@dataclass(slots=True, eq=False)
class Epoch:
    """One generation of keys."""

    local_index: int
    remote_index: int
    send: TransportCipher
    receive: TransportCipher
    replay: ReplayWindow
    started: float
    packets_sent: int = 0
    retired_at: float | None = None
    """When the peer was seen to have moved past this epoch (starts the grace period)."""

    def clear(self) -> None:
        """Erase both directions' keys."""
        self.send.clear()
        self.receive.clear()


@dataclass(slots=True, eq=False)
class _Rekey:
    handshake: AuthenticatedHandshake
    initiator: bool
    local_index: int
    started: float
    retry_at: float
    retry_delay: float
    frames: list[Rekey] = field(default_factory=list)  # our message, for retransmission
    remote_index: int = 0


class KeyRing:
    """The key epochs of one established session.

    Args:
        result: the outer handshake's result (the first epoch's ciphers).
        local_index: our index for the first epoch.
        remote_index: the peer's index for the first epoch.
        initiator: True when we initiated the outer handshake (we rekey first).
        allocate_index: gives a fresh nonzero index for a new epoch.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        peer_record: IdentityRecord,
        config: SessionConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        result: HandshakeResult,
        local_index: int,
        remote_index: int,
        initiator: bool,
        now: float,
        allocate_index: Callable[[], int],
    ) -> None:
        self.peer: NodeId = result.peer
        self._identity = identity
        self._peer_record = peer_record
        self._config = config
        self._entropy = entropy
        self._verifier = verifier
        self._allocate = allocate_index
        self._initiator = initiator
        self.current = self._epoch(result, local_index, remote_index, now)
        self.previous: Epoch | None = None
        self.pending: Epoch | None = None
        self._rekey: _Rekey | None = None
        self._last_answered = 0  # the peer's index of the last rekey we completed
        self._assembly: Reassembler[tuple[int, int]] = Reassembler(
            max_pending=2, timeout=config.handshake_timeout
        )
        self.outbox: list[Rekey] = []
        """REKEY frames to send (the session drains this)."""
        self._spares = BufferPool(_SPARES, bytearray)
        self.confirm_needed = False
        """We switched to new keys: the session must send a packet on them soon."""
        self.rekeys = 0
        self.failures = 0

    def _epoch(self, result: HandshakeResult, local: int, remote: int, now: float) -> Epoch:
        window = ReplayWindow(self._config.replay_window)
        return Epoch(local, remote, result.send, result.receive, window, now)

    @property
    def rekeying(self) -> bool:
        """True while a rekey runs (ours, or the peer's with a pending epoch)."""
        return self._rekey is not None or self.pending is not None

    def indices(self) -> tuple[int, ...]:
        """Our indices the peer may address packets to, current first."""
        found = [self.current.local_index]
        if self.previous is not None:
            found.append(self.previous.local_index)
        if self.pending is not None:
            found.append(self.pending.local_index)
        return tuple(found)

    # -- packets -------------------------------------------------------------------------

    def seal(self, plaintext: bytes | memoryview, now: float) -> Headroom:
        """A DATA packet carrying ``plaintext`` under the current keys, sealed straight
        into a buffer with room in front for the routed header (``wire/headroom.py``)."""
        epoch = self.current
        send = epoch.send
        header = DATA_HEADER.pack(_DATA, epoch.remote_index, send.next_counter)
        size = _HEADER + len(plaintext) + TAG_SIZE
        packet = self._reused(size) if size >= _REUSED_MIN else Headroom.allocate(size)
        buffer, start = packet.buffer, packet.start
        buffer[start : start + _HEADER] = header
        with memoryview(buffer) as view:
            send.encrypt_into(plaintext, view[start + _HEADER :], header)
        epoch.packets_sent += 1
        if epoch.packets_sent >= self._config.rekey_after_packets and self._rekey is None:
            self.start_rekey(now)
        return packet

    def _reused(self, size: int) -> Headroom:
        """A ``Headroom`` for a packet of ``size`` bytes in a buffer of the session's
        bounded pool that nothing refers to any more (``wire/bufferpool.py``: the packet
        it held was sealed by the link and dropped, with every view of it), else in a
        fresh one: no 64 KiB allocated and zero-filled per packet. A packet still queued
        below (a paused link) keeps its buffer taken."""
        return Headroom(self._spares.take(PACKET_ROOM + size, exact=True), PACKET_ROOM)

    def open(
        self, packet: bytes | memoryview, now: float, into: bytearray | None = None
    ) -> bytes | memoryview:
        """The plaintext of a DATA packet addressed to one of our epochs.

        With ``into`` (a buffer at least as long as the plaintext) the packet is opened
        into it and the plaintext is a view of it, valid until ``into`` is used again:
        no 64 KiB object allocated and zero-filled per packet. Without it, ``bytes``.

        Raises:
            AuthenticationError: no epoch has this index, or the tag does not verify.
            ReplayError: the counter was seen already or is behind the window.
        """
        _, index, counter = DATA_HEADER.unpack_from(packet)
        epoch = self._epoch_for(index)
        if epoch is None:
            raise AuthenticationError(f"no key epoch {index:#x}")
        if not epoch.replay.check(counter):
            raise ReplayError(f"counter {counter} seen already or too old")
        view = memoryview(packet)
        header = bytes(view[:_HEADER])
        plaintext: bytes | memoryview
        try:
            size = len(view) - _HEADER - TAG_SIZE
            if into is None or not 0 <= size <= len(into):
                plaintext = epoch.receive.decrypt(counter, view[_HEADER:], header)
            else:
                plaintext = memoryview(into)[:size]
                epoch.receive.decrypt_into(counter, view[_HEADER:], plaintext, header)
        except StateError:  # keys erased between the lookup and now: cannot happen, but
            raise AuthenticationError("key epoch erased") from None  # never raise it up
        epoch.replay.accept(counter)
        if epoch is self.pending:
            self._switch_to_pending(now)
        elif (
            epoch is self.current and self.previous is not None and self.previous.retired_at is None
        ):
            self.previous.retired_at = now  # the peer uses the new keys
        return plaintext

    def _epoch_for(self, index: int) -> Epoch | None:
        if index == self.current.local_index:
            return self.current
        if self.previous is not None and index == self.previous.local_index:
            return self.previous
        if self.pending is not None and index == self.pending.local_index:
            return self.pending
        return None

    # -- rekeying ------------------------------------------------------------------------

    def _handshake(self, *, initiator: bool) -> AuthenticatedHandshake:
        return AuthenticatedHandshake(
            identity=self._identity,
            initiator=initiator,
            pattern="IK",
            hybrid=self._config.hybrid,
            expected_peer=self.peer,
            peer_record=self._peer_record if initiator else None,
            prologue=REKEY_PROLOGUE,
            entropy=self._entropy,
            verifier=self._verifier,
        )

    def _fragments(self, step: int, sender: int, receiver: int, message: bytes) -> list[Rekey]:
        chunks = split_message(message, REKEY_CHUNK)
        count = len(chunks)
        return [Rekey(step, sender, receiver, i, count, c) for i, c in enumerate(chunks)]

    def start_rekey(self, now: float) -> None:
        """Begin a fresh handshake inside the session (no-op while one runs)."""
        if self._rekey is not None:
            return
        handshake = self._handshake(initiator=True)
        retry = self._config.handshake_retry
        rekey = _Rekey(handshake, True, self._allocate(), now, now + retry, retry)
        rekey.frames = self._fragments(1, rekey.local_index, 0, handshake.write_message())
        self._rekey = rekey
        self.outbox.extend(rekey.frames)

    def _abandon(self) -> None:
        self._rekey = None
        self.failures += 1

    def on_rekey(self, frame: Rekey, now: float) -> None:
        """Take one REKEY fragment; act when its message is whole. Never raises."""
        key = (frame.step, frame.sender_index)
        message = self._assembly.add(key, frame.fragment, frame.count, frame.chunk, now)
        if message is None:
            return
        try:
            if frame.step == 1:
                self._on_step1(frame, message, now)
            else:
                self._on_step2(frame, message, now)
        except RemoteError:
            self.failures += 1
            if self._rekey is not None and self._rekey.handshake.failed:
                self._rekey = None

    def _on_step1(self, frame: Rekey, message: bytes, now: float) -> None:
        rekey = self._rekey
        if frame.sender_index == self._last_answered:
            return  # a late copy of a rekey that already finished
        if rekey is not None and not rekey.initiator and frame.sender_index == rekey.remote_index:
            self.outbox.extend(rekey.frames)  # our step 2 was lost: send it again
            return
        if rekey is not None and rekey.initiator and self._identity.node_id < self.peer:
            return  # both started: ours wins, the peer answers it
        if self.pending is not None:
            self.pending.clear()
            self.pending = None
        handshake = self._handshake(initiator=False)
        self._rekey = None
        handshake.read_message(message)
        local = self._allocate()
        reply = handshake.write_message()
        self.pending = self._epoch(handshake.result(), local, frame.sender_index, now)
        retry = self._config.handshake_retry
        rekey = _Rekey(handshake, False, local, now, now + retry, retry)
        rekey.remote_index = frame.sender_index
        rekey.frames = self._fragments(2, local, frame.sender_index, reply)
        self._rekey = rekey
        self.outbox.extend(rekey.frames)

    def _on_step2(self, frame: Rekey, message: bytes, now: float) -> None:
        rekey = self._rekey
        if rekey is None or not rekey.initiator or frame.receiver_index != rekey.local_index:
            return  # stale: an attempt we abandoned, or a duplicate after switching
        rekey.handshake.read_message(message)
        epoch = self._epoch(rekey.handshake.result(), rekey.local_index, frame.sender_index, now)
        self._retire_current(now, peer_moved=False)
        self.current = epoch
        self._rekey = None
        self.rekeys += 1
        self.confirm_needed = True

    def _switch_to_pending(self, now: float) -> None:
        pending = self.pending
        if pending is None:
            return
        self._retire_current(now, peer_moved=True)
        self.current = pending
        self.pending = None
        if self._rekey is not None and not self._rekey.initiator:
            self._last_answered = self._rekey.remote_index
            self._rekey = None
        self.rekeys += 1

    def _retire_current(self, now: float, *, peer_moved: bool) -> None:
        if self.previous is not None:
            self.previous.clear()
        old = self.current
        old.send.clear()  # never send on it again; receive until the grace ends
        old.retired_at = now if peer_moved else None
        self.previous = old

    # -- time ----------------------------------------------------------------------------

    def rekey_due_at(self) -> float:
        """When the current keys are due for replacement by time."""
        offset = 0.0 if self._initiator else _RESPONDER_REKEY_OFFSET
        return self.current.started + self._config.rekey_after_time + offset

    def expired(self, now: float) -> bool:
        """True when the current keys are older than ``reject_after_time``."""
        return now >= self.current.started + self._config.reject_after_time

    def get_timer(self) -> float:
        """The next key deadline: rekey, retransmission, grace end or expiry."""
        config = self._config
        deadline = self.current.started + config.reject_after_time
        rekey = self._rekey
        if rekey is None and self.pending is None:
            deadline = min(deadline, self.rekey_due_at())
        elif rekey is not None and rekey.initiator:
            deadline = min(deadline, rekey.retry_at, rekey.started + config.handshake_timeout)
        previous = self.previous
        if previous is not None and previous.retired_at is not None:
            deadline = min(deadline, previous.retired_at + config.old_keys_grace)
        return deadline

    def handle_timer(self, now: float) -> None:
        """Erase keys past their grace, start, resend or abandon a rekey."""
        config = self._config
        previous = self.previous
        if (
            previous is not None
            and previous.retired_at is not None
            and now >= previous.retired_at + config.old_keys_grace
        ):
            previous.clear()
            self.previous = None
        rekey = self._rekey
        if rekey is None:
            if self.pending is None and now >= self.rekey_due_at():
                self.start_rekey(now)
            return
        if not rekey.initiator:
            return
        if now >= rekey.started + config.handshake_timeout:
            self._abandon()
            return
        if now >= rekey.retry_at:
            rekey.retry_delay = min(rekey.retry_delay * 2, config.handshake_retry_max)
            rekey.retry_at = now + rekey.retry_delay
            self.outbox.extend(rekey.frames)

    def clear(self) -> None:
        """Erase every key (the session is over)."""
        self.current.clear()
        if self.previous is not None:
            self.previous.clear()
            self.previous = None
        if self.pending is not None:
            self.pending.clear()
            self.pending = None
        self._rekey = None
        self._spares.clear()
