"""Rekeying an established link: a fresh handshake inside the link (``Rekeying``).

``Rekeying`` is mixed into ``LinkConnection`` (``connection.py``) and holds every rule
of a rekey: when one is due, the three REKEY steps, collisions, retries, abandonment
and the switch to the new key epoch. ``docs/protocol/link.md`` §5.

Theory of operation
-------------------
A rekey is a fresh hybrid XX handshake carried in REKEY inner frames under the current
keys (so a passive observer sees no handshake at all)::

    A (rekey initiator)                       B
    REKEY 1 (a_idx, msg1)          ---->      read, write msg2
                                   <----      REKEY 2 (b_idx, msg2)
    read msg2, write msg3; new epoch
    is *pending*: A receives on it but
    still sends on the old one
    REKEY 3 (msg3)                 ---->      read msg3; B switches at once and sends
                                              a KEEPALIVE on the new keys
    first frame on the new epoch: A switches

Neither side ever sends on keys the other cannot yet open, and the old receive keys
stay for the grace period, so no frame in flight is lost; on stream transports the
order is kept by the stream itself. Lost REKEY messages are retransmitted like the
outer handshake; a rekey that does not finish in ``handshake_timeout`` is abandoned
(the old keys stay) and tried again. When both sides start a rekey at once, the one
with the lower NodeId wins.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import RemoteError
from meshnet.ids import LinkId
from meshnet.link.config import LinkConfig
from meshnet.link.epochs import Counters, Epoch
from meshnet.link.events import LinkEvent, LinkRekeyed
from meshnet.link.messages import KeepAlive, Rekey, encode_inner
from meshnet.link.state import LinkInput, LinkState, Verdict, transition
from meshnet.noise.authenticated import AuthenticatedHandshake, HandshakeResult

__all__ = [
    "REKEY_PROLOGUE",
    "REKEY_SPREAD",
    "RESPONDER_REKEY_OFFSET",
    "RekeyAttempt",
    "Rekeying",
]

REKEY_PROLOGUE = b"meshnet-link-rekey-v1"
RESPONDER_REKEY_OFFSET = 5.0
"""Seconds the outer handshake's responder rekeys after the initiator would: fewer collisions."""
REKEY_SPREAD = 1.5
"""Seconds over which an epoch's rekey time is spread by its local index (drawn from the
node's Entropy), so that links made together do not all rekey in the same instant."""


@dataclass(slots=True, eq=False)
class RekeyAttempt:
    """One rekey in progress, from its first REKEY frame to the switch."""

    handshake: AuthenticatedHandshake
    initiator: bool
    local_index: int
    started: float
    retry_at: float
    retry_delay: float
    message: bytes = b""  # our last REKEY inner frame, for retransmission
    remote_index: int = 0
    pending: Epoch | None = None


class _Connection(Protocol):
    """What the rekey rules use of ``LinkConnection``."""

    link: LinkId
    peer: NodeId
    outbound: bool
    state: LinkState
    indices_version: int
    timer_moved: bool
    counters: Counters
    _identity: Identity
    _config: LinkConfig
    _entropy: Entropy
    _rekey_with: tuple[SignatureVerifier, bytes]
    _events: deque[LinkEvent]
    _allocate_index: Callable[[], int]
    _current: Epoch
    _previous: Epoch | None
    _rekey: RekeyAttempt | None

    def _seal(self, inner: bytes | memoryview, now: float) -> None: ...
    def _drop(self, reason: str, count: int = 1) -> None: ...
    def _epoch(self, result: HandshakeResult, local: int, remote: int, now: float) -> Epoch: ...
    def _rekey_due_at(self) -> float: ...
    def _new_handshake(self, *, initiator: bool) -> AuthenticatedHandshake: ...
    def _begin(
        self, handshake: AuthenticatedHandshake, *, initiator: bool, now: float
    ) -> RekeyAttempt: ...
    def _send_rekey(self, rekey: RekeyAttempt, frame: Rekey, now: float) -> None: ...
    def _start_rekey(self, now: float) -> None: ...
    def _abandon_rekey(self) -> None: ...
    def _on_rekey_1(self, frame: Rekey, now: float) -> None: ...
    def _on_rekey_2(self, frame: Rekey, now: float) -> None: ...
    def _on_rekey_3(self, frame: Rekey, now: float) -> None: ...
    def _switch_to(self, epoch: Epoch, now: float) -> None: ...


class Rekeying:
    """The rekey rules of a link (a mixin of ``LinkConnection``)."""

    # set by LinkConnection; the rules below replace them
    _current: Epoch
    _previous: Epoch | None
    _rekey: RekeyAttempt | None

    def _rekey_due_at(self: _Connection) -> float:
        offset = 0.0 if self.outbound else RESPONDER_REKEY_OFFSET
        offset += (self._current.local_index & 0xFFFF) / 0x10000 * REKEY_SPREAD
        return self._current.started + self._config.rekey_after_time + offset

    def _new_handshake(self: _Connection, *, initiator: bool) -> AuthenticatedHandshake:
        return AuthenticatedHandshake(
            identity=self._identity,
            initiator=initiator,
            pattern="XX",
            hybrid=self._config.hybrid,
            expected_peer=self.peer,
            prologue=REKEY_PROLOGUE,
            extension=self._rekey_with[1],
            entropy=self._entropy,
            verifier=self._rekey_with[0],
        )

    def _begin(
        self: _Connection, handshake: AuthenticatedHandshake, *, initiator: bool, now: float
    ) -> RekeyAttempt:
        if self.state is LinkState.ESTABLISHED:
            self.state = transition(self.state, LinkInput.REKEY_DUE).next_state
        rekey = RekeyAttempt(
            handshake=handshake,
            initiator=initiator,
            local_index=self._allocate_index(),
            started=now,
            retry_at=now + self._config.handshake_retry,
            retry_delay=self._config.handshake_retry,
        )
        self._rekey = rekey
        self.indices_version += 1
        self.timer_moved = True
        return rekey

    def _send_rekey(self: _Connection, rekey: RekeyAttempt, frame: Rekey, now: float) -> None:
        rekey.message = encode_inner(frame)
        self._seal(rekey.message, now)

    def _start_rekey(self: _Connection, now: float) -> None:
        if transition(self.state, LinkInput.REKEY_DUE).verdict is not Verdict.ACCEPT:
            return
        handshake = self._new_handshake(initiator=True)
        rekey = self._begin(handshake, initiator=True, now=now)
        self._send_rekey(rekey, Rekey(1, rekey.local_index, handshake.write_message()), now)

    def _abandon_rekey(self: _Connection) -> None:
        rekey = self._rekey
        if rekey is None:
            return
        if rekey.pending is not None:
            rekey.pending.clear()
        self._rekey = None
        self.indices_version += 1
        self.timer_moved = True
        if self.state is LinkState.REKEYING:
            self.state = transition(self.state, LinkInput.HANDSHAKE_TIMED_OUT).next_state

    def _on_rekey(self: _Connection, frame: Rekey, now: float) -> None:
        try:
            if frame.step == 1:
                self._on_rekey_1(frame, now)
            elif frame.step == 2:
                self._on_rekey_2(frame, now)
            else:
                self._on_rekey_3(frame, now)
        except RemoteError:
            self._drop("rekey_failed")
            self._abandon_rekey()

    def _on_rekey_1(self: _Connection, frame: Rekey, now: float) -> None:
        rekey = self._rekey
        if rekey is not None and not rekey.initiator and frame.sender_index == rekey.remote_index:
            self._seal(rekey.message, now)  # our step 2 was lost: send it again
            return
        if rekey is not None and rekey.initiator and self._identity.node_id < self.peer:
            self._drop("rekey_collision")  # both started: ours wins, the peer answers it
            return
        self._abandon_rekey()
        handshake = self._new_handshake(initiator=False)
        handshake.read_message(frame.message)
        rekey = self._begin(handshake, initiator=False, now=now)
        rekey.remote_index = frame.sender_index
        self._send_rekey(rekey, Rekey(2, rekey.local_index, handshake.write_message()), now)

    def _on_rekey_2(self: _Connection, frame: Rekey, now: float) -> None:
        rekey = self._rekey
        if rekey is None or not rekey.initiator:
            self._drop("rekey_unexpected")
            return
        if rekey.pending is not None:
            self._seal(rekey.message, now)  # a duplicate step 2: our step 3 was lost
            return
        rekey.handshake.read_message(frame.message)
        msg3 = rekey.handshake.write_message()
        rekey.remote_index = frame.sender_index
        rekey.pending = self._epoch(
            rekey.handshake.result(), rekey.local_index, frame.sender_index, now
        )
        self._send_rekey(rekey, Rekey(3, 0, msg3), now)

    def _on_rekey_3(self: _Connection, frame: Rekey, now: float) -> None:
        rekey = self._rekey
        if rekey is None or rekey.initiator:
            # We switched already and our confirmation was lost: confirm again.
            self._seal(encode_inner(KeepAlive()), now)
            return
        rekey.handshake.read_message(frame.message)
        epoch = self._epoch(rekey.handshake.result(), rekey.local_index, rekey.remote_index, now)
        self._switch_to(epoch, now)
        self._seal(encode_inner(KeepAlive()), now)

    def _switch_to(self: _Connection, epoch: Epoch, now: float) -> None:
        old = self._current
        if self._previous is not None:
            self._previous.clear()
        old.send.clear()  # never send on it again; receive for the grace period
        old.retired_at = now
        self._previous = old
        self._current = epoch
        self._rekey = None
        self.indices_version += 1
        self.timer_moved = True
        self.counters.rekeys += 1
        self.state = transition(self.state, LinkInput.REKEY_COMPLETED).next_state
        self._events.append(LinkRekeyed(link=self.link))

    def _rekey_timers(self: _Connection, now: float) -> None:
        rekey = self._rekey
        if rekey is None:
            if now >= self._rekey_due_at():
                self._start_rekey(now)
            return
        if now >= rekey.started + self._config.handshake_timeout:
            self._drop("rekey_timeout")
            self._abandon_rekey()
            return
        if now >= rekey.retry_at:
            rekey.retry_delay *= 2
            rekey.retry_at = now + rekey.retry_delay
            if rekey.initiator and rekey.message:
                self._seal(rekey.message, now)
