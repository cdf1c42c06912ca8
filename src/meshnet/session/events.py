"""Events the session layer reports upwards (past tense: something happened)."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.ids import StreamId
from meshnet.session.frames import CloseReason

__all__ = [
    "DatagramReceived",
    "SessionClosed",
    "SessionEstablished",
    "SessionEvent",
    "SessionHandshakeFailed",
    "StreamDataReceived",
    "StreamFinished",
    "StreamOpened",
    "StreamReset",
    "StreamWritable",
    "PingAnswered",
]


@dataclass(frozen=True, slots=True)
class SessionEstablished:
    peer: NodeId
    """The peer, proven by the handshake."""
    initiator: bool
    """True when we started the handshake."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed:
    peer: NodeId
    """The peer of the session that ended."""
    reason: CloseReason
    """Why it ended."""
    detail: str
    """A human-readable explanation."""
    by_peer: bool
    """True when the peer closed it (a CLOSE frame)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionHandshakeFailed:
    peer: NodeId
    """The peer we could not reach."""
    reason: CloseReason
    """HANDSHAKE_TIMEOUT, HANDSHAKE_FAILED or NO_IDENTITY_RECORD."""
    detail: str
    """A human-readable explanation."""
    dropped_datagrams: int
    """Datagrams that were waiting for the session and are now dropped."""


@dataclass(frozen=True, slots=True)
class DatagramReceived:
    source: NodeId
    """The authenticated sender."""
    payload: bytes
    """The datagram's bytes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamOpened:
    stream: StreamId
    """Our handle for the stream the peer opened."""
    peer: NodeId
    """Who opened it."""
    service: int
    """The service number the peer asked for."""


@dataclass(frozen=True, slots=True)
class StreamDataReceived:
    stream: StreamId
    """The stream."""
    data: bytes
    """The next bytes, in order. Taking this event from ``next_event`` gives the peer
    credit for as many bytes (flow control)."""


@dataclass(frozen=True, slots=True)
class StreamWritable:
    stream: StreamId
    """A stream whose send buffer was full has room again."""


@dataclass(frozen=True, slots=True)
class StreamFinished:
    stream: StreamId
    """The peer finished its direction: every byte was delivered before this event."""


@dataclass(frozen=True, slots=True)
class StreamReset:
    stream: StreamId
    """The stream that was abandoned."""
    code: int
    """The peer's error code, or a ``StreamErrorCode`` (session closed, refused)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PingAnswered:
    peer: NodeId
    """Who answered."""
    token: int
    """What ``ping`` returned."""
    rtt: float
    """Seconds from sending the probe to its acknowledgement, less the peer's ack delay."""
    resent: int
    """How many times the probe was lost and sent again before this answer."""


SessionEvent = (
    SessionEstablished
    | SessionClosed
    | SessionHandshakeFailed
    | DatagramReceived
    | StreamOpened
    | StreamDataReceived
    | StreamWritable
    | StreamFinished
    | StreamReset
    | PingAnswered
)
