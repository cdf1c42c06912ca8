"""``NodeConfig``: the settings of one node, grouped by layer.

Reading and validating the TOML file is the runtime's job; this module holds the
validated values and their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshnet.link.config import LinkConfig
from meshnet.node.peers import Backoff
from meshnet.routing.config import RoutingConfig
from meshnet.services.messaging import MessagingConfig
from meshnet.session.config import SessionConfig

__all__ = ["NodeConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    link: LinkConfig = field(default_factory=LinkConfig)
    """Link timers, limits and the handshake mode."""
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    """Announcement timers, rate limits and forwarding bounds."""
    session: SessionConfig = field(default_factory=SessionConfig)
    """End-to-end session timers, windows and limits."""
    backoff: Backoff = field(default_factory=Backoff)
    """How configured peers are redialled."""
    messaging: MessagingConfig = field(default_factory=MessagingConfig)
    """Message expiry, retry backoff, size limits and per-peer quotas."""
    handshake_extension: bytes = b""
    """Opaque bytes carried in our link handshake payloads."""
