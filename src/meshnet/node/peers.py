"""Configured peers and the redial policy: exponential backoff with jitter, forever.

Theory of operation
-------------------
A *configured* peer is an endpoint the user asked us to stay linked to (the bootstrap
list, ``connect NODE@HOST:PORT``), with the NodeId it must prove, or none yet (trust on
first use: the first handshake records it). The table is sans-IO: it says *when* to
dial; the node turns that into a ``Dial`` command and the driver does the IO.

Each peer has at most one attempt in flight, so attempts never pile up. After a failure
(refused, timed out, or the wrong identity) or a dropped link, the next attempt waits
``min(max_delay, base * 2**failures)`` scaled by a random factor in [0.5, 1.0] (full
jitter halves synchronised retries after a shared outage). A link that was up for
``stable_after`` seconds resets the failure count. It never gives up: an emergency
network must come back on its own whenever the peer does.

The one exception is an endpoint that proved to be this node itself (a bootstrap list
shared by every node of a group names each of them, us included): dialling it again
can only reach us again, so it is marked ``own_address`` and left alone until the user
configures it anew.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import NodeId
from meshnet.deadlines import DeadlineHeap

__all__ = ["Backoff", "PeerEntry", "PeerTable"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    base: float = 1.0
    max_delay: float = 60.0
    stable_after: float = 30.0

    def delay(self, failures: int, entropy: Entropy) -> float:
        raw = min(self.max_delay, self.base * float(2 ** min(failures, 30)))
        return raw * (0.5 + 0.5 * entropy.random_float())


@dataclass(slots=True, eq=False)
class PeerEntry:
    endpoint: str
    expected: NodeId | None
    failures: int = 0
    dialing: int | None = None  # the dial id in flight
    connected_since: float | None = None
    next_attempt: float | None = None
    last_error: str = ""
    own_address: bool = False  # the endpoint reached this node itself: never redialled


class PeerTable:
    """Endpoints to keep linked to, and when to dial each."""

    def __init__(self, *, entropy: Entropy, backoff: Backoff | None = None) -> None:
        self._entropy = entropy
        self._backoff = backoff or Backoff()
        self._entries: dict[str, PeerEntry] = {}
        self._by_dial: dict[int, str] = {}
        self._timers: DeadlineHeap[str] = DeadlineHeap()
        self._next_dial = 1

    def add(self, endpoint: str, expected: NodeId | None, now: float) -> PeerEntry:
        """Keep a link to ``endpoint``; dial it now. Adding again updates the expected id."""
        entry = self._entries.get(endpoint)
        if entry is None:
            entry = self._entries[endpoint] = PeerEntry(endpoint=endpoint, expected=expected)
            self._schedule(entry, now)
        else:
            if expected is not None:
                entry.expected = expected
            if entry.own_address:  # configured anew: perhaps another node has it now
                entry.own_address = False
                entry.failures = 0
                self._schedule(entry, now)
        return entry

    def remove(self, endpoint: str) -> PeerEntry | None:
        entry = self._entries.pop(endpoint, None)
        self._timers.set(endpoint, None)
        if entry is not None and entry.dialing is not None:
            self._by_dial.pop(entry.dialing, None)
        return entry

    def entries(self) -> list[PeerEntry]:
        return [self._entries[k] for k in sorted(self._entries)]

    def find(self, peer: NodeId) -> PeerEntry | None:
        for entry in self._entries.values():
            if entry.expected == peer:
                return entry
        return None

    def _schedule(self, entry: PeerEntry, at: float) -> None:
        entry.next_attempt = at
        self._timers.set(entry.endpoint, at)

    def due(self, now: float) -> list[tuple[int, PeerEntry]]:
        """Entries whose attempt is due now; each gets a fresh dial id and is in flight."""
        started = []
        for endpoint in self._timers.pop_due(now):
            entry = self._entries.get(endpoint)
            if entry is None or entry.dialing is not None or entry.connected_since is not None:
                continue
            dial = self._next_dial
            self._next_dial += 1
            entry.dialing = dial
            entry.next_attempt = None
            self._by_dial[dial] = endpoint
            started.append((dial, entry))
        return started

    def entry_for_dial(self, dial: int) -> PeerEntry | None:
        endpoint = self._by_dial.get(dial)
        return self._entries.get(endpoint) if endpoint is not None else None

    def _settle(self, dial: int) -> PeerEntry | None:
        """The entry whose attempt ``dial`` was, no longer in flight (None if forgotten)."""
        entry = self.entry_for_dial(dial)
        if entry is not None:
            del self._by_dial[dial]
            entry.dialing = None
        return entry

    def dial_succeeded(self, dial: int, peer: NodeId, now: float) -> PeerEntry | None:
        """The dial's handshake completed with ``peer`` (recorded if it was unknown)."""
        entry = self._settle(dial)
        if entry is None:
            return None
        entry.connected_since = now
        entry.last_error = ""
        if entry.expected is None:
            entry.expected = peer  # trust on first use
        return entry

    def dial_failed(self, dial: int, now: float, error: str) -> None:
        entry = self._settle(dial)
        if entry is None:
            return
        entry.failures += 1
        entry.last_error = error
        self._schedule(entry, now + self._backoff.delay(entry.failures, self._entropy))

    def reached_self(self, dial: int, error: str) -> PeerEntry | None:
        """The dial's handshake proved our own identity: stop dialling that endpoint."""
        entry = self._settle(dial)
        if entry is None:
            return None
        entry.next_attempt = None
        entry.own_address = True
        entry.last_error = error
        return entry

    def link_lost(self, peer: NodeId, now: float) -> None:
        """The link to ``peer`` closed: redial its entries after a backoff."""
        for endpoint in sorted(self._entries):
            entry = self._entries[endpoint]
            if entry.expected != peer or entry.connected_since is None:
                continue
            if now - entry.connected_since >= self._backoff.stable_after:
                entry.failures = 0
            entry.connected_since = None
            entry.failures += 1
            self._schedule(entry, now + self._backoff.delay(entry.failures - 1, self._entropy))

    def link_up(self, peer: NodeId, now: float) -> None:
        """A link to ``peer`` exists (perhaps it dialled us): no need to dial its entries."""
        for entry in self._entries.values():
            if entry.expected == peer and entry.connected_since is None and entry.dialing is None:
                entry.connected_since = now
                self._timers.set(entry.endpoint, None)

    def get_timer(self) -> float | None:
        return self._timers.earliest()
