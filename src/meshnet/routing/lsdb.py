"""``LinkStateDatabase``: the newest verified announcement of every origin, and its graph.

Theory of operation (docs/protocol/routing.md §2-§3)
----------------------------------------------------
An announcement offered to the database goes through, in order:

1. ``classify``: cheap checks before any signature work. An origin we hold at the same
   or a higher sequence number makes it ``DUPLICATE`` or ``STALE``; an age at or past its
   lifetime makes it ``EXPIRED``; a new origin when ``max_origins`` are held makes it
   ``DATABASE_FULL``. ``None`` means "newer: verify it".
2. (The router verifies the signatures, once, through the shared caching verifier.)
3. ``admit``: the origin's token bucket (``accept_rate``, ``accept_burst``). With a token
   the announcement replaces the old one. Without, it is counted as rate limited and
   kept in the origin's single *deferred* slot (a newer one replaces it), to be installed
   when the bucket refills: a fast origin is slowed down, but its latest state is never
   lost until the next refresh.

Entries expire ``lifetime - age`` seconds after they were taken. Neighbours are named
by 8-byte prefixes; ``resolve`` maps a prefix to the one origin holding it (an ambiguous
prefix resolves to nothing). ``graph`` gives the directed edges Dijkstra uses, keeping
only links *both* ends announce: a node cannot invent a link to another. They are kept
up to date by ``graph.py`` as announcements are installed, not rebuilt per question.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.deadlines import DeadlineHeap
from meshnet.routing.graph import LinkGraph
from meshnet.routing.messages import Announcement, NeighbourEntry, prefix_of
from meshnet.routing.metrics import LinkMetrics
from meshnet.routing.policy import PathPolicy, clamp_cost
from meshnet.routing.ratelimit import TokenBucket

__all__ = ["DatabaseEntry", "LinkStateDatabase", "Verdict"]


class Verdict(enum.StrEnum):
    """What the database made of an offered announcement (status counter names)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    EXPIRED = "expired"
    DATABASE_FULL = "database_full"
    RATE_LIMITED = "rate_limited"


@dataclass(slots=True, eq=False)
class DatabaseEntry:
    """One origin's current announcement and when we took it."""

    announcement: Announcement
    received: float
    """Local time the announcement was installed."""
    age: int
    """Its age, in seconds, when it was installed."""
    prefixes: frozenset[bytes]
    """The neighbour prefixes it lists (for the both-ends check)."""
    tail: bytes
    """Its bytes after the ANNOUNCE header (body and signature): a copy that arrives
    again is recognised by comparing these, without decoding it."""
    own_prefix: bytes = b""
    """The origin's own prefix (what its neighbours list)."""

    def age_at(self, now: float) -> int:
        """The age to put in the header when passing it on at ``now``."""
        return self.age + int(max(0.0, now - self.received))

    @property
    def expires(self) -> float:
        """When the entry stops being valid."""
        return self.received + self.announcement.lifetime - self.age


@dataclass(slots=True, eq=False)
class _Deferred:
    announcement: Announcement
    age: int
    received: float


class LinkStateDatabase:
    """Verified announcements by origin, with rate limits, expiry and prefix lookup.

    Args:
        accept_rate: announcements installed per second per origin.
        accept_burst: burst of that rate.
        max_origins: most origins held.
    """

    def __init__(self, *, accept_rate: float, accept_burst: int, max_origins: int) -> None:
        self._rate = accept_rate
        self._burst = accept_burst
        self._max = max_origins
        self._entries: dict[NodeId, DatabaseEntry] = {}
        self._by_raw: dict[bytes, DatabaseEntry] = {}
        self._sorted: list[bytes] = []
        # prefix -> its one origin, or a list when several share it (rare: 2^-64 by chance)
        self._by_prefix: dict[bytes, NodeId | list[NodeId]] = {}
        self._buckets: dict[NodeId, TokenBucket] = {}
        self._deferred: dict[NodeId, _Deferred] = {}
        self._timers: DeadlineHeap[tuple[str, NodeId]] = DeadlineHeap()
        self._graph = LinkGraph(self._entries, self.resolve)

    # -- lookup ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, origin: object) -> bool:
        return origin in self._entries

    def get(self, origin: NodeId) -> DatabaseEntry | None:
        """The entry of ``origin``, if held."""
        return self._entries.get(origin)

    def get_raw(self, origin: bytes) -> DatabaseEntry | None:
        """The entry of the origin whose id is the 32 bytes ``origin``, if held."""
        return self._by_raw.get(origin)

    def origins(self) -> Iterator[NodeId]:
        """Every origin held, ascending by id."""
        for raw in self._sorted:
            yield self._by_raw[raw].announcement.origin

    def between(self, low: bytes, high: bytes) -> Iterator[DatabaseEntry]:
        """The entries whose origin lies in ``[low, high]``, ascending."""
        start = bisect.bisect_left(self._sorted, low)
        stop = bisect.bisect_right(self._sorted, high)
        for raw in self._sorted[start:stop]:
            yield self._by_raw[raw]

    def resolve(self, prefix: bytes) -> NodeId | None:
        """The one origin whose id starts with ``prefix``; None if none or several."""
        owners = self._by_prefix.get(prefix)
        return owners if owners is None or isinstance(owners, NodeId) else None

    # -- acceptance ------------------------------------------------------------------

    def classify(self, announcement: Announcement, age: int) -> Verdict | None:
        """Reject what needs no signature check; None when the announcement is newer."""
        if age >= announcement.lifetime:
            return Verdict.EXPIRED
        held = self._entries.get(announcement.origin)
        if held is not None:
            if announcement.sequence == held.announcement.sequence:
                return Verdict.DUPLICATE
            if announcement.sequence < held.announcement.sequence:
                return Verdict.STALE
        elif len(self._entries) >= self._max:
            return Verdict.DATABASE_FULL
        slot = self._deferred.get(announcement.origin)
        if slot is not None:
            if announcement.sequence == slot.announcement.sequence:
                return Verdict.DUPLICATE
            if announcement.sequence < slot.announcement.sequence:
                return Verdict.STALE
        return None

    def admit(self, announcement: Announcement, age: int, now: float) -> Verdict:
        """Install a verified, newer announcement if its origin's rate allows; else defer it."""
        origin = announcement.origin
        bucket = self._buckets.get(origin)
        if bucket is None:
            bucket = self._buckets[origin] = TokenBucket(
                rate=self._rate, burst=self._burst, now=now
            )
        if not bucket.take(now):
            self._deferred[origin] = _Deferred(announcement, age, now)
            self._timers.set(("defer", origin), bucket.ready_at(now))
            return Verdict.RATE_LIMITED
        self._drop_deferred(origin)
        self._install(announcement, age, now)
        return Verdict.ACCEPTED

    def install_own(self, announcement: Announcement, now: float) -> None:
        """Install our own new announcement (no rate limit: the scheduler paces us)."""
        self._drop_deferred(announcement.origin)
        self._install(announcement, 0, now)

    def _install(self, announcement: Announcement, age: int, now: float) -> None:
        origin = announcement.origin
        old = self._entries.get(origin)
        if old is None:
            bisect.insort(self._sorted, origin.raw)
            prefix = announcement.own_prefix
            owners = self._by_prefix.get(prefix)
            if owners is None:
                self._by_prefix[prefix] = origin
            elif isinstance(owners, NodeId):
                self._by_prefix[prefix] = [owners, origin]
            else:
                owners.append(origin)
            self._graph.origins_changed()
        entry = DatabaseEntry(
            announcement=announcement,
            received=now,
            age=age,
            prefixes=announcement.prefixes,
            tail=announcement.tail,
            own_prefix=announcement.own_prefix,
        )
        self._entries[origin] = entry
        self._by_raw[origin.raw] = entry
        self._timers.set(("expire", origin), entry.expires)
        self._graph.replaced(origin, old, entry)

    def _drop_deferred(self, origin: NodeId) -> None:
        if self._deferred.pop(origin, None) is not None:
            self._timers.set(("defer", origin), None)

    def remove(self, origin: NodeId) -> None:
        """Forget ``origin`` (its entry expired); its deferred slot goes too."""
        self._drop_deferred(origin)
        self._buckets.pop(origin, None)
        if self._entries.pop(origin, None) is None:
            return
        del self._by_raw[origin.raw]
        self._timers.set(("expire", origin), None)
        index = bisect.bisect_left(self._sorted, origin.raw)
        del self._sorted[index]
        prefix = prefix_of(origin)
        owners = self._by_prefix[prefix]
        if isinstance(owners, NodeId):
            del self._by_prefix[prefix]
        else:
            owners.remove(origin)
            if len(owners) == 1:
                self._by_prefix[prefix] = owners[0]
        self._graph.origins_changed()

    # -- time ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest expiry or deferred installation."""
        return self._timers.earliest()

    def handle_timer(self, now: float) -> tuple[list[NodeId], list[Announcement]]:
        """Expire what is due and install deferred announcements whose origin has a token.

        Returns:
            The origins removed, ascending, and the announcements installed.
        """
        expired: list[NodeId] = []
        installed: list[Announcement] = []
        for kind, origin in self._timers.pop_due(now):
            if kind == "expire":
                entry = self._entries.get(origin)
                if entry is not None and entry.expires <= now:
                    self.remove(origin)
                    expired.append(origin)
            else:
                announcement = self._install_deferred(origin, now)
                if announcement is not None:
                    installed.append(announcement)
        expired.sort()
        return expired, installed

    def _install_deferred(self, origin: NodeId, now: float) -> Announcement | None:
        slot = self._deferred.get(origin)
        bucket = self._buckets.get(origin)
        if slot is None or bucket is None:
            return None
        if not bucket.take(now):
            self._timers.set(("defer", origin), bucket.ready_at(now))
            return None
        del self._deferred[origin]
        age = slot.age + int(max(0.0, now - slot.received))
        if age >= slot.announcement.lifetime:
            return None
        self._install(slot.announcement, age, now)
        return slot.announcement

    # -- the graph -------------------------------------------------------------------

    def links_of(
        self, origin: NodeId, me: NodeId, local: Mapping[NodeId, LinkMetrics]
    ) -> list[tuple[NeighbourEntry, NodeId | None, bool]]:
        """Each neighbour ``origin`` announces: (entry, resolved node, confirmed by both ends)."""
        entry = self._entries.get(origin)
        if entry is None:
            return []
        own_prefix = prefix_of(origin)
        me_prefix = prefix_of(me)
        out: list[tuple[NeighbourEntry, NodeId | None, bool]] = []
        for neighbour in entry.announcement.neighbours:
            peer = me if neighbour.prefix == me_prefix else self.resolve(neighbour.prefix)
            if peer is None:
                confirmed = False
            elif peer == me:
                confirmed = origin in local
            else:
                other = self._entries.get(peer)
                confirmed = other is not None and own_prefix in other.prefixes
            out.append((neighbour, peer, confirmed))
        return out

    def graph(
        self,
        me: NodeId,
        local: Mapping[NodeId, LinkMetrics],
        policy: PathPolicy,
        suspended: Collection[tuple[NodeId, bytes]] = (),
    ) -> dict[NodeId, list[tuple[NodeId, int]]]:
        """Directed edges for Dijkstra from ``me``.

        Our own edges are our live links (``local``: neighbour -> metrics, firsthand
        knowledge). Every other edge is a link both of its ends announce, costed by
        ``policy`` from the metrics of its tail's announcement; ``suspended`` holds
        (tail, head prefix) links a route error suspended, left out. Edges into ``me``
        may be listed: paths start at us, so they never matter.
        """
        graph: dict[NodeId, list[tuple[NodeId, int]]] = dict(self._graph.edges(policy))
        graph[me] = [(peer, clamp_cost(policy.link_cost(m))) for peer, m in sorted(local.items())]
        if suspended:
            cut: dict[NodeId, set[bytes]] = {}
            for tail, prefix in suspended:
                cut.setdefault(tail, set()).add(prefix)
            for tail, prefixes in cut.items():
                if tail != me and tail in graph:
                    heads = self._graph.prefixes(tail)
                    graph[tail] = [
                        e for e, p in zip(graph[tail], heads, strict=True) if p not in prefixes
                    ]
        return graph
