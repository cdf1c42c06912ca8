"""``LinkHandshake``: the hybrid post-quantum XX handshake of one link, over indices.

Pipeline (docs/protocol/link.md §2)::

    initiator                                   responder
    HANDSHAKE_INIT(i_idx, msg1)        ---->    check rate and half-open limits
                                                read msg1, write msg2
                                    <----       HANDSHAKE_RESPONSE(r_idx, i_idx, msg2)
    read msg2 (responder proven),
    write msg3 -> LinkConnection
    HANDSHAKE_FINISH(r_idx, msg3)      ---->    read msg3 (initiator proven) -> LinkConnection

The initiator retransmits INIT with doubling delays until a response or the timeout;
the responder answers a retransmitted INIT with its cached RESPONSE. Once built, the
connection retransmits FINISH until it hears an authenticated frame. Any failure to
read a message is a ``RemoteError``: the caller counts it and drops the handshake.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import DecodeError, HandshakeError, RemoteError, StateError
from meshnet.ids import LinkId
from meshnet.link.config import LinkConfig
from meshnet.link.connection import LinkConnection, Outbox
from meshnet.link.events import LinkEvent
from meshnet.link.messages import (
    CAPABILITY_PROBE_ECHOES,
    FINISH_HEADER,
    INIT_HEADER,
    RESPONSE_HEADER,
    FrameType,
)
from meshnet.link.sealbuffers import SealBuffers
from meshnet.link.state import LinkInput, LinkState, Verdict, transition
from meshnet.noise.authenticated import AuthenticatedHandshake

__all__ = ["LINK_PROLOGUE", "LinkHandshake"]

LINK_PROLOGUE = b"meshnet-link-v1"


class LinkHandshake:
    """One side of a link handshake; builds a ``LinkConnection`` when it completes.

    Args:
        identity: our identity (signs the handshake, proves our NodeId).
        outbound: True for the initiator.
        local_index: our index for the key epoch this handshake creates.
        expected_peer: the NodeId the peer must prove, or None to learn it (TOFU).
        now: the current time.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        outbound: bool,
        local_index: int,
        expected_peer: NodeId | None,
        config: LinkConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        extension: bytes,
        datagram: bool,
        now: float,
    ) -> None:
        self.state = LinkState.INITIATING if outbound else LinkState.RESPONDING
        self.outbound = outbound
        self.local_index = local_index
        self.remote_index = 0
        self.started = now
        self._identity = identity
        self._config = config
        self._entropy = entropy
        self._verifier = verifier
        self._extension = extension
        self._datagram = datagram
        self._noise = AuthenticatedHandshake(
            identity=identity,
            initiator=outbound,
            pattern="XX",
            hybrid=config.hybrid,
            expected_peer=expected_peer,
            prologue=LINK_PROLOGUE,
            extension=extension,
            capabilities=CAPABILITY_PROBE_ECHOES if config.probe_echoes else 0,
            entropy=entropy,
            verifier=verifier,
        )
        self.failed = False
        self._finish = b""
        self._last_frame = b""  # INIT (initiator) or RESPONSE (responder), for retransmission
        self._retry_delay = config.handshake_retry
        self._next_retry: float | None = None

    def _read(self, message: bytes) -> None:
        try:
            self._noise.read_message(message)
        except RemoteError:
            self.failed = True  # the Noise state refuses further use
            raise

    # -- initiator ---------------------------------------------------------------------

    def initiate(self, now: float) -> bytes:
        """Write the INIT frame (message 1) and arm its retransmission."""
        if not self.outbound or self._last_frame:
            raise HandshakeError("initiate() is for a fresh initiator")
        msg1 = self._noise.write_message()
        self._last_frame = INIT_HEADER.pack(FrameType.HANDSHAKE_INIT, self.local_index) + msg1
        self._next_retry = now + self._retry_delay
        return self._last_frame

    def read_response(self, frame: bytes, now: float) -> None:
        """Read the RESPONSE frame (the responder is now proven) and write FINISH.

        Raises:
            RemoteError: the response is malformed or fails authentication.
        """
        transition(self.state, LinkInput.RESPONSE_RECEIVED)
        if len(frame) < RESPONSE_HEADER.size:
            raise DecodeError("handshake response shorter than its header")
        _, sender, receiver = RESPONSE_HEADER.unpack_from(frame)
        if receiver != self.local_index:
            raise HandshakeError("handshake response for another attempt")
        self._read(frame[RESPONSE_HEADER.size :])
        msg3 = self._noise.write_message()
        self.remote_index = sender
        self._finish = FINISH_HEADER.pack(FrameType.HANDSHAKE_FINISH, sender) + msg3
        self.state = LinkState.ESTABLISHED

    # -- responder ---------------------------------------------------------------------

    def respond(self, frame: bytes, now: float) -> bytes:
        """Read the INIT frame and write the RESPONSE frame (message 2).

        Raises:
            RemoteError: the INIT frame is malformed.
        """
        if self.outbound or self._last_frame:
            raise HandshakeError("respond() is for a fresh responder")
        if len(frame) < INIT_HEADER.size:
            raise DecodeError("handshake init shorter than its header")
        _, sender = INIT_HEADER.unpack_from(frame)
        self._read(frame[INIT_HEADER.size :])
        self.remote_index = sender
        msg2 = self._noise.write_message()
        self._last_frame = (
            RESPONSE_HEADER.pack(FrameType.HANDSHAKE_RESPONSE, self.local_index, sender) + msg2
        )
        return self._last_frame

    def is_retransmitted_init(self, frame: bytes) -> bool:
        """True when ``frame`` is an INIT of this same attempt (answer it again)."""
        if len(frame) < INIT_HEADER.size or self.outbound:
            return False
        return bool(INIT_HEADER.unpack_from(frame)[1] == self.remote_index)

    def last_frame(self) -> bytes:
        """The last handshake frame we sent (for a retransmission on request)."""
        return self._last_frame

    def read_finish(self, frame: bytes, now: float) -> None:
        """Read the FINISH frame: the initiator is now proven.

        Raises:
            RemoteError: the finish is malformed or fails authentication.
        """
        transition(self.state, LinkInput.FINISH_RECEIVED)
        if len(frame) < FINISH_HEADER.size:
            raise DecodeError("handshake finish shorter than its header")
        self._read(frame[FINISH_HEADER.size :])
        self.state = LinkState.ESTABLISHED

    # -- common ------------------------------------------------------------------------

    @property
    def peer(self) -> NodeId:
        """The NodeId the peer proved (only once the handshake is established)."""
        return self._noise.result().peer

    def build(
        self,
        now: float,
        *,
        link: LinkId,
        outbox: Outbox,
        events: deque[LinkEvent],
        allocate_index: Callable[[], int],
        buffers: SealBuffers | None = None,
    ) -> LinkConnection:
        """Build the established connection (wsproto style: the handshake hands off).

        Raises:
            StateError: the handshake is not complete.
        """
        if self.state is not LinkState.ESTABLISHED:
            raise StateError(f"handshake is {self.state.value}, not complete")
        return LinkConnection(
            link=link,
            identity=self._identity,
            result=self._noise.result(),
            local_index=self.local_index,
            remote_index=self.remote_index,
            outbound=self.outbound,
            datagram=self._datagram,
            config=self._config,
            entropy=self._entropy,
            verifier=self._verifier,
            extension=self._extension,
            outbox=outbox,
            events=events,
            finish_frame=self._finish if self.outbound else None,
            now=now,
            allocate_index=allocate_index,
            buffers=buffers,
        )

    def get_timer(self) -> float | None:
        deadline = self.started + self._config.handshake_timeout
        if self._next_retry is not None:
            return min(deadline, self._next_retry)
        return deadline

    def timed_out(self, now: float) -> bool:
        return now >= self.started + self._config.handshake_timeout

    def handle_timer(self, now: float) -> bytes | None:
        """Return a frame to retransmit when the retry delay passed, else None."""
        if self._next_retry is None or now < self._next_retry:
            return None
        self._retry_delay *= 2
        self._next_retry = now + self._retry_delay
        return self._last_frame if self.outbound else None

    def handle_input(self, inp: LinkInput) -> Verdict:
        """Apply a non-message input (a timeout, a close) to the state table."""
        result = transition(self.state, inp)
        if result.verdict is Verdict.ACCEPT:
            self.state = result.next_state
        return result.verdict
