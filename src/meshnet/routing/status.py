"""Frozen snapshots of routing state for the node, the API and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.ids import LinkId
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.policy import PathPolicy

__all__ = [
    "AnnouncedLink",
    "DatabaseEntryInfo",
    "NeighbourLinkInfo",
    "RouteInfo",
    "RoutingCounters",
    "RoutingStatus",
    "database_info",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnouncedLink:
    """One neighbour an origin announces."""

    prefix: str
    """The neighbour's 8-byte id prefix, in hex."""
    node: NodeId | None
    """The node that prefix names in our database, if exactly one does."""
    rtt: float | None
    """The RTT the origin measured, seconds (None: not yet measured)."""
    loss: float
    """The round-trip probe loss the origin measured."""
    cost: int
    """The link's cost under our policy."""
    confirmed: bool
    """Whether the other end announces the link too (only then is it used)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseEntryInfo:
    """One origin in the link-state database."""

    origin: NodeId
    sequence: int
    age: int
    """Seconds since the origin made the announcement."""
    expires_in: float
    """Seconds until it ages out."""
    links: tuple[AnnouncedLink, ...]
    endpoints: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighbourLinkInfo:
    """One of our own links, as the router sees it."""

    link: LinkId
    peer: NodeId
    rtt: float | None
    """Smoothed RTT in seconds (None before the first sample)."""
    loss: float
    """Estimated round-trip probe loss ratio."""
    cost: int
    """Cost under our policy, from the metrics we last announced."""
    samples: int
    """Probe samples taken."""
    queued_packets: int
    """Data packets waiting to go out on this link."""
    queued_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteInfo:
    """A route in use: a destination we recently sent to."""

    destination: NodeId
    path: tuple[NodeId, ...] | None
    """Relays then the destination; None while there is no path."""
    cost: int | None
    age: float
    """Seconds since this path was chosen."""
    idle: float
    """Seconds since we last sent to the destination."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingCounters:
    """Totals since the router started."""

    originated: int
    """Packets we sent as source (``send``)."""
    forwarded: int
    """Packets we relayed."""
    delivered: int
    """Packets delivered to us."""
    route_errors_sent: int
    route_errors_received: int
    """Verified route errors that made us avoid a link."""
    announcements_sent: int
    """Announcements we made (not counting the copies flooded)."""
    announcements_accepted: int
    announcements_expired: int
    """Entries that aged out of the database."""
    announcements_rejected: tuple[tuple[str, int], ...]
    """Offered announcements not installed, by reason."""
    drops: tuple[tuple[str, int], ...]
    """Packets dropped, by reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingStatus:
    """Everything the router knows, frozen at one instant."""

    node_id: NodeId
    policy: str
    """The path policy's name."""
    sequence: int
    """Our current announcement sequence number (persist it across restarts)."""
    database: tuple[DatabaseEntryInfo, ...]
    """Every origin, ascending by id (ourselves included once we announced)."""
    neighbours: tuple[NeighbourLinkInfo, ...]
    """Our links, ascending by LinkId."""
    routes: tuple[RouteInfo, ...]
    """Routes in use, ascending by destination."""
    pending_packets: int
    """Packets waiting for a route."""
    suspended_links: int
    """Links left out of our paths because a route error named them."""
    counters: RoutingCounters


def database_info(
    lsdb: LinkStateDatabase,
    me: NodeId,
    local: Mapping[NodeId, LinkMetrics],
    policy: PathPolicy,
    now: float,
) -> tuple[DatabaseEntryInfo, ...]:
    """Every entry of ``lsdb``, ascending by origin, its links costed by ``policy``."""
    entries = []
    for origin in lsdb.origins():
        entry = lsdb.get(origin)
        if entry is None:
            continue
        links = []
        for announced, node, confirmed in lsdb.links_of(origin, me, local):
            metrics = LinkMetrics.from_entry(announced)
            links.append(
                AnnouncedLink(
                    prefix=announced.prefix.hex(),
                    node=node,
                    rtt=metrics.rtt,
                    loss=metrics.loss,
                    cost=policy.link_cost(metrics),
                    confirmed=confirmed,
                )
            )
        entries.append(
            DatabaseEntryInfo(
                origin=origin,
                sequence=entry.announcement.sequence,
                age=entry.age_at(now),
                expires_in=entry.expires - now,
                links=tuple(links),
                endpoints=entry.announcement.endpoints,
            )
        )
    return tuple(entries)
