"""Frozen snapshots of session state for the node, the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SessionManagerStatus", "SessionStatus"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStatus:
    peer: str
    """The peer's NodeId in text form."""
    state: str
    """The session state (``state.SessionState`` value)."""
    initiator: bool
    """True when we started the handshake."""
    age: float
    """Seconds since the session was created."""
    srtt: float | None
    """Smoothed round-trip time in seconds (RFC 9002), None before the first sample."""
    rttvar: float | None
    min_rtt: float | None
    cwnd: int
    """Congestion window in bytes."""
    bytes_in_flight: int
    max_packet: int
    """The packet size budget towards this peer."""
    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int
    retransmits: int
    """Packets declared lost (their contents were sent again if still needed)."""
    probes: int
    """Probe timeouts that fired."""
    rekeys: int
    key_age: float | None
    """Seconds since the current keys were made, None while handshaking."""
    streams: int
    """Streams open now."""
    queued_datagrams: int
    drops: tuple[tuple[str, int], ...]
    """Packets, frames and datagrams dropped, by reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionManagerStatus:
    sessions: tuple[SessionStatus, ...]
    drops: tuple[tuple[str, int], ...]
    """Packets dropped before reaching a session, by reason."""
