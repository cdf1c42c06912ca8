"""The scheduler runs entries in (time, sequence) order and the clock never goes back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import StateError
from meshnet.sim.clock import VirtualClock
from meshnet.sim.scheduler import Scheduler


def test_entries_run_in_time_order() -> None:
    sched = Scheduler()
    seen: list[tuple[float, str]] = []
    for when, name in [(3.0, "c"), (1.0, "a"), (2.0, "b")]:
        sched.call_at(when, lambda n: seen.append((sched.now, n)), name)
    sched.run_for(10.0)
    assert seen == [(1.0, "a"), (2.0, "b"), (3.0, "c")]
    assert sched.now == 10.0


def test_ties_run_in_scheduling_order() -> None:
    sched = Scheduler()
    seen: list[int] = []
    for i in range(50):
        sched.call_at(1.0, seen.append, i)
    sched.run_for(1.0)
    assert seen == list(range(50))


def test_entry_scheduled_for_now_runs_after_queued_ties() -> None:
    sched = Scheduler()
    seen: list[str] = []

    def first(_: None) -> None:
        seen.append("first")
        sched.call_at(sched.now, seen.append, "spawned")

    sched.call_at(1.0, first, None)
    sched.call_at(1.0, seen.append, "second")
    sched.run_for(2.0)
    assert seen == ["first", "second", "spawned"]


def test_cannot_schedule_in_the_past() -> None:
    sched = Scheduler()
    sched.run_for(5.0)
    with pytest.raises(StateError):
        sched.call_at(4.0, print, "late")


def test_clock_refuses_to_go_back() -> None:
    clock = VirtualClock(3.0)
    clock.advance_to(3.0)
    with pytest.raises(StateError):
        clock.advance_to(2.5)
    assert clock.now == 3.0


def test_run_until_stops_when_predicate_holds() -> None:
    sched = Scheduler()
    hits: list[float] = []
    for i in range(1, 11):
        sched.call_at(float(i), hits.append, float(i))
    assert sched.run_until(lambda: len(hits) >= 4, limit=100.0)
    assert sched.now == 4.0
    assert len(sched) == 6


def test_run_until_gives_up_at_the_limit() -> None:
    sched = Scheduler()
    sched.call_at(50.0, print, "never")
    assert not sched.run_until(lambda: False, limit=20.0)
    assert sched.now == 20.0
    assert sched.next_time() == 50.0


def test_step_and_idle() -> None:
    sched = Scheduler()
    assert not sched.step()
    seen: list[str] = []
    sched.call_later(0.5, seen.append, "x")
    assert sched.step()
    assert seen == ["x"]
    assert sched.now == 0.5
    assert sched.run_until_idle(max_events=10)
    assert sched.events_run == 1


def test_run_until_idle_is_bounded() -> None:
    sched = Scheduler()

    def tick(_: None) -> None:
        sched.call_later(1.0, tick, None)

    sched.call_at(0.0, tick, None)
    assert not sched.run_until_idle(max_events=25)
    assert sched.events_run == 25


@settings(max_examples=60)
@given(st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), max_size=80))
def test_clock_is_monotonic_and_order_is_stable(times: list[float]) -> None:
    sched = Scheduler()
    observed: list[tuple[float, int]] = []
    for i, when in enumerate(times):
        sched.call_at(when, lambda i: observed.append((sched.now, i)), i)
    sched.run_until_idle(max_events=len(times) + 1)
    assert [t for t, _ in observed] == sorted(times)
    expected = sorted(range(len(times)), key=lambda i: (times[i], i))
    assert [i for _, i in observed] == expected


def test_horizon_is_the_least_time_plus_reach_of_the_entries_not_run() -> None:
    scheduler = Scheduler()
    with pytest.raises(StateError, match="track_reach"):
        scheduler.horizon(0.0)
    scheduler.call_at(1.0, print, "unknown node")  # tracked from track_reach on, as node -1
    scheduler.track_reach([0.5, 0.25, float("inf")], floor=0.125)
    scheduler.call_at(2.0, print, "node 0", 0)
    scheduler.call_at(1.9, print, "node 1", 1)
    scheduler.call_at(0.5, print, "node 2: far from every other worker", 2)
    assert scheduler.horizon(0.0) == 1.125  # the unknown node's entry: 1.0 + floor
    scheduler.run_before(1.5)
    assert scheduler.horizon(1.5) == 1.9 + 0.25  # node 1's entry binds, not node 0's
    scheduler.run_before(2.0)
    assert scheduler.horizon(2.0) == 2.5
    scheduler.run_before(3.0)
    assert scheduler.horizon(3.0) is None
