"""``Flooding``: the control plane. Our announcements, everyone else's, and database sync.

Receiving an ANNOUNCE (docs/protocol/routing.md §2-§3), in order:

1. refuse it unread if it is over ``MAX_ANNOUNCEMENT``; recognise a byte-identical copy
   of what we hold (``duplicate``, the common case when flooding) without decoding it;
   decode it through the shared caching decoder (``malformed``);
2. an announcement of our own id: an echo of ours is a duplicate; a newer one, once
   its signature verifies, is a previous life of ours (we restarted without our
   sequence number): jump above it and announce again at once;
3. the database's cheap checks (``duplicate``, ``stale``, ``expired``, ``database_full``);
4. signatures (record and announcement), through the shared caching verifier. A link
   whose bad signatures outrun ``bad_signature_rate`` is ``penalised``: its
   announcements are dropped unverified until its bucket refills;
5. the origin's rate limit (``rate_limited``: the latest is installed later);
6. install, and queue it for every neighbour except the one it came from and those
   *covered* by it: a neighbour ``N`` is covered when the sender ``S`` announces a link
   to ``N`` and ``N`` announces one to ``S`` (both in our database). ``S`` floods to
   ``N`` itself, unless ``N`` is covered by ``S``'s own sender, and so on back to the
   origin, which sends to every neighbour: by induction every neighbour of a node that
   installed the announcement gets it, and each node no longer sends it to most of the
   neighbours it shares with its sender (in a random geometric mesh, over half of the
   flood's frames were such copies, crossing on the link). What relays it once a
   neighbour is covered wrongly (a link that went down since its ends announced it, a
   frame lost) is the next announcement of the origin, the database sync of a new
   link and the refresh, as for a frame lost on a link before.

A new link gets a SUMMARY of the whole database, in chunks of 32 origins; a neighbour
receiving one queues every announcement the summary lacks or lists older. Both sides do
this, so after one exchange each holds the newer of every entry (bounded: one queued
entry per origin per link).
"""

from __future__ import annotations

import enum

from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import DecodeError
from meshnet.routing.announce import AnnounceScheduler, AnnounceTrigger
from meshnet.routing.config import RoutingConfig
from meshnet.routing.decoder import AnnouncementDecoder
from meshnet.routing.lsdb import LinkStateDatabase, Verdict
from meshnet.routing.messages import (
    MAX_ANNOUNCEMENT,
    MAX_NEIGHBOURS,
    Announcement,
    NeighbourEntry,
    Summary,
    decode_summary,
    encode_summary,
    prefix_of,
)
from meshnet.routing.neighbours import Neighbour, Neighbours
from meshnet.routing.policy import PathPolicy
from meshnet.routing.table import RouteTable

__all__ = ["Flooding", "Rejection"]

_MAX_SEQUENCE = (1 << 63) - 1
_TAIL_AT = 3  # after type u8 and age u16
_ORIGIN_AT = _TAIL_AT + 1  # the record's node id, after its version byte


class Rejection(enum.StrEnum):
    """Why an announcement was not installed, beyond the database's ``Verdict``."""

    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    PENALISED = "penalised"
    """Dropped unverified: its link sent too many bad signatures lately."""
    OWN = "own"
    """An announcement of our own id from a previous life: we jumped above it."""


class Flooding:
    """Makes our announcements and takes in, checks and floods everyone else's.

    Args:
        identity: signs our announcements.
        config: timers and limits.
        verifier: the shared caching signature verifier.
        decoder: the (possibly shared) caching announcement decoder.
        lsdb: the database it fills.
        table: told when entries change, and when an origin's newer announcement
            lifts a route-error suspension.
        scheduler: paces our announcements.
        neighbours: our links (their flood sets and control queues).
        policy: picks the neighbours we announce when we have more than 64.
        initial_sequence: the sequence number a previous run of ours reached.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        config: RoutingConfig,
        verifier: SignatureVerifier,
        decoder: AnnouncementDecoder,
        lsdb: LinkStateDatabase,
        table: RouteTable,
        scheduler: AnnounceScheduler,
        neighbours: Neighbours,
        policy: PathPolicy,
        initial_sequence: int,
    ) -> None:
        self._identity = identity
        self._me = identity.node_id
        self._config = config
        self._verifier = verifier
        self._decoder = decoder
        self._lsdb = lsdb
        self._table = table
        self._scheduler = scheduler
        self._neighbours = neighbours
        self._policy = policy
        self.sequence = initial_sequence
        self.endpoints: tuple[str, ...] = ()
        self.accepted = 0
        self.announced = 0
        self.suppressed = 0
        self.expired = 0
        self.rejected: dict[str, int] = {}

    def _reject(self, reason: str) -> None:
        self.rejected[str(reason)] = self.rejected.get(str(reason), 0) + 1

    def sequence_of(self, origin: NodeId) -> int:
        """The sequence number we hold for ``origin`` (0 if none)."""
        entry = self._lsdb.get(origin)
        return entry.announcement.sequence if entry is not None else 0

    # -- database sync ---------------------------------------------------------------

    def summaries(self) -> list[bytes]:
        """SUMMARY packets covering our whole database, for a new neighbour."""
        held = [(origin, self.sequence_of(origin)) for origin in self._lsdb.origins()]
        return [encode_summary(summary) for summary in Summary.chunk(held)]

    def receive_summary(self, neighbour: Neighbour, data: bytes) -> bool:
        """Queue for ``neighbour`` what its summary lacks; False if it does not parse."""
        try:
            summary = decode_summary(data)
        except DecodeError:
            return False
        listed = dict(summary.entries)
        for entry in self._lsdb.between(summary.low, summary.high):
            theirs = listed.get(entry.announcement.origin)
            if theirs is None or theirs < entry.announcement.sequence:
                neighbour.flood[entry.announcement.origin] = None
                self._neighbours.mark(neighbour)
        return True

    # -- others' announcements -------------------------------------------------------

    def receive_announce(self, neighbour: Neighbour, data: bytes, now: float) -> None:
        """Check, verify, install and flood an ANNOUNCE from ``neighbour``."""
        if len(data) > MAX_ANNOUNCEMENT:
            self._reject(Rejection.OVERSIZED)
            return
        held = self._lsdb.get_raw(data[_ORIGIN_AT : _ORIGIN_AT + 32])
        if held is not None and data[_TAIL_AT:] == held.tail:
            self._reject(Verdict.DUPLICATE)  # the usual flooding echo: no decoding needed
            return
        try:
            announcement, age = self._decoder.decode(data)
        except DecodeError:
            self._reject(Rejection.MALFORMED)
            return
        if announcement.origin == self._me:
            self._receive_own(neighbour, announcement, now)
            return
        verdict = self._lsdb.classify(announcement, age)
        if verdict is not None:
            self._reject(verdict)
        elif not neighbour.signatures.available(now):
            self._reject(Rejection.PENALISED)
        elif not announcement.verify(self._verifier):
            neighbour.signatures.take(now)
            self._reject(Rejection.BAD_SIGNATURE)
        elif self._lsdb.admit(announcement, age, now) is Verdict.RATE_LIMITED:
            self._reject(Verdict.RATE_LIMITED)
        else:
            self._installed(announcement, neighbour)

    def _receive_own(self, neighbour: Neighbour, announcement: Announcement, now: float) -> None:
        current = self._lsdb.get(self._me)
        if announcement.sequence < self.sequence:
            self._reject(Verdict.STALE)
        elif (
            announcement.sequence == self.sequence
            and current is not None
            and announcement.body == current.announcement.body
        ):
            self._reject(Verdict.DUPLICATE)
        elif not announcement.verify(self._verifier):
            neighbour.signatures.take(now)
            self._reject(Rejection.BAD_SIGNATURE)
        else:
            self.sequence = min(announcement.sequence, _MAX_SEQUENCE - 1)
            self._scheduler.request(AnnounceTrigger.SEQUENCE, now)
            self._reject(Rejection.OWN)

    def _installed(self, announcement: Announcement, source: Neighbour | None) -> None:
        origin = announcement.origin
        self.accepted += 1
        covered = self._covered_by(source) if source is not None else None
        for neighbour in self._neighbours:
            if neighbour is source:
                continue
            if covered is not None and self._is_covered(neighbour, covered):
                self.suppressed += 1
                continue
            neighbour.flood[origin] = None
            self._neighbours.mark(neighbour)
        if source is not None:
            source.flood.pop(origin, None)
        self._table.lift(origin, announcement.sequence)
        self._table.invalidate()

    def _covered_by(self, source: Neighbour) -> tuple[frozenset[bytes], bytes] | None:
        """The prefixes ``source`` announces, and its own prefix (None if we hold none)."""
        entry = self._lsdb.get(source.peer)
        return None if entry is None else (entry.prefixes, entry.own_prefix)

    def _is_covered(self, neighbour: Neighbour, covered: tuple[frozenset[bytes], bytes]) -> bool:
        """Whether the node that sent us the announcement has a link to ``neighbour``
        that both ends announce: then it sends it there itself (step 6)."""
        listed, source_prefix = covered
        if prefix_of(neighbour.peer) not in listed:
            return False
        entry = self._lsdb.get(neighbour.peer)
        return entry is not None and source_prefix in entry.prefixes

    # -- our announcements -----------------------------------------------------------

    def _own_neighbours(self) -> tuple[NeighbourEntry, ...]:
        view = self._neighbours.view(self._policy)
        chosen = sorted(view, key=lambda peer: (self._policy.link_cost(view[peer]), peer))
        entries: dict[bytes, NeighbourEntry] = {}
        for peer in chosen[:MAX_NEIGHBOURS]:
            entries.setdefault(prefix_of(peer), view[peer].to_entry(prefix_of(peer)))
        return tuple(entries[prefix] for prefix in sorted(entries))

    def _take_current_metrics(self) -> None:
        """Put every measured link's current metrics in effect, hysteresis or not: a
        refresh goes out anyway, so it may as well say what we measure now
        (docs/protocol/routing.md §5)."""
        changed = False
        for neighbour in self._neighbours:
            if neighbour.announced.rtt is None:
                continue  # not measured yet: its first sample is a topology change
            measured = neighbour.estimator.metrics.quantised()
            if measured != neighbour.announced:
                neighbour.announced = measured
                changed = True
        if changed:
            self._table.set_local(self._neighbours.view(self._policy))

    def announce(self, trigger: AnnounceTrigger, now: float) -> None:
        """Make, install and flood our next announcement (unless it would say nothing new)."""
        if trigger is AnnounceTrigger.REFRESH:
            self._take_current_metrics()
        neighbours = self._own_neighbours()
        current = self._lsdb.get(self._me)
        if (
            trigger in (AnnounceTrigger.TOPOLOGY, AnnounceTrigger.COST)
            and current is not None
            and current.announcement.neighbours == neighbours
            and current.announcement.endpoints == self.endpoints
        ):
            self._scheduler.skipped()
            return
        self.sequence = min(self.sequence + 1, _MAX_SEQUENCE)
        announcement = Announcement.create(
            self._identity,
            sequence=self.sequence,
            lifetime=self._config.lifetime,
            neighbours=neighbours,
            endpoints=self.endpoints,
        )
        self._lsdb.install_own(announcement, now)
        for neighbour in self._neighbours:
            neighbour.flood[self._me] = None
            self._neighbours.mark(neighbour)
        self.announced += 1
        self._scheduler.announced(trigger, now)

    # -- time ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next run for the control plane."""
        due, expiry = self._scheduler.due, self._lsdb.next_deadline()
        if due is None or (expiry is not None and expiry < due):
            return expiry
        return due

    def handle_timer(self, now: float) -> None:
        """Expire entries, install deferred announcements, announce if due."""
        expired, installed = self._lsdb.handle_timer(now)
        if expired:
            self.expired += len(expired)
            self._table.invalidate()
        for announcement in installed:
            self._installed(announcement, None)
        trigger = self._scheduler.trigger(now)
        if trigger is not None:
            self.announce(trigger, now)
