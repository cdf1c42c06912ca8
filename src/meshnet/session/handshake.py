"""``SessionHandshake``: one Noise IK attempt between two NodeIds, over routed packets.

Pipeline (docs/protocol/session.md §3)::

    initiator (has the responder's identity record)      responder
    INIT(i_idx, frag k/n of msg1)          ---->        reassemble, read msg1 (proves the
                                                        initiator's NodeId), write msg2
                                           <----        RESPONSE(r_idx, i_idx, frags of msg2)
    reassemble, read msg2: keys ready;
    first DATA packet (data or PING)       ---->        the keys are confirmed: established

The initiator resends every INIT fragment after ``handshake_retry``, doubling up to
``handshake_retry_max``, until the response or ``handshake_timeout``; the responder
answers a resent INIT (same sender index) with its cached RESPONSE. Handshake messages
are re-cut when the packet size budget changed. The payloads carry each side's
``TransportParameters``. Any failure to read a message raises a ``RemoteError``; the
caller counts it and drops the attempt.
"""

from __future__ import annotations

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import HandshakeError
from meshnet.noise.authenticated import AuthenticatedHandshake, HandshakeResult
from meshnet.session.config import SessionConfig
from meshnet.session.packets import TransportParameters, encode_init, encode_response

__all__ = ["SESSION_PROLOGUE", "SessionHandshake"]

SESSION_PROLOGUE = b"meshnet-session-v1"


class SessionHandshake:
    """One side of one outer handshake attempt.

    Args:
        peer: the NodeId the peer must prove.
        peer_record: the responder's identity record (initiator only).
        local_index: our index for the epoch this handshake creates.
        parameters: our transport parameters (sent in the handshake payload).
        now: the current time.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        initiator: bool,
        peer: NodeId,
        peer_record: IdentityRecord | None,
        config: SessionConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        local_index: int,
        parameters: TransportParameters,
        now: float,
    ) -> None:
        self.initiator = initiator
        self.peer = peer
        self.local_index = local_index
        self.remote_index = 0
        self.started = now
        self._config = config
        self._noise = AuthenticatedHandshake(
            identity=identity,
            initiator=initiator,
            pattern="IK",
            hybrid=config.hybrid,
            expected_peer=peer,
            peer_record=peer_record if initiator else None,
            prologue=SESSION_PROLOGUE,
            extension=parameters.encode(),
            entropy=entropy,
            verifier=verifier,
        )
        self._message = self._noise.write_message() if initiator else b""
        self._packets: list[bytes] = []
        self._cut_for = 0
        self._retry_delay = config.handshake_retry
        self._next_retry: float | None = now + self._retry_delay if initiator else None
        self.init_message = b""  # responder: the INIT we answered (to spot a resend)
        self.retransmitted = False  # initiator: the round trip is ambiguous once resent

    @property
    def complete(self) -> bool:
        """True once both messages were written or read."""
        return self._noise.complete

    def packets(self, max_packet: int) -> list[bytes]:
        """Our handshake message as packets (INIT or RESPONSE), cut for ``max_packet``."""
        if self._cut_for != max_packet and self._message:
            if self.initiator:
                self._packets = encode_init(self.local_index, self._message, max_packet)
            else:
                self._packets = encode_response(
                    self.local_index, self.remote_index, self._message, max_packet
                )
            self._cut_for = max_packet
        return self._packets

    def respond(self, sender: int, message: bytes) -> None:
        """Responder: read the initiator's message 1 and write message 2.

        Raises:
            RemoteError: the message is malformed, fails authentication, or proves
                another NodeId than the routing source.
        """
        if self.initiator or self._message:
            raise HandshakeError("respond() is for a fresh responder")
        self._noise.read_message(message)
        self.remote_index = sender
        self.init_message = message
        self._message = self._noise.write_message()

    def read_response(self, sender: int, message: bytes) -> None:
        """Initiator: read message 2; the keys are then ready.

        Raises:
            RemoteError: the message is malformed or fails authentication.
        """
        if not self.initiator or self._noise.complete:
            raise HandshakeError("not waiting for a response")
        self._noise.read_message(message)
        self.remote_index = sender
        self._next_retry = None

    def result(self) -> HandshakeResult:
        """The keys and the proven peer (only once complete)."""
        return self._noise.result()

    def peer_parameters(self) -> TransportParameters:
        """The peer's transport parameters (after the handshake completed).

        Raises:
            RemoteError: the peer's extension does not parse.
        """
        return TransportParameters.decode(self.result().peer_extension)

    # -- time ----------------------------------------------------------------------------

    def deadline(self) -> float:
        """When the attempt is given up."""
        return self.started + self._config.handshake_timeout

    def get_timer(self) -> float:
        """The next retransmission or the deadline, whichever comes first."""
        if self._next_retry is not None:
            return min(self._next_retry, self.deadline())
        return self.deadline()

    def retransmit_due(self, now: float) -> bool:
        """True (and the next retry armed) when the INIT should go out again."""
        if self._next_retry is None or now < self._next_retry:
            return False
        self._retry_delay = min(self._retry_delay * 2, self._config.handshake_retry_max)
        self._next_retry = now + self._retry_delay
        self.retransmitted = True
        return True
