"""Events the router reports upwards (past tense: something happened)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId

__all__ = [
    "DestinationUnreachable",
    "PacketDelivered",
    "RouteChanged",
    "RoutingEvent",
    "UnreachableReason",
]


class UnreachableReason(enum.StrEnum):
    """Why packets for a destination were given up."""

    NO_ROUTE = "no_route"
    """No path appeared within ``pending_timeout``."""
    PENDING_FULL = "pending_full"
    """No path yet, and the bounded wait queue had no room."""
    PATH_TOO_LONG = "path_too_long"
    """The best path has more relays than ``max_relays`` or hops than ``hop_limit``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketDelivered:
    source: NodeId
    """The node that sent the packet."""
    payload: bytes | memoryview
    """The end-to-end payload, as the source gave it to ``send`` (a read-only view of
    the link's plaintext on the way up: the session opens it without a copy)."""
    hops: int
    """Links the packet crossed (relays + 1)."""
    room: int = 0
    """The largest payload every link of the packet's path carries whole, when all of
    them are stream links (``STREAM_PATH``); 0 otherwise (a datagram link on the way)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationUnreachable:
    destination: NodeId
    """The node packets were given up for."""
    reason: UnreachableReason
    """Why."""
    packets: int
    """How many packets were dropped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteChanged:
    destination: NodeId
    """A destination we are sending to (a route in use)."""
    path: tuple[NodeId, ...] | None
    """The new path (relays then the destination), or None: no path any more."""
    cost: int | None
    """The new path's cost under our policy, or None with no path."""


RoutingEvent = PacketDelivered | DestinationUnreachable | RouteChanged
