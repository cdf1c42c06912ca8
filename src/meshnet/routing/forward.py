"""Forwarding rules for source-routed packets: who may receive one, and where it goes next.

A relay keeps no per-destination state: everything it needs is in the header
(docs/protocol/routing.md §4). On receipt, in order:

1. The header must describe a loop-free path: source and destination differ, no relay
   prefix repeats, and no relay prefix is the source's or the destination's. A packet
   arriving back at its source is a loop too.
2. It must be meant for us: ``relays[next]`` is our prefix, or ``next`` is past the
   relays and we are the destination (``MISDIRECTED`` otherwise).
3. It must come from the hop before us on the path: the source when ``next`` is 0, else
   the neighbour whose prefix is ``relays[next - 1]`` (``WRONG_PREVIOUS_HOP``).

Then the destination delivers it; a relay checks the hop limit and passes it to the
next hop (``relays[next + 1]``, or the destination after the last relay).
"""

from __future__ import annotations

import enum

from meshnet.crypto.identity import Identity, NodeId
from meshnet.routing.messages import PREFIX_SIZE
from meshnet.routing.packets import (
    RoutedHeader,
    RouteError,
    RouteErrorReason,
    encode_routed,
)
from meshnet.wire.codes import RoutingPacket

__all__ = ["DropReason", "check_route", "next_hop", "route_error_for"]


class DropReason(enum.StrEnum):
    """Why the router dropped a packet (status counter names)."""

    UNKNOWN_LINK = "unknown_link"
    """The packet arrived on a link the router was not told about."""
    UNKNOWN_TYPE = "unknown_type"
    """The first byte is not a routing packet type."""
    MALFORMED = "malformed"
    """A routed packet or summary that does not parse."""
    LOOP = "loop"
    """The relay list repeats a node, or the packet came back to its source."""
    MISDIRECTED = "misdirected"
    """The header does not name us as the next relay or as the destination."""
    WRONG_PREVIOUS_HOP = "wrong_previous_hop"
    """It came from a neighbour that is not the hop before us on its path."""
    HOP_LIMIT = "hop_limit"
    """The hop limit ran out before the destination."""
    NEXT_HOP_GONE = "next_hop_gone"
    """The next hop is not our neighbour (any more); a route error went back."""
    QUEUE_FULL = "queue_full"
    """The outgoing link's fair queue had no room (longest-queue drop)."""
    LINK_DOWN = "link_down"
    """Queued for a link that went down."""
    CONTROL_FULL = "control_full"
    """A control packet (summary, route error) found its link's control queue full."""
    BAD_ROUTE_ERROR = "bad_route_error"
    """A route error that does not parse or whose signature does not verify."""
    STALE_ROUTE_ERROR = "stale_route_error"
    """A route error older than its reporter's announcement we hold, or about a link
    that announcement does not list."""
    ROUTE_ERROR_LIMITED = "route_error_limited"
    """A route error we did not send: one went to that source recently."""
    NO_ROUTE = "no_route"
    """Given up waiting for a path (``pending_timeout``) or no room to wait."""
    PATH_TOO_LONG = "path_too_long"
    """The best path exceeds ``max_relays`` or ``hop_limit``, or its prefixes collide."""


def check_route(header: RoutedHeader, me: NodeId, previous: NodeId) -> DropReason | None:
    """Whether we may accept ``header`` from neighbour ``previous``; the reason if not.

    Compares raw ids (bytes, compared in C): this runs for every packet a node receives.
    """
    relays = header.relays
    source, destination, mine = header.source.raw, header.destination.raw, me.raw
    if source in (destination, mine):
        return DropReason.LOOP
    if relays and (
        len(set(relays)) != len(relays)
        or source[:PREFIX_SIZE] in relays
        or destination[:PREFIX_SIZE] in relays
    ):
        return DropReason.LOOP
    position = header.next
    if position < len(relays):
        if relays[position] != mine[:PREFIX_SIZE] or destination == mine:
            return DropReason.MISDIRECTED
    elif destination != mine:
        return DropReason.MISDIRECTED
    if position == 0:
        if previous.raw != source:
            return DropReason.WRONG_PREVIOUS_HOP
    elif previous.raw[:PREFIX_SIZE] != relays[position - 1]:
        return DropReason.WRONG_PREVIOUS_HOP
    return None


def next_hop(header: RoutedHeader) -> bytes | NodeId:
    """Where a relay sends the packet: the next relay's prefix, or the destination.

    The caller has checked (``check_route``) that we are ``relays[next]``.
    """
    following = header.next + 1
    if following < len(header.relays):
        return header.relays[following]
    return header.destination


def route_error_for(
    identity: Identity,
    header: RoutedHeader,
    *,
    unreachable: bytes,
    sequence: int,
    hop_limit: int,
) -> bytes:
    """The ROUTE_ERROR a relay (``identity``) sends back for a packet it could not forward.

    It travels the reversed path: the relays before us, then the packet's source. Its
    first hop is the neighbour the packet came from.

    Args:
        identity: the reporting relay's keys.
        header: the header of the packet that could not go on.
        unreachable: the prefix of the next hop we could not reach.
        sequence: our current announcement sequence number.
        hop_limit: the hop limit to start the error with.
    """
    error = RouteError.create(
        identity,
        source=header.source,
        unreachable=unreachable,
        destination=header.destination,
        reporter_sequence=sequence,
        reason=RouteErrorReason.NEXT_HOP_GONE,
    )
    back = RoutedHeader(
        kind=RoutingPacket.ROUTE_ERROR,
        hop_limit=hop_limit,
        next=0,
        source=identity.node_id,
        destination=header.source,
        relays=tuple(reversed(header.relays[: header.next])),
    )
    return encode_routed(back, error.encode_body())
