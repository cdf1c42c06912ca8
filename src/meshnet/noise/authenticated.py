"""``AuthenticatedHandshake``: a Noise handshake that proves both sides' ``NodeId``.

The link layer runs it with ``XX`` (neither side knows the other's static key), end-to-
end sessions with ``IK`` (the initiator has the responder's identity record from the
routing layer). By default both are hybrid: ``XXhfs``/``IKhfs`` with ML-KEM-768, so a
recorded handshake stays secret unless both X25519 and ML-KEM-768 are broken
(docs/protocol/noise.md §2); ``hybrid=False`` runs the classic pattern.

Pipeline of one side (docs/protocol/noise.md §3)::

    write_message()  -> HandshakeState.write_message(build)   build(h) signs h if this
                                                               message carries our identity
    read_message(m)  -> HandshakeState.read_message(m)         Noise checks (tags, DH, KEM)
                        then, if m carries the peer's identity:
                          decode payload (size limits)          -> HandshakeError
                          record verifies under record.node_id  -> HandshakeError
                          record.static_public == rs            -> HandshakeError
                          signature over (domain, role, h)      -> HandshakeError
                          record.node_id == expected_peer       -> PeerMismatchError
                        else: the payload must be empty         -> HandshakeError
    result()         -> HandshakeResult: peer, record, extension, send/receive ciphers

Each side's identity payload travels in the first message it writes in which its
static key is known to the peer: XX messages 2 (responder) and 3 (initiator); IK
messages 1 (initiator) and 2 (responder, whose static key is the pre-message). All
other messages carry an empty payload.

Any failure in ``read_message`` raises a ``RemoteError`` (``HandshakeError`` or its
subclass ``PeerMismatchError``) and leaves the object failed: every later call raises
``StateError``. It never continues half-advanced.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import HandshakeError, PeerMismatchError, RemoteError, StateError
from meshnet.noise.functions import KeyPair
from meshnet.noise.handshake import HandshakeState
from meshnet.noise.patterns import Token
from meshnet.noise.payload import (
    MAX_EXTENSION,
    PAYLOAD_VERSION,
    HandshakePayload,
    Role,
    signing_input,
)
from meshnet.noise.protocol import NoiseProtocol
from meshnet.noise.transport import TransportCipher

__all__ = ["AuthenticatedHandshake", "HandshakeResult", "protocol_name"]

_SUITE = ("25519", "ChaChaPoly", "BLAKE2s")
_KEM = "MLKEM768"


def protocol_name(pattern: Literal["XX", "IK"], *, hybrid: bool) -> str:
    """The Noise protocol name MeshNet runs for ``pattern``.

    ``Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s`` when hybrid, else
    ``Noise_XX_25519_ChaChaPoly_BLAKE2s`` (and the same with ``IK``).
    """
    dh, cipher, hash_name = _SUITE
    if hybrid:
        return f"Noise_{pattern}hfs_{dh}+{_KEM}_{cipher}_{hash_name}"
    return f"Noise_{pattern}_{dh}_{cipher}_{hash_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeResult:
    """What a completed authenticated handshake established."""

    peer: NodeId
    """The NodeId the peer proved."""
    peer_record: IdentityRecord
    """The peer's verified identity record (its static key is the Noise ``rs``)."""
    peer_extension: bytes
    """The opaque extension bytes the peer sent."""
    peer_capabilities: int
    """The capability bits the peer sent."""
    handshake_hash: bytes
    """The final Noise handshake hash (channel binding, §11.2)."""
    send: TransportCipher
    """Our sending direction."""
    receive: TransportCipher
    """Our receiving direction."""
    protocol_name: str
    """The Noise protocol that ran."""


class AuthenticatedHandshake:
    """One side of a MeshNet handshake: Noise ``XX`` or ``IK`` plus signed identities.

    Args:
        identity: our identity (Noise ``s`` and the Ed25519 signing key).
        initiator: True for the side that writes the first message.
        pattern: ``"XX"`` (links) or ``"IK"`` (sessions).
        hybrid: add ML-KEM-768 (the ``hfs`` modifier); on by default.
        expected_peer: the NodeId the peer must prove, or None to accept any.
        peer_record: the responder's identity record; required by (and only for) the
            IK initiator, whose Noise ``rs`` it provides. It is verified here.
        prologue: bytes both sides must agree on (e.g. a layer and version tag).
        extension: opaque bytes carried in our identity payload (<= 1024).
        capabilities: feature bits carried in our identity payload.
        entropy: randomness for the ephemeral and KEM keys.
        verifier: checks Ed25519 signatures (records and handshake signatures).

    Raises:
        ValueError: ``peer_record`` given or missing against the rule above, an
            extension over the limit, or an unknown pattern.
        AuthenticationError: ``peer_record`` does not verify.
        PeerMismatchError: ``peer_record`` names a node other than ``expected_peer``.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        initiator: bool,
        pattern: Literal["XX", "IK"],
        hybrid: bool = True,
        expected_peer: NodeId | None = None,
        peer_record: IdentityRecord | None = None,
        prologue: bytes = b"",
        extension: bytes = b"",
        capabilities: int = 0,
        entropy: Entropy,
        verifier: SignatureVerifier,
    ) -> None:
        if pattern not in ("XX", "IK"):
            raise ValueError(f"pattern must be 'XX' or 'IK', not {pattern!r}")
        if (peer_record is not None) != (pattern == "IK" and initiator):
            raise ValueError("peer_record is required by, and only by, the IK initiator")
        if len(extension) > MAX_EXTENSION:
            raise ValueError(f"extension is {len(extension)} bytes; at most {MAX_EXTENSION}")
        if peer_record is not None:
            peer_record.verify(verifier)
            if expected_peer is not None and expected_peer != peer_record.node_id:
                raise PeerMismatchError(_mismatch(expected_peer, peer_record.node_id))
            expected_peer = peer_record.node_id
        protocol = NoiseProtocol.from_name(protocol_name(pattern, hybrid=hybrid))
        self._identity = identity
        self._role = Role.INITIATOR if initiator else Role.RESPONDER
        self._expected = expected_peer
        self._extension = extension
        self._capabilities = capabilities
        self._verifier = verifier
        self._noise = HandshakeState(
            protocol=protocol,
            initiator=initiator,
            prologue=prologue,
            s=KeyPair(
                public=identity.static_public,
                private=identity.static_private_bytes(),
                handle=identity.static_private_key(),
            ),
            rs=peer_record.static_public if peer_record is not None else None,
            entropy=entropy,
        )
        self._identity_messages = _identity_messages(protocol)
        self._peer: HandshakePayload | None = None
        self._failed = False
        self._result: HandshakeResult | None = None

    # -- inspection ------------------------------------------------------------------

    @property
    def protocol_name(self) -> str:
        """The Noise protocol name this handshake runs."""
        return self._noise.protocol.name

    @property
    def initiator(self) -> bool:
        """True for the initiator."""
        return self._role is Role.INITIATOR

    @property
    def complete(self) -> bool:
        """True once every message was written or read and the peer is proven."""
        return self._noise.complete and not self._failed

    @property
    def failed(self) -> bool:
        """True once a message failed; the object is then unusable."""
        return self._failed or self._noise.failed

    @property
    def writes_next(self) -> bool:
        """True when the next message is ours to write."""
        return not self._failed and self._noise.writes_next

    @property
    def peer(self) -> NodeId | None:
        """The NodeId the peer has proven so far, or None."""
        return self._peer.record.node_id if self._peer is not None else None

    # -- messages --------------------------------------------------------------------

    def write_message(self) -> bytes:
        """The next handshake message, with our signed identity where it belongs.

        Raises:
            StateError: not our turn, already complete, or failed.
        """
        self._require_usable()
        index = self._noise.message_index
        if index not in self._identity_messages:  # HandshakeState enforces the turn
            return self._noise.write_message(b"")
        return self._noise.write_message(self._build_payload)

    def _build_payload(self, handshake_hash: bytes) -> bytes:
        return HandshakePayload(
            version=PAYLOAD_VERSION,
            capabilities=self._capabilities,
            record=self._identity.record,
            signature=self._identity.sign(signing_input(self._role, handshake_hash)),
            extension=self._extension,
        ).encode()

    def read_message(self, data: bytes) -> None:
        """Read the peer's next message and check its identity proof.

        Raises:
            StateError: not the peer's turn, already complete, or failed.
            HandshakeError: the message or the identity proof is invalid.
            PeerMismatchError: the peer proved a NodeId other than ``expected_peer``.
        """
        self._require_usable()
        index = self._noise.message_index
        try:
            payload = self._noise.read_message(data)
            if index in self._identity_messages:
                self._peer = self._check_identity(payload)
            elif payload:
                raise HandshakeError(f"message {index + 1} must carry an empty payload")
        except RemoteError:
            self._failed = True
            raise

    def _check_identity(self, payload: bytes) -> HandshakePayload:
        try:
            proof = HandshakePayload.decode(payload)
            proof.record.verify(self._verifier)
        except (RemoteError, ValueError) as exc:
            raise HandshakeError(f"invalid identity payload: {exc}") from exc
        record = proof.record
        remote_static = self._noise.remote_static
        if remote_static is None or not hmac.compare_digest(record.static_public, remote_static):
            raise HandshakeError(
                f"identity record of {record.node_id.short()} is for another static key"
            )
        peer_role = Role.RESPONDER if self._role is Role.INITIATOR else Role.INITIATOR
        signed = signing_input(peer_role, self._noise.payload_hash)
        if not self._verifier.verify(record.node_id, proof.signature, signed):
            raise HandshakeError(f"handshake signature of {record.node_id.short()} is invalid")
        if self._expected is not None and record.node_id != self._expected:
            raise PeerMismatchError(_mismatch(self._expected, record.node_id))
        return proof

    # -- result ----------------------------------------------------------------------

    def result(self) -> HandshakeResult:
        """The established keys and the proven peer (the same object on every call).

        Raises:
            StateError: the handshake is not complete (or failed).
        """
        if self._result is None:
            self._require_usable(allow_complete=True)
            if not self._noise.complete or self._peer is None:
                raise StateError("the handshake is not complete")
            c1, c2 = self._noise.split()
            first, second = (
                TransportCipher.from_cipher_state(c1),
                TransportCipher.from_cipher_state(c2),
            )
            send, receive = (first, second) if self.initiator else (second, first)
            self._result = HandshakeResult(
                peer=self._peer.record.node_id,
                peer_record=self._peer.record,
                peer_extension=self._peer.extension,
                peer_capabilities=self._peer.capabilities,
                handshake_hash=self._noise.get_handshake_hash(),
                send=send,
                receive=receive,
                protocol_name=self.protocol_name,
            )
        return self._result

    def _require_usable(self, *, allow_complete: bool = False) -> None:
        if self.failed:
            raise StateError("the handshake failed; start a new one")
        if self._noise.complete and not allow_complete:
            raise StateError("the handshake is complete")

    def __repr__(self) -> str:
        state = "failed" if self.failed else "complete" if self.complete else "running"
        return f"AuthenticatedHandshake({self.protocol_name}, {self._role.name.lower()}, {state})"


@lru_cache(maxsize=16)
def _identity_messages(protocol: NoiseProtocol) -> frozenset[int]:
    """Indexes of the messages that carry an identity payload (one per side).

    A side's identity rides in the first message it writes by whose end its static key
    is known to the peer (sent in this or an earlier message, or a pre-message).
    """
    pattern = protocol.pattern
    found = set()
    for initiator in (True, False):
        known = Token.S in (
            pattern.initiator_premessage if initiator else pattern.responder_premessage
        )
        for index in range(0 if initiator else 1, len(pattern.messages), 2):
            known = known or Token.S in pattern.messages[index]
            if known:
                found.add(index)
                break
    return frozenset(found)


def _mismatch(expected: NodeId, proven: NodeId) -> str:
    return f"expected peer {expected} but the peer proved {proven}"
