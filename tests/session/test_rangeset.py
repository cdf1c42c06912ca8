"""``RangeSet`` checked against a plain Python set on random operations."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from meshnet.session.rangeset import RangeSet

spans = st.tuples(st.integers(0, 200), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1]))


def _model(ranges: RangeSet) -> set[int]:
    return {n for start, end in ranges.ranges() for n in range(start, end)}


def _canonical(ranges: RangeSet) -> None:
    pairs = ranges.ranges()
    for start, end in pairs:
        assert start < end
    for (_, end), (start, _) in itertools.pairwise(pairs):
        assert end < start  # disjoint and never touching


@given(st.lists(spans, max_size=30), st.integers(0, 240))
def test_add_matches_a_set(added: list[tuple[int, int]], cut: int) -> None:
    ranges, model = RangeSet(), set()
    for start, end in added:
        ranges.add(start, end)
        model.update(range(start, end))
        _canonical(ranges)
        assert _model(ranges) == model
    assert ranges.total() == len(model)
    for n in range(0, 240, 7):
        assert (n in ranges) == (n in model)
    assert ranges.covers(cut, cut + 3) == all(n in model for n in range(cut, cut + 3))
    gaps = {n for start, end in ranges.gaps(cut, cut + 40) for n in range(start, end)}
    assert gaps == set(range(cut, cut + 40)) - model
    ranges.remove_below(cut)
    _canonical(ranges)
    assert _model(ranges) == {n for n in model if n >= cut}


@given(st.lists(spans, min_size=1, max_size=20), st.integers(1, 5))
def test_highest_ranges(added: list[tuple[int, int]], keep: int) -> None:
    ranges = RangeSet()
    for start, end in added:
        ranges.add(start, end)
    if not ranges:
        return
    everything = ranges.ranges()
    assert ranges.first() == everything[0]
    assert ranges.last() == everything[-1]
    assert ranges.descending(keep) == list(reversed(everything))[:keep]
    ranges.drop_lowest(keep)
    assert ranges.ranges() == everything[-keep:]
    assert ranges.pop_first() == everything[-keep:][0]


def test_empty_set() -> None:
    ranges = RangeSet()
    assert not ranges
    assert ranges.first() is None and ranges.last() is None
    assert list(ranges.gaps(3, 5)) == [(3, 5)]
    assert ranges.covers(4, 4)
    ranges.add(5, 5)
    assert not ranges
    assert repr(ranges) == "RangeSet([])"
