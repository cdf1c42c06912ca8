"""``Scheduler``: the event heap that drives a simulation on virtual time.

Theory of operation
-------------------
Every future happening (a frame arriving, a node's timer, a traffic source's next
message, a fault) is one heap entry ``(time, sequence, callback, argument)``. The
sequence number is a global counter, so two entries due at the same time run in the
order they were scheduled: ties are broken deterministically, never by comparing
callbacks. ``step()`` pops the earliest entry, advances the clock to its time and calls
``callback(argument)``; a callback may schedule more entries, but never in the past.

Entries are plain tuples and callbacks take exactly one argument, so scheduling a frame
costs one tuple and no closure. Cancellation is left to the caller (lazy deletion): a
node's timer entry carries a generation number and is ignored when it is stale.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, TypeVar

from meshnet.errors import StateError
from meshnet.sim.clock import VirtualClock

__all__ = ["Scheduler"]

T = TypeVar("T")

_Entry = tuple[float, int, Callable[[Any], object], Any]


class Scheduler:
    """Runs callbacks in (time, sequence) order on a ``VirtualClock``.

    Args:
        clock: the clock to advance; a new one starting at 0.0 by default.
    """

    __slots__ = ("_bounds", "_heap", "_reach", "_seq", "clock", "events_run")

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self._heap: list[_Entry] = []
        self._seq = 0
        self.events_run = 0
        """How many entries have run so far (a cost measure for benchmarks)."""
        self._reach: list[float] = []
        self._bounds: list[tuple[float, float]] | None = None

    @property
    def now(self) -> float:
        """The current simulated time."""
        return self.clock.now

    def call_at(self, when: float, callback: Callable[[T], object], arg: T, node: int = -1) -> None:
        """Run ``callback(arg)`` at simulated time ``when``.

        ``node`` is the node the entry acts on (-1: none, or not known); it matters only
        once ``track_reach`` was called.

        Raises:
            StateError: ``when`` is before the current time.
        """
        if when < self.clock.now:
            raise StateError(f"cannot schedule at {when!r}, before now ({self.clock.now!r})")
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, callback, arg))
        if self._bounds is not None:
            heapq.heappush(self._bounds, (when + self._reach[node], when))

    def track_reach(self, reach: list[float], floor: float) -> None:
        """From now on keep ``horizon``: ``reach[n]`` is the least time after an entry
        acting on node ``n`` before anything it causes can reach another worker, and
        ``floor`` that of an entry of no known node (at most every ``reach``)."""
        self._reach = [*reach, floor]
        self._bounds = [(when + floor, when) for when, _, _, _ in self._heap]
        heapq.heapify(self._bounds)

    def horizon(self, done: float) -> float | None:
        """The least ``when + reach`` over the entries not run yet, once every entry
        before ``done`` has run (``run_before(done)``); None when none is pending."""
        bounds = self._bounds
        if bounds is None:
            raise StateError("horizon() needs track_reach() first")
        while bounds and bounds[0][1] < done:
            heapq.heappop(bounds)
        return bounds[0][0] if bounds else None

    def call_later(self, delay: float, callback: Callable[[T], object], arg: T) -> None:
        """Run ``callback(arg)`` ``delay`` seconds from now (``delay`` >= 0)."""
        self.call_at(self.clock.now + delay, callback, arg)

    def next_time(self) -> float | None:
        """When the earliest pending entry is due, or None when nothing is pending."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

    def step(self) -> bool:
        """Run the earliest pending entry.

        Returns:
            False when nothing was pending, True otherwise.
        """
        if not self._heap:
            return False
        when, _, callback, arg = heapq.heappop(self._heap)
        self.clock.advance_to(when)
        self.events_run += 1
        callback(arg)
        return True

    def run_until_time(self, end: float) -> None:
        """Run every entry due at or before ``end``, then set the clock to ``end``."""
        heap, clock, pop = self._heap, self.clock, heapq.heappop
        while heap and heap[0][0] <= end:
            when, _, callback, arg = pop(heap)
            clock.advance_to(when)
            self.events_run += 1
            callback(arg)
        if end > clock.now:
            clock.advance_to(end)

    def run_before(self, end: float) -> None:
        """Run every entry due strictly before ``end``; the clock stays at the last one.

        A partitioned run (``parallel.py``) runs its windows this way: what is due at
        ``end`` itself may still be joined by frames from another worker.
        """
        heap, clock, pop = self._heap, self.clock, heapq.heappop
        while heap and heap[0][0] < end:
            when, _, callback, arg = pop(heap)
            clock.advance_to(when)
            self.events_run += 1
            callback(arg)

    def run_for(self, seconds: float) -> None:
        """Run ``seconds`` of simulated time from now."""
        if seconds < 0:
            raise StateError(f"cannot run for a negative time ({seconds!r})")
        self.run_until_time(self.clock.now + seconds)

    def run_until(self, predicate: Callable[[], bool], limit: float) -> bool:
        """Run entries until ``predicate()`` holds or the time would pass ``limit``.

        The predicate is checked before the first entry and after every entry.

        Args:
            predicate: the condition to wait for.
            limit: an absolute simulated time; the clock is left at ``limit`` when the
                condition never held.

        Returns:
            True when the predicate held (the clock is at the time it became true),
            False when ``limit`` was reached first.
        """
        if predicate():
            return True
        heap, clock, pop = self._heap, self.clock, heapq.heappop
        while heap and heap[0][0] <= limit:
            when, _, callback, arg = pop(heap)
            clock.advance_to(when)
            self.events_run += 1
            callback(arg)
            if predicate():
                return True
        if limit > clock.now:
            clock.advance_to(limit)
        return False

    def run_until_idle(self, max_events: int) -> bool:
        """Run until no entry is pending, at most ``max_events`` entries.

        Returns:
            True when the heap emptied, False when the bound stopped the run (a network
            of live nodes with periodic timers is never idle).
        """
        for _ in range(max_events):
            if not self.step():
                return True
        return not self._heap
