"""Frozen snapshots of a node for the API, the CLI and the simulator."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.link.status import LinkManagerStatus

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
    peers: tuple[PeerInfo, ...]
