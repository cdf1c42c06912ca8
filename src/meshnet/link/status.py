"""Frozen snapshots of link state for the node, the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.ids import LinkId

__all__ = ["LinkManagerStatus", "LinkStatus"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatus:
    link: LinkId
    peer: str
    """The neighbour's NodeId in text form."""
    endpoint: str
    state: str
    outbound: bool
    datagram: bool
    age: float
    """Seconds since the link was established."""
    srtt: float | None
    """Smoothed round-trip time in seconds (RFC 6298), None before the first sample."""
    rttvar: float | None
    loss: float
    """Estimated probe loss ratio, 0.0 to 1.0 (datagram links)."""
    bytes_sent: int
    bytes_received: int
    frames_sent: int
    frames_received: int
    rekeys: int
    key_age: float
    """Seconds since the current keys were made."""
    drops: tuple[tuple[str, int], ...]
    """Frames dropped on this link, by reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkManagerStatus:
    links: tuple[LinkStatus, ...]
    handshakes_in_progress: int
    transports: int
    drops: tuple[tuple[str, int], ...]
    """Frames and handshakes dropped before reaching a link, by reason."""
