"""``DeadlineHeap``: many components' next deadlines merged into one ``get_timer()``.

Every core reports one next deadline (``get_timer()``); a container of many cores (a
link manager holding a thousand links, a node holding every layer) needs the earliest
of them without asking each one on every packet. ``DeadlineHeap`` keeps the latest
deadline per key in a dict and a heap of (deadline, sequence, key) entries; entries whose
deadline was replaced are discarded lazily when they reach the top. Setting a deadline
is O(log n); reading the earliest is amortised O(1).

This is a shared leaf (like ``errors`` and ``ids``): pure data structure, no IO.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["DeadlineHeap"]

K = TypeVar("K", bound=Hashable)


class DeadlineHeap(Generic[K]):
    """The earliest deadline among many keys, each with at most one deadline."""

    __slots__ = ("_clean", "_current", "_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._current: dict[K, tuple[float, int]] = {}
        self._seq = 0
        self._clean = True  # the heap's top entry is live (or the heap is empty)

    def set(self, key: K, deadline: float | None) -> None:
        """Give ``key`` a new deadline, or clear it with ``None``."""
        old = self._current.get(key)
        if deadline is None:
            if old is not None:
                del self._current[key]
                self._clean = False
            return
        if old is not None and old[0] == deadline:
            return
        self._clean = False
        self._seq += 1
        self._current[key] = (deadline, self._seq)
        heapq.heappush(self._heap, (deadline, self._seq, key))
        if len(self._heap) > 4 * len(self._current) + 64:
            self._compact()

    def _compact(self) -> None:
        self._heap = [(d, s, k) for k, (d, s) in self._current.items()]
        heapq.heapify(self._heap)

    def _clean_top(self) -> None:
        heap, current = self._heap, self._current
        while heap:
            deadline, seq, key = heap[0]
            if current.get(key) == (deadline, seq):
                break
            heapq.heappop(heap)
        self._clean = True

    def earliest(self) -> float | None:
        """The earliest deadline of any key, or None when no key has one.

        Asked after every packet while deadlines change far less often: once the top
        entry is known live, it is returned without looking again until a change.
        """
        if not self._clean:
            self._clean_top()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key whose deadline is at or before ``now``, earliest first."""
        due: list[K] = []
        while True:
            self._clean_top()
            if not self._heap or self._heap[0][0] > now:
                return due
            _, _, key = heapq.heappop(self._heap)
            del self._current[key]
            self._clean = False
            due.append(key)

    def __len__(self) -> int:
        return len(self._current)

    def __contains__(self, key: object) -> bool:
        return key in self._current
