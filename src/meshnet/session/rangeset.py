"""``RangeSet``: a set of integers kept as sorted, disjoint half-open ranges.

Used for packet numbers received (ACK frames), stream bytes received out of order and
stream bytes acknowledged or lost. Ranges live in two parallel sorted lists (starts and
ends), found with ``bisect``; adding at the end, by far the common case, is O(1), and a
merge in the middle is one slice assignment. Ranges that touch are merged, so each gap
between two ranges holds at least one missing integer.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

__all__ = ["RangeSet"]


class RangeSet:
    """Sorted disjoint ``[start, end)`` ranges of integers."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        """Add ``[start, end)``, merging with every range it overlaps or touches."""
        if start >= end:
            return
        starts, ends = self._starts, self._ends
        if not starts or start > ends[-1]:
            starts.append(start)
            ends.append(end)
            return
        if start >= starts[-1]:  # overlaps or touches the last range
            ends[-1] = max(ends[-1], end)
            return
        i = bisect_left(ends, start)  # first range ending at or after start
        j = bisect_right(starts, end)  # ranges starting at or before end merge
        if i == j:
            starts.insert(i, start)
            ends.insert(i, end)
            return
        new_start = min(start, starts[i])
        new_end = max(end, ends[j - 1])
        starts[i:j] = [new_start]
        ends[i:j] = [new_end]

    def __contains__(self, value: int) -> bool:
        i = bisect_right(self._starts, value) - 1
        return i >= 0 and value < self._ends[i]

    def covers(self, start: int, end: int) -> bool:
        """True when every integer of ``[start, end)`` is in the set."""
        if start >= end:
            return True
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]

    def gaps(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The sub-ranges of ``[start, end)`` that are not in the set, in order."""
        starts, ends = self._starts, self._ends
        i = max(bisect_right(starts, start) - 1, 0)
        position = start
        while position < end:
            if i >= len(starts) or starts[i] >= end:
                yield position, end
                return
            if ends[i] <= position:
                i += 1
                continue
            if starts[i] > position:
                yield position, starts[i]
            position = ends[i]
            i += 1

    def remove_below(self, value: int) -> None:
        """Drop every integer below ``value``."""
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, value)
        if i:
            del starts[:i]
            del ends[:i]
        if starts and starts[0] < value:
            starts[0] = value

    def pop_first(self) -> tuple[int, int]:
        """Remove and return the lowest range.

        Raises:
            IndexError: the set is empty.
        """
        return self._starts.pop(0), self._ends.pop(0)

    def first(self) -> tuple[int, int] | None:
        """The lowest range, or None."""
        return (self._starts[0], self._ends[0]) if self._starts else None

    def last(self) -> tuple[int, int] | None:
        """The highest range, or None."""
        return (self._starts[-1], self._ends[-1]) if self._starts else None

    def ranges(self) -> list[tuple[int, int]]:
        """Every range, lowest first."""
        return list(zip(self._starts, self._ends, strict=True))

    def descending(self, limit: int) -> list[tuple[int, int]]:
        """At most ``limit`` ranges, highest first."""
        count = min(limit, len(self._starts))
        starts, ends = self._starts, self._ends
        return [(starts[-1 - k], ends[-1 - k]) for k in range(count)]

    def drop_lowest(self, keep: int) -> None:
        """Keep only the ``keep`` highest ranges."""
        extra = len(self._starts) - keep
        if extra > 0:
            del self._starts[:extra]
            del self._ends[:extra]

    def total(self) -> int:
        """How many integers the set holds."""
        return sum(self._ends) - sum(self._starts)

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __repr__(self) -> str:
        return f"RangeSet({self.ranges()!r})"
