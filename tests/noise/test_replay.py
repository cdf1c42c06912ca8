"""ReplayWindow against a naive model (a set of accepted counters and their maximum)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import ReplayError
from meshnet.noise.replay import DEFAULT_REPLAY_WINDOW, ReplayWindow

LIMIT = (1 << 64) - 1


class NaiveWindow:
    """Everything accepted, remembered forever; the window rule written plainly."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seen: set[int] = set()

    def check(self, counter: int) -> bool:
        if not 0 <= counter < LIMIT or counter in self.seen:
            return False
        return not self.seen or counter > max(self.seen) - self.size

    def accept(self, counter: int) -> None:
        assert self.check(counter)
        self.seen.add(counter)


def counters(size: int) -> st.SearchStrategy[int]:
    near = st.integers(min_value=0, max_value=3 * size)
    return st.one_of(
        near,
        near,
        st.integers(min_value=-2, max_value=LIMIT + 2),
        st.integers(min_value=LIMIT - 3 * size, max_value=LIMIT + 1),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.sampled_from([1, 2, 3, 64, 65, 100, DEFAULT_REPLAY_WINDOW]))
def test_window_agrees_with_the_naive_model(data: st.DataObject, size: int) -> None:
    window, model = ReplayWindow(size), NaiveWindow(size)
    for counter in data.draw(st.lists(counters(size), max_size=80)):
        expected = model.check(counter)
        assert window.check(counter) == expected, counter
        if expected:
            window.accept(counter)
            model.accept(counter)
        else:
            with pytest.raises(ReplayError):
                window.accept(counter)
        assert window.highest == (max(model.seen) if model.seen else None)


def test_window_edges() -> None:
    window = ReplayWindow(4)
    assert window.highest is None
    window.accept(10)
    assert [window.check(c) for c in (6, 7, 8, 9, 10, 11)] == [False, True, True, True, False, True]
    window.accept(7)
    assert not window.check(7)
    window.accept(100)  # a jump past the whole window forgets everything below
    assert not window.check(96) and window.check(97) and window.check(99)
    assert repr(window) == "ReplayWindow(size=4, highest=100)"


def test_only_counters_a_sender_can_use_are_new() -> None:
    window = ReplayWindow()
    assert not window.check(-1)
    assert not window.check(LIMIT)
    assert window.check(LIMIT - 1)
    window.accept(LIMIT - 1)
    assert not window.check(LIMIT - 1)
    with pytest.raises(ValueError):
        ReplayWindow(0)
