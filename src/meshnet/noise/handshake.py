"""``HandshakeState`` (spec §5.3): runs any handshake pattern, sans-IO, message by message.

Theory of operation::

    hs = HandshakeState(protocol="Noise_XX_25519_ChaChaPoly_BLAKE2s", initiator=True,
                        s=static_private, entropy=entropy)        # Initialize()
    m1 = hs.write_message(b"")          # WriteMessage(): tokens, then EncryptAndHash(payload)
    payload = hs.read_message(m2)       # ReadMessage(): tokens, then DecryptAndHash(rest)
    m3 = hs.write_message(b"...")
    hs.complete                         # True after the last message pattern
    c1, c2 = hs.split()                 # the CipherStates the last message returned
    hs.get_handshake_hash()             # h, for channel binding (§11.2)

Tokens are processed exactly as §5.3 and §9.2 say; ``e1`` and ``ekem1`` as Noise HFS §4
says: ``e1`` sends a fresh KEM public key with ``EncryptAndHash``; ``ekem1`` sends
``EncryptAndHash(ciphertext)`` for the peer's KEM key and both sides then call
``MixKey(kem_output)``.

Application payloads that must be bound to the transcript (a signature over the
handshake hash, as ``authenticated.py`` makes) need ``h`` as it stands just before the
payload is encrypted: ``write_message`` accepts a callable that receives that ``h``
and returns the payload, and after either call ``payload_hash`` holds it.

Failure: any error while processing a message (a bad tag, a truncated message, an
invalid public key) raises ``HandshakeError`` from ``read_message`` (a ``RemoteError``),
and any error at all marks the state failed: every later call raises ``StateError``,
as §5 requires ("the HandshakeState is deleted"). Calling ``write_message`` when it is
the peer's turn, or ``read_message`` when it is ours, raises ``StateError`` without
touching the state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from meshnet.crypto.entropy import Entropy
from meshnet.errors import AuthenticationError, HandshakeError, StateError
from meshnet.noise.functions import TAG_LEN, KeyPair
from meshnet.noise.patterns import DH_TOKENS, HandshakePattern, Token
from meshnet.noise.protocol import NoiseProtocol
from meshnet.noise.symmetric import CipherState, SymmetricState

__all__ = ["MAX_MESSAGE_LEN", "PSK_LEN", "HandshakeState", "PayloadBuilder"]

MAX_MESSAGE_LEN = 65535
"""The largest Noise message (§3)."""
PSK_LEN = 32
"""Bytes in a pre-shared key (§9)."""

PayloadBuilder = Callable[[bytes], bytes]
"""Called with ``h`` just before the payload is encrypted; returns the payload."""

# DH token -> (initiator's key is static, responder's key is static), §5.3.
_DH_OPERANDS = {
    Token.EE: (False, False),
    Token.ES: (False, True),
    Token.SE: (True, False),
    Token.SS: (True, True),
}


class HandshakeState:
    """One party's handshake: a ``SymmetricState`` plus ``s``, ``e``, ``rs``, ``re`` (§5.3).

    The constructor is Initialize(): it hashes the protocol name, the prologue and the
    pre-message public keys.

    Args:
        protocol: a ``NoiseProtocol`` or a full protocol name.
        initiator: True for the initiator role.
        prologue: bytes both parties must agree on (§6).
        s: our static key pair or private key, if the pattern uses one.
        e: a fixed ephemeral key pair or private key (test vectors, §10 compound
            protocols); by default ``e`` is generated from ``entropy`` when sent.
        rs: the peer's static public key, if our side of the pattern has it beforehand.
        re: the peer's ephemeral public key, if given by a pre-message.
        psks: the 32-byte pre-shared keys, one per ``psk`` token, in order.
        entropy: the randomness for ``e`` and the KEM key pair; required when the
            pattern makes us generate one.

    Raises:
        ConfigError: ``protocol`` is a name that does not parse or is not implemented.
        ValueError: a key is missing, unused by the pattern, or of the wrong size.
    """

    def __init__(
        self,
        *,
        protocol: NoiseProtocol | str,
        initiator: bool,
        prologue: bytes = b"",
        s: KeyPair | bytes | None = None,
        e: KeyPair | bytes | None = None,
        rs: bytes | None = None,
        re: bytes | None = None,
        psks: Sequence[bytes] = (),
        entropy: Entropy | None = None,
    ) -> None:
        if isinstance(protocol, str):
            protocol = NoiseProtocol.from_name(protocol)
        self.protocol = protocol
        """The protocol this handshake runs."""
        self.initiator = initiator
        """True for the initiator."""
        pattern = protocol.pattern
        dh = protocol.dh
        self._s = dh.keypair(s) if isinstance(s, bytes) else s
        self._e = dh.keypair(e) if isinstance(e, bytes) else e
        self._rs = rs
        self._re = re
        self._e1: KeyPair | None = None
        self._re1: bytes | None = None
        self._psks = list(psks)
        self._entropy = entropy
        self._psk_mode = pattern.psk_count > 0
        self._check_arguments()

        self._symmetric = SymmetricState(
            protocol.name.encode(), cipher=protocol.cipher, hash_functions=protocol.hash
        )
        self._symmetric.mix_hash(prologue)
        for party_is_initiator, pre in (
            (True, pattern.initiator_premessage),
            (False, pattern.responder_premessage),
        ):
            mine = party_is_initiator == initiator
            for token in pre:
                key = self._premessage_key(token, mine)
                self._symmetric.mix_hash(key)
                if token is Token.E and self._psk_mode:
                    self._symmetric.mix_key(key)

        self._messages = pattern.messages
        self._index = 0
        self._failed = False
        self._split: tuple[CipherState, CipherState] | None = None
        self._payload_hash = b""

    # -- set-up checks ---------------------------------------------------------------

    def _check_arguments(self) -> None:
        plan = _role_plan(self.protocol.pattern, self.initiator)
        name, role = self.protocol.pattern.name, self.role
        for label, needed, given in (
            ("s", plan.needs_s, self._s is not None),
            ("rs", plan.needs_rs, self._rs is not None),
            ("re", plan.needs_re, self._re is not None),
        ):
            if needed != given:
                verb = "needs" if needed else "does not use"
                raise ValueError(f"{name} as {role} {verb} {label!r}")
        if self._e is None and plan.premessage_e:
            raise ValueError(f"{name} as {role} needs 'e' (a pre-message)")
        if self._e is not None and not plan.sends_e:
            raise ValueError(f"{name} as {role} does not use 'e'")
        dhlen = self.protocol.dh.DHLEN
        for label, key in (("rs", self._rs), ("re", self._re)):
            if key is not None and len(key) != dhlen:
                raise ValueError(f"{label!r} must be {dhlen} bytes")
        if len(self._psks) != plan.psk_count:
            raise ValueError(f"{name} needs {plan.psk_count} PSKs, got {len(self._psks)}")
        if any(len(psk) != PSK_LEN for psk in self._psks):
            raise ValueError(f"a PSK is {PSK_LEN} bytes")
        generates = (self._e is None and plan.sends_e) or plan.sends_e1
        if generates and self._entropy is None:
            raise ValueError(f"{name} as {role} generates keys: pass an entropy source")

    def _premessage_key(self, token: Token, mine: bool) -> bytes:
        """The public key a pre-message token stands for (checked present by now)."""
        if mine:
            pair = self._e if token is Token.E else self._s
            assert pair is not None
            return pair.public
        key = self._re if token is Token.E else self._rs
        assert key is not None
        return key

    # -- inspection ------------------------------------------------------------------

    @property
    def role(self) -> str:
        """``"initiator"`` or ``"responder"``."""
        return "initiator" if self.initiator else "responder"

    @property
    def message_index(self) -> int:
        """How many handshake messages have been written or read so far."""
        return self._index

    @property
    def complete(self) -> bool:
        """True once the last message pattern has been processed."""
        return self._split is not None

    @property
    def failed(self) -> bool:
        """True once an error aborted the handshake; the state is then unusable."""
        return self._failed

    @property
    def writes_next(self) -> bool:
        """True when the next message is ours to write (False when done or failed)."""
        if self.complete or self._failed:
            return False
        return (self._index % 2 == 0) == self.initiator

    @property
    def remote_static(self) -> bytes | None:
        """``rs``: the peer's static public key, once known."""
        return self._rs

    @property
    def remote_ephemeral(self) -> bytes | None:
        """``re``: the peer's ephemeral public key, once known."""
        return self._re

    @property
    def payload_hash(self) -> bytes:
        """``h`` just before the payload of the last message written or read was
        encrypted or decrypted: what a signature in that payload may bind to."""
        return self._payload_hash

    def get_handshake_hash(self) -> bytes:
        """GetHandshakeHash(): the final ``h`` (§11.2 channel binding).

        Raises:
            StateError: the handshake is not complete.
        """
        self._require_complete()
        return self._symmetric.get_handshake_hash()

    def split(self) -> tuple[CipherState, CipherState]:
        """The ``(c1, c2)`` pair Split() gave after the last message (the same objects on
        every call): ``c1`` for initiator-to-responder messages, ``c2`` for the reverse.

        Raises:
            StateError: the handshake is not complete.
        """
        self._require_complete()
        assert self._split is not None
        return self._split

    def _require_complete(self) -> None:
        if self._failed:
            raise StateError("the handshake failed")
        if self._split is None:
            raise StateError(f"the handshake is at message {self._index + 1}, not complete")

    def _require_turn(self, writing: bool) -> None:
        if self._failed:
            raise StateError("the handshake failed; start a new one")
        if self.complete:
            raise StateError("the handshake is complete")
        if self.writes_next != writing:
            verb = "read" if writing else "write"
            raise StateError(f"message {self._index + 1} is ours to {verb}, not to the other")

    # -- WriteMessage ----------------------------------------------------------------

    def write_message(self, payload: bytes | PayloadBuilder = b"") -> bytes:
        """WriteMessage(payload): the next handshake message.

        Args:
            payload: the payload bytes, or a callable given ``h`` just before the
                payload is encrypted (to sign the transcript) that returns them.

        Returns:
            The message. After the last one, ``split()`` gives the transport ciphers.

        Raises:
            StateError: it is not our turn, or the handshake is complete or failed.
            ValueError: the message would exceed 65535 bytes (the state is then failed
                if the payload came from a callable).
            HandshakeError: a key the peer supplied is invalid (e.g. a low-order point).
        """
        self._require_turn(writing=True)
        tokens = self._messages[self._index]
        if isinstance(payload, bytes) and len(payload) + self._overhead(tokens) > MAX_MESSAGE_LEN:
            raise ValueError(f"a Noise message is at most {MAX_MESSAGE_LEN} bytes")
        try:
            parts: list[bytes] = []
            for token in tokens:
                self._write_token(token, parts)
            self._payload_hash = self._symmetric.h
            body = payload(self._payload_hash) if callable(payload) else payload
            parts.append(self._symmetric.encrypt_and_hash(body))
            message = b"".join(parts)
            if len(message) > MAX_MESSAGE_LEN:
                raise ValueError(f"a Noise message is at most {MAX_MESSAGE_LEN} bytes")
        except Exception:
            self._fail()
            raise
        self._advance()
        return message

    def _write_token(self, token: Token, parts: list[bytes]) -> None:
        symmetric = self._symmetric
        if token is Token.E:
            if self._e is None:
                assert self._entropy is not None
                self._e = self.protocol.dh.generate_keypair(self._entropy)
            parts.append(self._e.public)
            symmetric.mix_hash(self._e.public)
            if self._psk_mode:
                symmetric.mix_key(self._e.public)
        elif token is Token.S:
            assert self._s is not None
            parts.append(symmetric.encrypt_and_hash(self._s.public))
        elif token is Token.E1:
            kem = self.protocol.kem
            assert kem is not None and self._entropy is not None
            self._e1 = kem.generate_kem_keypair(self._entropy)
            parts.append(symmetric.encrypt_and_hash(self._e1.public))
        elif token is Token.EKEM1:
            kem = self.protocol.kem
            assert kem is not None and self._re1 is not None
            ciphertext, kem_output = kem.generate_kem_ciphertext(self._re1)
            parts.append(symmetric.encrypt_and_hash(ciphertext))
            symmetric.mix_key(kem_output)
        else:
            self._mix_token(token)

    # -- ReadMessage -----------------------------------------------------------------

    def read_message(self, message: bytes) -> bytes:
        """ReadMessage(message): process the peer's next handshake message.

        Args:
            message: the handshake message as received.

        Returns:
            The decrypted payload. After the last message, ``split()`` is available.

        Raises:
            StateError: it is not the peer's turn, or the handshake is complete or
                failed (including by an earlier bad message).
            HandshakeError: the message is too long or short, fails authentication
                or carries an invalid key; the state is then failed.
        """
        self._require_turn(writing=False)
        tokens = self._messages[self._index]
        try:
            data = bytes(message)
            if len(data) > MAX_MESSAGE_LEN:
                raise HandshakeError(f"handshake message over {MAX_MESSAGE_LEN} bytes")
            pos = 0
            for token in tokens:
                pos = self._read_token(token, data, pos)
            self._payload_hash = self._symmetric.h
            rest = data[pos:]
            if self._symmetric.has_key() and len(rest) < TAG_LEN:
                raise HandshakeError(f"handshake message {self._index + 1} is truncated")
            payload = self._symmetric.decrypt_and_hash(rest)
        except AuthenticationError:
            self._fail()
            raise HandshakeError(
                f"handshake message {self._index + 1} failed authentication"
            ) from None
        except Exception:
            self._fail()
            raise
        self._advance()
        return payload

    def _take(self, data: bytes, pos: int, size: int, encrypted: bool) -> tuple[bytes, int]:
        if encrypted and self._symmetric.has_key():
            size += TAG_LEN
        if pos + size > len(data):
            raise HandshakeError(f"handshake message {self._index + 1} is truncated")
        return data[pos : pos + size], pos + size

    def _read_token(self, token: Token, data: bytes, pos: int) -> int:
        symmetric = self._symmetric
        kem = self.protocol.kem
        if token is Token.E:
            self._re, pos = self._take(data, pos, self.protocol.dh.DHLEN, encrypted=False)
            symmetric.mix_hash(self._re)
            if self._psk_mode:
                symmetric.mix_key(self._re)
        elif token is Token.S:
            field, pos = self._take(data, pos, self.protocol.dh.DHLEN, encrypted=True)
            self._rs = symmetric.decrypt_and_hash(field)
        elif token is Token.E1:
            assert kem is not None
            field, pos = self._take(data, pos, kem.KEMPUBLICKEYLEN, encrypted=True)
            self._re1 = symmetric.decrypt_and_hash(field)
        elif token is Token.EKEM1:
            assert kem is not None and self._e1 is not None
            field, pos = self._take(data, pos, kem.KEMCIPHERTEXTLEN, encrypted=True)
            ciphertext = symmetric.decrypt_and_hash(field)
            symmetric.mix_key(kem.kem(self._e1, ciphertext))
        else:
            self._mix_token(token)
        return pos

    # -- shared steps ----------------------------------------------------------------

    def _mix_token(self, token: Token) -> None:
        """The tokens both sides process alike: the four DHs and ``psk``."""
        if token is Token.PSK:
            self._symmetric.mix_key_and_hash(self._psks.pop(0))
            return
        local_static, remote_static = _DH_OPERANDS[token]
        if not self.initiator:  # canonical notation names the initiator's key first
            local_static, remote_static = remote_static, local_static
        key_pair = self._s if local_static else self._e
        public = self._rs if remote_static else self._re
        assert key_pair is not None and public is not None
        self._symmetric.mix_key(self.protocol.dh.dh(key_pair, public))

    def _overhead(self, tokens: tuple[Token, ...]) -> int:
        """Bytes a message adds around a payload of the given tokens (for size checks)."""
        dh, kem = self.protocol.dh, self.protocol.kem
        keyed = self._symmetric.has_key()
        size = 0
        for token in tokens:
            tag = TAG_LEN if keyed else 0
            if token is Token.E:
                size += dh.DHLEN
                keyed = keyed or self._psk_mode
            elif token is Token.S:
                size += dh.DHLEN + tag
            elif token is Token.E1 and kem is not None:
                size += kem.KEMPUBLICKEYLEN + tag
            elif token is Token.EKEM1 and kem is not None:
                size += kem.KEMCIPHERTEXTLEN + tag
                keyed = True
            elif token in DH_TOKENS or token is Token.PSK:
                keyed = True
        return size + (TAG_LEN if keyed else 0)

    def _advance(self) -> None:
        self._index += 1
        if self._index == len(self._messages):
            self._split = self._symmetric.split()
            # §5: only h outlives the handshake; drop the local private keys.
            self._e = self._e1 = None

    def _fail(self) -> None:
        self._failed = True
        self._e = self._e1 = None
        self._psks.clear()

    def __repr__(self) -> str:
        state = "failed" if self._failed else "complete" if self.complete else "running"
        return f"HandshakeState({self.protocol.name}, {self.role}, message={self._index}, {state})"


@dataclass(frozen=True, slots=True)
class _RolePlan:
    """What one role of a pattern needs at Initialize(), worked out once per pattern."""

    needs_s: bool
    needs_rs: bool
    needs_re: bool
    premessage_e: bool
    sends_e: bool
    sends_e1: bool
    psk_count: int


@lru_cache(maxsize=256)
def _role_plan(pattern: HandshakePattern, initiator: bool) -> _RolePlan:
    peer_pre = pattern.responder_premessage if initiator else pattern.initiator_premessage
    my_pre = pattern.initiator_premessage if initiator else pattern.responder_premessage
    return _RolePlan(
        needs_s=pattern.sends(initiator, Token.S),
        needs_rs=Token.S in peer_pre,
        needs_re=Token.E in peer_pre,
        premessage_e=Token.E in my_pre,
        sends_e=pattern.sends(initiator, Token.E),
        sends_e1=pattern.sends(initiator, Token.E1),
        psk_count=pattern.psk_count,
    )
