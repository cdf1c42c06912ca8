"""``RouteTable``: our shortest-path tree, the links route errors suspended, routes in use.

The tree is recomputed lazily: anything that changes the graph (an installed or expired
announcement, one of our links, a suspension) only marks it stale, and the next
question (``route``, ``refresh``) runs Dijkstra once over the whole database. Like an
OSPF SPF hold timer, at most one computation runs per ``min_interval`` seconds: within
it a stale tree answers with the previous one, and ``recompute_at`` tells the router
when to compute again (a burst of announcements, as when a mesh starts or heals, then
costs one Dijkstra per interval instead of one per announcement).

A *suspension* is a link a verified route error named: its reporter could not reach the
next hop. We leave it out of the graph until ``route_error_hold`` passes or the reporter
sends an announcement newer than the report (which says the truth about the link),
so a source reroutes at once without waiting for that announcement
(docs/protocol/routing.md §4.3).

*Routes in use* are the destinations we recently sent to (at most
``max_routes_in_use``, least recently used out; idle ones are forgotten after
``route_idle``). ``refresh`` reports a ``RouteChanged`` for each whose path changed (a
change of cost alone is recorded silently).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.deadlines import DeadlineHeap
from meshnet.routing.events import RouteChanged
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.paths import ShortestPaths, shortest_paths
from meshnet.routing.policy import PathPolicy

__all__ = ["RouteInUse", "RouteTable"]

Edge = tuple[NodeId, bytes]
"""A directed link named by its tail and the head's prefix."""


@dataclass(slots=True, eq=False)
class RouteInUse:
    """A destination we send to, with the path last chosen for it."""

    path: tuple[NodeId, ...] | None
    cost: int | None
    since: float
    """When this path was chosen."""
    last_used: float
    """When we last sent to the destination."""


class RouteTable:
    """Paths from ``me`` over ``lsdb`` with ``policy``'s costs.

    Args:
        me: our node id.
        lsdb: the link-state database (read only here).
        policy: turns link metrics into costs.
        max_in_use: most routes in use tracked.
        idle: seconds after which an unused route is forgotten.
        clock: the current time (the router's latest ``now``).
        min_interval: least time between two computations of the tree.
    """

    def __init__(
        self,
        *,
        me: NodeId,
        lsdb: LinkStateDatabase,
        policy: PathPolicy,
        max_in_use: int,
        idle: float,
        clock: Callable[[], float] = lambda: 0.0,
        min_interval: float = 0.0,
    ) -> None:
        self._me = me
        self._clock = clock
        self._min_interval = min_interval
        self._previous: ShortestPaths | None = None
        self._computed_at = float("-inf")
        self._lsdb = lsdb
        self._policy = policy
        self._max_in_use = max_in_use
        self._idle = idle
        self._local: Mapping[NodeId, LinkMetrics] = {}
        self._tree: ShortestPaths | None = None
        self._routes: dict[NodeId, tuple[tuple[NodeId, ...], int]] = {}  # of _routes_of:
        self._routes_of: ShortestPaths | None = None  # route()'s answers, per tree
        self._suspended: dict[Edge, int] = {}
        self._suspension_timers: DeadlineHeap[Edge] = DeadlineHeap()
        self._in_use: OrderedDict[NodeId, RouteInUse] = OrderedDict()
        self.computations = 0

    # -- what invalidates the tree ---------------------------------------------------

    def invalidate(self) -> None:
        """The database changed: recompute before the next answer."""
        self._tree = None

    @property
    def stale(self) -> bool:
        """Whether the tree must be recomputed."""
        return self._tree is None

    @property
    def held(self) -> bool:
        """Stale, but within ``min_interval`` of the last computation: the previous tree
        answers until ``next_deadline``."""
        return (
            self._tree is None
            and self._previous is not None
            and self._clock() < self._computed_at + self._min_interval
        )

    def compute(self) -> None:
        """Recompute the tree now if it is stale (the hold is the caller's business)."""
        if self._tree is None:
            self._computed_at = float("-inf")
            self._paths()

    def set_local(self, local: Mapping[NodeId, LinkMetrics]) -> None:
        """Our live neighbours and the metrics of our best link to each."""
        self._local = dict(local)
        self._tree = None

    def suspend(self, tail: NodeId, head_prefix: bytes, *, until: float, sequence: int) -> None:
        """Leave the link ``tail -> head_prefix`` out until ``until``, or until ``tail``
        announces with a sequence number above ``sequence``."""
        edge = (tail, head_prefix)
        self._suspended[edge] = max(sequence, self._suspended.get(edge, 0))
        self._suspension_timers.set(edge, until)
        self._tree = None

    def lift(self, origin: NodeId, sequence: int) -> None:
        """``origin`` announced at ``sequence``: lift its suspensions that are older."""
        for edge in [e for e, seq in self._suspended.items() if e[0] == origin and seq < sequence]:
            del self._suspended[edge]
            self._suspension_timers.set(edge, None)
            self._tree = None

    def suspended(self) -> int:
        """How many links are suspended."""
        return len(self._suspended)

    def next_deadline(self) -> float | None:
        """When the next suspension ends."""
        return self._suspension_timers.earliest()

    def recompute_at(self) -> float | None:
        """When a stale tree held back by ``min_interval`` may be computed, or None."""
        if self._tree is None and self._previous is not None and self._min_interval > 0:
            return self._computed_at + self._min_interval
        return None

    def handle_timer(self, now: float) -> None:
        """End the suspensions that are due."""
        for edge in self._suspension_timers.pop_due(now):
            del self._suspended[edge]
            self._tree = None

    # -- answers ---------------------------------------------------------------------

    def _paths(self) -> ShortestPaths:
        if self._tree is None:
            now = self._clock()
            previous = self._previous
            if previous is not None and now < self._computed_at + self._min_interval:
                return previous  # held back: the last tree answers until the interval ends
            graph = self._lsdb.graph(self._me, self._local, self._policy, self._suspended)
            self._tree = self._previous = shortest_paths(graph, self._me)
            self._computed_at = now
            self.computations += 1
        return self._tree

    def route(self, destination: NodeId) -> tuple[tuple[NodeId, ...], int] | None:
        """The best path to ``destination`` (relays then it) and its cost, or None."""
        tree = self._paths()
        if tree is not self._routes_of:  # a new tree: forget the old one's answers
            self._routes, self._routes_of = {}, tree
        found = self._routes.get(destination)
        if found is None:  # (no path is not kept: any id may be asked about)
            path = tree.path_to(destination)
            if path is None:
                return None
            found = self._routes[destination] = (path, tree.cost[destination])
        return found

    def use(self, destination: NodeId, now: float) -> RouteChanged | None:
        """We are sending to ``destination``: track its route; report if its path changed."""
        found = self.route(destination)
        path, cost = found if found is not None else (None, None)
        entry = self._in_use.get(destination)
        if entry is None:
            self._in_use[destination] = RouteInUse(path=path, cost=cost, since=now, last_used=now)
            if len(self._in_use) > self._max_in_use:
                self._in_use.popitem(last=False)
            return None
        entry.last_used = now
        self._in_use.move_to_end(destination)
        entry.cost = cost
        if path == entry.path:
            return None
        entry.path, entry.since = path, now
        return RouteChanged(destination=destination, path=path, cost=cost)

    @property
    def has_routes_in_use(self) -> bool:
        return bool(self._in_use)

    def refresh(self, now: float) -> list[RouteChanged]:
        """Recompute if stale; a ``RouteChanged`` for each route in use whose path changed."""
        for destination in [d for d, e in self._in_use.items() if now - e.last_used > self._idle]:
            del self._in_use[destination]
        changed: list[RouteChanged] = []
        for destination in sorted(self._in_use):
            entry = self._in_use[destination]
            found = self.route(destination)
            path, cost = found if found is not None else (None, None)
            if path != entry.path:
                entry.path, entry.cost, entry.since = path, cost, now
                changed.append(RouteChanged(destination=destination, path=path, cost=cost))
            else:
                entry.cost = cost
        return changed

    def routes_in_use(self) -> list[tuple[NodeId, RouteInUse]]:
        """Every route in use, ascending by destination."""
        return sorted(self._in_use.items(), key=lambda item: item[0])
