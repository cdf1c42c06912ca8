"""Our neighbours as the router sees them: one ``Neighbour`` per link, and their table.

A ``Neighbour`` is one link (``LinkId``) to one peer (the ``NodeId`` the link layer
proved) with its measurements and its three output queues, served in this order
(docs/protocol/routing.md §4.3):

1. ``control``: summaries and the route errors we report (small, bounded);
2. ``flood``: origins whose current announcement the peer is to receive, an ordered
   set, so a newer announcement replaces a queued older one and a database sync
   never holds more than one entry per origin;
3. ``queue``: data, fair between the neighbours it came from, then between sources
   (``FairQueue``).

``Neighbours`` indexes them by link, by peer and by the 8-byte prefix relays use.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter

from meshnet.crypto.identity import NodeId
from meshnet.ids import LinkId
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.messages import prefix_of
from meshnet.routing.metrics import LinkEstimator, LinkMetrics
from meshnet.routing.policy import PathPolicy
from meshnet.routing.queues import FairQueue
from meshnet.routing.ratelimit import TokenBucket
from meshnet.wire.headroom import Outgoing

__all__ = ["Neighbour", "Neighbours"]

_by_link = attrgetter("link")


@dataclass(slots=True, eq=False)
class Neighbour:
    """One link to a neighbour and what waits to go out on it."""

    link: LinkId
    peer: NodeId
    up_since: float
    estimator: LinkEstimator
    announced: LinkMetrics
    """The metrics in effect: quantised, changed only past the hysteresis."""
    queue: FairQueue
    control: deque[bytes]
    flood: dict[NodeId, None]
    signatures: TokenBucket
    """Bad signatures forgiven on this link; empty: its announcements are ignored."""
    control_limit: int
    """Most packets ``control`` holds."""
    stream: bool = False
    """The link runs over a stream carrier (TCP): packets leaving on it keep
    ``STREAM_PATH``."""
    paused: bool = False
    """The carrier under the link is full (the driver said so): hold output here, in
    the bounded queues, until it drains."""

    def push_control(self, packet: bytes) -> bool:
        """Queue a control packet; False (dropped) when ``control`` is full."""
        if len(self.control) >= self.control_limit:
            return False
        self.control.append(packet)
        return True

    def has_output(self) -> bool:
        """Whether anything waits to go out."""
        return bool(self.control or self.flood or len(self.queue))

    def next_packet(self, lsdb: LinkStateDatabase, now: float) -> Outgoing | None:
        """The next packet for this link: control, then announcements, then data."""
        if self.control:
            return self.control.popleft()
        while self.flood:
            origin = next(iter(self.flood))
            del self.flood[origin]
            entry = lsdb.get(origin)
            if entry is not None and entry.age_at(now) < entry.announcement.lifetime:
                return entry.announcement.encode(entry.age_at(now))
        queue = self.queue
        return queue.pop() if len(queue) else None


class Neighbours:
    """Our open links, by ``LinkId``, by peer and by peer prefix."""

    def __init__(self) -> None:
        self._links: dict[LinkId, Neighbour] = {}
        self._peers: dict[NodeId, list[LinkId]] = {}
        self._prefixes: dict[bytes, list[NodeId]] = {}
        self._pending: dict[LinkId, None] = {}  # links that may have output (ordered set)

    def mark(self, neighbour: Neighbour) -> None:
        """Something was queued on ``neighbour``: consider it in the next output round."""
        self._pending[neighbour.link] = None

    def __contains__(self, link: object) -> bool:
        return link in self._links

    def __len__(self) -> int:
        return len(self._links)

    def __iter__(self) -> Iterator[Neighbour]:
        """Every link, ascending by ``LinkId``."""
        for link in sorted(self._links):
            yield self._links[link]

    def get(self, link: LinkId) -> Neighbour | None:
        return self._links.get(link)

    def add(self, neighbour: Neighbour) -> None:
        self._links[neighbour.link] = neighbour
        links = self._peers.get(neighbour.peer)
        if links is None:
            links = self._peers[neighbour.peer] = []
            self._prefixes.setdefault(prefix_of(neighbour.peer), []).append(neighbour.peer)
        links.append(neighbour.link)
        links.sort()

    def remove(self, link: LinkId) -> Neighbour | None:
        """Forget ``link``; returns it (None if unknown)."""
        neighbour = self._links.pop(link, None)
        self._pending.pop(link, None)
        if neighbour is not None:
            links = self._peers[neighbour.peer]
            links.remove(link)
            if not links:
                del self._peers[neighbour.peer]
                prefix = prefix_of(neighbour.peer)
                self._prefixes[prefix].remove(neighbour.peer)
                if not self._prefixes[prefix]:
                    del self._prefixes[prefix]
        return neighbour

    def peers(self) -> list[NodeId]:
        """Every neighbour node, ascending."""
        return sorted(self._peers)

    def to(self, peer: NodeId) -> Neighbour | None:
        """Our link to ``peer`` (the lowest ``LinkId`` if several), or None."""
        links = self._peers.get(peer)
        return self._links[links[0]] if links else None

    def by_prefix(self, prefix: bytes) -> Neighbour | None:
        """Our link to the one neighbour whose id starts with ``prefix``, or None."""
        matches = self._prefixes.get(prefix)
        return self.to(matches[0]) if matches is not None and len(matches) == 1 else None

    def view(self, policy: PathPolicy) -> dict[NodeId, LinkMetrics]:
        """Each neighbour with the metrics of our cheapest link to it, ascending by peer."""
        view: dict[NodeId, LinkMetrics] = {}
        for peer in sorted(self._peers):
            links = [self._links[link] for link in self._peers[peer]]
            best = min(links, key=lambda n: (policy.link_cost(n.announced), n.link))
            view[peer] = best.announced
        return view

    def with_output(self) -> list[Neighbour]:
        """The links with something waiting, ascending by ``LinkId``.

        Only links marked since they last ran dry are looked at, so a relay with many
        quiet links pays for its busy ones only.
        """
        pending = self._pending
        if not pending:
            return []  # the usual case after an input that queued nothing
        busy = []
        links = self._links
        for link in list(pending):
            neighbour = links.get(link)
            if neighbour is None or not neighbour.has_output():
                del pending[link]
            elif not neighbour.paused:  # a paused link stays pending until it resumes
                busy.append(neighbour)
        if len(busy) > 1:
            busy.sort(key=_by_link)
        return busy

    def has_output(self) -> bool:
        """Whether any link has something waiting."""
        return bool(self.with_output())
