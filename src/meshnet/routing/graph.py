"""``LinkGraph``: the directed, costed edges of the link-state database, kept up to date.

Dijkstra needs, for every origin, the links it announces that the other end announces
too (the both-ends rule: a node cannot invent a link), each costed by the path policy
from the tail's measurements. Building that from every announcement for every shortest
path computation cost more than the computation itself (200 origins x 8 links of prefix
lookups and policy calls, to answer one ``route``), so it is maintained instead:

* an announcement installed for an origin already held changes only the edges *of* that
  origin and the edges *into* it (its old and new neighbours' edges to it appear or
  vanish with its list): those origins are marked dirty; when it lists the same
  neighbours as before (a cost announcement, the common case), only the origin is;
* an origin appearing or disappearing changes which prefixes resolve (a new origin may
  make a prefix resolve, or two origins make one ambiguous): everything is rebuilt;
* ``edges`` brings the dirty origins up to date, then answers. It is asked lazily, once
  per shortest-path computation, so a burst of announcements costs one update each
  plus the dirty origins' rebuild, never a full pass per announcement.

Costs are memoised per (RTT in ms, loss step): announcements carry quantised metrics, so
a mesh has few distinct values, and the policy is a pure function of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from meshnet.crypto.identity import NodeId
from meshnet.routing.messages import Announcement
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.policy import PathPolicy, clamp_cost

__all__ = ["Edges", "EntryView", "LinkGraph"]

Edges = list[tuple[NodeId, int]]
"""An origin's confirmed out-edges: (head, cost)."""


class EntryView(Protocol):
    """What the graph needs of one database entry (``lsdb.DatabaseEntry``)."""

    @property
    def announcement(self) -> Announcement:
        """The origin's current announcement."""

    @property
    def prefixes(self) -> frozenset[bytes]:
        """The neighbour prefixes it lists."""

    @property
    def own_prefix(self) -> bytes:
        """The origin's own prefix."""


class LinkGraph:
    """Confirmed, costed edges of every origin, rebuilt only where announcements changed.

    Args:
        entries: the database's entries by origin (read, never changed here).
        resolve: the database's prefix lookup (one origin, or None).
    """

    __slots__ = (
        "_all",
        "_costs",
        "_dirty",
        "_edges",
        "_entries",
        "_policy",
        "_prefixes",
        "_resolve",
    )

    def __init__(
        self,
        entries: Mapping[NodeId, EntryView],
        resolve: Callable[[bytes], NodeId | None],
    ) -> None:
        self._entries = entries
        self._resolve = resolve
        self._edges: dict[NodeId, Edges] = {}
        self._prefixes: dict[NodeId, list[bytes]] = {}  # the heads' prefixes, edge by edge
        self._dirty: dict[NodeId, None] = {}
        self._all = True
        self._policy: PathPolicy | None = None
        self._costs: dict[tuple[int | None, int], int] = {}

    # -- what changed ----------------------------------------------------------------

    def origins_changed(self) -> None:
        """An origin appeared or went away: prefixes may resolve differently."""
        self._all = True

    def replaced(self, origin: NodeId, old: EntryView | None, new: EntryView) -> None:
        """``origin``'s announcement was replaced (``old``) by ``new``."""
        if self._all:
            return
        dirty = self._dirty
        dirty[origin] = None
        if old is not None and old.prefixes == new.prefixes:
            return  # the same links, new costs: only the origin's own edges changed
        resolve = self._resolve
        for view in (old, new):
            if view is not None:
                for neighbour in view.announcement.neighbours:
                    peer = resolve(neighbour.prefix)
                    if peer is not None:
                        dirty[peer] = None

    # -- answers ---------------------------------------------------------------------

    def edges(self, policy: PathPolicy) -> Mapping[NodeId, Edges]:
        """Every origin's confirmed out-edges under ``policy`` (do not change them)."""
        if policy is not self._policy:
            self._policy = policy
            self._costs = {}
            self._all = True
        if self._all:
            self._all = False
            self._dirty.clear()
            self._edges.clear()
            self._prefixes.clear()
            for origin, entry in self._entries.items():
                self._update(origin, entry)
        elif self._dirty:
            for origin in self._dirty:
                held = self._entries.get(origin)
                if held is None:
                    self._edges.pop(origin, None)
                    self._prefixes.pop(origin, None)
                else:
                    self._update(origin, held)
            self._dirty.clear()
        return self._edges

    def prefixes(self, origin: NodeId) -> list[bytes]:
        """The announced prefixes of ``origin``'s edges, in the order of ``edges``."""
        return self._prefixes.get(origin, [])

    def _update(self, origin: NodeId, view: EntryView) -> None:
        entries, resolve, own = self._entries, self._resolve, view.own_prefix
        out: Edges = []
        prefixes: list[bytes] = []
        for neighbour in view.announcement.neighbours:
            peer = resolve(neighbour.prefix)
            if peer is None:
                continue
            other = entries.get(peer)
            if other is None or own not in other.prefixes:
                continue  # the both-ends rule
            key = (neighbour.rtt_ms, neighbour.loss)
            cost = self._costs.get(key)
            if cost is None:
                assert self._policy is not None
                metrics = LinkMetrics.from_entry(neighbour)
                cost = self._costs[key] = clamp_cost(self._policy.link_cost(metrics))
            out.append((peer, cost))
            prefixes.append(neighbour.prefix)
        self._edges[origin] = out
        self._prefixes[origin] = prefixes
