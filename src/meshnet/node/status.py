"""Frozen snapshots of a node for the API, the CLI and the simulator."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.link.status import LinkManagerStatus
from meshnet.routing.status import RoutingStatus
from meshnet.services.messaging import MessagingStatus
from meshnet.session.status import SessionManagerStatus

__all__ = ["NodeStatus", "PeerInfo"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    endpoint: str
    expected: str | None
    """The NodeId the endpoint must prove, if known."""
    connected: bool
    dialing: bool
    failures: int
    next_attempt: float | None
    last_error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus:
    node_id: str
    links: LinkManagerStatus
    routing: RoutingStatus
    sessions: SessionManagerStatus
    messaging: MessagingStatus
    """Outbox and inbox counts, messaging streams and refused frames."""
    peers: tuple[PeerInfo, ...]
    drops: tuple[tuple[str, int], ...]
    """Link payloads the node itself dropped, by reason."""
